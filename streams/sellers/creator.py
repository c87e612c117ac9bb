"""The seller order sink's work: create a stored order on its seller's platform, exactly once.

For an `order.placed` read from order-events (`process_placed`):
1. a record that is not a valid `order.placed` is ignored here (the ledger agent dead-letters it);
2. one whose seller `order_ref` is already set (the event this sink publishes, or a replay of it) is ignored;
3. a seller connection that is `manual` is skipped (the web app handles those); one missing from the
   configuration, or not a seller, is logged as an error and counted `unknown_connection`;
4. an order already in the `seller-orders` table is not created again (restart, replay, duplicate);
5. otherwise `create_order` is called (attempt 1).

An attempt (`process_placed` step 5, or `process_retry` once the retry record is due):
- success: a second `order.placed` with the seller's `order_ref` (deterministic event id,
  `schemas.factories.order_placed`) is published on order-events with the idempotent producer and flushed,
  then the `CreatedOrder` is written to the table. A crash in between repeats the attempt: `create_order` finds
  the order by our reference on the platform and the event is republished with the same id (a duplicate);
- `RetryableError` (429, 5xx, timeouts), or an unexpected error after the platform was called: a retry record
  (attempt count, not-before time with capped exponential backoff, `entries.retry_delay`) goes to the retry
  topic; after `MAX_ATTEMPTS` attempts the order is dead-lettered as `platform_rejected` instead;
- `PermanentError` (a 4xx, an order the platform refuses): dead-lettered as `platform_rejected` with the
  platform's message (secrets are already redacted by the connector).
Nothing raises out of `process_placed` or `process_retry` (DESIGN.md §5): a failure to write the retry record or
the dead letter is logged as critical with the order id.

Retry records go to the partition of the order-events record they came from (the retry topic has as many
partitions), so both agents read and write an order's table entry in the same partition. Retry records and
dead letters go through `send` (Faust's producer, which Faust flushes before committing the
offset of the record being handled): a retry record is committed only after the attempt it describes and the
record replacing it were handed over, so a restart loses no retry (the record is read and attempted again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter

from connectors.base import PermanentError, RetryableError, SellerConnector
from schemas.cloudevents import header_map
from schemas.config import Config, Connection
from schemas.events import OrderPlaced, OriginalRecord, ShippingDetails
from schemas.factories import order_placed
from schemas.platform import Address, NewOrder, PlatformLine
from streams.polling.sink import EventSink
from streams.records import (
    EncodedRecord,
    InvalidInput,
    KafkaMessage,
    RebuiltMessage,
    dead_letter,
    decode_input,
    encode_event,
)
from streams.sellers.entries import (
    MAX_ATTEMPTS,
    MAX_DELAY,
    RetryRecord,
    SellerOrderEntry,
    SellerOrderTable,
    decode_retry,
    retry_delay,
)

log = logging.getLogger("fulfillsync.sellers")

STAGE = "seller_orders"
SOURCE = "/fulfillsync/seller-orders"
Send = Callable[[str, EncodedRecord, int | None], Awaitable[None]]
"""Publishes one record on a topic (by name) with Faust's producer, on the given partition (None: by key); raises
if the producer refuses it."""
ConnectorFactory = Callable[[Connection], SellerConnector]


@dataclass(frozen=True)
class Topics:
    order_events: str
    retries: str
    dead_letters: str


class SellerOrderMetrics:
    """`fulfillsync_seller_orders_total{connection,outcome}`; connection labels are configured ids or `unknown`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = Counter("fulfillsync_seller_orders", "order.placed handled by the seller order sink, "
                                "by seller connection and outcome", ["connection", "outcome"], registry=registry)


class SellerOrderCreator:
    """Creates stored orders on their sellers' platforms; see the module docstring for the contract."""

    def __init__(self, *, config: Config, topics: Topics, table: SellerOrderTable, events: EventSink, send: Send,
                 connector_for: ConnectorFactory, metrics: SellerOrderMetrics, clock: Callable[[], datetime],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._connections = {connection.id: connection for connection in config.connections}
        self._topics = topics
        self._table = table
        self._events = events
        self._send = send
        self._connector_for = connector_for
        self._connectors: dict[str, SellerConnector] = {}
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep

    async def aclose(self) -> None:
        """Close every connector's HTTP client."""
        connectors, self._connectors = self._connectors, {}
        for connector in connectors.values():
            await connector.aclose()

    # -- order-events ----------------------------------------------------------------------------------------

    async def process_placed(self, message: KafkaMessage) -> None:
        """Handle one order-events record. Never raises."""
        try:
            decoded = decode_input(message, frozenset({"order.placed"}))
            if isinstance(decoded, InvalidInput) or not isinstance(decoded, OrderPlaced):
                return  # the ledger agent dead-letters what is not a valid order.placed
            connection = self._seller_connection(decoded)
            if connection is None or decoded.seller.order_ref is not None:
                return
            if self._table.known(decoded.order_id):
                self._count(connection.id, "already_created")
                return
            await self._attempt(decoded, _original(message), attempt=1)
        except Exception:
            log.critical("seller order sink failed on order-events record %s:%d:%d; the order is not created",
                         message.topic, message.partition, message.offset, exc_info=True)

    def _seller_connection(self, placed: OrderPlaced) -> Connection | None:
        connection = self._connections.get(placed.seller.connection)
        if connection is None or connection.role != "seller":
            if placed.seller.order_ref is None:
                self._count("unknown", "unknown_connection")
                log.error("order %s: seller connection %r is not a configured seller; not created anywhere",
                          placed.order_id, placed.seller.connection[:64])
            return None
        if connection.platform == "manual":
            if placed.seller.order_ref is None:
                self._count(connection.id, "manual")
            return None
        return connection

    # -- retries ---------------------------------------------------------------------------------------------

    async def process_retry(self, message: KafkaMessage) -> None:
        """Handle one retry record: wait until it is due (at most `MAX_DELAY`), then attempt again. Never raises."""
        record = decode_retry(message.value)
        if isinstance(record, str):
            log.error("ignoring record %s:%d:%d on the seller-order retry topic: %s", message.topic,
                      message.partition, message.offset, record)
            self._count("unknown", "invalid_retry")
            return
        try:
            wait = min((record.not_before - self._clock()).total_seconds(), MAX_DELAY.total_seconds())
            if wait > 0:
                await self._sleep(wait)
            connection = self._seller_connection(record.placed)
            if connection is None:
                return
            if self._table.known(record.placed.order_id):
                self._count(connection.id, "already_created")
                return
            await self._attempt(record.placed, record.original, attempt=record.attempt + 1)
        except Exception:
            log.critical("seller order sink failed on retry %d of order %s; the order is not created",
                         record.attempt + 1, record.placed.order_id, exc_info=True)

    # -- one attempt -----------------------------------------------------------------------------------------

    async def _attempt(self, placed: OrderPlaced, original: OriginalRecord, *, attempt: int) -> None:
        connection = self._connections[placed.seller.connection]
        try:
            created = await self._connector(connection).create_order(new_order(placed))
            at = self._clock()
            seller = placed.seller.model_copy(update={"order_ref": created.order_ref})
            confirmed = order_placed(buyer=placed.buyer, seller=seller, lines=placed.lines, occurred_at=at
                                     ).model_copy(update={"shipping": placed.shipping})
            self._events.publish(self._topics.order_events, confirmed, source=SOURCE)
            await self._events.flush()
            self._table.put(placed.order_id, SellerOrderEntry.of(created, at))
        except PermanentError as error:
            await self._reject(placed, original, f"{connection.id} refused to create order {placed.order_id}: "
                               f"{_described(error)}")
            return
        except RetryableError as error:
            await self._retry_or_give_up(placed, original, attempt, _described(error), error.retry_after_s)
            return
        except Exception as error:
            log.exception("creating order %s on %s failed unexpectedly (attempt %d)", placed.order_id,
                          connection.id, attempt)
            await self._retry_or_give_up(placed, original, attempt, f"{type(error).__name__}: {error}", None)
            return
        self._count(connection.id, "created")
        log.info("order %s created on %s as %s (attempt %d)", placed.order_id, connection.id,
                 confirmed.seller.order_ref, attempt)

    async def _retry_or_give_up(self, placed: OrderPlaced, original: OriginalRecord, attempt: int, error: str,
                                retry_after_s: float | None) -> None:
        connection_id = placed.seller.connection
        if attempt >= MAX_ATTEMPTS:
            await self._reject(placed, original, f"{connection_id} could not create order {placed.order_id} in "
                               f"{attempt} attempts; last error: {error}")
            return
        record = RetryRecord(placed=placed, attempt=attempt, last_error=error[:2000], original=original,
                             not_before=self._clock() + retry_delay(attempt, retry_after_s))
        # The partition the order-events record came from: Faust's partitioner (murmur2) and confluent-kafka's
        # (crc32) differ, and the table entry the retry agent writes must land in the order's partition.
        await self._send(self._topics.retries, EncodedRecord(
            key=placed.order_id.encode(), value=record.model_dump_json().encode(), headers=[]), original.partition)
        self._count(connection_id, "retry_scheduled")
        log.warning("creating order %s on %s failed (attempt %d), retrying at %s: %s", placed.order_id,
                    connection_id, attempt, record.not_before.isoformat(), error)

    async def _reject(self, placed: OrderPlaced, original: OriginalRecord, text: str) -> None:
        letter = dead_letter(RebuiltMessage(topic=original.topic, partition=original.partition,
                                            offset=original.offset, key=_bytes(original.key),
                                            value=_bytes(original.value), headers=original.headers),
                             reason="platform_rejected", text=text, order_id=placed.order_id,
                             rejected_event_id=placed.event_id, at=self._clock(), stage=STAGE)
        await self._send(self._topics.dead_letters, encode_event(
            letter, order_id=placed.order_id, record_id=letter.event_id, record_type=letter.type,
            time=letter.dead_lettered_at, source=SOURCE), None)
        self._count(placed.seller.connection, "dead_lettered")
        log.warning("dead-lettered order %s as platform_rejected: %s", placed.order_id, text)

    def _connector(self, connection: Connection) -> SellerConnector:
        connector = self._connectors.get(connection.id)
        if connector is None:
            connector = self._connectors[connection.id] = self._connector_for(connection)
        return connector

    def _count(self, connection_id: str, outcome: str) -> None:
        self._metrics.outcomes.labels(connection_id, outcome).inc()


def new_order(placed: OrderPlaced) -> NewOrder:
    """What `create_order` gets for a stored order: our order id as the reference the platform keeps, our line ids
    as line refs, the shipping details the buyer order had, and the buyer's order number (its reference when the
    event carries no number)."""
    shipping = placed.shipping or ShippingDetails()
    address = shipping.address
    return NewOrder(
        our_order_id=placed.order_id, buyer_order_number=shipping.buyer_order_number or placed.buyer.order_ref,
        lines=tuple(PlatformLine(line_ref=line.line_id, sku=line.sku, quantity=line.quantity, title=line.title)
                    for line in placed.lines),
        shipping_address=None if address is None else Address(
            name=address.name, company=address.company, lines=tuple(address.lines), city=address.city,
            region=address.region, postal_code=address.postal_code, country_code=address.country_code,
            phone=address.phone),
        email=shipping.email, phone=shipping.phone, shipping_method=shipping.method)


def _described(error: Exception) -> str:
    """The connector's message, which names the request and carries the platform's own message (redacted)."""
    text = str(error)
    platform_message = getattr(error, "platform_message", "")
    if platform_message and platform_message not in text:
        text = f"{text} (platform said: {platform_message})"
    return text


def _bytes(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def _original(message: KafkaMessage) -> OriginalRecord:
    key, value = message.key, message.value
    return OriginalRecord(topic=message.topic, partition=message.partition, offset=message.offset,
                          key=key.decode("utf-8", "replace") if key is not None else None,
                          value=value.decode("utf-8", "replace") if value is not None else None,
                          headers=list(header_map(message.headers).items()))

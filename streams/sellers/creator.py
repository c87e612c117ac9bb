"""The seller order sink's work: create a stored order on its seller's platform, exactly once (and hand buyer
cancellations to `streams.sellers.canceller`, new-order emails to `streams.sellers.notice`).

For an `order.placed` read from order-events (`process_placed`):
1. a record that is not a valid `order.placed` or `order.buyer_cancelled` is ignored here (the ledger agent
   dead-letters it); an `order.buyer_cancelled` goes to the canceller;
2. one whose seller `order_ref` is already set (the event this sink publishes, or a replay of it) is ignored;
3. a seller connection missing from the configuration, or not a seller, is logged as an error and counted
   `unknown_connection` (nothing can be created for it anyway);
4. an order the configuration does not send to its seller (its buyer is not a configured buyer connection, or a
   line's SKU is not routed to that seller by that buyer's routes: `ledger.routing.placement_mismatch`) is
   dead-lettered as `tenant_mismatch` (stage `seller_orders`) and counted so, whoever produced it: a record forged
   onto order-events, or one whose route was removed since, never reaches a seller's store or inbox;
5. a seller connection that is `manual` (the seller fulfills in the web app) gets the new-order email instead,
   once (`streams.sellers.notice`; counted `manual`);
6. an order already in the `seller-orders` table is not created again (restart, replay, duplicate);
7. an order the buyer cancelled in full before it was created (a pending whole-order cancellation) is not created;
8. otherwise the order's lines are linked to the seller's catalog and priced (`ledger.seller_lines`, through
   `streams.sellers.catalog`'s cache), and `create_order` is called (attempt 1).

An attempt (`process_placed` step 8, or `process_retry` once the retry record is due, after steps 3 to 6 again:
the configuration may have changed in between):
- success: a second `order.placed` with the seller's `order_ref` (deterministic event id,
  `schemas.factories.order_placed`) is published on order-events with the idempotent producer and flushed,
  then the `CreatedOrder` is written to the table, and a buyer cancellation that waited for it is sent. A crash
  in between repeats the attempt: `create_order` finds the order by our reference on the platform and the event
  is republished with the same id (a duplicate);
- `RetryableError` (429, 5xx, timeouts), or an unexpected error after the platform was called: a retry record
  (`streams.kit.retries`: attempt count, not-before time with capped exponential backoff) goes to the retry
  topic; after `MAX_ATTEMPTS` attempts the order is dead-lettered as `platform_rejected` instead;
- `PermanentError` (a 4xx, an order the platform refuses): dead-lettered as `platform_rejected` with the
  platform's message (secrets are already redacted by the connector);
- the seller's catalog lacks a line's SKU (and the route says `unknown_sku: reject`) or has it several times:
  dead-lettered as `unknown_sku` or `ambiguous_sku` naming the SKUs and the seller, nothing created; unless the
  order is already on the seller's store (`find_order`: an earlier attempt created it before the catalog changed,
  and its answer was lost), which is then confirmed as created. A requeue of the letter (once the catalog is
  fixed) makes a retry record, which looks the SKUs up again (misses are never cached).
Nothing raises out of `process_placed` or `process_retry` (an exception escaping an agent's loop would lose the
record). A transient failure of Kafka or the table (the broker away while the retry record is written) is retried
in place, the attempt found again on the platform by our reference, and past its bound stops the worker before
the record is committed (`streams.kit.failures`); any other failure is logged as critical with the order id.

Retry records and dead letters go through the sink's `streams.kit.retries.RetryOutbox` (the order's partition,
Faust's producer): a restart loses no retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry

from connectors.base import SellerConnector
from ledger.routing import placed_as, placement_mismatch
from ledger.seller_lines import CatalogRefusal, SellerOrder, order_skus, seller_order, unlinked
from schemas.config import Config, Connection
from schemas.events import OrderBuyerCancelled, OrderPlaced, OriginalRecord, ShippingDetails
from schemas.factories import order_placed
from schemas.platform import Address, NewOrder
from streams.kit.connectors import ConnectorCache
from streams.kit.dead_letters import message_of, original_record
from streams.kit.failures import InPlaceRetry, is_transient, no_worker
from streams.kit.metrics import counter
from streams.kit.producer import EventSink
from streams.kit.records import InvalidInput, KafkaMessage, decode_input, position
from streams.kit.retries import Failure, RetryOutbox
from streams.sellers.canceller import CancellationMetrics, SellerOrderCanceller
from streams.sellers.catalog import CatalogMetrics, SellerCatalogs
from streams.sellers.notice import Mailer, NewOrderNotifier, NoticeMetrics
from streams.sellers.records import RetryRecord, decode_retry, retry_of
from streams.sellers.tables import SellerOrderEntry, SellerOrderTables

log = logging.getLogger(__name__)

STAGE = "seller_orders"
SOURCE = "/fulfillsync/seller-orders"

ConnectorFactory = Callable[[Connection], SellerConnector]
_ORDER_EVENTS = frozenset({"order.placed", "order.buyer_cancelled"})


class SellerOrderMetrics:
    """`fulfillsync_seller_orders_total{connection,outcome}` and `fulfillsync_seller_cancellations_total`;
    connection labels are configured ids or `unknown`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = counter("fulfillsync_seller_orders", "order.placed handled by the seller order sink, "
                                "by seller connection and outcome", ["connection", "outcome"], registry=registry)
        self.cancellations = CancellationMetrics(registry)
        self.catalogs = CatalogMetrics(registry)
        self.notices = NoticeMetrics(registry)


class SellerOrderCreator:
    """Creates stored orders on their sellers' platforms; see the module docstring for the contract."""

    def __init__(self, *, config: Config, order_events: str, tables: SellerOrderTables, events: EventSink,
                 outbox: RetryOutbox, connector_for: ConnectorFactory, metrics: SellerOrderMetrics,
                 clock: Callable[[], datetime], mailer: Mailer | None = None,
                 retry: InPlaceRetry | None = None) -> None:
        self._connections = {connection.id: connection for connection in config.connections}
        self._routes = tuple(config.routes)
        self._order_events = order_events
        self._tables = tables
        self._events = events
        self._outbox = outbox
        self._retry = retry if retry is not None else InPlaceRetry(no_worker)
        self.until_due = outbox.until_due(RetryRecord)
        """The retry agent's wait in its loop, so a waiting retry does not take a creation's place."""
        self._connectors = ConnectorCache(connector_for)
        self._catalogs = SellerCatalogs(ttl_s=config.worker.catalog_ttl.total_seconds(), metrics=metrics.catalogs)
        self._metrics = metrics
        self._clock = clock
        self._canceller = SellerOrderCanceller(connections=self._connections, tables=tables, outbox=outbox,
                                               connector=self._connectors.get, metrics=metrics.cancellations)
        self._notifier = NewOrderNotifier(web=config.web, mailer=mailer, tables=tables, outbox=outbox,
                                          metrics=metrics.notices, clock=clock)

    async def aclose(self) -> None:
        """Close every connector's HTTP client."""
        await self._connectors.aclose()

    # -- order-events ----------------------------------------------------------------------------------------

    async def process_placed(self, message: KafkaMessage) -> None:
        """Handle one order-events record. Never raises (see the module docstring)."""
        await self._retry.run(lambda: self._placed(message), what=f"the seller order sink on {position(message)}",
                              on_bug=self._bug)

    async def _bug(self, error: Exception) -> None:
        self._count("unknown", "internal_error")

    async def _placed(self, message: KafkaMessage) -> None:
        try:
            decoded = decode_input(message, _ORDER_EVENTS)
            if isinstance(decoded, OrderBuyerCancelled):
                await self._canceller.cancel(decoded, original_record(message))
                return
            if isinstance(decoded, InvalidInput) or not isinstance(decoded, OrderPlaced):
                return  # the ledger agent dead-letters what is not a valid input
            connection = self._seller_connection(decoded)
            if connection is None or decoded.seller.order_ref is not None:
                return
            if await self._misrouted(decoded, connection, message):
                return
            if connection.platform == "manual":
                self._count(connection.id, "manual")
                await self._notifier.notify(decoded, connection, original_record(message), attempt=1)
                return
            if self._tables.created.contains(decoded.order_id):
                self._count(connection.id, "already_created")
                return
            await self._attempt(decoded, original_record(message), attempt=1)
        except Exception as error:
            if is_transient(error):
                raise
            log.critical("seller order sink failed on order-events record %s:%d:%d; the order is not created or "
                         "cancelled", message.topic, message.partition, message.offset, exc_info=True)

    async def _misrouted(self, placed: OrderPlaced, connection: Connection, message: KafkaMessage) -> bool:
        """True, after dead-lettering `message` as `tenant_mismatch`, when the configuration does not send `placed`
        to its seller (`placement_mismatch`). Raises only if the dead letter cannot be written (retried in place)."""
        why = placement_mismatch(placed, routes=self._routes, connections=self._connections.values())
        if why is None:
            return False
        await self._outbox.reject(message, order_id=placed.order_id, rejected_event_id=placed.event_id,
                                  reason="tenant_mismatch",
                                  text=f"order {placed.order_id} is not created on {connection.id}: {why}")
        self._count(connection.id, "tenant_mismatch")
        return True

    def _seller_connection(self, placed: OrderPlaced) -> Connection | None:
        connection = self._connections.get(placed.seller.connection)
        if connection is None or connection.role != "seller":
            if placed.seller.order_ref is None:
                self._count("unknown", "unknown_connection")
                log.error("order %s: seller connection %r is not a configured seller; not created anywhere",
                          placed.order_id, placed.seller.connection[:64])
            return None
        return connection

    # -- retries ---------------------------------------------------------------------------------------------

    async def process_retry(self, message: KafkaMessage) -> None:
        """Handle one retry record: wait until it is due (at most `MAX_DELAY`; at once after `until_due`), then
        attempt again. Never raises."""
        record = decode_retry(message.value)
        if isinstance(record, str):
            log.error("ignoring record %s:%d:%d on the seller-order retry topic: %s", message.topic,
                      message.partition, message.offset, record)
            self._count("unknown", "invalid_retry")
            return
        await self._outbox.sleep_until_due(record)
        await self._retry.run(lambda: self._retried(record), what=f"the seller order retry {position(message)}",
                              on_bug=self._bug)

    async def _retried(self, record: RetryRecord) -> None:
        try:
            if record.cancelled is not None:
                await self._canceller.cancel(record.cancelled, record.original, attempt=record.attempt + 1)
                return
            assert record.placed is not None
            connection = self._seller_connection(record.placed)
            if connection is None:
                return
            if await self._misrouted(record.placed, connection, message_of(record.original)):
                return
            if connection.platform == "manual":
                await self._notifier.notify(record.placed, connection, record.original, attempt=record.attempt + 1)
                return
            if self._tables.created.contains(record.placed.order_id):
                self._count(connection.id, "already_created")
                return
            await self._attempt(record.placed, record.original, attempt=record.attempt + 1)
        except Exception as error:
            if is_transient(error):
                raise
            log.critical("seller order sink failed on retry %d of order %s (%s); not done", record.attempt + 1,
                         record.event.order_id, record.event.type, exc_info=True)

    # -- one attempt -----------------------------------------------------------------------------------------

    async def _attempt(self, placed: OrderPlaced, original: OriginalRecord, *, attempt: int) -> None:
        connection = self._connections[placed.seller.connection]
        pending = self._tables.pending.get(placed.order_id)
        if pending is not None and pending.totals.whole_order:
            self._count(connection.id, "cancelled_before_creation")
            log.info("order %s is not created on %s: the buyer cancelled all of it first", placed.order_id,
                     connection.id)
            return
        try:
            connector = self._connectors.get(connection)
            made = seller_order(placed, self._routes,
                                await self._catalogs.lookup(connection.id, connector, order_skus(placed)))
            if isinstance(made, CatalogRefusal):
                # an earlier attempt may have created it before the catalog changed (a lost answer, a crash)
                earlier = new_order(placed, unlinked(placed))
                if await connector.find_order(earlier) is None:
                    await self._refuse(placed, original, made)
                    return
                made = unlinked(placed)
            created = await connector.create_order(new_order(placed, made))
            at = self._clock()
            seller = placed.seller.model_copy(update={"order_ref": created.order_ref})
            confirmed = placed_as(order_placed(buyer=placed.buyer, seller=seller, lines=placed.lines, occurred_at=at),
                                  placed.order_id).model_copy(update={"shipping": placed.shipping})
            self._events.publish(self._order_events, confirmed, source=SOURCE)
            await self._events.flush()
            entry = SellerOrderEntry.of(created, at, connection.id)
            self._tables.created.put(placed.order_id, entry)
        except Exception as error:
            failure = Failure.of(error)
            if not failure.retryable:
                await self._reject(placed, original, f"{connection.id} refused to create order {placed.order_id}: "
                                   f"{failure.text}")
                return
            if failure.unexpected:
                log.exception("creating order %s on %s failed unexpectedly (attempt %d)", placed.order_id,
                              connection.id, attempt)
            await self._retry_or_give_up(placed, original, attempt, failure)
            return
        self._count(connection.id, "created")
        log.info("order %s created on %s as %s (attempt %d)", placed.order_id, connection.id,
                 confirmed.seller.order_ref, attempt)
        if pending is not None:
            await self._canceller.after_creation(entry, pending)

    async def _retry_or_give_up(self, placed: OrderPlaced, original: OriginalRecord, attempt: int,
                                failure: Failure) -> None:
        connection_id = placed.seller.connection
        record = await self._outbox.retry_or_give_up(
            retry_of(placed, original), message=message_of(original), order_id=placed.order_id, attempt=attempt,
            failure=failure, gave_up=f"{connection_id} could not create order {placed.order_id}",
            rejected_event_id=placed.event_id)
        if record is None:
            self._count(connection_id, "dead_lettered")
            return
        self._count(connection_id, "retry_scheduled")
        log.warning("creating order %s on %s failed (attempt %d), retrying at %s: %s", placed.order_id,
                    connection_id, attempt, record.not_before.isoformat(), failure.text)

    async def _refuse(self, placed: OrderPlaced, original: OriginalRecord, refusal: CatalogRefusal) -> None:
        connection_id = placed.seller.connection
        await self._outbox.reject(message_of(original), order_id=placed.order_id, rejected_event_id=placed.event_id,
                                  reason=refusal.reason, text=f"order {placed.order_id} is not created on "
                                  f"{connection_id}: {refusal.text(connection_id)}")
        self._count(connection_id, refusal.reason)

    async def _reject(self, placed: OrderPlaced, original: OriginalRecord, text: str) -> None:
        await self._outbox.reject(message_of(original), order_id=placed.order_id, rejected_event_id=placed.event_id,
                                  text=text)
        self._count(placed.seller.connection, "dead_lettered")

    def _count(self, connection_id: str, outcome: str) -> None:
        self._metrics.outcomes.labels(connection_id, outcome).inc()


def new_order(placed: OrderPlaced, made: SellerOrder) -> NewOrder:
    """What `create_order` gets for a stored order: our order id as the reference the platform keeps, the lines
    linked and priced as `made` says (our line ids as line refs), the shipping details the buyer order had, and
    the buyer's order number (its reference when the event carries no number)."""
    shipping = placed.shipping or ShippingDetails()
    address = shipping.address
    return NewOrder(
        our_order_id=placed.order_id, buyer_order_number=shipping.buyer_order_number or placed.buyer.order_ref,
        lines=made.lines, currency=made.currency, shipping_price=made.shipping_price,
        shipping_address=None if address is None else Address(
            name=address.name, company=address.company, lines=tuple(address.lines), city=address.city,
            region=address.region, postal_code=address.postal_code, country_code=address.country_code,
            phone=address.phone),
        email=shipping.email, phone=shipping.phone, shipping_method=shipping.method)

"""The check agent's work: read one stored order's fulfillments from its seller's platform and publish what is new
or changed (`ledger.fulfillment_sync.seller_events`) on fulfillment-events. Never raises (an exception escaping an
agent's loop would lose the record).

Per check record, in the order's partition (beside the order table and the seller-orders table):
1. a record that is not a check: logged, counted `invalid`;
2. a connection that is not a configured seller with a connector: logged, counted `unknown_connection`;
3. an order the ledger does not know, or that was never created on a seller's platform: counted `unknown_order`
   (the seller's store carries a reference we did not write, or the creation is still being recorded);
4. an order whose seller is another connection: dead-lettered as `tenant_mismatch` (a store may only touch its
   own orders);
5. an order shipped longer ago than `polling.shipped_watch`: not read (`outside_watch`), its entry removed;
6. otherwise `fulfillments(seller order ref, known_refs=refs published before)` is read; the events are queued on
   the idempotent producer and flushed, then what was published is stored. A crash before the store republishes
   the same events (same ids), which the ledger recognises as duplicates.
Read failures (`RetryableError` after the connector's own retries, `PermanentError`, anything unexpected) are
logged with the platform's message and marked on the entry (`read_failed_at`); the sweep asks for the order
again one interval later. Problems with what the seller reported (unknown lines, a reactivated cancellation, ...)
are logged and counted in `fulfillsync_seller_fulfillment_problems_total`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry

from connectors.base import ConnectorError, SellerConnector, described
from ledger import OrderState
from ledger.fulfillment_sync import StoredSellerOrder, seller_events
from ledger.outputs import shipped_output
from schemas.config import Config, Connection
from schemas.events import OrderPlaced
from streams.fulfillments.records import CheckRecord, decode_check
from streams.fulfillments.tables import SellerWatch
from streams.kit.connectors import ConnectorCache
from streams.kit.dead_letters import DeadLetterMetrics, dead_letter, encode_dead_letter
from streams.kit.failures import InPlaceRetry
from streams.kit.metrics import counter
from streams.kit.producer import EventSink
from streams.kit.records import KafkaMessage, Send, position, source_of
from streams.kit.tables import TypedTable
from streams.sellers.tables import SellerOrderEntry

log = logging.getLogger(__name__)

STAGE = "seller_fulfillments"
SOURCE = "/fulfillsync/seller-fulfillments"
ConnectorFactory = Callable[[Connection], SellerConnector]


@dataclass(frozen=True)
class CheckTopics:
    fulfillment_events: str
    dead_letters: str


class CheckMetrics:
    """`fulfillsync_seller_checks_total{connection,outcome}` and
    `fulfillsync_seller_fulfillment_problems_total{connection,reason}`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.checks = counter("fulfillsync_seller_checks", "Seller order checks by connection and outcome",
                              ["connection", "outcome"], registry=registry)
        self.problems = counter("fulfillsync_seller_fulfillment_problems", "Seller fulfillments that produced no "
                                "event, by connection and reason", ["connection", "reason"], registry=registry)
        self.published = counter("fulfillsync_seller_fulfillment_events", "fulfillment.* events published from "
                                 "seller platforms, by connection and type", ["connection", "type"],
                                 registry=registry)


class FulfillmentChecker:
    """Reads seller fulfillments for check records; see the module docstring for the contract."""

    def __init__(self, *, config: Config, topics: CheckTopics, orders: TypedTable[OrderState],
                 seller_orders: TypedTable[SellerOrderEntry], watch: TypedTable[SellerWatch], events: EventSink,
                 send: Send, dead_letters: DeadLetterMetrics, connector_for: ConnectorFactory, metrics: CheckMetrics,
                 clock: Callable[[], datetime], retry: InPlaceRetry) -> None:
        self._connections = {connection.id: connection for connection in config.connections}
        self._shipped_watch = config.polling.shipped_watch
        self._topics = topics
        self._orders = orders
        self._seller_orders = seller_orders
        self._watch = watch
        self._events = events
        self._send = send
        self._dead_letters = dead_letters
        self._retry = retry
        self._connectors = ConnectorCache(connector_for)
        self._metrics = metrics
        self._clock = clock

    async def aclose(self) -> None:
        """Close every connector's HTTP client."""
        await self._connectors.aclose()

    async def process(self, message: KafkaMessage) -> None:
        """Handle one check record. Never raises: a transient failure (the producer, the table) is retried in place
        and past its bound stops the worker before the record is committed (`streams.kit.failures`); an error that
        repeats marks the order's last read as failed, so the sweep asks for it again next interval."""
        await self._retry.run(lambda: self._process(message), what=f"the seller check {position(message)}",
                              on_bug=lambda error: self._mark_failed(message))

    async def _mark_failed(self, message: KafkaMessage) -> None:
        self._metrics.checks.labels("unknown", "internal_error").inc()
        check = decode_check(message.value)
        if isinstance(check, str):
            return
        watch = self._watch.get(check.order_id) or SellerWatch(connection_id=check.connection_id,
                                                               seller_order_ref=check.seller_order_ref)
        self._watch.put(check.order_id, watch.model_copy(update={"read_failed_at": self._clock()}))
        log.error("seller check of order %s failed; marked so that the sweep asks for it again next interval",
                  check.order_id)

    async def _process(self, message: KafkaMessage) -> None:
        check = decode_check(message.value)
        if isinstance(check, str):
            self._metrics.checks.labels("unknown", "invalid").inc()
            log.warning("ignoring record %s on the seller-checks topic: %s", position(message), check)
            return
        connection = self._connections.get(check.connection_id)
        if connection is None or connection.role != "seller" or connection.platform == "manual":
            self._metrics.checks.labels("unknown", "unknown_connection").inc()
            log.warning("ignoring seller check for connection %r: not a configured seller with a platform to read",
                        check.connection_id[:64])
            return
        state = self._orders.get(check.order_id)
        placed = state.order if state is not None else None
        created = self._seller_orders.get(check.order_id)
        if placed is None or created is None:
            self._count(connection, "unknown_order")
            log.info("%s: seller order %s carries order id %s, which %s; not read", connection.id,
                     check.seller_order_ref, check.order_id,
                     "the ledger does not know" if placed is None else "was not created on a seller platform")
            return
        if placed.seller.connection != connection.id:
            await self._tenant_mismatch(message, check, placed)
            return
        if check.seller_order_ref != created.order_ref:
            log.warning("%s: seller order %s claims order id %s, which was created as %s; reading %s", connection.id,
                        check.seller_order_ref, check.order_id, created.order_ref, created.order_ref)
        now = self._clock()
        shipped = shipped_output(state) if state is not None else None
        watch = self._watch.get(check.order_id) or SellerWatch(connection_id=connection.id,
                                                               seller_order_ref=created.order_ref)
        watch = watch.model_copy(update={"shipped_at": shipped.shipped_at if shipped else None})
        if not watch.watched(now, self._shipped_watch):
            self._watch.delete(check.order_id)
            self._count(connection, "outside_watch")
            return
        try:
            found = await self._connectors.get(connection).fulfillments(created.order_ref, known_refs=watch.published)
        except Exception as error:
            self._watch.put(check.order_id, watch.model_copy(update={"read_failed_at": now}))
            self._count(connection, "read_failed")
            log.warning("%s: reading the fulfillments of order %s (seller order %s) failed; asked again at the next "
                        "sweep: %s", connection.id, check.order_id, created.order_ref, described(error),
                        exc_info=not isinstance(error, ConnectorError))
            return
        sync = seller_events(StoredSellerOrder(placed, created.order_ref, created.line_refs), connection, found,
                             watch.last_published())
        for problem in sync.problems:
            self._metrics.problems.labels(connection.id, problem.reason).inc()
            log.warning("%s: order %s: %s", connection.id, check.order_id, problem.message)
        for event in sync.events:
            self._events.publish(self._topics.fulfillment_events, event, source=source_of(connection))
        await self._events.flush()
        self._watch.put(check.order_id, watch.with_published(sync.published, read_at=now))
        for event in sync.events:
            self._metrics.published.labels(connection.id, event.type).inc()
            log.info("%s: order %s: %s %s (event %s)", connection.id, check.order_id, event.type,
                     event.fulfillment_id, event.event_id)
        self._count(connection, "changed" if sync.events else "unchanged")
        log.debug("%s: order %s (%s check): read %d fulfillment(s), %d event(s)", connection.id, check.order_id,
                  check.reason, len(found), len(sync.events))

    async def _tenant_mismatch(self, message: KafkaMessage, check: CheckRecord, placed: OrderPlaced) -> None:
        text = (f"connection {check.connection_id} reported seller order {check.seller_order_ref} as order "
                f"{check.order_id}, which belongs to seller connection {placed.seller.connection}; not read")
        letter = dead_letter(message, reason="tenant_mismatch", text=text, order_id=check.order_id,
                             rejected_event_id=None, at=self._clock(), stage=STAGE)
        await self._send(self._topics.dead_letters, encode_dead_letter(letter, key=check.order_id, source=SOURCE), None)
        self._dead_letters.count(letter)
        self._metrics.checks.labels(check.connection_id, "tenant_mismatch").inc()
        log.warning("dead-lettered %s as tenant_mismatch: %s", position(message), text)


    def _count(self, connection: Connection, outcome: str) -> None:
        self._metrics.checks.labels(connection.id, outcome).inc()

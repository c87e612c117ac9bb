"""The buyer tracking sink's work: bring the buyer's order in line with the ledger's state of a stored order.

For a push (`process_push`, from the ledger agent) or a due retry (`process_retry`), in the order's partition:
1. the order's state is read from the order table; an order without state, without a buyer order ref, or whose
   buyer connection is not configured with a platform is left alone (logged, counted);
2. for each fulfillment of the state (the ledger's view: the version it applied last, or its cancellation),
   `buyer_action(view, written)` gives the write that moves the buyer towards it, or None;
3. each write follows the protocol of `ledger.fulfillment_sync` (docs/fulfillment-sync.md): record
   `written_before`, write (a create always starts with `find_fulfillment` by our fulfillment id, so a create that
   landed before a crash is found instead of made again), record `written_after` with the buyer-side ref.
Failures:
- `RetryableError` (429, 5xx, timeouts, after the connector's short in-call retries), or anything unexpected: the
  order's remaining writes wait for a retry record on `<prefix>.buyer-push-retries` (`streams.kit.retries`:
  capped exponential backoff honouring `Retry-After`); other orders go on. After `MAX_ATTEMPTS` the order is
  dead-lettered as `platform_rejected` with the last error.
- `PermanentError` (the buyer's platform refuses the write): dead-lettered as `platform_rejected` with the
  platform's message; that view of that fulfillment is not tried again (a newer view is).
Nothing raises out of `process_push` / `process_retry`. A transient failure of Kafka or the table (writing the
retry record while the broker is away) is retried in place, and past its bound stops the worker before the record
is committed (`streams.kit.failures`); any other failure to write a retry record or a dead letter is logged as
critical with the order id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from prometheus_client import CollectorRegistry

from connectors.base import BuyerConnector, FulfillmentGone, PermanentError, described
from ledger import OrderState
from ledger.fulfillment_sync import (
    BuyerAction,
    BuyerWritten,
    Cancel,
    Create,
    Replace,
    UpdateTracking,
    buyer_action,
    written_after,
    written_before,
)
from ledger.state import FulfillmentRecord
from schemas.config import Config, Connection
from schemas.events import FulfilledLine, FulfillmentCancelled, FulfillmentRecorded, OrderPlaced, SourceRef
from schemas.platform import FulfillmentRequest
from streams.buyers.records import RetryRecord, decode_push, decode_retry
from streams.buyers.tables import BuyerWrites
from streams.kit.connectors import ConnectorCache
from streams.kit.failures import InPlaceRetry, is_transient, no_worker
from streams.kit.logs import Sometimes
from streams.kit.metrics import LATENCY_BUCKETS, counter, histogram
from streams.kit.records import KafkaMessage, position
from streams.kit.retries import Failure, RetryOutbox
from streams.kit.tables import TypedTable

log = logging.getLogger(__name__)

UNWRITABLE_LOG_S = 600.0
"""How often a push for a buyer connection that cannot be written is logged, per connection."""

STAGE = "buyer_tracking"
SOURCE = "/fulfillsync/buyer-tracking"
ConnectorFactory = Callable[[Connection], BuyerConnector]


class PushMetrics:
    """`fulfillsync_buyer_writes_total{connection,action,outcome}`, `fulfillsync_buyer_pushes_total{outcome}` and
    `fulfillsync_fulfillment_to_buyer_seconds{connection,action}` (`reached_buyer`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.writes = counter("fulfillsync_buyer_writes", "Writes to buyers' platforms by buyer connection, action "
                              "and outcome", ["connection", "action", "outcome"], registry=registry)
        self.pushes = counter("fulfillsync_buyer_pushes", "Push and retry records handled by the buyer tracking "
                              "sink, by outcome", ["outcome"], registry=registry)
        self.latency = histogram("fulfillsync_fulfillment_to_buyer_seconds", "From the seller's platform's last "
                                 "change of a fulfillment to its write on the buyer's store succeeding, by buyer "
                                 "connection and action", ["connection", "action"], buckets=LATENCY_BUCKETS,
                                 registry=registry)

    def reached_buyer(self, connection: str, action: BuyerAction, changed_at: datetime) -> None:
        """Observe a write that succeeded now for a fulfillment the seller's platform last changed at `changed_at`
        (its `source_version`: the platform's own time, or the web app's; a clock ahead of ours counts 0)."""
        waited = max(time.time() - changed_at.timestamp(), 0.0)
        self.latency.labels(connection, type(action).__name__).observe(waited)


class _Retry(Exception):
    """A write to try again later: its `Failure` (`streams.kit.retries`), described for the order."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.text)
        self.failure = failure


class BuyerTrackingSink:
    """Writes the ledger's fulfillments to buyers' orders; see the module docstring for the contract."""

    def __init__(self, *, config: Config, orders: TypedTable[OrderState], writes: TypedTable[BuyerWrites],
                 outbox: RetryOutbox, connector_for: ConnectorFactory, metrics: PushMetrics,
                 retry: InPlaceRetry | None = None) -> None:
        self._connections = {connection.id: connection for connection in config.connections}
        self._orders = orders
        self._writes = writes
        self._outbox = outbox
        self._until_due = outbox.until_due(RetryRecord)
        self._connectors = ConnectorCache(connector_for)
        self._metrics = metrics
        self._retry = retry if retry is not None else InPlaceRetry(no_worker)
        self._unwritable = Sometimes(UNWRITABLE_LOG_S)

    async def aclose(self) -> None:
        """Close every connector's HTTP client."""
        await self._connectors.aclose()

    async def process_push(self, message: KafkaMessage) -> None:
        """Handle one push record. Never raises."""
        push = decode_push(message.value)
        if isinstance(push, str):
            self._metrics.pushes.labels("invalid").inc()
            log.warning("ignoring record %s on the buyer-pushes topic: %s", position(message), push)
            return
        await self._retry.run(lambda: self._guarded(message, push.order_id, attempt=1),
                              what=f"the buyer push {position(message)}", on_bug=self._bug)

    async def process_retry(self, message: KafkaMessage) -> None:
        """Handle one retry record: wait until it is due (at most `MAX_DELAY`; at once after `until_due`), then
        write again. Never raises."""
        record = decode_retry(message.value)
        if isinstance(record, str):
            self._metrics.pushes.labels("invalid").inc()
            log.warning("ignoring record %s on the buyer-push retry topic: %s", position(message), record)
            return
        await self._outbox.sleep_until_due(record)
        await self._retry.run(lambda: self._guarded(message, record.order_id, attempt=record.attempt + 1,
                                                    retry_refused=record.requeued),
                              what=f"the buyer push retry {position(message)}", on_bug=self._bug)

    async def _bug(self, error: Exception) -> None:
        self._metrics.pushes.labels("internal_error").inc()

    async def until_due(self, message: KafkaMessage) -> None:
        """The retry agent's wait in its loop (`RetryOutbox.until_due`), so a waiting retry does not take a
        writer's place. Never raises."""
        await self._until_due(message)

    async def _guarded(self, message: KafkaMessage, order_id: str, *, attempt: int,
                       retry_refused: bool = False) -> None:
        try:
            outcome = await self._reconcile(message, order_id, retry_refused=retry_refused)
        except _Retry as retry:
            outcome = await self._retry_or_give_up(message, order_id, attempt, retry.failure)
        except Exception as error:
            if is_transient(error):
                raise
            log.critical("buyer tracking sink failed on %s for order %s; the next push or replay writes it",
                         position(message), order_id, exc_info=True)
            outcome = "internal_error"
        self._metrics.pushes.labels(outcome).inc()

    async def _reconcile(self, message: KafkaMessage, order_id: str, *, retry_refused: bool = False) -> str:
        """Write what the buyer lacks; the outcome label. Raises `_Retry` when a write must be tried again.
        `retry_refused`: also the views the buyer's platform refused for good (a requeued dead letter)."""
        state = self._orders.get(order_id)
        if state is None or state.order is None:
            return "unknown_order"
        placed = state.order
        buyer = self._connections.get(placed.buyer.connection)
        if buyer is None or buyer.role != "buyer" or buyer.platform == "manual" or placed.buyer.order_ref is None:
            if self._unwritable.due(placed.buyer.connection):
                log.error("order %s: buyer connection %r is not a configured buyer with a platform (or the order has "
                          "no buyer order ref); its fulfillments are not written (said once per connection every "
                          "%.0f minutes; fulfillsync_buyer_pushes_total{outcome=\"unknown_connection\"} counts every "
                          "push)", order_id, placed.buyer.connection[:64], UNWRITABLE_LOG_S / 60)
            return "unknown_connection"
        writes = self._writes.get(order_id) or BuyerWrites()
        if retry_refused:
            writes.refused.clear()
        wrote = 0
        for fulfillment_id, record in sorted(state.fulfillments.items()):
            view_key = f"{record.digest}:{record.cancelled}"
            if writes.refused.get(fulfillment_id) == view_key:
                continue
            written = writes.get(fulfillment_id)
            action = buyer_action(ledger_view(placed, record), written, notify_customer=buyer.notify_customer)
            if action is None:
                continue
            try:
                await self._write(buyer, placed.buyer.order_ref, order_id, fulfillment_id, action, written, writes)
                self._metrics.reached_buyer(buyer.id, action, record.source_version)
                wrote += 1
            except PermanentError as error:
                writes.refused[fulfillment_id] = view_key
                self._writes.put(order_id, writes)
                await self._refused(message, state, fulfillment_id, action, described(error))
        return "written" if wrote else "unchanged"

    async def _write(self, buyer: Connection, order_ref: str, order_id: str, fulfillment_id: str,
                     action: BuyerAction, written: BuyerWritten | None, writes: BuyerWrites) -> None:
        """One action with the before/after protocol. Raises `_Retry` or `PermanentError`."""
        connector = self._connectors.get(buyer)
        kind = type(action).__name__
        try:
            before = written_before(action, written)
            ref: str | None = None
            if isinstance(action, Replace):
                await self._cancel(connector, order_ref, action.cancel)
                self._record(order_id, fulfillment_id, before, writes)
                ref = await self._find_or_create(connector, order_ref, action.request)
            elif isinstance(action, Create):
                self._record(order_id, fulfillment_id, before, writes)
                ref = await self._find_or_create(connector, order_ref, action.request)
            elif isinstance(action, UpdateTracking):
                self._record(order_id, fulfillment_id, before, writes)
                try:
                    ref = await connector.update_tracking(order_ref, action.fulfillment_ref, action.tracking)
                except FulfillmentGone:
                    if written is None:
                        raise
                    log.warning("order %s: buyer fulfillment %s of seller fulfillment %s is gone from %s order %s; "
                                "writing it again", order_id, action.fulfillment_ref, fulfillment_id, buyer.id,
                                order_ref)
                    ref = await self._find_or_create(connector, order_ref,
                                                     written.request.model_copy(update={"tracking": action.tracking}))
            else:
                await self._cancel(connector, order_ref, action)
            after = written_after(action, written, ref)
            self._record(order_id, fulfillment_id, after, writes)
        except Exception as error:
            failure = Failure.of(error)
            if not failure.retryable:
                self._metrics.writes.labels(buyer.id, kind, "refused").inc()
                raise
            self._metrics.writes.labels(buyer.id, kind, "retry").inc()
            if failure.unexpected:
                log.exception("%s of fulfillment %s on %s order %s failed unexpectedly", kind, fulfillment_id,
                              buyer.id, order_ref)
            raise _Retry(replace(failure, text=f"{kind} of fulfillment {fulfillment_id} on {buyer.id} order "
                                               f"{order_ref}: {failure.text}")) from error
        self._metrics.writes.labels(buyer.id, kind, "ok").inc()
        log.info("order %s: %s of seller fulfillment %s on %s order %s -> buyer fulfillment %s", order_id, kind,
                 fulfillment_id, buyer.id, order_ref, after.fulfillment_ref)

    @staticmethod
    async def _find_or_create(connector: BuyerConnector, order_ref: str, request: FulfillmentRequest) -> str:
        found = await connector.find_fulfillment(order_ref, request)
        return found if found is not None else await connector.create_fulfillment(order_ref, request)

    @staticmethod
    async def _cancel(connector: BuyerConnector, order_ref: str, cancel: Cancel) -> None:
        ref = cancel.fulfillment_ref
        if ref is None:
            ref = await connector.find_fulfillment(order_ref, cancel.find_with)
        if ref is not None:
            await connector.cancel_fulfillment(order_ref, ref)

    def _record(self, order_id: str, fulfillment_id: str, written: BuyerWritten | None, writes: BuyerWrites) -> None:
        if written is not None:
            writes.record(fulfillment_id, written)
            self._writes.put(order_id, writes)

    async def _retry_or_give_up(self, message: KafkaMessage, order_id: str, attempt: int,
                                failure: Failure) -> str:
        def build(attempt: int, not_before: datetime, last_error: str) -> RetryRecord:
            return RetryRecord(order_id=order_id, attempt=attempt, not_before=not_before, last_error=last_error)

        try:
            record = await self._outbox.retry_or_give_up(
                build, message=message, order_id=order_id, attempt=attempt,
                failure=failure,
                gave_up=f"could not write order {order_id}'s fulfillments to the buyer")
        except Exception as failed:
            if is_transient(failed):
                raise
            log.critical("could not schedule a retry for order %s; its buyer writes wait for the next push",
                         order_id, exc_info=True)
            return "internal_error"
        if record is None:
            return "gave_up"
        log.warning("writing order %s to the buyer failed (attempt %d), retrying at %s: %s", order_id, attempt,
                    record.not_before.isoformat(), failure.text)
        return "retry_scheduled"

    async def _refused(self, message: KafkaMessage, state: OrderState, fulfillment_id: str, action: BuyerAction,
                       error: str) -> None:
        placed = state.order
        assert placed is not None
        await self._outbox.reject(message, order_id=state.order_id,
                                  text=f"{placed.buyer.connection} refused to {_verb(action)} for seller fulfillment "
                                  f"{fulfillment_id} on buyer order {placed.buyer.order_ref}: {error}; not tried "
                                  "again until the seller's fulfillment changes")


def ledger_view(placed: OrderPlaced, record: FulfillmentRecord) -> FulfillmentRecorded | FulfillmentCancelled:
    """The ledger's view of one seller fulfillment as the event `buyer_action` takes: its current lines, carrier
    (canonical) and tracking (URLs built), or its cancellation. The event id is not a real event's."""
    source = SourceRef(partner=placed.seller.partner, connection=placed.seller.connection,
                       platform=placed.seller.platform)
    common = {"event_id": f"view:{record.fulfillment_id}", "order_id": placed.order_id,
              "occurred_at": record.source_version, "source": source, "fulfillment_id": record.fulfillment_id,
              "source_version": record.source_version}
    if record.cancelled or not record.lines:
        return FulfillmentCancelled(**common)
    return FulfillmentRecorded(**common, carrier=record.carrier, tracking_numbers=record.tracking_numbers,
                               tracking_urls=record.tracking_urls,
                               lines=[FulfilledLine(line_id=line.line_id, sku=line.sku, quantity=line.quantity)
                                      for line in record.lines])


def _verb(action: BuyerAction) -> str:
    if isinstance(action, Create):
        return "create a fulfillment"
    if isinstance(action, UpdateTracking):
        return "update the tracking"
    if isinstance(action, Replace):
        return "replace a fulfillment"
    return "cancel a fulfillment"

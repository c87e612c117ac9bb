"""The seller order sink's work for a buyer cancellation (`order.buyer_cancelled`): cancel on the seller's platform
what the buyer cancelled, once per change of the totals.

For one cancellation (`cancel`, from order-events or from a retry record):
1. the totals are merged with what the sink handled before for the order (per line the most units cancelled), so
   an older or replayed event never undoes a newer one;
2. the order has no entry in `seller-orders` (not created yet: its creation is being retried, or it never will
   be, e.g. a manual seller or a dead-lettered order): the merged totals wait as a `PendingCancellation`. The
   creation attempt reads it: a whole-order cancellation means the order is not created at all; otherwise the
   order is created as placed and the pending cancellation is sent right after (`after_creation`);
3. the entry already records these totals as sent or rejected: nothing is called (a duplicate, a replay);
4. otherwise `cancel_order` is called with the entry's seller order ref and line refs. Success: the entry records
   the totals as `sent`. `PermanentError` (e.g. the order already shipped): dead-lettered `platform_rejected` with
   the platform's message, the totals recorded as `rejected` so a replay does not call again. `RetryableError` or
   an unexpected error: a retry record (`streams.kit.retries`), dead-lettered after `MAX_ATTEMPTS`.
The seller connection comes from the entry (written at creation); one that is not a configured platform seller
(manual, removed from the configuration, or an entry from before cancellations existed) is logged and counted
`unknown_connection`. Nothing raises out of `cancel`: the caller (`SellerOrderCreator`) catches and logs too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from connectors.base import SellerConnector
from schemas.config import Connection
from schemas.events import OrderBuyerCancelled, OriginalRecord
from streams.kit.dead_letters import message_of
from streams.kit.metrics import counter
from streams.kit.retries import Failure, RetryOutbox
from streams.sellers.records import retry_of
from streams.sellers.tables import CancellationTotals, PendingCancellation, SellerOrderEntry, SellerOrderTables

log = logging.getLogger(__name__)


class CancellationMetrics:
    """`fulfillsync_seller_cancellations_total{connection,outcome}`; connection labels are configured ids or
    `unknown`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = counter("fulfillsync_seller_cancellations", "order.buyer_cancelled handled by the seller "
                                "order sink, by seller connection and outcome", ["connection", "outcome"],
                                registry=registry)


class SellerOrderCanceller:
    """Sends buyer cancellations to sellers' platforms; see the module docstring for the contract."""

    def __init__(self, *, connections: dict[str, Connection], tables: SellerOrderTables, outbox: RetryOutbox,
                 connector: Callable[[Connection], SellerConnector], metrics: CancellationMetrics) -> None:
        self._connections = connections
        self._tables = tables
        self._outbox = outbox
        self._connector = connector
        self._metrics = metrics

    async def cancel(self, event: OrderBuyerCancelled, original: OriginalRecord, *, attempt: int = 1) -> None:
        """Handle one cancellation read from `original` (attempt `attempt`)."""
        entry = self._tables.created.get(event.order_id)
        if entry is None:
            if self._tables.created.contains(event.order_id):
                self._count("unknown", "unreadable_entry")
                return  # the table logged it; the order was created but we cannot tell where
            self._keep_pending(event, original)
            return
        await self._send(entry, entry.cancellation or CancellationTotals(), event, original, attempt)

    async def after_creation(self, entry: SellerOrderEntry, pending: PendingCancellation) -> None:
        """Send the cancellation that waited for the order to be created (now recorded as `entry`)."""
        await self._send(entry, pending.totals, pending.event, pending.original, 1)

    def _keep_pending(self, event: OrderBuyerCancelled, original: OriginalRecord) -> None:
        waiting = self._tables.pending.get(event.order_id)
        totals = (waiting.totals if waiting else CancellationTotals()).merged(event)
        if waiting is None or not totals.same_totals(waiting.totals):
            self._tables.pending.put(event.order_id, PendingCancellation(totals=totals, event=event, original=original))
        self._count("unknown", "pending")
        log.info("order %s is not on a seller's platform (yet): its buyer cancellation waits for its creation",
                 event.order_id)

    async def _send(self, entry: SellerOrderEntry, before: CancellationTotals, event: OrderBuyerCancelled,
                    original: OriginalRecord, attempt: int) -> None:
        totals = before.merged(event)
        if totals.same_totals(entry.cancellation):
            self._count(entry.connection or "unknown", "already_sent")
            return
        connection = self._connections.get(entry.connection or "")
        if connection is None or connection.role != "seller" or connection.platform == "manual":
            self._count("unknown", "unknown_connection")
            log.error("order %s: its seller connection %r is not a configured platform seller; the buyer's "
                      "cancellation is not sent", event.order_id, (entry.connection or "")[:64])
            return
        try:
            await self._connector(connection).cancel_order(entry.order_ref,
                                                           totals.for_platform(event.order_id, entry.line_refs))
        except Exception as error:
            failure = Failure.of(error)
            if not failure.retryable:
                await self._reject(entry, totals, event, original, f"{connection.id} refused to cancel order "
                                   f"{event.order_id} ({entry.order_ref}): {failure.text}")
                return
            if failure.unexpected:
                log.exception("cancelling order %s on %s failed unexpectedly (attempt %d)", event.order_id,
                              connection.id, attempt)
            scheduled = await self._outbox.schedule(retry_of(event, original), key=event.order_id,
                                                    partition=original.partition, attempt=attempt, failure=failure)
            if scheduled is None:
                await self._reject(entry, totals, event, original, f"{connection.id} could not cancel order "
                                   f"{event.order_id} in {attempt} attempts; last error: {failure.text}")
                return
            self._count(connection.id, "retry_scheduled")
            log.warning("cancelling order %s on %s failed (attempt %d), retrying at %s: %s", event.order_id,
                        connection.id, attempt, scheduled.not_before.isoformat(), failure.text)
            return
        self._tables.created.put(event.order_id, entry.model_copy(update={
            "cancellation": totals.model_copy(update={"outcome": "sent"})}))
        self._count(connection.id, "sent")
        log.info("order %s: buyer cancellation sent to %s (%s, attempt %d)", event.order_id, connection.id,
                 "whole order" if totals.whole_order else f"{len(totals.lines)} line(s)", attempt)

    async def _reject(self, entry: SellerOrderEntry, totals: CancellationTotals, event: OrderBuyerCancelled,
                      original: OriginalRecord, text: str) -> None:
        await self._outbox.reject(message_of(original), order_id=event.order_id, rejected_event_id=event.event_id,
                                  text=text)
        self._tables.created.put(event.order_id, entry.model_copy(update={
            "cancellation": totals.model_copy(update={"outcome": "rejected"})}))
        self._count(entry.connection or "unknown", "dead_lettered")

    def _count(self, connection_id: str, outcome: str) -> None:
        self._metrics.outcomes.labels(connection_id, outcome).inc()

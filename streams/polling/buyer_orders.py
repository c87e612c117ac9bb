"""A buyer connection's poll: walk `orders_changed_since` from the stored cursor, route each order seen for the
first time (`ledger.routing.route_order`), publish its `order.placed` events on order-events, then store; for an
order seen again, publish what the buyer cancelled since (`order.buyer_cancelled`).

Order of effects, per page (at-least-once):
1. every new order's events, and every changed cancellation, are queued on the idempotent producer;
2. `flush` waits until they are delivered (it raises if any is not: nothing below happens, the next tick
   re-polls from the previous cursor and republishes with the same event ids, which the ledger drops);
3. the orders are recorded in the buyer-order table, then the page's cursor in the cursor table.
A crash between 2 and 3 is the same as a failed flush: the page is read again.

An order already in the buyer-order table is not routed again (routing happens once; later changes are
cancellations). It is compared with each stored order it became (`ledger.routing.buyer_cancellation`, totals
since placement): a cancellation whose event id differs from the one last published for that stored order is
published and logged once; the entry remembers the id. The connectors return an order only when it changed, and
a re-publication after a crash carries the same event id, a duplicate the ledger drops. An entry that cannot be
read is skipped (logged by the table).
The walk tells the connector which listed orders it needs nothing of (`skip`): a known order whose cancellation
mark is the one its entry recorded (nothing cancelled since; most such changes are our own fulfillment writes),
and an order that routed nothing at the same `updated_at`. Connectors that list light (Shopify) then read only
the others in full; an entry records the mark of every full read, with or without new cancellations.
An order that routes nothing (only the buyer's own products, or cancelled) is not recorded, so a corrected
route applies when it next changes. Unrouted lines are counted (`fulfillsync_unrouted_lines_total`) and logged
once per routing of an order (a line at none of the addresses of an order to several, `no_address`, also as a
warning saying what to do); a listing of the same order at the same `updated_at` again (the cursor's overlap)
is not routed again while this worker remembers it (`UNROUTED_MEMORY` orders). An order routing refuses
(`RoutingError`: repeated line refs, a route to a missing seller) is logged, counted in
`fulfillsync_unroutable_orders_total` and skipped; the walk goes on.
Orders the connector could not read (`Page.rejected`: invalid UTF-8, nesting too deep, a field missing, a decimal
quantity, a SKU over 512 characters) and `order.placed` events over `streams.polling.rejects.MAX_EVENT_BYTES` are
dead-lettered once each (`streams.polling.rejects`) before the page's cursor is stored; the rest of the page is
published as usual and the cursor moves past them.
Connector errors propagate to the caller (`streams.polling.poller`), with the cursor of the last stored page.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from connectors.base import BuyerConnector, Skip
from ledger.routing import RoutingError, buyer_cancellation, buyer_cancelled_event, route_order
from schemas.config import Config, Connection
from schemas.events import OrderBuyerCancelled, OrderPlaced
from schemas.platform import ChangedOrder, PlatformOrder
from streams.kit.producer import EventSink
from streams.kit.records import source_of
from streams.polling.metrics import PollingMetrics
from streams.polling.rejects import MAX_EVENT_BYTES, RejectLetters, placed_size
from streams.polling.tables import MAX_PAGES_PER_POLL, BuyerOrderEntry, BuyerOrderTable, CursorTable

log = logging.getLogger(__name__)

UNROUTED_MEMORY = 10_000

@dataclass(frozen=True)
class _Cancelled:
    """A known buyer order's new cancellations, and its entry once they are delivered."""

    entry: BuyerOrderEntry
    events: tuple[OrderBuyerCancelled, ...]


@dataclass(frozen=True)
class BuyerPollResult:
    pages: int
    orders_seen: int
    events_published: int


class BuyerOrderPublisher:
    """Polls buyer connections for new orders. `topic` is order-events; `clock` gives the observation time."""

    def __init__(self, *, config: Config, topic: str, sink: EventSink, cursors: CursorTable,
                 buyer_orders: BuyerOrderTable, metrics: PollingMetrics, clock: Callable[[], datetime],
                 letters: RejectLetters) -> None:
        self._letters = letters
        self._config = config
        self._topic = topic
        self._sink = sink
        self._cursors = cursors
        self._orders = buyer_orders
        self._metrics = metrics
        self._clock = clock
        self._routed_nothing: OrderedDict[tuple[str, str, datetime | None], None] = OrderedDict()

    async def poll(self, connection: Connection, connector: BuyerConnector) -> BuyerPollResult:
        """One walk from the stored cursor. Raises what the connector or the producer raises; every page fully
        handled before that has its cursor stored."""
        cursor = self._cursors.get(connection.id).cursor
        pages = seen = published = 0
        skip = self._needs_nothing(connection)
        while pages < MAX_PAGES_PER_POLL:
            page = await connector.orders_changed_since(cursor, skip)
            pages += 1
            seen += len(page.items)
            self._metrics.orders_seen.labels(connection.id).inc(len(page.items))
            for rejected in page.rejected:
                await self._letters.rejected(connection, rejected)
            entries: list[BuyerOrderEntry] = []
            cancelled: list[_Cancelled] = []
            for order in page.items:
                if self._orders.known(connection.id, order.order_ref):
                    if (change := self._cancelled(connection, order)) is not None:
                        cancelled.append(change)
                elif (entry := await self._fitting(connection, self._route(connection, order))) is not None:
                    entries.append(entry)
            events: list[OrderPlaced | OrderBuyerCancelled] = [event for entry in entries for event in entry.placed]
            events += [event for change in cancelled for event in change.events]
            for event in events:
                self._sink.publish(self._topic, event, source=source_of(connection))
            await self._sink.flush()
            for change in cancelled:
                self._orders.put(connection.id, change.entry)
                published += len(change.events)
                for cancel in change.events:
                    log.info("%s: buyer order %s -> order.buyer_cancelled %s for seller %s: %s (event %s)",
                             connection.id, change.entry.order_ref, cancel.order_id,
                             _seller_of(change.entry, cancel.order_id), _described(cancel), cancel.event_id)
            for entry in entries:
                self._orders.put(connection.id, entry)
                published += len(entry.placed)
                self._metrics.orders_placed.labels(connection.id).inc(len(entry.placed))
                for event in entry.placed:
                    log.info("%s: buyer order %s -> order.placed %s for seller %s (event %s)", connection.id,
                             entry.order_ref, event.order_id, event.seller.connection, event.event_id)
            self._cursors.save_cursor(connection.id, page.cursor)
            cursor = page.cursor
            if not page.has_more:
                break
        return BuyerPollResult(pages=pages, orders_seen=seen, events_published=published)

    async def _fitting(self, connection: Connection, entry: BuyerOrderEntry | None) -> BuyerOrderEntry | None:
        """`entry` without the `order.placed` events over `MAX_EVENT_BYTES`, each dead-lettered instead; None
        when nothing is left. Raises when a dead letter cannot be sent."""
        if entry is None:
            return None
        kept = []
        for event in entry.placed:
            size = placed_size(event, connection)
            if size > MAX_EVENT_BYTES:
                await self._letters.oversized(connection, entry.order_ref, event, size)
            else:
                kept.append(event)
        if len(kept) == len(entry.placed):
            return entry
        return entry.model_copy(update={"placed": tuple(kept)}) if kept else None

    def _needs_nothing(self, connection: Connection) -> Skip:
        """The walk's `skip` (see the module docstring). Never raises (an unreadable entry: read the order)."""
        def skip(listed: ChangedOrder) -> bool:
            if (connection.id, listed.order_ref, listed.updated_at) in self._routed_nothing:
                return True
            if listed.cancel_mark is None:
                return False
            entry = self._orders.get(connection.id, listed.order_ref)
            return entry is not None and entry.cancel_mark == listed.cancel_mark
        return skip

    def _cancelled(self, connection: Connection, order: PlatformOrder) -> _Cancelled | None:
        """The cancellations of a known order not published yet, with its updated entry (which also records the
        order's new cancellation mark); None when neither changed (or its entry is unreadable)."""
        entry = self._orders.get(connection.id, order.order_ref)
        if entry is None:
            return None
        observed = self._clock()
        events = []
        for placed in entry.placed:
            cancellation = buyer_cancellation(placed, order)
            if cancellation is None:
                continue
            event = buyer_cancelled_event(cancellation, connection, observed)
            if entry.cancellations.get(placed.order_id) != event.event_id:
                events.append(event)
        if not events and entry.cancel_mark == order.cancel_mark:
            return None
        published = {**entry.cancellations, **{event.order_id: event.event_id for event in events}}
        return _Cancelled(entry.model_copy(update={"cancellations": published, "cancel_mark": order.cancel_mark}),
                          tuple(events))

    def _route(self, connection: Connection, order: PlatformOrder) -> BuyerOrderEntry | None:
        """The entry to record for a new order with something routed; None when nothing is routed."""
        version = (connection.id, order.order_ref, order.updated_at)
        if version in self._routed_nothing:
            return None
        observed = self._clock()
        try:
            routing = route_order(connection, order, routes=self._config.routes,
                                  connections=self._config.connections, observed_at=observed)
        except RoutingError as error:
            self._metrics.unroutable_orders.labels(connection.id).inc()
            log.error("%s: buyer order %s cannot be routed and is skipped: %s", connection.id, order.order_ref,
                      error)
            return None
        if routing.unrouted:
            for line in routing.unrouted:
                self._metrics.unrouted_lines.labels(connection.id, line.reason).inc()
            described = ", ".join(f"{line.sku or '(no sku)'} x{line.quantity} ({line.reason})"
                                  for line in routing.unrouted)
            log.info("%s: buyer order %s: %d line(s) no route covers, left to the buyer: %s", connection.id,
                     order.order_ref, len(routing.unrouted), described)
            for line in routing.unrouted:
                if line.reason == "no_address":  # the buyer expects it shipped: say what to do, louder
                    log.warning("%s: buyer order %s: line %s (%s x%d) is not sent to a seller: %s", connection.id,
                                order.order_ref, line.line_ref, line.sku, line.quantity, line.message)
        if not routing.placed:
            self._routed_nothing[version] = None
            if len(self._routed_nothing) > UNROUTED_MEMORY:
                self._routed_nothing.popitem(last=False)
            return None
        return BuyerOrderEntry(order_ref=order.order_ref, first_seen=observed, placed=routing.placed,
                               cancel_mark=order.cancel_mark)


def _seller_of(entry: BuyerOrderEntry, order_id: str) -> str:
    return next((placed.seller.connection for placed in entry.placed if placed.order_id == order_id), "?")


def _described(event: OrderBuyerCancelled) -> str:
    if event.whole_order:
        return "the whole order"
    return ", ".join(f"{line.sku} {line.cancelled_quantity} cancelled, {line.remaining_quantity} left"
                     for line in event.lines)

"""A seller connection's poll: walk `changed_orders_since` (the connector's light listing) from the stored cursor and
ask for the fulfillments of every changed order that fulfillsync created (it carries our order id,
`ChangedOrder.our_order_id`) to be read.

The poller agent runs it on the connection's tick; the reads themselves happen in the check agent, next to the
order's state (the tick's partition is the connection's, not the order's). Per page (at-least-once):
1. one check record per changed order of ours is queued on the idempotent producer (`<prefix>.seller-checks`,
   keyed by order id, so it lands in the order's partition);
2. `flush` waits until they are delivered (it raises if any is not: the cursor is not stored and the next tick
   reads the page again; a repeated check only re-reads fulfillments);
3. the page's cursor is stored.
The seller's own orders (no reference of ours) are skipped. Whether a changed order is still watched (open, or
shipped within `polling.shipped_watch`) is decided by the checker, which knows the order's state.
Orders the connector could not read (`Page.rejected`) are dead-lettered once each (`streams.polling.rejects`)
before the page's cursor is stored. Connector errors propagate to the poller, with the cursor of the last stored
page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from connectors.base import SellerConnector
from schemas.config import Connection
from streams.fulfillments.records import CheckRecord
from streams.kit.producer import RecordSink
from streams.polling.rejects import RejectLetters
from streams.polling.tables import MAX_PAGES_PER_POLL, CursorTable


@dataclass(frozen=True)
class SellerScanResult:
    pages: int
    orders_seen: int
    checks_requested: int


class SellerOrderScanner:
    """Turns a seller connection's changed orders into check records on `topic`."""

    def __init__(self, *, topic: str, sink: RecordSink, cursors: CursorTable,
                 clock: Callable[[], datetime], letters: RejectLetters) -> None:
        self._letters = letters
        self._topic = topic
        self._sink = sink
        self._cursors = cursors
        self._clock = clock

    async def poll(self, connection: Connection, connector: SellerConnector) -> SellerScanResult:
        """One walk from the stored cursor. Raises what the connector or the producer raises; every page fully
        handled before that has its cursor stored."""
        cursor = self._cursors.get(connection.id).cursor
        pages = seen = requested = 0
        while pages < MAX_PAGES_PER_POLL:
            page = await connector.changed_orders_since(cursor)
            pages += 1
            seen += len(page.items)
            now = self._clock()
            for rejected in page.rejected:
                await self._letters.rejected(connection, rejected)
            for order in page.items:
                if order.our_order_id is None:
                    continue
                check = CheckRecord(order_id=order.our_order_id, connection_id=connection.id,
                                    seller_order_ref=order.order_ref, reason="changed", requested_at=now)
                self._sink.publish_record(self._topic, check.order_id.encode(), check.model_dump_json().encode())
                requested += 1
            await self._sink.flush()
            self._cursors.save_cursor(connection.id, page.cursor)
            cursor = page.cursor
            if not page.has_more:
                break
        return SellerScanResult(pages=pages, orders_seen=seen, checks_requested=requested)

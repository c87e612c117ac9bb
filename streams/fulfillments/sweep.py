"""The sweep: every poll interval, each worker asks again for the orders of its own partitions that the changed-
orders feed cannot be trusted with: orders whose last read failed, and, once per `polling.sweep_interval` each
(default 15 minutes, never more often than the poll interval), watched orders on platforms whose tracking edits
keep the order's modified time (`connectors.registry.needs_direct_reads`). New fulfillments change the order on
those platforms too, so the changed-orders feed sees them; only edits wait for the sweep.

The sweep never piles up work: an order is not asked for again while the check it asked for last has not been
read yet (a slow or rate-limited seller then costs one pending check per order, not one per interval), nor when
it was read less than half an interval ago (a changed-orders check already covered it).

Cost: one check (one to three requests to the seller's platform, `fulfillments()`) per such order per sweep
interval, on top of the connection's one-request poll: a Magento or WooCommerce seller with 500 open orders costs
500-1,500 requests per sweep interval; shipped orders stop costing once `polling.shipped_watch` has passed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from connectors.registry import needs_direct_reads
from schemas.config import Config
from streams.fulfillments.records import CheckRecord
from streams.fulfillments.tables import SellerWatch
from streams.kit.producer import RecordSink
from streams.kit.tables import TypedTable

log = logging.getLogger(__name__)


class Sweep:
    """Publishes the sweep's check records on `topic` (seller-checks) through `sink`."""

    def __init__(self, *, config: Config, topic: str, watch: TypedTable[SellerWatch], sink: RecordSink,
                 clock: Callable[[], datetime]) -> None:
        self._platforms = {connection.id: connection.platform for connection in config.connections
                           if connection.role == "seller"}
        self._shipped_watch = config.polling.shipped_watch
        self._topic = topic
        self._watch = watch
        self._sink = sink
        self._interval = config.polling.interval
        self._sweep_every = max(config.polling.sweep_interval, config.polling.interval)
        self._clock = clock
        self._asked: dict[str, datetime] = {}  # order id -> when this worker's sweep last asked for it

    async def run(self) -> int:
        """Publish this interval's checks; how many. Raises what the producer raises (the next interval retries)."""
        now = self._clock()
        requested = 0
        for order_id, entry in self._watch.items():
            platform = self._platforms.get(entry.connection_id)
            if platform is None:
                continue
            if self._waiting(order_id, entry, now):
                continue
            if entry.read_failed_at is not None:
                reason = "retry"
            elif not entry.watched(now, self._shipped_watch) or (needs_direct_reads(platform)
                                                                  and self._sweep_due(entry, now)):
                reason = "sweep"  # a check past the watch window removes the entry
            else:
                continue
            check = CheckRecord(order_id=order_id, connection_id=entry.connection_id,
                                seller_order_ref=entry.seller_order_ref, reason=reason, requested_at=now)
            self._sink.publish_record(self._topic, order_id.encode(), check.model_dump_json().encode())
            self._asked[order_id] = now
            requested += 1
        await self._sink.flush()
        # forget orders asked for long ago (shipped, moved to another worker): `_waiting` ignores them anyway
        self._asked = {order: at for order, at in self._asked.items() if now - at < 4 * self._interval}
        if requested:
            log.info("sweep asked for %d seller order read(s)", requested)
        return requested

    def _sweep_due(self, entry: SellerWatch, now: datetime) -> bool:
        """Not read within the last sweep interval (less half a poll interval: the timer's own jitter)."""
        return entry.last_read_at is None or now - entry.last_read_at >= self._sweep_every - self._interval / 2

    def _waiting(self, order_id: str, entry: SellerWatch, now: datetime) -> bool:
        """Asked for and not handled since (unless that was four intervals ago: the record may be lost), or read
        successfully less than half an interval ago."""
        asked = self._asked.get(order_id)
        handled = max(filter(None, (entry.last_read_at, entry.read_failed_at)), default=None)
        if asked is not None and (handled is None or handled < asked) and now - asked < 4 * self._interval:
            return True
        recent = entry.last_read_at is not None and now - entry.last_read_at < self._interval / 2
        return recent and entry.read_failed_at is None

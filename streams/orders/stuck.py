"""`fulfillsync_orders_stuck{age}`: orders of this worker's partitions waiting to ship whose last change is at least
`age` ago (`ledger.stuck`: `1d`, `3d`, `7d`, `14d`, `30d`, cumulative). Sum over the workers for the deployment.

A timer on every worker (the order table's partitions are spread over them) looks every `CHECK_PERIOD_S` whether a
scan is due, and scans the order table's partitions it holds (the active ones, not standbys). Cheap by design:
- a scan is due `MIN_PERIOD_S` after the previous one ended, or later when scans are slow: the pause is at least
  `PAUSE_FACTOR` times the last scan's duration, so scanning never takes more than about 1% of the worker's time;
- each value is decompressed and searched for the mark of a shipped order (`SHIPPED_MARKERS`); only the others
  are read as `OrderState` (`waiting_state`; shipped orders, the bulk of the table, are never parsed);
- the scan yields to the event loop every `CHUNK` entries, so the agents keep running.

A scan waits until the worker's tables are recovered and no rebalance runs, and is abandoned (the gauge keeps the
previous counts) when a rebalance begins while it runs or the table's partitions change under it. It never raises:
an entry it cannot read is skipped (the ledger dead-letters the input that meets it).
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final

from prometheus_client import CollectorRegistry

from ledger import OrderState, stored
from ledger.stuck import STUCK_AGES, StuckAge, stuck_ages, waiting_since
from streams.kit.metrics import gauge
from streams.kit.tables import uncompressed

log = logging.getLogger(__name__)

CHECK_PERIOD_S: Final = 30.0
MIN_PERIOD_S: Final = 60.0
PAUSE_FACTOR: Final = 100.0
CHUNK: Final = 500
SHIPPED_MARKERS: Final = (b'"s":[', b'"shipped_event_id":"')
"""One is in the stored JSON of every shipped order (`ledger.stored`: the "s" member; the first stored form:
a shipped event id) and in no other (a key is the only string followed by a colon; tests/streams/orders/test_stuck.py
checks the table's encoding)."""


class StuckMetrics:
    """`fulfillsync_orders_stuck{age}`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.stuck = gauge("fulfillsync_orders_stuck", "Orders of this worker's partitions waiting to ship whose last "
                           "change is at least `age` ago (cumulative)", ["age"], registry=registry)


class StuckOrders:
    """Counts stuck orders into `metrics` (module docstring).

    `values()` iterates the raw values of the order table's partitions this worker holds; `compressed`: whether
    they are zlib-compressed (`streams.orders.tables.ORDERS`); `ready()`: whether the tables are recovered and no
    rebalance runs."""

    def __init__(self, *, values: Callable[[], Iterable[bytes]], compressed: bool, ready: Callable[[], bool],
                 metrics: StuckMetrics, clock: Callable[[], datetime],
                 monotonic: Callable[[], float] = time.monotonic, ages: tuple[StuckAge, ...] = STUCK_AGES) -> None:
        self._values = values
        self._compressed = compressed
        self._ready = ready
        self._metrics = metrics
        self._clock = clock
        self._monotonic = monotonic
        self._ages = ages
        self._next_at = 0.0

    async def tick(self) -> None:
        """The timer's call: scan when one is due and the worker is ready. Never raises."""
        if self._monotonic() < self._next_at or not self._ready():
            return
        started = self._monotonic()
        try:
            counts = await self.scan()
        except Exception:  # a scan is an estimate: the next one tries again
            log.warning("counting stuck orders failed; the next scan tries again", exc_info=True)
            counts = None
        ended = self._monotonic()
        self._next_at = ended + max(MIN_PERIOD_S, PAUSE_FACTOR * (ended - started))
        if counts is not None:
            for label, count in counts.items():
                self._metrics.stuck.labels(label).set(count)

    async def scan(self) -> dict[str, int] | None:
        """The counts per age label now; None when the scan was abandoned (a rebalance began, or the table's
        partitions changed while it ran)."""
        now = self._clock()
        counts = {age.label: 0 for age in self._ages}
        try:
            for index, raw in enumerate(self._values(), start=1):
                since = self._waiting_since(raw)
                if since is not None:
                    for label in stuck_ages(since, now, self._ages):
                        counts[label] += 1
                if index % CHUNK == 0:
                    await asyncio.sleep(0)
                    if not self._ready():
                        return None
        except RuntimeError as error:  # the partitions' dict changed size during iteration: a rebalance
            log.debug("stuck-order scan abandoned: %s", error)
            return None
        return counts

    def _waiting_since(self, raw: bytes) -> datetime | None:
        state = waiting_state(raw, compressed=self._compressed)
        return None if state is None else waiting_since(state)


def waiting_state(raw: bytes, *, compressed: bool) -> OrderState | None:
    """The order state in an order-table value (or changelog record) when the order waits to ship
    (`ledger.stuck.waiting_since`); None for a shipped order (found without parsing it, `SHIPPED_MARKERS`), an order
    that does not wait, or a value that is not an order state. `compressed`: `streams.orders.tables.ORDERS`'s."""
    try:
        text = uncompressed(raw, compressed)
    except zlib.error:
        return None
    if any(marker in text for marker in SHIPPED_MARKERS):
        return None
    try:
        state = stored.decode(text)
    except ValueError:
        return None
    return state if waiting_since(state) is not None else None


def tables_ready(app: Any) -> bool:
    """Whether `app`'s tables are recovered and no rebalance runs (as `streams.web.health` reads them)."""
    recovery: Any = getattr(app.tables, "recovery", None)
    return recovery is not None and recovery.completed.is_set() and not app.rebalancing


def register_stuck_orders(app: Any, table: Any, *, compressed: bool, registry: CollectorRegistry,
                          clock: Callable[[], datetime]) -> StuckOrders:
    """Add the stuck-order timer to `app` over the Faust table `table` (raw bytes values)."""
    counter = StuckOrders(values=lambda: table.values(), compressed=compressed, ready=lambda: tables_ready(app),
                          metrics=StuckMetrics(registry), clock=clock)
    app.timer(CHECK_PERIOD_S, name="stuck-orders")(counter.tick)
    return counter

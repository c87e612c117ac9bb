"""Garbage collection for the long-running processes (the worker, the web app): both allocate many small objects per
record, and CPython's default thresholds made collection a quarter to a third of the worker's time under load and
over a tenth of the web read model's catch-up (docs/capacity.md)."""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Allocations (less deallocations) between two collections of the young generation (CPython's default: 700)."""


def collect_less_often() -> None:
    """Collect once, keep every object alive now (imported modules, configuration) out of later collections, and
    collect the young generation every `YOUNG_THRESHOLD` allocations. Call once at start, before the work begins;
    it cannot fail. Memory held by reference cycles is then freed a little later than by default."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)

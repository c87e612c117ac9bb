"""`streams.kit.gc_tuning`: the garbage collection of the worker and the web process."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.kit.gc_tuning import YOUNG_THRESHOLD, collect_less_often


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_objects_alive_at_start_leave_the_collections_and_the_young_generation_is_collected_less_often() -> None:
    alive = [object() for _ in range(10)]
    collect_less_often()
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD > 700
    assert gc.get_freeze_count() >= len(alive)
    assert gc.get_count()[0] < YOUNG_THRESHOLD

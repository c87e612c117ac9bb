"""streams.kit.worker_app.CommitGuard on the worker's own Faust consumer (no broker: only its offset bookkeeping):
Faust alone commits past a record at the committed offset that was handed to it and never acked; the worker does
not."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.kit.worker_app import WorkerApp

TP0 = TP("orders", 0)


@dataclass(frozen=True)
class Fetched:
    """A record as the consumer hands it to Faust's topic conductor."""

    topic: str
    tp: TP
    offset: int


@pytest.fixture
def app(tmp_path: Path) -> Iterator[WorkerApp]:
    app = WorkerApp("gap-test", broker="kafka://127.0.0.1:1", store="memory://", datadir=str(tmp_path),
                    autodiscover=False)
    consumer: Any = app.consumer
    app.commit_guard._acks_enabled_for = lambda topic: topic == "orders"
    consumer._committed_offset[TP0] = 5  # the next record to read, as Kafka stores it
    yield app


def hand_over(app: WorkerApp, *offsets: int, topic: str = "orders") -> None:
    """The consumer hands these records of `topic` (partition 0) to Faust (the conductor itself is not run)."""

    async def conductor(message: Any) -> None:
        return None

    on_message = app.commit_guard.recording(conductor)
    for offset in offsets:
        asyncio.run(on_message(Fetched(topic, TP(topic, 0), offset)))


def test_a_record_at_the_committed_offset_handed_over_and_never_acked_holds_the_commit_back(
        app: WorkerApp, caplog: pytest.LogCaptureFixture) -> None:
    consumer: Any = app.consumer
    hand_over(app, 5, 6, 7)
    consumer._acked[TP0].extend([6, 7])
    with caplog.at_level(logging.WARNING):
        assert consumer._new_offset(TP0) is None
        assert consumer._new_offset(TP0) is None
    assert [r.getMessage() for r in caplog.records] == [
        "not committing TP(topic='orders', partition=0) past offset 5: that record was not acked yet "
        "(the lowest acked is 6)"]  # once per partition and offset
    consumer._acked[TP0].append(5)
    assert consumer._new_offset(TP0) == 8


def test_without_the_guard_faust_commits_past_it(tmp_path: Path) -> None:
    """What the guard is for, shown on Faust's own consumer."""
    plain: Any = faust.App("gap-test-plain", broker="kafka://127.0.0.1:1", store="memory://",
                           datadir=str(tmp_path), autodiscover=False).consumer
    plain._committed_offset[TP0] = 5
    plain._acked[TP0].extend([6, 7])
    assert plain._new_offset(TP0) == 8


def test_consecutive_acks_from_the_committed_offset_commit_as_faust_does(app: WorkerApp) -> None:
    consumer: Any = app.consumer
    hand_over(app, 5, 6, 7, 9)
    consumer._acked[TP0].extend([5, 6, 7, 9])
    assert consumer._new_offset(TP0) == 8
    assert app.commit_guard._fetched[TP0] == {9}  # what was committed is forgotten


def test_a_record_never_handed_over_is_left_to_faust(app: WorkerApp) -> None:
    consumer: Any = app.consumer
    hand_over(app, 6, 7)  # offset 5 deleted by retention while nobody read: the first record is 6
    consumer._acked[TP0].extend([6, 7])
    assert consumer._new_offset(TP0) == 8


def test_records_of_topics_without_acks_are_not_remembered(app: WorkerApp) -> None:
    hand_over(app, 1, 2, 3, topic="orders-changelog")  # a table's recovery reads its changelog
    assert "orders-changelog" not in {tp.topic for tp in app.commit_guard._fetched}

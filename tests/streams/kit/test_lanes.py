"""streams.kit.lanes.Lanes: per-key order, per-group limits, acks in offset order per partition, failures and
cancellation keep records unacked. Events are stand-ins with faust's `message.tp` / `message.offset`; the agents
that use Lanes run on the real broker in tests/e2e."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.kit.lanes import Lanes


@dataclass(frozen=True)
class Message:
    tp: str
    offset: int


@dataclass(frozen=True)
class Event:
    message: Message


@dataclass
class Journal:
    acked: list[tuple[str, int]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    def ack(self, event: Event) -> None:
        self.acked.append((event.message.tp, event.message.offset))


def event(tp: str, offset: int) -> Event:
    return Event(Message(tp, offset))


def in_loop(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test in its own event loop (the suite has no asyncio plugin)."""
    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())
    return run


@in_loop
async def test_one_key_runs_in_order_and_different_keys_at_once() -> None:
    journal = Journal()
    release = asyncio.Event()

    async def work(name: str, wait: bool) -> None:
        journal.started.append(name)
        if wait:
            await release.wait()
        journal.finished.append(name)

    lanes = Lanes(per_group=10, in_flight=10)
    await lanes.submit(event("p0", 0), key="order-a", group="shop", work=lambda: work("a1", True), ack=journal.ack)
    await lanes.submit(event("p0", 1), key="order-a", group="shop", work=lambda: work("a2", False), ack=journal.ack)
    await lanes.submit(event("p0", 2), key="order-b", group="shop", work=lambda: work("b1", False), ack=journal.ack)
    await asyncio.sleep(0.01)
    assert journal.started == ["a1", "b1"]  # a2 waits for a1; b1 does not
    assert journal.acked == []  # b1 is done, but offset 0 is still in flight
    release.set()
    await lanes.drain()
    assert journal.finished == ["b1", "a1", "a2"]
    assert journal.acked == [("p0", 0), ("p0", 1), ("p0", 2)]


@in_loop
async def test_at_most_per_group_run_at_once() -> None:
    running = peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    journal = Journal()
    lanes = Lanes(per_group=3, in_flight=100)
    for offset in range(12):
        await lanes.submit(event("p0", offset), key=offset, group="slow-store", work=work, ack=journal.ack)
    await lanes.drain()
    assert peak == 3
    assert len(journal.acked) == 12


@in_loop
async def test_submit_waits_while_in_flight_is_full() -> None:
    release = asyncio.Event()
    journal = Journal()
    lanes = Lanes(per_group=10, in_flight=2)
    for offset in range(2):
        await lanes.submit(event("p0", offset), key=offset, group="g", work=release.wait, ack=journal.ack)
    third = asyncio.create_task(lanes.submit(event("p0", 2), key=2, group="g", work=release.wait, ack=journal.ack))
    await asyncio.sleep(0.01)
    assert not third.done()
    release.set()
    await third
    await lanes.drain()
    assert journal.acked == [("p0", 0), ("p0", 1), ("p0", 2)]


@in_loop
async def test_a_work_that_raises_keeps_its_record_and_later_ones_unacked_and_stops_the_agent() -> None:
    journal = Journal()

    async def broken() -> None:
        raise RuntimeError("a bug")

    async def fine() -> None:
        return None

    lanes = Lanes(per_group=10, in_flight=10)
    await lanes.submit(event("p0", 0), key="a", group="g", work=fine, ack=journal.ack)
    await lanes.submit(event("p0", 1), key="b", group="g", work=broken, ack=journal.ack)
    await lanes.submit(event("p0", 2), key="c", group="g", work=fine, ack=journal.ack)
    await lanes.submit(event("p1", 0), key="d", group="g", work=fine, ack=journal.ack)
    with pytest.raises(RuntimeError, match="a bug"):
        await lanes.drain()
    # p0:1 failed: neither it nor p0:2 behind it may be committed; the other partition goes on
    assert journal.acked == [("p0", 0), ("p1", 0)]
    with pytest.raises(RuntimeError, match="a bug"):
        await lanes.submit(event("p0", 3), key="e", group="g", work=fine, ack=journal.ack)


@in_loop
async def test_aclose_cancels_running_work_and_leaves_it_unacked() -> None:
    journal = Journal()
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    lanes = Lanes(per_group=10, in_flight=10)
    await lanes.submit(event("p0", 0), key="a", group="g", work=forever, ack=journal.ack)
    await asyncio.sleep(0.01)
    await lanes.aclose()
    assert cancelled.is_set()
    assert journal.acked == []
    assert lanes.running == 0


@in_loop
async def test_a_record_repeating_a_work_that_has_not_started_joins_it_and_is_acked_with_it() -> None:
    journal = Journal()
    release = asyncio.Event()
    runs: list[str] = []

    async def work(name: str, wait: bool = False) -> None:
        runs.append(name)
        if wait:
            await release.wait()

    lanes = Lanes(per_group=10, in_flight=10)
    await lanes.submit(event("p0", 0), key="order-a", group="g", work=lambda: work("first", wait=True),
                       ack=journal.ack, merge_key="check")
    await asyncio.sleep(0.01)  # "first" has started: the next one cannot join it
    await lanes.submit(event("p0", 1), key="order-a", group="g", work=lambda: work("second"), ack=journal.ack,
                       merge_key="check")
    await lanes.submit(event("p0", 2), key="order-a", group="g", work=lambda: work("third"), ack=journal.ack,
                       merge_key="check")  # joins "second", which waits for "first"
    await lanes.submit(event("p0", 3), key="order-a", group="g", work=lambda: work("other"), ack=journal.ack,
                       merge_key="something else")
    await lanes.submit(event("p0", 4), key="order-a", group="g", work=lambda: work("unmerged"), ack=journal.ack)
    assert lanes.merged == 1
    release.set()
    await lanes.drain()
    assert runs == ["first", "second", "other", "unmerged"]
    assert journal.acked == [("p0", offset) for offset in range(5)]


@in_loop
async def test_a_merged_record_is_not_acked_when_its_work_fails() -> None:
    journal = Journal()
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    async def broken() -> None:
        raise RuntimeError("a bug")

    lanes = Lanes(per_group=10, in_flight=10)
    await lanes.submit(event("p0", 0), key="a", group="g", work=slow, ack=journal.ack, merge_key="m")
    await asyncio.sleep(0.01)
    await lanes.submit(event("p0", 1), key="a", group="g", work=broken, ack=journal.ack, merge_key="m")
    await lanes.submit(event("p1", 0), key="a", group="g", work=broken, ack=journal.ack, merge_key="m")
    release.set()
    with pytest.raises(RuntimeError):
        await lanes.drain()
    assert journal.acked == [("p0", 0)]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Lanes(per_group=0, in_flight=1)


records = st.lists(st.tuples(st.sampled_from(["p0", "p1", "p2"]), st.integers(0, 5), st.integers(0, 3),
                             st.integers(0, 4), st.sampled_from([None, "m"])), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(records=records, per_group=st.integers(1, 3), in_flight=st.integers(1, 8))
def test_every_record_is_acked_once_in_offset_order_and_each_key_runs_in_arrival_order(
        records: list[tuple[str, int, int, int, str | None]], per_group: int, in_flight: int) -> None:
    """(partition, key, group, delay in event-loop turns, merge key) in arrival order, with offsets per
    partition. Every record's work runs, or the record joined a work of its key that started after it
    arrived; either way it is acked once, in offset order."""


    async def scenario() -> tuple[Journal, dict[int, list[int]]]:
        journal = Journal()
        per_key: dict[int, list[int]] = {}
        lanes = Lanes(per_group=per_group, in_flight=in_flight)
        offsets: dict[str, int] = {}
        for index, (tp, key, group, delay, merge_key) in enumerate(records):
            offset = offsets[tp] = offsets.get(tp, -1) + 1

            async def work(index: int = index, key: int = key, delay: int = delay) -> None:
                for _ in range(delay):
                    await asyncio.sleep(0)
                per_key.setdefault(key, []).append(index)

            await lanes.submit(event(tp, offset), key=key, group=group, work=work, ack=journal.ack,
                               merge_key=merge_key)
        await lanes.drain()
        return journal, per_key

    journal, per_key = asyncio.run(scenario())
    for tp in {tp for tp, *_ in records}:
        acked = [offset for name, offset in journal.acked if name == tp]
        assert acked == list(range(sum(1 for name, *_ in records if name == tp)))
    for indexes in per_key.values():
        assert indexes == sorted(indexes)
    ran = {index for indexes in per_key.values() for index in indexes}
    for index, (_, key, _, _, merge_key) in enumerate(records):
        if index not in ran:  # merged: a later-starting run of the same key, submitted before it, covers it
            assert merge_key is not None
            assert any(other < index and records[other][1] == key for other in ran)

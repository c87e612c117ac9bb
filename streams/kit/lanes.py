"""Concurrent work on one agent's records without committing past a record still in flight.

An agent at Faust's `concurrency=1` handles one record at a time, so a slow platform holds up every other store's
records behind it; `concurrency > 1` lets faust commit past a record still in flight (docs/architecture.md, "Known
traps": its `Consumer._new_offset` accepts a gap of one offset). `Lanes` keeps the agent at concurrency 1 with
manual acks (`stream.noack()`, `Event.ack`) and runs each record's work in its own task:
- records with the same `key` (an order id, a connection id) run one after the other, in arrival order, so the
  per-order protocols (read the table, write the platform, record) never interleave;
- at most `per_group` records of one `group` (the connection whose platform the work calls) run at once, and at
  most `in_flight` records are queued or running in all; `submit` waits for a free slot (back-pressure: the
  agent stops taking records, faust's buffer fills and the consumer pauses);
- a record whose work would repeat one still waiting to start (the same order's check, or push, queued behind a
  slow one) joins that work instead of adding a run (`merge_key`): a backlog of repeated asks costs one run;
- a record is acked only once its work and the work of every earlier record of its topic partition has
  finished, so faust sees the acks of each partition in offset order and commits only what is done.
Each task runs in a copy of the agent's context, so faust's `current_event()` (which picks the partition of a
table's changelog write) is the task's own record.

Metric: `fulfillsync_lanes_backlog{agent}` (`LANES_BACKLOG`), the records queued or running in the lanes of an
agent that `run_agent` runs, read when /metrics is scraped; lanes that several agents share report under the
first one's name.

Failure: work is expected not to raise (the agents' `process` methods log and count their failures). If it does,
the record is never acked (the partition's commits stop there, and the record is read again after a restart) and
the next `submit` or `drain` raises the error, which stops the agent like an exception in its loop would.
`aclose` cancels what is still running (shutdown): those records are not acked and are read again.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from streams.kit.metrics import gauge

LANES_BACKLOG = gauge("fulfillsync_lanes_backlog", "Records queued or running in an agent's lanes (at most IN_FLIGHT)",
                      ["agent"])
_named: weakref.WeakKeyDictionary[Lanes, str] = weakref.WeakKeyDictionary()

IN_FLIGHT = 512
"""Records an agent holds queued or running at most (bounds memory; a connection with a longer backlog than this
holds up the others)."""
PER_CONNECTION = 4
"""Records of one connection running at once (the connection's rate limit paces their requests)."""

Ack = Callable[[Any], object]
"""Acks one event, synchronously (faust's `Event.ack`): acks must not interleave, or a commit could see a later
offset of a partition acked before an earlier one."""


@dataclass
class _Record:
    """A submitted record, in its partition's queue until acked."""

    event: Any
    ack: Ack
    done: bool = False


@dataclass
class _Work:
    """One run of a work: the record it was submitted with, and those merged into it before it started."""

    records: list[_Record]
    merge_key: Hashable | None
    task: asyncio.Task[None] | None = None
    started: bool = False


class Lanes:
    """Runs submitted work concurrently by key and group; see the module docstring for the contract."""

    def __init__(self, *, per_group: int, in_flight: int) -> None:
        if per_group < 1 or in_flight < 1:
            raise ValueError("per_group and in_flight must be at least 1")
        self._per_group = per_group
        self._slots = asyncio.Semaphore(in_flight)
        self._groups: dict[Hashable, asyncio.Semaphore] = {}
        self._tails: dict[Hashable, _Work] = {}
        self._unacked: dict[Any, deque[_Record]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self.merged = 0

    async def submit(self, event: Any, *, key: Hashable, group: Hashable, work: Callable[[], Awaitable[object]],
                     ack: Ack, merge_key: Hashable | None = None) -> None:
        """Schedule `work` for `event` (a faust Event: its `message.tp` orders the acks) after the earlier work of
        `key`; returns once it is scheduled. When the last work of `key` has not started yet and was submitted
        with the same `merge_key` (not None), `event` joins it instead: that work will see whatever this one
        would have (say, a check of one order's current state), and both records are acked after it. Raises the
        error of an earlier work that raised."""
        self._raise_failure()
        record = _Record(event, ack)
        tail = self._tails.get(key)
        if merge_key is not None and tail is not None and not tail.started and tail.merge_key == merge_key:
            self._unacked.setdefault(event.message.tp, deque()).append(record)
            tail.records.append(record)
            self.merged += 1
            return
        await self._slots.acquire()
        self._unacked.setdefault(event.message.tp, deque()).append(record)
        unit = _Work([record], merge_key)
        unit.task = asyncio.create_task(self._run(unit, key, group, tail, work))
        self._tails[key] = unit
        self._tasks.add(unit.task)
        unit.task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every submitted work has finished (and its record is acked, if its partition allows);
        raises the error of a work that raised."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        self._raise_failure()

    async def aclose(self) -> None:
        """Cancel the work still queued or running; its records stay unacked."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def running(self) -> int:
        """Work queued or running (for metrics and tests)."""
        return len(self._tasks)

    async def _run(self, unit: _Work, key: Hashable, group: Hashable, previous: _Work | None,
                   work: Callable[[], Awaitable[object]]) -> None:
        try:
            if previous is not None and previous.task is not None:
                await asyncio.wait({previous.task})
            async with self._group(group):
                unit.started = True
                await work()
            for record in unit.records:
                record.done = True
            for tp in {record.event.message.tp for record in unit.records}:
                self._ack_ready(tp)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 (a work that broke its contract: stop the agent, keep the record)
            if self._failure is None:
                self._failure = error
        finally:
            unit.started = True  # nothing joins a work that is over
            self._slots.release()
            if self._tails.get(key) is unit:
                del self._tails[key]

    def _group(self, group: Hashable) -> asyncio.Semaphore:
        semaphore = self._groups.get(group)
        if semaphore is None:
            semaphore = self._groups[group] = asyncio.Semaphore(self._per_group)
        return semaphore

    def _ack_ready(self, tp: Any) -> None:
        """Ack the partition's finished records from the oldest on, up to the first one still in flight."""
        queue = self._unacked[tp]
        while queue and queue[0].done:
            record = queue.popleft()
            record.ack(record.event)
        if not queue:
            del self._unacked[tp]

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


def event_ack(event: Any) -> object:
    """`Ack` for faust events."""
    return event.ack()


Route = Callable[[Any], tuple[Hashable, Hashable, Hashable | None]]
"""A record's (key, group, merge key) for `Lanes.submit` (the merge key None: never merged)."""


async def run_agent(stream: Any, lanes: Lanes, *, route: Route,
                    handle: Callable[[Any], Awaitable[None]],
                    wait: Callable[[Any], Awaitable[None]] | None = None) -> None:
    """The loop of an agent whose records run in `lanes`: for each record (a faust Message), `wait(message)` if
    given (in the loop: a delay queue's wait), then `handle(message)` in the lane `route(message)` gives as
    (key, group, merge key; records merge only within one topic). Acks are manual (see the module docstring);
    when the agent stops, unfinished work is cancelled and its records stay unacked. Raises what `Lanes.submit`
    raises."""
    if lanes not in _named:  # faust names an agent's stream after the agent
        _named[lanes] = str(getattr(stream, "prefix", "") or "agent")
        LANES_BACKLOG.labels(_named[lanes]).set_function(lambda: lanes.running)
    try:
        async for event in stream.noack().events():
            if wait is not None:
                await wait(event.message)
            key, group, merge_key = route(event.message)
            await lanes.submit(event, key=key, group=group, work=functools.partial(handle, event.message),
                               ack=event_ack,
                               merge_key=None if merge_key is None else (event.message.topic, merge_key))
    finally:
        await lanes.aclose()

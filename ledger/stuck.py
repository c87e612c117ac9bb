"""Stuck orders: orders still waiting to ship long after anything last happened to them.

An order **waits** while it is known (its `order.placed` was applied), is not Shipped, and still has units to ship
(the buyer did not cancel every unit). Its **last change** is the latest of: the time of its `order.placed`, the
seller platform's version time of each of its fulfillments (cancelled ones included), and the time of each
`order.reopened` / `order.tracking_updated` its last inputs with outputs produced (`ledger.apply`,
"Remembering inputs"). A waiting order is **stuck for an age** (`1d`, `3d`, ...)
when its last change is at least that long ago. The ages are cumulative: an order 8 days quiet is stuck for 1d, 3d
and 7d.

Pure: the caller hands in the state and the time now (`streams.orders.stuck` counts them for
`fulfillsync_orders_stuck{age}`; operators' tools can list them with `is_stuck`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.state import OrderState, ReopenedMark, TrackingMark


@dataclass(frozen=True)
class StuckAge:
    """One age of `fulfillsync_orders_stuck`: its label (`3d`) and its length."""

    label: str
    age: timedelta


STUCK_AGES: tuple[StuckAge, ...] = tuple(StuckAge(f"{days}d", timedelta(days=days)) for days in (1, 3, 7, 14, 30))
"""The ages counted, shortest first."""


def last_change(state: OrderState) -> datetime | None:
    """The latest time the order changed (module docstring); None for an order not known yet."""
    if state.order is None:
        return None
    times = [state.order.occurred_at]
    times += [record.source_version for record in state.fulfillments.values()]
    for entry in state.recent:
        times += [mark.at for mark in entry.outputs if isinstance(mark, ReopenedMark | TrackingMark)]
    return max(times)


def waiting_since(state: OrderState) -> datetime | None:
    """The last change of an order that waits to ship (module docstring); None for one that does not wait
    (unknown, Shipped, or nothing left to ship)."""
    if state.order is None or state.is_shipped or state.nothing_to_ship():
        return None
    return last_change(state)


def is_stuck(state: OrderState, now: datetime, older: timedelta) -> bool:
    """Whether the order waits to ship and its last change is at least `older` before `now`."""
    since = waiting_since(state)
    return since is not None and now - since >= older


def stuck_ages(since: datetime, now: datetime, ages: Iterable[StuckAge] = STUCK_AGES) -> list[str]:
    """The labels of `ages` that an order waiting since `since` has reached at `now` (shortest first)."""
    quiet = now - since
    return [age.label for age in ages if quiet >= age.age]


def count_stuck(states: Iterable[OrderState], now: datetime,
                ages: tuple[StuckAge, ...] = STUCK_AGES) -> dict[str, int]:
    """How many of `states` are stuck for each of `ages` at `now` (every label present, 0 when none)."""
    counts = {age.label: 0 for age in ages}
    for state in states:
        since = waiting_since(state)
        if since is not None:
            for label in stuck_ages(since, now, ages):
                counts[label] += 1
    return counts

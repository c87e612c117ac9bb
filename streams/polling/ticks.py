"""Poll ticks: what the leader's timer publishes, one per connection and interval slot.

A connection's slot is `floor((now - phase) / interval)` (in milliseconds since the epoch). Phases spread the
connections evenly over the interval (`phases`: in id order, connection i of n starts its slots i/n of an interval
after the epoch's boundary), so the polls of a 20-connection deployment do not all start in the same second:
a seller poll's burst of fulfillments reaches the buyers' write lanes while the other connections' polls are
quiet, and rate limits shared by a worker see an even load. Adding or removing a connection moves the phases
once: a connection whose slot boundary moves later is polled one extra time, one whose boundary moves earlier
skips at most the rest of its current slot. The timer runs far more often than the interval (`timer_period`)
and publishes a connection's tick when its slot changes, so ticks follow the slot boundaries instead of
drifting across them (a drifting timer could land twice in one slot and skip the next). Duplicated ticks (two
leaders during a rebalance, a restarted leader) are harmless: the poller polls a connection at most once per
slot.

Tick records are internal (not part of the public contract): JSON `{connection_id, slot, interval_ms, phase_ms,
published_at, reason}`, keyed by the connection id (`phase_ms` absent: 0, as ticks were before phases).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.config import Connection
from streams.kit.records import decode_internal

MAX_TIMER_PERIOD = timedelta(seconds=1)


class PollTick(BaseModel):
    """Poll `connection_id` once in slot `slot` of an interval of `interval_ms` milliseconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection_id: str = Field(min_length=1, max_length=200)
    slot: int = Field(ge=0)
    interval_ms: int = Field(ge=1)
    phase_ms: int = Field(default=0, ge=0)
    published_at: AwareDatetime
    reason: Literal["schedule", "webhook"] = "schedule"

    @property
    def slot_start_ms(self) -> int:
        """When the slot began, in epoch milliseconds: comparable across interval and phase changes."""
        return self.slot * self.interval_ms + self.phase_ms


def interval_ms(interval: timedelta) -> int:
    """The interval in whole milliseconds (at least 1)."""
    return max(1, round(interval.total_seconds() * 1000))


def slot_of(moment: datetime, interval: int, phase: int = 0) -> int:
    """The slot of `moment` for an interval of `interval` milliseconds starting `phase` ms after the epoch's."""
    return (int(moment.timestamp() * 1000) - phase) // interval


def phases(connections: Iterable[Connection], interval: int) -> dict[str, int]:
    """Each connection's phase (ms, below `interval`): evenly spread in id order, the same on every worker."""
    ids = sorted({connection.id for connection in connections})
    return {connection_id: index * interval // len(ids) for index, connection_id in enumerate(ids)}


def timer_period(interval: timedelta) -> float:
    """How often (seconds) the timer checks for new slots: a twentieth of the interval, at most 1 s (a tick is
    published at most that long after its slot began)."""
    return max(0.05, min(interval / 20, MAX_TIMER_PERIOD).total_seconds())


def pollable(connections: Iterable[Connection]) -> tuple[Connection, ...]:
    """The connections that have a store to poll (every platform but `manual`)."""
    return tuple(connection for connection in connections if connection.platform != "manual")


def encode_tick(tick: PollTick) -> tuple[bytes, bytes]:
    """The record key (connection id) and value (JSON) of a tick."""
    return tick.connection_id.encode(), tick.model_dump_json().encode()


def decode_tick(value: bytes | None) -> PollTick | str:
    """The poll tick in a record value, or a short reason why it is none (never raises)."""
    return decode_internal(PollTick, value, "a poll tick")


@dataclass
class Ticker:
    """Decides which ticks the timer publishes now, and builds webhook ticks on the same schedule. Remembers (in
    memory) the last slot it published per connection, so one process publishes each slot once; a new leader
    starts afresh and publishes every connection's current slot again (the poller drops what was polled)."""

    connections: tuple[Connection, ...]
    interval: timedelta
    last_slots: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._length = interval_ms(self.interval)
        self._phases = phases(self.connections, self._length)

    def due(self, now: datetime) -> list[PollTick]:
        """The ticks to publish at `now`: one for each pollable connection whose next slot began."""
        ticks = []
        for connection in self.connections:
            phase = self._phases[connection.id]
            slot = slot_of(now, self._length, phase)
            if slot <= self.last_slots.get(connection.id, slot - 1):
                continue
            self.last_slots[connection.id] = slot
            ticks.append(PollTick(connection_id=connection.id, slot=slot, interval_ms=self._length, phase_ms=phase,
                                  published_at=now.astimezone(UTC)))
        return ticks

    def webhook_tick(self, connection_id: str, now: datetime) -> PollTick:
        """A tick asking for a poll of `connection_id` now, because a verified webhook said something changed."""
        phase = self._phases.get(connection_id, 0)
        return PollTick(connection_id=connection_id, slot=slot_of(now, self._length, phase),
                        interval_ms=self._length, phase_ms=phase, published_at=now.astimezone(UTC),
                        reason="webhook")

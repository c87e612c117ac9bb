"""Poll ticks: what the leader's timer publishes, one per connection and interval slot.

A slot is `floor(now / interval)` (in milliseconds since the epoch). The timer runs more often than the interval
(`timer_period`) and publishes when the slot changes, so ticks follow the slot boundaries instead of drifting
across them (a drifting timer could land twice in one slot and skip the next). Duplicated ticks (two leaders
during a rebalance, a restarted leader) are harmless: the poller polls a connection at most once per slot.

Tick records are internal (not part of DESIGN.md §3): JSON `{connection_id, slot, interval_ms, published_at}`,
keyed by the connection id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.config import Connection
from streams.records import decode_internal

MAX_TIMER_PERIOD = timedelta(seconds=5)


class PollTick(BaseModel):
    """Poll `connection_id` once in slot `slot` of an interval of `interval_ms` milliseconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection_id: str = Field(min_length=1, max_length=200)
    slot: int = Field(ge=0)
    interval_ms: int = Field(ge=1)
    published_at: AwareDatetime
    reason: Literal["schedule", "webhook"] = "schedule"

    @property
    def slot_start_ms(self) -> int:
        """When the slot began, in epoch milliseconds: comparable across interval changes."""
        return self.slot * self.interval_ms


def interval_ms(interval: timedelta) -> int:
    """The interval in whole milliseconds (at least 1)."""
    return max(1, round(interval.total_seconds() * 1000))


def slot_of(moment: datetime, interval: int) -> int:
    """The slot of `moment` for an interval of `interval` milliseconds."""
    return int(moment.timestamp() * 1000) // interval


def timer_period(interval: timedelta) -> float:
    """How often (seconds) the timer checks for a new slot: a quarter of the interval, at most 5 s."""
    return max(0.05, min(interval / 4, MAX_TIMER_PERIOD).total_seconds())


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
    """Decides which ticks the timer publishes now. Remembers (in memory) the last slot it published, so one
    process publishes each slot once; a new leader starts afresh and publishes the current slot again."""

    connections: tuple[Connection, ...]
    interval: timedelta
    last_slot: int | None = None

    def due(self, now: datetime) -> list[PollTick]:
        """The ticks to publish at `now`: one per pollable connection when a new slot began, else none."""
        if not self.connections:
            return []
        length = interval_ms(self.interval)
        slot = slot_of(now, length)
        if self.last_slot is not None and slot <= self.last_slot:
            return []
        self.last_slot = slot
        published = now.astimezone(UTC)
        return [PollTick(connection_id=connection.id, slot=slot, interval_ms=length, published_at=published)
                for connection in self.connections]


def webhook_tick(connection_id: str, interval: timedelta, now: datetime) -> PollTick:
    """A tick asking for a poll of `connection_id` now, because a verified webhook said something changed."""
    length = interval_ms(interval)
    return PollTick(connection_id=connection_id, slot=slot_of(now, length), interval_ms=length,
                    published_at=now.astimezone(UTC), reason="webhook")

"""Bounded memories of recent deliveries (per process): the delivery ids seen (`RecentDeliveries`) and, for the
platforms that sign no timestamp, the digests of the signed bodies seen (`RecentBodies`). Pure: the clock is
passed in."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime, timedelta

DEFAULT_CAPACITY = 10_000
"""How many entries each memory keeps (least recently seen forgotten first)."""

DEFAULT_REPLAY_WINDOW = timedelta(hours=1)
"""How long `RecentBodies` remembers a signed body (from the last time it was seen). Only authentic bodies
enter it, so a forger cannot push entries out; a longer window only makes replays of a captured body useless
for longer. Identical bodies are the same notification, so treating a genuine repeat as a duplicate loses
nothing."""

MAX_KEY_CHARS = 200
"""Delivery ids (unsigned header text) longer than this are remembered by their SHA-256, so the memory's size
does not depend on what a caller sends."""


def _bounded(text: str) -> str:
    if len(text) <= MAX_KEY_CHARS:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class _RecentKeys:
    """(connection id, key) pairs, least recently seen forgotten first beyond `capacity`, and, with a `window`,
    forgotten once last seen that long ago. Keys longer than `MAX_KEY_CHARS` are kept by their SHA-256."""

    def __init__(self, capacity: int, window: timedelta | None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if window is not None and window <= timedelta(0):
            raise ValueError("window must be positive")
        self._capacity = capacity
        self._window = window
        self._seen: OrderedDict[tuple[str, str], datetime | None] = OrderedDict()  # ordered by last seen

    def __len__(self) -> int:
        return len(self._seen)

    def _contains(self, connection_id: str, key: str, now: datetime | None) -> bool:
        self._expire(now)
        pair = (connection_id, _bounded(key))
        if pair in self._seen:
            self._seen[pair] = now
            self._seen.move_to_end(pair)
            return True
        return False

    def _remember(self, connection_id: str, key: str, now: datetime | None) -> None:
        self._expire(now)
        pair = (connection_id, _bounded(key))
        self._seen[pair] = now
        self._seen.move_to_end(pair)
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def _expire(self, now: datetime | None) -> None:
        if self._window is None or now is None:
            return
        while self._seen:
            pair, seen_at = next(iter(self._seen.items()))
            if seen_at is not None and now - seen_at < self._window:
                return
            del self._seen[pair]


class RecentDeliveries(_RecentKeys):
    """The last `capacity` (connection id, delivery id) pairs seen, least recently seen forgotten first.

    The memory is per process: another worker, or this one after a restart or once the id has been pushed out,
    does not recognise a duplicate. That is acceptable because a duplicate only triggers another poll of an order,
    and the pipeline is idempotent (deterministic event ids, a ledger that ignores repeats). Raises ValueError
    for a capacity below 1."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(capacity, None)

    def contains(self, connection_id: str, delivery_id: str) -> bool:
        """Whether the pair is in the window (refreshing it when it is); records nothing new."""
        return self._contains(connection_id, delivery_id, None)

    def remember(self, connection_id: str, delivery_id: str) -> None:
        """Record the pair (the least recently seen pair is forgotten beyond the capacity)."""
        self._remember(connection_id, delivery_id, None)

    def seen_before(self, connection_id: str, delivery_id: str) -> bool:
        """Record the pair; True if it was already in the window (a duplicate), False the first time."""
        if self.contains(connection_id, delivery_id):
            return True
        self.remember(connection_id, delivery_id)
        return False


class RecentBodies(_RecentKeys):
    """The digests of signed bodies seen per connection within `window` of `now` (at most `capacity`, least
    recently seen forgotten first): a body seen again, whatever its delivery id, is a replay.

    Per process, like `RecentDeliveries`. Raises ValueError for a capacity below 1 or a window that is not
    positive."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, window: timedelta = DEFAULT_REPLAY_WINDOW) -> None:
        super().__init__(capacity, window)

    def contains(self, connection_id: str, digest: str, now: datetime) -> bool:
        """Whether the body was seen on the connection within the window before `now`; a hit counts as seen
        again at `now` (a body replayed over and over stays a duplicate). Records nothing new."""
        return self._contains(connection_id, digest, now)

    def remember(self, connection_id: str, digest: str, now: datetime) -> None:
        """Record the body as seen at `now`."""
        self._remember(connection_id, digest, now)

"""A bounded memory of recently seen delivery ids (per process)."""

from __future__ import annotations

from collections import OrderedDict

DEFAULT_CAPACITY = 10_000


class RecentDeliveries:
    """The last `capacity` (connection id, delivery id) pairs seen, least recently seen forgotten first.

    The memory is per process: another worker, or this one after a restart or once the id has been pushed out,
    does not recognise a duplicate. That is acceptable because a duplicate only triggers another poll of an order,
    and the pipeline is idempotent (deterministic event ids, a ledger that ignores repeats)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen_before(self, connection_id: str, delivery_id: str) -> bool:
        """Record the pair; True if it was already in the window (a duplicate), False the first time."""
        key = (connection_id, delivery_id)
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return False

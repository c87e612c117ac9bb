"""The pollers' two Faust tables, both written only by the poller agent while it handles a tick, so each entry
lives in the partition of its connection's ticks (Faust writes a table's changelog to the partition of the event
being processed): whichever worker owns a connection's ticks owns its state.

- poll cursors: connection id -> `CursorState` (the connector's opaque cursor and the last slot polled);
- buyer orders: (buyer connection, buyer order ref) -> `BuyerOrderEntry`, the `order.placed` events a buyer order
  became when first seen. A known order is not routed again (a stored order's lines never change; later changes
  are buyer cancellations, which compare against these events).

Values are JSON; an entry that cannot be read is treated as absent and logged (the poll then starts from the
connector's start window, and what it republishes carries the same event ids).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from schemas.events import OrderPlaced

log = logging.getLogger("fulfillsync.polling")

_SEPARATOR = "\x1f"  # cannot occur in connection ids or platform references


class CursorState(BaseModel):
    """Where a connection's next poll starts (`cursor`, None: the start window) and which slot it last used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cursor: str | None = None
    slot_start_ms: int = -1
    interval_ms: int = 0
    polled_at: AwareDatetime | None = None


class BuyerOrderEntry(BaseModel):
    """What one buyer order became when it was first routed, the last `order.buyer_cancelled` event id published
    for each of its stored orders (so an unchanged cancellation is neither published nor logged again), and the
    order's cancellation mark when last read in full (`PlatformOrder.cancel_mark`; None: none known)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_ref: str
    first_seen: AwareDatetime
    placed: tuple[OrderPlaced, ...]
    cancellations: dict[str, str] = {}
    cancel_mark: str | None = None


class CursorTable:
    """Typed access to the poll-cursor table."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table

    def get(self, connection_id: str) -> CursorState:
        """The stored state, or a fresh one (no cursor, no slot) when there is none or it is unreadable."""
        raw = self._table.get(connection_id.encode())
        if raw is None:
            return CursorState()
        try:
            return CursorState.model_validate_json(raw)
        except ValidationError:
            log.error("poll cursor of connection %s is unreadable; polling from its start window", connection_id)
            return CursorState()

    def save_cursor(self, connection_id: str, cursor: str) -> None:
        """Store `cursor`, keeping the slot."""
        state = self.get(connection_id)
        self._put(connection_id, state.model_copy(update={"cursor": cursor}))

    def mark_polled(self, connection_id: str, *, slot_start_ms: int, interval_ms: int, at: datetime) -> None:
        """Record that the slot starting at `slot_start_ms` was used, keeping the cursor."""
        state = self.get(connection_id)
        self._put(connection_id, state.model_copy(update={
            "slot_start_ms": slot_start_ms, "interval_ms": interval_ms, "polled_at": at}))

    def _put(self, connection_id: str, state: CursorState) -> None:
        self._table[connection_id.encode()] = state.model_dump_json().encode()


class BuyerOrderTable:
    """Typed access to the buyer-order table."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table

    @staticmethod
    def key(connection_id: str, order_ref: str) -> bytes:
        return f"{connection_id}{_SEPARATOR}{order_ref}".encode()

    def known(self, connection_id: str, order_ref: str) -> bool:
        """Whether this buyer order was already routed (its entry exists, readable or not)."""
        return self._table.get(self.key(connection_id, order_ref)) is not None

    def get(self, connection_id: str, order_ref: str) -> BuyerOrderEntry | None:
        raw = self._table.get(self.key(connection_id, order_ref))
        if raw is None:
            return None
        try:
            return BuyerOrderEntry.model_validate_json(raw)
        except ValidationError:
            log.error("buyer order %s of %s has an unreadable entry", order_ref, connection_id)
            return None

    def put(self, connection_id: str, entry: BuyerOrderEntry) -> None:
        self._table[self.key(connection_id, entry.order_ref)] = entry.model_dump_json().encode()

"""The pollers' two Faust tables, both written only by the poller agent while it handles a tick, so each entry
lives in the partition of its connection's ticks (Faust writes a table's changelog to the partition of the event
being processed): whichever worker owns a connection's ticks owns its state.

- poll cursors: connection id -> `CursorState` (the connector's opaque cursor and the last slot polled);
- buyer orders: (buyer connection, buyer order ref) -> `BuyerOrderEntry`, the `order.placed` events a buyer order
  became when first seen. A known order is not routed again (a stored order's lines never change; later changes
  are buyer cancellations, which compare against these events).

Values are JSON; an entry that cannot be read is read as absent (logged): the poll then starts from the connector's
start window, and what it republishes carries the same event ids.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from schemas.events import OrderPlaced
from streams.kit.tables import TableSpec, TypedTable

MAX_PAGES_PER_POLL = 200
"""A walk longer than this continues at the next tick (from the stored cursor), so one busy store cannot hold
the poller agent, and the connections behind it, indefinitely."""
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


POLL_CURSORS = TableSpec("poll-cursors", CursorState, unreadable="absent",
                         help="connection id -> where its next poll starts and the last slot polled")
BUYER_ORDERS = TableSpec("buyer-orders", BuyerOrderEntry, unreadable="absent",
                         help="buyer connection + U+001F + buyer order ref -> the order.placed events it became")


class CursorTable:
    """The poll-cursor table, with the two updates the poller makes."""

    def __init__(self, table: TypedTable[CursorState]) -> None:
        self._table = table

    def get(self, connection_id: str) -> CursorState:
        """The stored state, or a fresh one (no cursor, no slot) when there is none or it is unreadable."""
        return self._table.get(connection_id) or CursorState()

    def save_cursor(self, connection_id: str, cursor: str) -> None:
        """Store `cursor`, keeping the slot."""
        self._table.put(connection_id, self.get(connection_id).model_copy(update={"cursor": cursor}))

    def mark_polled(self, connection_id: str, *, slot_start_ms: int, interval_ms: int, at: datetime) -> None:
        """Record that the slot starting at `slot_start_ms` was used, keeping the cursor."""
        self._table.put(connection_id, self.get(connection_id).model_copy(update={
            "slot_start_ms": slot_start_ms, "interval_ms": interval_ms, "polled_at": at}))


class BuyerOrderTable:
    """The buyer-order table, keyed by (buyer connection, buyer order ref)."""

    def __init__(self, table: TypedTable[BuyerOrderEntry]) -> None:
        self._table = table

    @staticmethod
    def key(connection_id: str, order_ref: str) -> str:
        return f"{connection_id}{_SEPARATOR}{order_ref}"

    def known(self, connection_id: str, order_ref: str) -> bool:
        """Whether this buyer order was already routed (its entry exists, readable or not)."""
        return self._table.contains(self.key(connection_id, order_ref))

    def get(self, connection_id: str, order_ref: str) -> BuyerOrderEntry | None:
        return self._table.get(self.key(connection_id, order_ref))

    def put(self, connection_id: str, entry: BuyerOrderEntry) -> None:
        self._table.put(self.key(connection_id, entry.order_ref), entry)

"""`fulfillsync orders stuck`: the orders waiting to ship whose last change is long ago (`ledger.stuck`), from
the records of the worker's orders changelog (no worker needed), partially shipped ones first (a seller that
shipped half an order and forgot the rest), then the longest quiet first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fulfillsync.ops.reading import Record
from ledger import OrderState
from ledger.stuck import is_stuck, waiting_since
from streams.orders.stuck import waiting_state
from streams.orders.tables import ORDERS


@dataclass(frozen=True)
class StuckOrder:
    """One stuck order, as `orders stuck` lists it."""

    order_id: str
    buyer: str
    buyer_order_ref: str | None
    seller: str
    waiting_since: datetime
    fulfilled: int
    to_ship: int

    @property
    def partially_shipped(self) -> bool:
        return self.fulfilled > 0


def _stuck_order(state: OrderState) -> StuckOrder:
    assert state.order is not None
    since = waiting_since(state)
    assert since is not None
    wanted = state.units_to_ship()
    covered = state.active_units()
    return StuckOrder(state.order_id, state.order.buyer.connection, state.order.buyer.order_ref,
                      state.order.seller.connection, since,
                      sum(min(covered.get(line, 0), units) for line, units in wanted.items()), sum(wanted.values()))


def stuck_in(records: Iterable[Record], older: timedelta, now: datetime) -> list[StuckOrder]:
    """The orders stuck for at least `older` at `now` among `records` (read from the orders changelog; the latest
    value of each order wins), partially shipped first, then the longest quiet first."""
    waiting: dict[bytes | None, OrderState] = {}
    for record in records:
        state = None if record.value is None else waiting_state(record.value, compressed=ORDERS.compressed)
        if state is None:
            waiting.pop(record.key, None)
        else:
            waiting[record.key] = state
    found = [_stuck_order(state) for state in waiting.values() if is_stuck(state, now, older)]
    return sorted(found, key=lambda order: (not order.partially_shipped, order.waiting_since, order.order_id))

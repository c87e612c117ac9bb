"""The order table's values: the ledger's `OrderState` per order id, as zlib-compressed JSON (a shipped 10-line
order: 8.7 KB of JSON, 1.5 KB stored), so the changelog and RocksDB carry a sixth of the bytes.

The ledger agent writes it; the seller-fulfilment checker and the buyer tracking sink read it in the same partition
(their topics are keyed by order id and co-partitioned with order-events)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, MutableMapping

from ledger import OrderState
from schemas.events import OrderShipped


def decode_state(raw: bytes) -> OrderState:
    """The state in a table value. Raises (zlib.error, pydantic.ValidationError) for a value that is not one."""
    return OrderState.model_validate_json(zlib.decompress(raw))


def encode_state(state: OrderState) -> bytes:
    return zlib.compress(state.model_dump_json().encode(), 1)


class OrderStates:
    """Read access to the order table for the agents beside the ledger."""

    def __init__(self, table: Mapping[bytes, bytes] | MutableMapping[bytes, bytes]) -> None:
        self._table = table

    def get(self, order_id: str) -> OrderState | None:
        """The order's state, or None when the ledger has none. Raises for an unreadable value."""
        raw = self._table.get(order_id.encode())
        return None if raw is None else decode_state(raw)


def shipped_event(state: OrderState) -> OrderShipped | None:
    """The `order.shipped` that made the order shipped now, or None when it is not shipped."""
    if state.shipped_event_id is None:
        return None
    for seen in state.seen.values():
        for output in seen.outputs:
            if isinstance(output, OrderShipped) and output.event_id == state.shipped_event_id:
                return output
    return None

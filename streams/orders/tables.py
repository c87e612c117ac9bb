"""The order table (`orders`): order id -> the ledger's `OrderState`, in the compact form of `ledger.stored`,
zlib-compressed (README.md, "Performance", gives the sizes).

The ledger agent writes it; the seller fulfillment checker and the buyer tracking sink read it in the same
partition (their topics are keyed by order id and co-partitioned with order-events). An unreadable value raises
(`UnreadableEntry`): the ledger dead-letters the input that met it, the readers log and skip the record.
"""

from __future__ import annotations

import zlib

from ledger import OrderState, stored
from streams.kit.tables import Codec, TableSpec, UnreadableEntry, uncompressed

STATE_CACHE = 8192
"""Decoded order states each worker keeps (`TableSpec.cached`): the ledger, the buyer tracking sink and the seller
fulfillment checker read an order's state without decoding it again while it is among the last used. Decoded, a
state takes about 8 KB for a 2-line order and 33 KB for a 10-line one."""

ORDERS = TableSpec("orders", OrderState, unreadable="raise", compressed=True,
                   help="order id -> the ledger's state of the order",
                   codec=Codec(encode=stored.encode, decode=stored.decode), cached=STATE_CACHE)


def decode_state(raw: bytes) -> OrderState:
    """The state in a table value. Raises `UnreadableEntry` for a value that is not one."""
    return ORDERS.decode(raw)


def outline_state(raw: bytes) -> stored.Outline:
    """What an index needs of the state in a table value, without building the state (`ledger.stored.outline`).
    Raises `UnreadableEntry` for a value that is not one."""
    try:
        return stored.outline(uncompressed(raw, ORDERS.compressed))
    except (ValueError, zlib.error) as error:
        raise UnreadableEntry(f"{ORDERS.name}: not a {OrderState.__name__}: {str(error)[:200]}") from None


def encode_state(state: OrderState) -> bytes:
    return ORDERS.encode(state)

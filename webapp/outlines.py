"""Decoding order-table values into outlines in a second process while the read model catches up on a backlog
(docs/webapp.md, "Read model").

From an empty store the reader thread spent about half of its time decoding values (zlib and JSON) and half writing
the store (SQLite), one after the other: one Python process cannot do both at once. `OutlineDecoder` decodes a
batch in a child process while the reader writes the batch before it. The child is started with multiprocessing's
`spawn` (the reader's process runs librdkafka's threads, which a fork would copy in an unknown state) and holds
nothing but the function below.

Failure behaviour: a value that is not an order state comes back as its error text, which the reader logs and
skips as it does inline; a child that dies (killed, out of memory) fails the batches handed to it and every later
`submit` (`BrokenProcessPool`), and the reader decodes those batches itself, in order, and goes on without a child.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import NamedTuple

from streams.kit.tables import UnreadableEntry
from streams.orders.tables import outline_state


class IndexFields(NamedTuple):
    """What the store indexes of an order-table value (`ledger.stored.Outline`, in plain values: a batch of them
    crosses between the processes about seven times faster than the outlines themselves)."""

    placed_at_us: int | None
    """When the order was placed, in microseconds since the epoch; None before its order.placed."""
    seller: str | None
    buyer: str | None
    cancelled: tuple[str, ...]
    """Its fulfillments cancelled, sorted."""


def index_fields(value: bytes) -> IndexFields:
    """The `IndexFields` of an order-table value. Raises `UnreadableEntry` for a value that is not a state."""
    outline = outline_state(value)
    placed_at = outline.placed_at
    return IndexFields(None if placed_at is None else round(placed_at.timestamp() * 1_000_000),
                       outline.seller_connection, outline.buyer_connection, tuple(sorted(outline.cancelled)))


Decoded = IndexFields | str | None
"""A value's index fields, the error text of a value that is not a state, or None where there was no value."""


def decode_outlines(values: Sequence[bytes | None]) -> list[Decoded]:
    """The index fields of each value (see `Decoded`); never raises for a bad value."""
    found: list[Decoded] = []
    for value in values:
        if value is None:
            found.append(None)
            continue
        try:
            found.append(index_fields(value))
        except UnreadableEntry as error:
            found.append(str(error))
    return found


class OutlineDecoder:
    """One child process decoding batches (`submit`); `close()` ends it. Not thread-safe: the reader thread alone
    uses it."""

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, values: Sequence[bytes | None]) -> Future[list[Decoded]]:
        """Start decoding `values`; the future gives `decode_outlines(values)`. Once the child died, the future
        raises `BrokenProcessPool`, or this call does (the pool knew before)."""
        return self._pool.submit(decode_outlines, list(values))

    def close(self) -> None:
        """End the child (what it was doing is dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

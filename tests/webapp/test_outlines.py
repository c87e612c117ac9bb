"""Decoding order-table values into outlines in a second process (`webapp.outlines`)."""

from __future__ import annotations

import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from ledger import apply, new_state
from streams.orders.tables import encode_state, outline_state
from tests.support.ledger_builders import order_placed
from webapp.outlines import IndexFields, OutlineDecoder, decode_outlines


def test_each_value_gives_its_index_fields_an_unreadable_one_its_error_and_no_value_none() -> None:
    event = order_placed()
    value = encode_state(apply(new_state(event.order_id), event).state)

    found = decode_outlines([value, b"not zlib", None])

    outline = outline_state(value)
    assert outline.placed_at is not None
    assert found[0] == IndexFields(round(outline.placed_at.timestamp() * 1_000_000), event.seller.connection,
                                   event.buyer.connection, ())
    assert isinstance(found[1], str) and "not a OrderState" in found[1]
    assert found[2] is None


def test_the_child_process_decodes_as_the_reader_would_and_a_dead_child_fails_the_batch() -> None:
    event = order_placed()
    value = encode_state(apply(new_state(event.order_id), event).state)
    decoder = OutlineDecoder()
    try:
        assert decoder.submit([value, None]).result(60) == decode_outlines([value, None])
        [child] = [process.pid for process in decoder._pool._processes.values()]
        assert child is not None
        os.kill(child, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            decoder.submit([value]).result(60)
    finally:
        decoder.close()

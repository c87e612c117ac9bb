"""schemas.log_context: fields bound for a block or until bound again, kept apart per asyncio task, and copied onto
log records by `ContextFilter` without overriding a call's own `extra=`."""

from __future__ import annotations

import asyncio
import logging

import pytest

from schemas import log_context
from schemas.log_context import FIELDS, MAX_CHARS, ContextFilter


@pytest.fixture(autouse=True)
def _unbound() -> None:
    log_context.clear()


def record(**extra: object) -> logging.LogRecord:
    made = logging.LogRecord("test", logging.INFO, __file__, 1, "hello", None, None)
    for name, value in extra.items():
        setattr(made, name, value)
    return made


def test_bound_adds_to_what_is_bound_and_restores_it_on_the_way_out() -> None:
    with log_context.bound(connection="acme-shopify"):
        with log_context.bound(order_id="O1", offset=7):
            assert log_context.current() == {"connection": "acme-shopify", "order_id": "O1", "offset": 7}
        assert log_context.current() == {"connection": "acme-shopify"}
    assert log_context.current() == {}


def test_none_unbinds_a_field_and_bind_stays_until_the_next_bind() -> None:
    log_context.bind(order_id="O1", topic="t.order-events")
    log_context.bind(order_id=None, partition=0)
    assert log_context.current() == {"topic": "t.order-events", "partition": 0}
    log_context.clear()
    assert log_context.current() == {}


def test_an_unknown_field_is_refused_and_long_text_is_cut() -> None:
    with pytest.raises(ValueError, match="unknown log context field"):
        log_context.bind(customer_email="x@example.com")
    log_context.bind(order_id="O" * 10_000)
    assert log_context.current()["order_id"] == "O" * MAX_CHARS


def test_the_filter_copies_bound_fields_onto_records_but_keeps_a_calls_own_extra() -> None:
    with log_context.bound(order_id="O1", connection="shop-bc", partition=2):
        plain, own = record(), record(connection="from-extra")
        assert ContextFilter().filter(plain) and ContextFilter().filter(own)
    assert (plain.order_id, plain.connection, plain.partition) == ("O1", "shop-bc", 2)  # type: ignore[attr-defined]
    assert own.connection == "from-extra"  # type: ignore[attr-defined]
    unbound = record()
    ContextFilter().filter(unbound)
    assert not set(FIELDS) & set(unbound.__dict__)


def test_tasks_see_the_fields_of_the_code_that_started_them_and_never_each_others() -> None:
    async def handle(order_id: str) -> tuple[str, object]:
        log_context.bind(order_id=order_id)
        await asyncio.sleep(0.01)  # the other task binds its own meanwhile
        child = asyncio.create_task(asyncio.sleep(0, result=log_context.current().get("order_id")))
        return order_id, await child

    async def main() -> list[tuple[str, object]]:
        return list(await asyncio.gather(handle("O1"), handle("O2")))

    assert asyncio.run(main()) == [("O1", "O1"), ("O2", "O2")]
    assert log_context.current() == {}

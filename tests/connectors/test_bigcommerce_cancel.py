"""BigCommerce `cancel_order` against the simulated store, every exchange checked against the official V2 spec:
a whole order becomes Cancelled, cancelled units a staff note; both idempotent; a shipped order is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import PermanentError
from schemas.platform import Address, CancelledUnits, NewOrder, OrderCancellation, SellerLine
from tests.support.bigcommerce_store import Harness, harness, load_spec


@pytest.fixture
def h(platform_specs: Path) -> Iterator[Harness]:
    bench = harness(load_spec(platform_specs))
    yield bench
    assert bench.transport.problems == [], "\n".join(bench.transport.problems)
    assert bench.transport.checked > 0


async def created(h: Harness) -> str:
    order = NewOrder(our_order_id="ord-1", lines=(SellerLine(line_ref="l1", sku="ACME-1", quantity=3),
                                                  SellerLine(line_ref="l2", sku="ACME-2", quantity=1)),
                     shipping_address=Address(name="Ada Lovelace", lines=("1 Main St",), city="Austin", region="TX",
                                              postal_code="78751", country_code="US"))
    return (await h.connector().create_order(order)).order_ref


def puts(h: Harness) -> int:
    return sum(1 for request in h.transport.sent if request.method == "PUT")


UNITS = OrderCancellation(our_order_id="ord-1", whole_order=False, lines=(
    CancelledUnits(line_ref="101", sku="ACME-1", cancelled_quantity=2, remaining_quantity=1),))


@pytest.mark.asyncio
async def test_cancelled_units_become_one_staff_note_line(h: Harness) -> None:
    ref = await created(h)
    await h.connector().cancel_order(ref, UNITS)
    await h.connector().cancel_order(ref, UNITS)  # a retry or replay

    order = h.store.orders[int(ref)]
    assert order.staff_notes.count(UNITS.note()) == 1
    assert "ACME-1: 2 cancelled, 1 still to ship" in order.staff_notes and order.status_id == 11
    assert puts(h) == 1
    more = UNITS.model_copy(update={"lines": (UNITS.lines[0].model_copy(
        update={"cancelled_quantity": 3, "remaining_quantity": 0}),)})
    await h.connector().cancel_order(ref, more)
    assert order.staff_notes.splitlines()[-1] == more.note()


@pytest.mark.asyncio
async def test_a_whole_order_is_cancelled_once(h: Harness) -> None:
    ref = await created(h)
    whole = OrderCancellation(our_order_id="ord-1", whole_order=True)
    await h.connector().cancel_order(ref, whole)
    await h.connector().cancel_order(ref, whole)
    assert h.store.orders[int(ref)].status_id == 5
    assert puts(h) == 1


@pytest.mark.asyncio
async def test_a_shipped_order_is_refused_with_its_status(h: Harness) -> None:
    ref = await created(h)
    order = h.store.orders[int(ref)]
    h.store.ship(order.id, [{"order_product_id": p.id, "quantity": p.quantity} for p in order.products],
                 order_address_id=order.addresses[0].id, tracking_number="1Z999")
    with pytest.raises(PermanentError, match="already shipped"):
        await h.connector().cancel_order(ref, OrderCancellation(our_order_id="ord-1", whole_order=True))

"""Magento `cancel_order` against the simulated store, every exchange validated against the official schema: a
whole order through `POST /V1/orders/{id}/cancel`, units as an order comment; both idempotent; a shipped or
complete order is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectors.base import PermanentError
from schemas.platform import CancelledUnits, OrderCancellation
from tests.support.magento_store import Harness, make_harness

pytestmark = pytest.mark.asyncio

ADDRESS = {"address_type": "shipping", "firstname": "Ada", "lastname": "Lovelace", "street": ["12 Analytical Row"],
           "city": "London", "postcode": "N1 9GU", "country_id": "GB", "telephone": "+44 20 7946 0000"}
WHOLE = OrderCancellation(our_order_id="ord-1", whole_order=True)


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[Harness]:
    made = make_harness()
    yield made
    await made.close()


def place(h: Harness) -> tuple[int, int]:
    """An order of 3 x ACME-1; (order id, item id)."""
    order = h.store.place_order([{"sku": "ACME-1", "qty": 3}], shipping_address=ADDRESS)
    return int(order.entity_id), order.items[0].item_id


async def test_cancelled_units_are_one_admin_comment(harness: Harness) -> None:
    order_id, item_id = place(harness)
    units = OrderCancellation(our_order_id="ord-1", whole_order=False, lines=(
        CancelledUnits(line_ref=str(item_id), sku="ACME-1", cancelled_quantity=2, remaining_quantity=1),))
    await harness.connector(role="seller").cancel_order(str(order_id), units)
    await harness.connector(role="seller").cancel_order(str(order_id), units)

    comments = [h["comment"] for h in harness.store.order(order_id).histories]
    assert comments == [units.note()]
    assert harness.store.order(order_id).state != "canceled"
    assert harness.requests(f"POST /rest/default/V1/orders/{order_id}/comments") == 1


async def test_a_whole_order_is_cancelled_once(harness: Harness) -> None:
    order_id, _ = place(harness)
    await harness.connector(role="seller").cancel_order(str(order_id), WHOLE)
    await harness.connector(role="seller").cancel_order(str(order_id), WHOLE)
    assert harness.store.order(order_id).state == "canceled"
    assert harness.requests(f"POST /rest/default/V1/orders/{order_id}/cancel") == 1


async def test_a_partly_shipped_order_keeps_its_shipment_and_cancels_the_rest_once(harness: Harness) -> None:
    order_id, item_id = place(harness)
    harness.store.ship(order_id, [(item_id, 1)])
    await harness.connector(role="seller").cancel_order(str(order_id), WHOLE)
    await harness.connector(role="seller").cancel_order(str(order_id), WHOLE)
    item = harness.store.order(order_id).items[0]
    assert (item.qty_shipped, item.qty_canceled) == (1, 2)
    assert harness.requests(f"POST /rest/default/V1/orders/{order_id}/cancel") == 1


async def test_a_fully_shipped_order_is_refused(harness: Harness) -> None:
    order_id, item_id = place(harness)
    harness.store.ship(order_id, [(item_id, 3)])
    harness.store.order(order_id).state = "complete"
    with pytest.raises(PermanentError, match="complete"):
        await harness.connector(role="seller").cancel_order(str(order_id), WHOLE)


async def test_a_cancel_magento_answers_false_is_refused(harness: Harness) -> None:
    order_id, item_id = place(harness)
    harness.store.ship(order_id, [(item_id, 3)])  # nothing left to cancel, state still processing
    harness.store.order(order_id).items[0].qty_shipped = 2  # as if one unit were open but invoiced
    harness.store.order(order_id).state = "holded"
    with pytest.raises(PermanentError, match="refused to cancel"):
        await harness.connector(role="seller").cancel_order(str(order_id), WHOLE)

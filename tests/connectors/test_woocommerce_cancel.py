"""WooCommerce `cancel_order` against the simulated store: a whole order becomes cancelled, cancelled units lower
the line items' quantities; both idempotent; a completed order is refused."""

from __future__ import annotations

import pytest

from connectors.base import PermanentError
from schemas.platform import CancelledUnits, OrderCancellation
from tests.support.woocommerce_store import Woo, place, stock, woo

pytestmark = pytest.mark.asyncio
WHOLE = OrderCancellation(our_order_id="ord-1", whole_order=True)


def seller_order() -> tuple[Woo, int]:
    shop = woo()
    stock(shop.store, "MUG", "TEE")
    return shop, place(shop.store, ("MUG", 3), ("TEE", 1))


def puts(shop: Woo, order_id: int) -> int:
    return shop.app.sandbox.requests[f"PUT /wp-json/wc/v3/orders/{order_id}"]


async def test_cancelled_units_lower_the_line_quantities_once() -> None:
    shop, order_id = seller_order()
    mug, tee = shop.store.order(order_id).line_items
    units = OrderCancellation(our_order_id="ord-1", whole_order=False, lines=(
        CancelledUnits(line_ref=str(mug.id), sku="MUG", cancelled_quantity=2, remaining_quantity=1),
        CancelledUnits(line_ref=str(tee.id), sku="TEE", cancelled_quantity=1, remaining_quantity=0)))
    connector = shop.connector(role="seller")
    await connector.cancel_order(str(order_id), units)
    await connector.cancel_order(str(order_id), units)
    await connector.aclose()

    order = shop.store.order(order_id)
    assert [(item.sku, item.quantity) for item in order.line_items] == [("MUG", 1), ("TEE", 0)]
    assert order.status == "processing"
    assert puts(shop, order_id) == 1


async def test_a_whole_order_is_cancelled_once() -> None:
    shop, order_id = seller_order()
    connector = shop.connector(role="seller")
    await connector.cancel_order(str(order_id), WHOLE)
    await connector.cancel_order(str(order_id), WHOLE)
    await connector.aclose()
    assert shop.store.order(order_id).status == "cancelled"
    assert puts(shop, order_id) == 1


async def test_a_completed_order_is_refused() -> None:
    shop, order_id = seller_order()
    shop.store.update_order(order_id, {"status": "completed"})
    connector = shop.connector(role="seller")
    with pytest.raises(PermanentError, match="completed"):
        await connector.cancel_order(str(order_id), WHOLE)
    await connector.aclose()


async def test_the_store_refuses_an_item_that_is_not_on_the_order() -> None:
    shop, order_id = seller_order()
    with pytest.raises(Exception, match="not associated with order"):
        shop.store.update_order(order_id, {"line_items": [{"id": 999999, "quantity": 0}]})
    assert [item.quantity for item in shop.store.order(order_id).line_items] == [3, 1]

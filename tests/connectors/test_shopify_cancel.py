"""Shopify `cancel_order` against the simulated shop, every request validated against the 2025-01 introspection
(and the 2026-07 SDL when FULFILLSYNC_PLATFORM_SPECS is set): `orderCancel` for a whole order, an order edit for
units; both idempotent; units already fulfilled are reported."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectors.base import PermanentError
from connectors.shopify import ShopifyConnector
from sandbox.common import SandboxApp
from sandbox.shopify.store import NewLine, Order
from schemas.platform import CancelledUnits, OrderCancellation
from tests.support.shopify_store import CheckingTransport, checked_shop, connector, store

pytestmark = pytest.mark.asyncio
WHOLE = OrderCancellation(our_order_id="ord-1", whole_order=True)


@pytest_asyncio.fixture
async def shop(request: pytest.FixtureRequest) -> AsyncIterator[tuple[SandboxApp, CheckingTransport]]:
    with checked_shop(request, restore_rate=2000) as checked:
        yield checked


def placed(app: SandboxApp) -> Order:
    return store(app).place_order([NewLine(title="Anvil", sku="ACME-1", quantity=3),
                                   NewLine(title="Rope", sku="ACME-2", quantity=1)])


def units(order: Order, anvils_left: int) -> OrderCancellation:
    line = order.line_items[0]
    return OrderCancellation(our_order_id="ord-1", whole_order=False, lines=(CancelledUnits(
        line_ref=f"gid://shopify/LineItem/{line.id}", sku="ACME-1", cancelled_quantity=3 - anvils_left,
        remaining_quantity=anvils_left),))


async def cancel(app: SandboxApp, transport: CheckingTransport, order: Order, what: OrderCancellation) -> None:
    conn: ShopifyConnector = connector(app, transport=transport)
    try:
        await conn.cancel_order(f"gid://shopify/Order/{order.id}", what)
    finally:
        await conn.aclose()


async def test_cancelled_units_are_removed_by_one_order_edit(shop: tuple[SandboxApp, CheckingTransport]) -> None:
    app, transport = shop
    order = placed(app)
    await cancel(app, transport, order, units(order, 1))
    await cancel(app, transport, order, units(order, 1))

    assert [line.current_quantity for line in order.line_items] == [1, 1]
    assert order.cancelled_at is None
    assert transport.operations().count("OrderEditCommit") == 1
    assert transport.operations().count("OrderEditSetQuantity") == 1


async def test_units_already_fulfilled_stay_and_are_reported(shop: tuple[SandboxApp, CheckingTransport]) -> None:
    app, transport = shop
    order = placed(app)
    store(app).fulfill_lines(order.id, {order.line_items[0].id: 2})
    with pytest.raises(PermanentError, match="already fulfilled: ACME-1 \\(2 fulfilled, 0 wanted\\)"):
        await cancel(app, transport, order, units(order, 0))
    assert order.line_items[0].current_quantity == 2  # the unfulfilled unit is gone, the shipped two stay


async def test_a_whole_order_is_cancelled_and_again_is_a_no_op(shop: tuple[SandboxApp, CheckingTransport]) -> None:
    app, transport = shop
    order = placed(app)
    await cancel(app, transport, order, WHOLE)
    cancelled_at = order.cancelled_at
    await cancel(app, transport, order, WHOLE)
    assert cancelled_at is not None and order.cancelled_at == cancelled_at
    assert transport.operations().count("OrderCancelledAt") == 1  # the second call's refusal was checked

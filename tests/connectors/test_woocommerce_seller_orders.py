"""`WooCommerceConnector.create_order` on the new seller lines, against the simulated store: linked lines (simple
and variation) and custom lines at their unit price, shipping, currency, the flag for custom lines, and the
seller's stock moving once, retries included."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from connectors.base import MalformedResponseError, PermanentError
from connectors.woocommerce import WooCommerceConnector
from sandbox.common import Fault
from sandbox.woocommerce.store import Order
from schemas.platform import Address, CatalogLookup, NewOrder, SellerLine
from tests.support.woocommerce_store import Woo, woo

pytestmark = pytest.mark.asyncio

ADDRESS = Address(name="Grace Hopper", lines=("1 Compiler Rd",), city="Arlington", region="VA",
                  postal_code="22201", country_code="US")


def catalog(shop: Woo) -> None:
    shop.store.add_product("MUG", "Mug", "12.50", stock_quantity=100)
    shop.store.add_product("TEE", "T-shirt", "20.00")
    shop.store.add_product("TEE-M", "T-shirt - M", "21.00", parent_sku="TEE", stock_quantity=10)


async def lookup(connector: WooCommerceConnector, *skus: str) -> CatalogLookup:
    return await connector.catalog_variants(list(skus))


def seller_order(found: CatalogLookup, our_id: str = "ord-1", *, shipping: str = "4.90",
                 method: str | None = "Ground") -> NewOrder:
    """MUG x2 at its catalog price, TEE-M x1 at a price-list price, GHOST x3 as a custom line at 7.25."""
    (mug,), (tee_m,) = found.variants["MUG"], found.variants["TEE-M"]
    assert mug.price is not None
    return NewOrder(
        our_order_id=our_id, buyer_order_number="#1001", email="grace@example.com", shipping_address=ADDRESS,
        shipping_method=method, currency=found.currency, shipping_price=Decimal(shipping),
        lines=(SellerLine(line_ref="l-mug", sku="MUG", quantity=2, variant=mug, unit_price=mug.price),
               SellerLine(line_ref="l-tee", sku="TEE-M", quantity=1, variant=tee_m, unit_price=Decimal("18.00")),
               SellerLine(line_ref="l-ghost", sku="GHOST", quantity=3, title="Ghost lamp",
                          unit_price=Decimal("7.25"))))


def stock_of(shop: Woo, sku: str) -> int | None:
    product = shop.store.product_by_sku(sku)
    assert product is not None
    return product.stock_quantity


def ours(shop: Woo, our_id: str) -> list[Order]:
    return [o for o in shop.store.orders.values()
            if any(m.key == "fulfillsync_order_id" and m.value == our_id for m in o.meta)]


async def test_linked_variation_and_custom_lines_are_priced_flagged_and_take_stock() -> None:
    shop = woo(currency="EUR")
    catalog(shop)
    connector = shop.connector(role="seller")
    found = await lookup(connector, "MUG", "TEE-M")
    created = await connector.create_order(seller_order(found))

    order = shop.store.order(int(created.order_ref))
    mug, tee, ghost = order.line_items
    assert created.line_refs == {"l-mug": str(mug.id), "l-tee": str(tee.id), "l-ghost": str(ghost.id)}
    mug_p, tee_m = shop.store.product_by_sku("MUG"), shop.store.product_by_sku("TEE-M")
    assert mug_p is not None and tee_m is not None
    assert (mug.product_id, mug.variation_id, mug.total, mug.subtotal) == (mug_p.id, 0, Decimal("25.00"),
                                                                           Decimal("25.00"))
    assert (tee.product_id, tee.variation_id, tee.total) == (tee_m.parent_id, tee_m.id, Decimal("18.00"))
    assert (ghost.product_id, ghost.sku, ghost.name, ghost.total) == (0, "", "Ghost lamp", Decimal("21.75"))
    assert {m.key: m.value for m in ghost.meta}["SKU"] == "GHOST"
    assert [(s["method_id"], s["method_title"], s["total"]) for s in order.shipping_lines] == [
        ("other", "Ground", "4.90")]
    assert (order.currency, order.total, order.status) == ("EUR", Decimal("69.65"), "processing")
    meta = {m.key: m.value for m in order.meta}
    assert meta["fulfillsync_unlinked_skus"] == "GHOST"
    assert any("GHOST" in note.note and "fulfillsync:ord-1" in note.note for note in order.notes)
    assert (stock_of(shop, "MUG"), stock_of(shop, "TEE-M")) == (98, 9)
    await connector.aclose()


async def test_a_retry_finds_the_order_and_takes_no_more_stock() -> None:
    shop = woo()
    catalog(shop)
    connector = shop.connector(role="seller")
    new = seller_order(await lookup(connector, "MUG", "TEE-M"))
    shop.app.sandbox.faults.append(Fault(truncate=True, path=r"/wc/v3/orders$", method="POST"))
    with pytest.raises(MalformedResponseError):
        await connector.create_order(new)  # created, but the answer was lost
    first = await connector.create_order(new)
    again = await shop.connector(role="seller").create_order(new)
    assert first == again and len(ours(shop, "ord-1")) == 1
    assert (stock_of(shop, "MUG"), stock_of(shop, "TEE-M")) == (98, 9)
    assert shop.app.sandbox.requests["POST /wp-json/wc/v3/orders"] == 1
    await connector.aclose()


async def test_an_order_of_catalog_items_only_is_not_flagged() -> None:
    shop = woo()
    catalog(shop)
    connector = shop.connector(role="seller")
    found = await lookup(connector, "MUG")
    (mug,) = found.variants["MUG"]
    created = await connector.create_order(NewOrder(
        our_order_id="ord-2", currency=found.currency, shipping_address=ADDRESS,
        lines=(SellerLine(line_ref="l1", sku="MUG", quantity=1, variant=mug, unit_price=Decimal("11")),)))
    order = shop.store.order(int(created.order_ref))
    assert "fulfillsync_unlinked_skus" not in {m.key for m in order.meta}
    assert not any("fulfillsync" in note.note for note in order.notes)
    assert order.shipping_lines == []  # free shipping and no method: no shipping line
    assert (order.total, stock_of(shop, "MUG")) == (Decimal("11.00"), 99)
    assert f"POST /wp-json/wc/v3/orders/{created.order_ref}/notes" not in shop.app.sandbox.requests
    await connector.aclose()


async def test_free_shipping_with_a_method_is_a_shipping_line_at_zero() -> None:
    shop = woo()
    catalog(shop)
    connector = shop.connector(role="seller")
    created = await connector.create_order(seller_order(await lookup(connector, "MUG", "TEE-M"), shipping="0"))
    order = shop.store.order(int(created.order_ref))
    assert [(s["method_title"], s["total"]) for s in order.shipping_lines] == [("Ground", "0.00")]
    assert order.total == Decimal("64.75")
    await connector.aclose()


async def test_a_product_deleted_since_the_lookup_makes_a_flagged_line_without_product() -> None:
    shop = woo()
    catalog(shop)
    connector = shop.connector(role="seller")
    found = await lookup(connector, "MUG", "TEE-M")
    tee = shop.store.product_by_sku("TEE")
    assert tee is not None
    shop.store.catalog.delete(tee.id)  # its variation TEE-M goes with it
    created = await connector.create_order(seller_order(found))
    order = shop.store.order(int(created.order_ref))
    assert [line.product_id for line in order.line_items][1:] == [0, 0]
    assert {m.key: m.value for m in order.meta}["fulfillsync_unlinked_skus"] == "GHOST, TEE-M"
    assert any("GHOST, TEE-M" in note.note for note in order.notes)
    assert stock_of(shop, "MUG") == 98
    await connector.aclose()


async def test_a_note_that_cannot_be_written_leaves_the_order_created_and_flagged(
        caplog: pytest.LogCaptureFixture) -> None:
    shop = woo()
    catalog(shop)
    connector = shop.connector(role="seller")
    new = seller_order(await lookup(connector, "MUG", "TEE-M"))
    shop.app.sandbox.faults.append(Fault(status=403, times=5, path=r"/notes$", body=(
        '{"code": "woocommerce_rest_cannot_create", "message": "Sorry, you are not allowed to create resources.", '
        '"data": {"status": 403}}')))
    caplog.set_level(logging.WARNING)
    created = await connector.create_order(new)
    order = shop.store.order(int(created.order_ref))
    assert {m.key: m.value for m in order.meta}["fulfillsync_unlinked_skus"] == "GHOST"
    assert "flagging it failed" in caplog.text and "woocommerce_rest_cannot_create" in caplog.text
    await connector.aclose()


async def test_a_currency_the_store_does_not_know_is_refused_permanently() -> None:
    shop = woo()
    catalog(shop)
    connector = shop.connector(role="seller")
    new = seller_order(await lookup(connector, "MUG", "TEE-M")).model_copy(update={"currency": "XXX"})
    with pytest.raises(PermanentError, match="currency"):
        await connector.create_order(new)
    assert shop.store.orders == {} and stock_of(shop, "MUG") == 100
    await connector.aclose()


async def test_a_custom_line_whose_sku_a_hidden_product_has_becomes_that_product() -> None:
    """WooCommerce looks a posted `sku` up among every product, drafts too (documented in the package)."""
    shop = woo()
    catalog(shop)
    shop.store.add_product("GHOST", "Ghost lamp (draft)", "30.00", status="draft", stock_quantity=5)
    connector = shop.connector(role="seller")
    found = await lookup(connector, "MUG", "TEE-M", "GHOST")
    assert found.variants["GHOST"] == ()
    created = await connector.create_order(seller_order(found))
    ghost = shop.store.order(int(created.order_ref)).line_items[2]
    assert ghost.product_id != 0 and ghost.total == Decimal("21.75")  # our price, its stock
    assert stock_of(shop, "GHOST") == 2
    await connector.aclose()

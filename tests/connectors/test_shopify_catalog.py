"""The Shopify connector and the seller's catalog: SKU lookups (exact among Shopify's loose search results,
batched and paged, ACTIVE products only, the shop's currency) and seller orders of linked and custom lines (prices,
the flag, inventory moving once), against the simulated shop. Every request is validated against the Admin
schemas (tests/support/shopify_store.py, CheckingTransport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from connectors.base import PermanentError, RetryableError
from connectors.shopify import ShopifyConnector
from connectors.shopify import operations as ops
from connectors.shopify.catalog import search_batches
from sandbox.common import SandboxApp
from sandbox.shopify.catalog import NewVariant, Product
from sandbox.shopify.store import ShopifyStore
from sandbox.shopify.variant_search import parse_variant_search
from schemas.platform import Address, CatalogVariant, NewOrder, SellerLine
from tests.support.shopify_store import CheckingTransport, checked_shop, connector, make_app, sdl_path, store

pytestmark = pytest.mark.asyncio


@dataclass
class Shop:
    app: SandboxApp
    store: ShopifyStore
    transport: CheckingTransport

    def connector(self) -> ShopifyConnector:
        return connector(self.app, transport=self.transport)

    def product(self, title: str, *variants: tuple[str | None, str, int], status: str = "ACTIVE") -> Product:
        return self.store.catalog.add_product(title, [NewVariant(sku=sku, price=Decimal(price), inventory=units,
                                                                 title=f"V{n}" if len(variants) > 1 else
                                                                 "Default Title")
                                                      for n, (sku, price, units) in enumerate(variants)], status)

    def sent(self, operation: str) -> list[dict[str, Any]]:
        return [body["variables"] for body in self.transport.sent if body["operationName"] == operation]


@pytest_asyncio.fixture
async def shop(request: pytest.FixtureRequest) -> AsyncIterator[Shop]:
    with checked_shop(request, restore_rate=2000, currency="EUR") as (app, transport):
        yield Shop(app, store(app), transport)


@pytest_asyncio.fixture
async def conn(shop: Shop) -> AsyncIterator[ShopifyConnector]:
    found = shop.connector()
    yield found
    await found.aclose()


def _gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


# -- lookups against the shop ------------------------------------------------------------------------------

async def test_the_exact_sku_is_found_among_shopifys_loose_matches(shop: Shop, conn: ShopifyConnector) -> None:
    mug = shop.product("Mug", ("ACME-1", "12.50", 7))
    for sku in ("ACME-10", "acme-1", "ACME-1-BLUE"):
        shop.product(f"Other {sku}", (sku, "1.00", 1))
    loose = parse_variant_search("sku:'ACME-1'")
    assert len([item for item in shop.store.catalog.variants() if loose.matches(item)]) == 4  # the filter matters

    found = await conn.catalog_variants(["ACME-1", "ACME-404"])
    assert found.currency == "EUR"
    assert found.variants == {
        "ACME-1": (CatalogVariant(sku="ACME-1", product_ref=_gid("Product", mug.id),
                                  variant_ref=_gid("ProductVariant", mug.variants[0].id), title="Mug",
                                  price=Decimal("12.50"), inventory=7),),
        "ACME-404": ()}


async def test_many_skus_are_looked_up_in_batches_and_pages(shop: Shop, conn: ShopifyConnector) -> None:
    skus = [f"P-{n}" for n in range(1, 61)]  # `sku:'P-1'` also matches P-10..P-19: more nodes than SKUs
    for sku in skus:
        shop.product(f"Product {sku}", (sku, "2.00", 5))
    found = await conn.catalog_variants(skus)
    assert {sku: [v.sku for v in variants] for sku, variants in found.variants.items()} == {sku: [sku] for sku in skus}
    searches = shop.sent("CatalogVariantsBySku")
    batches = len(list(search_batches(skus)))
    assert len(searches) > batches and sum(1 for body in searches if body["after"] is None) == batches
    assert all(body["first"] == ops.VARIANT_PAGE_SIZE for body in searches)


async def test_archived_and_draft_products_are_not_sellable_and_duplicates_are_all_returned(
        shop: Shop, conn: ShopifyConnector) -> None:
    shop.product("Old mug", ("MUG", "3.00", 9), status="ARCHIVED")
    shop.product("Next mug", ("MUG", "3.00", 9), status="DRAFT")
    assert (await conn.catalog_variants(["MUG"])).variants == {"MUG": ()}
    shirt = shop.product("Shirt", ("TEE", "20.00", 4), ("TEE", "21.00", 0))  # Shopify allows a shared SKU
    found = (await conn.catalog_variants(["TEE"])).variants["TEE"]
    assert [(v.variant_ref, v.title, v.price) for v in found] == [
        (_gid("ProductVariant", shirt.variants[0].id), "Shirt - V0", Decimal("20.00")),
        (_gid("ProductVariant", shirt.variants[1].id), "Shirt - V1", Decimal("21.00"))]


async def test_skus_with_search_syntax_characters_are_found_exactly(shop: Shop, conn: ShopifyConnector) -> None:
    tricky = ["A B", "it's", "x:y", "(paren)", "back\\slash", 'say "hi"', "-minus", "OR"]
    for sku in tricky:
        shop.product(f"Item {sku}", (sku, "1.00", 1))
    found = await conn.catalog_variants(tricky)
    assert {sku: [v.sku for v in variants] for sku, variants in found.variants.items()} == {s: [s] for s in tricky}


async def test_the_currency_is_asked_once_per_connector(shop: Shop, conn: ShopifyConnector) -> None:
    shop.product("Mug", ("MUG", "1.00", 1))
    await conn.catalog_variants(["MUG"])
    await conn.catalog_variants([])
    await conn.create_order(NewOrder(our_order_id="o1", lines=(SellerLine(line_ref="l", sku="X", quantity=1),)))
    assert len(shop.sent("ShopCurrency")) == 1


# -- seller orders of the catalog ----------------------------------------------------------------------------

async def _linked_order(conn: ShopifyConnector, shipping: str = "4.90") -> NewOrder:
    (mug,) = (await conn.catalog_variants(["MUG"])).variants["MUG"]
    return NewOrder(our_order_id="ord_42", buyer_order_number="#1042", shipping_method="Express",
                    currency="EUR", shipping_price=Decimal(shipping),
                    lines=(SellerLine(line_ref="L1", sku="MUG", quantity=3, variant=mug, unit_price=Decimal("8.00")),
                           SellerLine(line_ref="L2", sku="GIFT-1", quantity=1, title="Gift card",
                                      unit_price=Decimal("2.50"))),
                    shipping_address=Address(name="Ada Buyer", lines=("1 Main St",), city="Austin",
                                             country_code="US"))


async def test_linked_and_custom_lines_are_priced_flagged_and_move_inventory(
        shop: Shop, conn: ShopifyConnector) -> None:
    product = shop.product("Mug", ("MUG", "12.50", 10))
    created = await conn.create_order(await _linked_order(conn))
    (order,) = shop.store.orders.values()
    assert created.order_ref == _gid("Order", order.id)
    assert created.line_refs == {"L1": _gid("LineItem", order.line_items[0].id),
                                 "L2": _gid("LineItem", order.line_items[1].id)}
    assert [(line.sku, line.title, line.quantity, line.unit_price, line.variant_id) for line in order.line_items] == [
        ("MUG", "Mug", 3, Decimal("8.00"), product.variants[0].id), ("GIFT-1", "Gift card", 1, Decimal("2.50"), None)]
    assert (order.currency, order.shipping(), order.subtotal()) == ("EUR", Decimal("4.90"), Decimal("26.50"))
    assert order.shipping_title == "Express"
    assert order.tags == ["fulfillsync", "fulfillsync-custom-lines"] and "GIFT-1" in (order.note or "")
    assert product.variants[0].inventory_quantity == 7


async def test_a_retry_finds_the_order_and_moves_inventory_once(shop: Shop, conn: ShopifyConnector) -> None:
    product = shop.product("Mug", ("MUG", "12.50", 2))
    wanted = await _linked_order(conn, shipping="0")
    original = shop.transport.inner
    lost: list[bool] = []

    class LoseCreateAnswer(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await original.handle_async_request(request)
            if b"CreateOrder" in request.content and not lost:
                lost.append(True)
                raise httpx.ReadError("connection reset after the order was created")
            return response

    shop.transport.inner = LoseCreateAnswer()
    with pytest.raises(RetryableError):
        await conn.create_order(wanted)
    first = await conn.create_order(wanted)
    again = await shop.connector().create_order(wanted)
    assert first == again and len(shop.store.orders) == 1
    assert product.variants[0].inventory_quantity == -1  # claimed once, past zero: the sale already happened
    (order,) = shop.store.orders.values()
    assert [(line.title, line.price) for line in order.shipping_lines] == [("Express", Decimal(0))]


async def test_a_variant_gone_from_the_catalog_is_refused_with_shopifys_field_path(
        shop: Shop, conn: ShopifyConnector) -> None:
    gone = CatalogVariant(sku="MUG", product_ref=_gid("Product", 1), variant_ref=_gid("ProductVariant", 999))
    with pytest.raises(PermanentError) as caught:
        await conn.create_order(NewOrder(our_order_id="o1", lines=(
            SellerLine(line_ref="L1", sku="MUG", quantity=1, variant=gone),)))
    assert caught.value.platform_message.startswith("order.lineItems.0.variantId: ")
    assert shop.store.orders == {}


async def test_an_order_priced_in_another_currency_than_the_shops_is_refused(
        shop: Shop, conn: ShopifyConnector) -> None:
    with pytest.raises(PermanentError, match="priced in USD but the shop's currency is EUR"):
        await conn.create_order(NewOrder(our_order_id="o1", currency="USD", lines=(
            SellerLine(line_ref="L1", sku="X", quantity=1),)))
    assert shop.store.orders == {}
    assert shop.sent("CreateOrder") == []


async def test_lookups_wait_for_the_cost_bucket_instead_of_being_throttled(request: pytest.FixtureRequest) -> None:
    # two pages of 151 points, then about a second of refill: too long for a slow machine's own pace to absorb
    app = make_app(sdl_path(request), bucket_max=320, restore_rate=150)
    for n in range(1, 61):
        store(app).catalog.add_product(f"P-{n}", [NewVariant(sku=f"P-{n}", price=Decimal(1))])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    looking = connector(app, sleep=sleep)
    found = await looking.catalog_variants([f"P-{n}" for n in range(1, 61)])
    await looking.aclose()
    assert all(len(variants) == 1 for variants in found.variants.values())
    assert app.store.throttled == 0 and waits

"""`WooCommerceConnector.catalog_variants` against the simulated store: exact SKUs, sellable items only (published,
purchasable, variations of published products), prices, ids, stock, the store's currency, and batching."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.base import MalformedResponseError
from connectors.woocommerce.connector import sku_batches
from sandbox.common import Fault
from schemas.platform import CatalogVariant
from tests.support.woocommerce_store import stock, woo


@pytest.mark.asyncio
async def test_a_simple_product_and_a_variation_with_price_ids_and_stock() -> None:
    shop = woo(currency="EUR")
    mug = shop.store.add_product("MUG", "Mug", "12.50", stock_quantity=40)
    tee = shop.store.add_product("TEE", "T-shirt", "20.00")
    tee_m = shop.store.add_product("TEE-M", "T-shirt - M", "21.00", parent_sku="TEE", stock_quantity=7)
    connector = shop.connector(role="seller")
    found = await connector.catalog_variants(["MUG", "TEE-M", "TEE", "NOPE"])
    assert found.currency == "EUR"
    assert found.variants == {
        "MUG": (CatalogVariant(sku="MUG", product_ref=str(mug.id), variant_ref=str(mug.id), title="Mug",
                               price=Decimal("12.50"), inventory=40),),
        "TEE-M": (CatalogVariant(sku="TEE-M", product_ref=str(tee.id), variant_ref=str(tee_m.id),
                                 title="T-shirt - M", price=Decimal("21.00"), inventory=7),),
        "TEE": (),  # a variable product is sold as one of its variations
        "NOPE": ()}
    await connector.aclose()


@pytest.mark.asyncio
async def test_skus_match_exactly_though_woocommerce_matches_without_case() -> None:
    shop = woo()
    stock(shop.store, "MUG")
    connector = shop.connector(role="seller")
    found = await connector.catalog_variants(["mug", "MUG "])
    assert found.variants == {"mug": (), "MUG ": ()}
    listed = await connector.catalog_variants(["MUG"])
    assert [v.sku for v in listed.variants["MUG"]] == ["MUG"]
    await connector.aclose()


@pytest.mark.asyncio
async def test_drafts_disabled_variations_and_unpriced_items_are_not_sellable() -> None:
    shop = woo()
    shop.store.add_product("DRAFT", status="draft")
    shop.store.add_product("PRIVATE", status="private")
    shop.store.add_product("NO-PRICE", price="")
    shop.store.add_product("CAP", "Cap")
    shop.store.add_product("CAP-RED", parent_sku="CAP")
    shop.store.add_product("CAP-OFF", parent_sku="CAP", status="private")  # a disabled variation
    hidden = shop.store.add_product("HAT", "Hat", status="draft")
    shop.store.add_product("HAT-RED", parent_sku="HAT")  # enabled, but its product is a draft
    connector = shop.connector(role="seller")
    skus = ["DRAFT", "PRIVATE", "NO-PRICE", "CAP-RED", "CAP-OFF", "HAT-RED"]
    found = await connector.catalog_variants(skus)
    assert {sku: len(variants) for sku, variants in found.variants.items()} == {
        "DRAFT": 0, "PRIVATE": 0, "NO-PRICE": 0, "CAP-RED": 1, "CAP-OFF": 0, "HAT-RED": 0}
    shop.store.catalog.update(hidden.id, status="publish")
    assert len((await connector.catalog_variants(["HAT-RED"])).variants["HAT-RED"]) == 1
    await connector.aclose()


@pytest.mark.asyncio
async def test_a_variation_under_its_products_stock_reports_the_products_stock() -> None:
    shop = woo()
    shop.store.add_product("JACKET", stock_quantity=12)
    shop.store.add_product("JACKET-L", parent_sku="JACKET", price="80.00")
    shop.store.add_product("SCARF", price="5.00")  # stock not managed
    connector = shop.connector(role="seller")
    found = await connector.catalog_variants(["JACKET-L", "SCARF"])
    assert [v.inventory for v in found.variants["JACKET-L"]] == [12]
    assert [v.inventory for v in found.variants["SCARF"]] == [None]
    await connector.aclose()


@pytest.mark.asyncio
async def test_lookups_are_batched_by_100_and_the_parents_asked_once() -> None:
    shop = woo()
    skus = [f"SKU-{n:03}" for n in range(150)]
    stock(shop.store, *skus)
    shop.store.add_product("BAG")
    shop.store.add_product("BAG-S", parent_sku="BAG")
    connector = shop.connector(role="seller")
    found = await connector.catalog_variants([*skus, "BAG-S"])
    assert all(len(found.variants[sku]) == 1 for sku in [*skus, "BAG-S"])
    requests = shop.app.sandbox.requests
    assert requests["GET /wp-json/wc/v3/products"] == 3  # 2 batches of SKUs, then the parents' statuses
    assert requests["GET /wp-json/wc/v3/data/currencies/current"] == 1
    await connector.aclose()


@pytest.mark.asyncio
async def test_no_skus_asks_only_the_currency() -> None:
    shop = woo(currency="GBP")
    connector = shop.connector(role="seller")
    found = await connector.catalog_variants([])
    assert (found.currency, found.variants) == ("GBP", {})
    assert "GET /wp-json/wc/v3/products" not in shop.app.sandbox.requests
    await connector.aclose()


@pytest.mark.asyncio
async def test_a_sku_holding_a_comma_is_asked_alone_and_found() -> None:
    shop = woo()
    stock(shop.store, "A", "B", "A,B")
    connector = shop.connector(role="seller")
    found = await connector.catalog_variants(["A", "A,B", "B"])
    assert {sku: [v.sku for v in variants] for sku, variants in found.variants.items()} == {
        "A": ["A"], "A,B": ["A,B"], "B": ["B"]}
    assert shop.app.sandbox.requests["GET /wp-json/wc/v3/products"] == 2
    await connector.aclose()


def test_sku_batches_respect_the_count_and_the_length() -> None:
    assert [len(batch) for batch in sku_batches([f"S{n}" for n in range(230)])] == [100, 100, 30]
    long = ["X" * 500 + str(n) for n in range(9)]
    assert [len(batch) for batch in sku_batches(long)] == [3, 3, 3]
    assert sku_batches(["A", "B,C", "D"]) == [["B,C"], ["A", "D"]]


@pytest.mark.parametrize(("path", "body", "said"), [
    ("/products$", '[{"id": 5, "sku": "MUG", "type": "simple", "status": "publish", "price": "cheap"}]', "price"),
    ("/products$", '{"products": []}', "expected an array"),
    ("/currencies/current$", "false", "currency"),
])
@pytest.mark.asyncio
async def test_an_unreadable_answer_is_a_malformed_response(path: str, body: str, said: str) -> None:
    shop = woo()
    stock(shop.store, "MUG")
    connector = shop.connector(role="seller")
    shop.app.sandbox.faults.append(Fault(status=200, path=path, body=body))
    with pytest.raises(MalformedResponseError, match=said):
        await connector.catalog_variants(["MUG"])
    await connector.aclose()

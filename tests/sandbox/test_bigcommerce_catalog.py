"""The simulated BigCommerce store's catalog over HTTP, as a client (or curl) sees it: the Catalog V3 reads with
their filters, fields, pages and error shapes, `GET /v2/store`, orders of catalog items (validated, priced,
taking inventory, with totals), unique SKUs, orders to several addresses, and the merchant's catalog actions.
Every exchange is checked against the official spec it belongs to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.bigcommerce.app import create_app
from sandbox.merchant import Merchant, MerchantError, PlacedOrder
from tests.support.bigcommerce_store import ADDRESS, STORE, TOKEN, catalog_harness, settings

API = f"/stores/{STORE}"
AUTH = {"X-Auth-Token": TOKEN, "Accept": "application/json", "Content-Type": "application/json"}
ADMIN = "/_sandbox/bigcommerce"


@pytest_asyncio.fixture
async def client(platform_specs: Path) -> AsyncIterator[httpx.AsyncClient]:
    bench = catalog_harness(platform_specs)
    async with httpx.AsyncClient(transport=bench.transport, base_url="http://bigcommerce.test") as http:
        yield http
    assert bench.transport.problems == [], "\n".join(bench.transport.problems)


async def _product(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(f"{ADMIN}/catalog/products", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _tee(client: httpx.AsyncClient) -> dict[str, Any]:
    return await _product(client, name="Tee", sku="TEE", price="20", variants=[
        {"sku": "TEE-S", "options": {"Size": "S", "Colour": "Red"}, "inventory": 3},
        {"sku": "TEE-L", "options": {"Size": "L", "Colour": "Red"}, "price": "22", "inventory": 4}])


async def _variants(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/v3/catalog/variants", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _order(client: httpx.AsyncClient, *products: dict[str, Any], **fields: Any) -> httpx.Response:
    return await client.post(f"{API}/v2/orders", headers=AUTH, json={
        "billing_address": ADDRESS, "products": list(products), **fields})


@pytest.mark.asyncio
async def test_variants_are_found_by_sku_id_and_product_with_fields_and_pages(client: httpx.AsyncClient) -> None:
    mug = await _product(client, name="Mug", sku="MUG", price="12.50", inventory=7)
    tee = await _tee(client)
    everything = await _variants(client)  # whole variants, checked against the spec
    assert [v["sku"] for v in everything["data"]] == ["MUG", "TEE-S", "TEE-L"]
    small = everything["data"][1]
    assert (small["price"], small["calculated_price"], small["inventory_level"], small["sku_id"]) == (
        None, 20.0, 3, small["sku_id"]) and small["sku_id"] is not None
    assert everything["data"][0]["sku_id"] is None and everything["data"][0]["option_values"] == []
    assert {(o["option_display_name"], o["label"]) for o in small["option_values"]} == {("Size", "S"),
                                                                                        ("Colour", "Red")}

    assert [v["sku"] for v in (await _variants(client, sku="tee-l"))["data"]] == ["TEE-L"]  # without case
    assert [v["sku"] for v in (await _variants(client, **{"sku:in": "MUG,TEE-S,NONE"}))["data"]] == ["MUG",
                                                                                                    "TEE-S"]
    assert [v["sku"] for v in (await _variants(client, id=small["id"]))["data"]] == ["TEE-S"]
    by_product = await _variants(client, **{"product_id:in": f"{tee['id']},999"})
    assert [v["product_id"] for v in by_product["data"]] == [tee["id"], tee["id"]]
    only = await _variants(client, include_fields="sku,price", sku="MUG")
    assert only["data"] == [{"id": mug["variants"][0]["id"], "sku": "MUG", "price": None}]
    assert "option_values" not in (await _variants(client, exclude_fields="option_values"))["data"][0]

    first = await _variants(client, limit=2)
    second = await _variants(client, limit=2, page=2)
    assert [len(first["data"]), len(second["data"])] == [2, 1]
    assert first["meta"]["pagination"] | {"links": None} == {"total": 3, "count": 2, "per_page": 2,
                                                             "current_page": 1, "total_pages": 2, "links": None,
                                                             "too_many": False}
    assert "page=2" in first["meta"]["pagination"]["links"]["next"] and "next" not in second["meta"][
        "pagination"]["links"]
    none = await _variants(client, sku="NOTHING")
    assert none["data"] == [] and none["meta"]["pagination"]["total"] == 0  # a 200, not a V2 204


@pytest.mark.asyncio
async def test_catalog_errors_have_the_v3_shape(client: httpx.AsyncClient, platform_specs: Path) -> None:
    unchecked = catalog_harness(platform_specs)  # this request departs from the spec on purpose
    async with httpx.AsyncClient(transport=unchecked.transport.inner, base_url="http://bigcommerce.test") as raw:
        bad = await raw.get(f"{API}/v3/catalog/variants", params={"limit": "many"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["status"] == 422 and "limit" in bad.json()["title"]
    unauthorized = await client.get(f"{API}/v3/catalog/products", headers={"X-Auth-Token": "wrong"})
    assert unauthorized.status_code == 401 and "X-Auth-Token" in unauthorized.json()["title"]
    assert "wrong" not in unauthorized.text


@pytest.mark.asyncio
async def test_products_by_id_and_the_store_currency(client: httpx.AsyncClient, platform_specs: Path) -> None:
    mug = await _product(client, name="Mug", sku="MUG", price="12.50", inventory=7)
    tee = await _tee(client)
    listed = (await client.get(f"{API}/v3/catalog/products", params={"id:in": f"{tee['id']},{mug['id']}"},
                               headers=AUTH)).json()
    assert [(p["id"], p["inventory_tracking"], p["inventory_level"], p.get("base_variant_id", "absent"))
            for p in listed["data"]] == [
        (mug["id"], "product", 7, mug["variants"][0]["id"]), (tee["id"], "variant", 7, "absent")]
    store = (await client.get(f"{API}/v2/store", headers=AUTH)).json()
    assert store["currency"] == "USD" and store["id"] == STORE

    euro = catalog_harness(platform_specs, currency="EUR")
    async with httpx.AsyncClient(transport=euro.transport, base_url="http://bigcommerce.test") as other:
        assert (await other.get(f"{API}/v2/store", headers=AUTH)).json()["currency"] == "EUR"
    with pytest.raises(ValueError, match="currency"):
        create_app(settings(currency="euros"))


@pytest.mark.asyncio
async def test_orders_of_catalog_items_are_validated_priced_and_take_inventory(client: httpx.AsyncClient) -> None:
    mug = await _product(client, name="Mug", sku="MUG", price="12.50", inventory=7)
    tee = await _tee(client)
    large = tee["variants"][1]
    options = [{"id": value["option_id"], "value": str(value["id"])}
               for value in tee["variants"][0]["option_values"]]
    created = await _order(
        client, {"product_id": mug["id"], "quantity": 2},  # a simple product: its base variant, catalog price
        {"product_id": tee["id"], "variant_id": large["id"], "quantity": 1, "price_inc_tax": 19.5,
         "price_ex_tax": 19.5},
        {"product_id": tee["id"], "product_options": options, "quantity": 3},  # the variant its options make
        {"name": "Gift wrap", "sku": "WRAP", "quantity": 1, "price_inc_tax": 1, "price_ex_tax": 1},
        shipping_cost_inc_tax="4.90", shipping_cost_ex_tax="4.90")
    assert created.status_code == 200, created.text
    order = created.json()
    assert (order["subtotal_inc_tax"], order["shipping_cost_inc_tax"], order["total_inc_tax"]) == (
        "105.5000", "4.9000", "110.4000")  # 2 x 12.50 + 19.50 + 3 x 20 + 1, plus shipping
    products = (await client.get(f"{API}/v2/orders/{order['id']}/products", headers=AUTH)).json()
    assert [(p["sku"], p["name"], p["product_id"] == 0, p["price_inc_tax"]) for p in products] == [
        ("MUG", "Mug", False, "12.5000"), ("TEE-L", "Tee", False, "19.5000"), ("TEE-S", "Tee", False, "20.0000"),
        ("WRAP", "Gift wrap", True, "1.0000")]
    assert products[1]["variant_id"] == large["id"]
    assert {o["display_value"] for o in products[2]["product_options"]} == {"S", "Red"}
    left = {v["sku"]: v["inventory_level"] for v in (await _variants(client))["data"]}
    assert left == {"MUG": 5, "TEE-S": 0, "TEE-L": 3}


@pytest.mark.asyncio
async def test_orders_the_catalog_cannot_serve_are_refused_and_take_nothing(client: httpx.AsyncClient) -> None:
    mug = await _product(client, name="Mug", sku="MUG", price="12.50", inventory=1)
    tee = await _tee(client)
    refusals = [
        ([{"product_id": 999, "quantity": 1}], "product_id"),
        ([{"product_id": tee["id"], "variant_id": mug["variants"][0]["id"], "quantity": 1}], "variant_id"),
        ([{"product_id": tee["id"], "quantity": 1}], "product_options"),
        ([{"product_id": tee["id"], "quantity": 1, "product_options": [{"id": 1, "value": "999"}]}],
         "product_options"),
        ([{"product_id": mug["id"], "quantity": 1}, {"product_id": mug["id"], "quantity": 1}], "stock"),
        ([{"name": "X", "quantity": 1, "price_inc_tax": 1, "price_ex_tax": 1, "shipping_address_index": 0}],
         "shipping_address_index"),
    ]
    for products, named in refusals:
        refused = await _order(client, *products)
        assert refused.status_code == 400 and named in refused.json()[0]["message"], (named, refused.text)
    half = await _order(client, {"product_id": mug["id"], "quantity": 1}, shipping_cost_inc_tax="1")
    assert half.status_code == 400 and "shipping_cost_ex_tax" in half.json()[0]["message"]
    assert (await client.get(f"{API}/v2/orders", headers=AUTH)).status_code == 204
    assert [v["inventory_level"] for v in (await _variants(client, sku="MUG"))["data"]] == [1]


@pytest.mark.asyncio
async def test_a_sku_belongs_to_one_variant_of_the_store(client: httpx.AsyncClient) -> None:
    await _product(client, name="Mug", sku="MUG", price="12.50")
    for body in ({"name": "Again", "sku": "MUG", "price": 1}, {"name": "Case", "sku": "mug", "price": 1},
                 {"name": "Tee", "sku": "TEE", "price": 1, "variants": [{"sku": "MUG", "options": {"Size": "S"}}]}):
        duplicate = await client.post(f"{ADMIN}/catalog/products", json=body)
        assert duplicate.status_code == 409 and "unique" in duplicate.json()[0]["message"]
    assert (await client.post(f"{ADMIN}/catalog/variants", json={"sku": "MUG"})).status_code == 409


@pytest.mark.asyncio
async def test_a_checkout_to_several_addresses_gives_each_product_its_address(client: httpx.AsyncClient) -> None:
    office = {**ADDRESS, "first_name": "Grace", "street_1": "2 Office Rd", "zip": "10001"}
    placed = await client.post(f"{ADMIN}/orders", json={
        "billing_address": ADDRESS, "shipping_addresses": [ADDRESS, office], "products": [
            {"name": "A", "sku": "A", "quantity": 1}, {"name": "B", "sku": "B", "quantity": 2,
                                                         "shipping_address_index": 1}]})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    home, work = (address["id"] for address in order["shipping_addresses"])
    assert [(p["sku"], p["order_address_id"]) for p in order["products"]] == [("A", home), ("B", work)]
    assert [a["items_total"] for a in order["shipping_addresses"]] == [1, 2]
    bad = await client.post(f"{ADMIN}/orders", json={"billing_address": ADDRESS, "products": [
        {"name": "A", "quantity": 1, "shipping_address_index": 1}]})
    assert bad.status_code == 400 and "shipping_address_index" in bad.json()[0]["message"]


@pytest.mark.asyncio
async def test_the_merchant_stocks_counts_and_reads_what_it_sold(client: httpx.AsyncClient) -> None:
    merchant = Merchant("bigcommerce", client)
    await merchant.stock(["MUG", "CAP"], price=Decimal("8.25"), inventory=5)
    await merchant.stock(["MUG", "PEN"])  # MUG is left as it is
    assert [await merchant.inventory(sku) for sku in ("MUG", "CAP", "PEN")] == [5, 5, 100]
    with pytest.raises(MerchantError, match="409"):
        await merchant.add_variant("MUG")
    await merchant.add_variant("HAT", price=Decimal("3"), inventory=2)
    assert await merchant.inventory("HAT") == 2
    with pytest.raises(MerchantError, match="no catalog item"):
        await merchant.inventory("NONE")

    [mug] = (await _variants(client, sku="MUG"))["data"]
    order = (await _order(client, {"product_id": mug["product_id"], "quantity": 2},
                          {"name": "Custom", "sku": "ODD", "quantity": 1, "price_inc_tax": 2, "price_ex_tax": 2},
                          shipping_cost_inc_tax="1", shipping_cost_ex_tax="1",
                          staff_notes="fulfillsync: 1 line(s) are custom products, not products of this store's "
                                      "catalog: ODD")).json()
    sold = await merchant.sold(PlacedOrder(str(order["id"]), order["id"], {}))
    assert [(line.sku, line.quantity, line.unit_price, line.linked) for line in sold.lines] == [
        ("MUG", 2, Decimal("8.25"), True), ("ODD", 1, Decimal("2"), False)]
    assert (sold.shipping, sold.total, sold.currency, sold.flagged) == (Decimal("1"), Decimal("19.5"), "USD", True)
    assert await merchant.inventory("MUG") == 3

"""The simulated WooCommerce store's catalog, prices and stock over HTTP: the `sku` filter, unique SKUs, the
currency endpoint, orders with custom lines, totals and shipping, order notes, stock taken once when an order is
paid and given back when it is cancelled; and the merchant's `stock`/`add_variant`/`inventory`/`sold`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.merchant import Merchant, MerchantError
from sandbox.settings import StoreSettings
from sandbox.woocommerce.app import create_app
from tests.support.woocommerce_store import KEY, SECRET, make_client

AUTH = (KEY, SECRET)
ADMIN = "/_sandbox/woocommerce"


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http:
        yield http


async def product(http: httpx.AsyncClient, sku: str, **fields: Any) -> dict[str, Any]:
    response = await http.post(f"{ADMIN}/products", json={"sku": sku, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def skus(http: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await http.get("/wp-json/wc/v3/products", auth=AUTH, params=params)
    assert response.status_code == 200, response.text
    return sorted(item["sku"] for item in response.json())


async def stock_of(http: httpx.AsyncClient, sku: str) -> Any:
    (item,) = (await http.get(f"{ADMIN}/products", params={"sku": sku})).json()
    return item["stock_quantity"]


# -- the catalog ------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_sku_filter_matches_parts_and_the_whole_without_case(client: httpx.AsyncClient) -> None:
    for sku in ("MUG", "CAP", "A,B"):
        await product(client, sku)
    await product(client, "TEE")
    await product(client, "TEE-M", parent_sku="TEE")
    assert await skus(client, sku="mug") == ["MUG"]
    assert await skus(client, sku="MUG,tee-m") == ["MUG", "TEE-M"]  # variations only under a sku filter
    assert await skus(client, sku="A,B") == ["A,B"]  # the parts match nothing, the whole value does
    assert await skus(client) == ["A,B", "CAP", "MUG", "TEE"]


@pytest.mark.asyncio
async def test_status_and_include_filters(client: httpx.AsyncClient) -> None:
    mug = await product(client, "MUG")
    await product(client, "OLD", status="draft")
    assert await skus(client, sku="MUG,OLD") == ["MUG", "OLD"]  # default status: any
    assert await skus(client, sku="MUG,OLD", status="publish") == ["MUG"]
    assert await skus(client, include=str(mug["id"])) == ["MUG"]
    refused = await client.get("/wp-json/wc/v3/products", auth=AUTH, params={"status": "gone"})
    assert refused.status_code == 400 and refused.json()["code"] == "rest_invalid_param"


@pytest.mark.asyncio
async def test_a_product_shows_price_stock_and_whether_it_can_be_bought(client: httpx.AsyncClient) -> None:
    await product(client, "TEE", price="")
    await product(client, "TEE-S", parent_sku="TEE", price="19.00", stock_quantity=0)
    await product(client, "TEE-M", parent_sku="TEE", price="21.00", status="private")
    listed = (await client.get("/wp-json/wc/v3/products", auth=AUTH, params={"sku": "TEE,TEE-S,TEE-M"})).json()
    shown = {item["sku"]: (item["type"], item["price"], item["purchasable"], item["manage_stock"],
                           item["stock_quantity"], item["stock_status"]) for item in listed}
    assert shown == {"TEE": ("variable", "19.00", True, False, None, "instock"),
                     "TEE-S": ("variation", "19.00", True, True, 0, "outofstock"),
                     "TEE-M": ("variation", "21.00", False, False, None, "instock")}


@pytest.mark.asyncio
async def test_skus_are_unique_without_case(client: httpx.AsyncClient) -> None:
    mug = await product(client, "MUG")
    for sku in ("MUG", "mug"):
        refused = await client.post(f"{ADMIN}/products", json={"sku": sku})
        assert refused.status_code == 400
        assert refused.json() == {"code": "product_invalid_sku", "message": "Invalid or duplicated SKU.",
                                  "data": {"status": 400, "resource_id": mug["id"]}}


@pytest.mark.asyncio
async def test_the_current_currency_endpoint() -> None:
    async with make_client(currency="EUR") as http:
        current = await http.get("/wp-json/wc/v3/data/currencies/current", auth=AUTH)
        assert current.status_code == 200
        body = current.json()
        assert (body["code"], body["name"], body["symbol"]) == ("EUR", "Euro", "&euro;")
        assert (await http.get("/wp-json/wc/v3/data/currencies/current")).status_code == 401
        index = (await http.get("/wp-json/")).json()
        assert "/wc/v3/data/currencies/current" in index["routes"]
    with pytest.raises(ValueError, match="currency"):
        create_app(StoreSettings(platform="woocommerce", options={"currency": "XYZ"}))


# -- orders -----------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_order_with_linked_and_custom_lines_totals_and_shipping(client: httpx.AsyncClient) -> None:
    mug = await product(client, "MUG", price="12.50")
    created = await client.post("/wp-json/wc/v3/orders", auth=AUTH, json={
        "currency": "EUR", "line_items": [
            {"product_id": mug["id"], "quantity": 2},  # the catalog price
            {"product_id": mug["id"], "quantity": 1, "subtotal": "9.00", "total": "9.00"},  # a price of ours
            {"sku": "GHOST", "name": "Ghost lamp", "quantity": 3, "subtotal": "21.75", "total": "21.75"}],
        "shipping_lines": [{"method_id": "other", "method_title": "Ground", "total": "4.90"}]})
    assert created.status_code == 201, created.text
    body = created.json()
    lines = [(i["product_id"], i["sku"], i["quantity"], i["subtotal"], i["total"]) for i in body["line_items"]]
    assert lines == [(mug["id"], "MUG", 2, "25.00", "25.00"), (mug["id"], "MUG", 1, "9.00", "9.00"),
                     (0, None, 3, "21.75", "21.75")]
    assert body["line_items"][2]["name"] == "Ghost lamp"
    assert (body["currency"], body["shipping_total"], body["total"]) == ("EUR", "4.90", "60.65")
    no_method = await client.post("/wp-json/wc/v3/orders", auth=AUTH, json={
        "line_items": [{"product_id": mug["id"], "quantity": 1}], "shipping_lines": [{"total": "1.00"}]})
    assert no_method.json()["code"] == "woocommerce_rest_invalid_shipping_item"
    bad_currency = await client.post("/wp-json/wc/v3/orders", auth=AUTH, json={
        "currency": "XYZ", "line_items": [{"product_id": mug["id"], "quantity": 1}]})
    assert bad_currency.status_code == 400 and "currency" in bad_currency.json()["data"]["params"]


@pytest.mark.asyncio
async def test_stock_is_taken_once_when_paid_and_given_back_when_cancelled(client: httpx.AsyncClient) -> None:
    mug = await product(client, "MUG", stock_quantity=10)
    pending = (await client.post("/wp-json/wc/v3/orders", auth=AUTH, json={
        "line_items": [{"product_id": mug["id"], "quantity": 3}]})).json()
    assert pending["status"] == "pending" and await stock_of(client, "MUG") == 10
    url = f"/wp-json/wc/v3/orders/{pending['id']}"
    await client.put(url, auth=AUTH, json={"status": "processing"})
    await client.put(url, auth=AUTH, json={"status": "completed"})
    assert await stock_of(client, "MUG") == 7
    await client.put(url, auth=AUTH, json={"status": "cancelled"})
    assert await stock_of(client, "MUG") == 10
    paid = (await client.post("/wp-json/wc/v3/orders", auth=AUTH, json={
        "status": "processing", "set_paid": True, "line_items": [{"product_id": mug["id"], "quantity": 12}]})).json()
    assert paid["status"] == "processing" and await stock_of(client, "MUG") == -2  # the REST API does not check it
    notes = (await client.get(f"/wp-json/wc/v3/orders/{paid['id']}/notes", auth=AUTH)).json()
    assert [n["note"] for n in notes] == ["Stock levels reduced: MUG (MUG) 10&rarr;-2"]


@pytest.mark.asyncio
async def test_a_variation_takes_its_products_stock_when_it_has_none_of_its_own(client: httpx.AsyncClient) -> None:
    await product(client, "TEE", stock_quantity=5)
    tee_m = await product(client, "TEE-M", parent_sku="TEE", price="20.00")
    await client.post("/wp-json/wc/v3/orders", auth=AUTH, json={
        "set_paid": True, "line_items": [{"variation_id": tee_m["id"], "quantity": 2}]})
    assert (await stock_of(client, "TEE"), await stock_of(client, "TEE-M")) == (3, 3)


@pytest.mark.asyncio
async def test_order_notes(client: httpx.AsyncClient) -> None:
    await product(client, "MUG")
    order = (await client.post(f"{ADMIN}/orders", json={"line_items": [{"sku": "MUG", "quantity": 1}]})).json()
    url = f"/wp-json/wc/v3/orders/{order['id']}/notes"
    made = await client.post(url, auth=AUTH, json={"note": "Custom lines: GHOST"})
    assert made.status_code == 201
    assert (made.json()["note"], made.json()["customer_note"]) == ("Custom lines: GHOST", False)
    assert [n["note"] for n in (await client.get(url, auth=AUTH)).json()] == ["Custom lines: GHOST"]
    empty = await client.post(url, auth=AUTH, json={})
    assert empty.status_code == 400 and empty.json()["code"] == "rest_missing_callback_param"
    missing = await client.post("/wp-json/wc/v3/orders/999999/notes", auth=AUTH, json={"note": "x"})
    assert missing.status_code == 404


@pytest.mark.asyncio
async def test_the_admin_edits_and_deletes_products(client: httpx.AsyncClient) -> None:
    mug = await product(client, "MUG", stock_quantity=4)
    edited = await client.put(f"{ADMIN}/products/{mug['id']}", json={"status": "draft", "stock_quantity": 9})
    assert (edited.json()["status"], edited.json()["stock_quantity"]) == ("draft", 9)
    assert (await client.delete(f"{ADMIN}/products/{mug['id']}")).status_code == 200
    assert (await client.get(f"{ADMIN}/products", params={"sku": "MUG"})).json() == []
    unknown = await client.put(f"{ADMIN}/products/{mug['id']}", json={"status": "publish"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "woocommerce_rest_product_invalid_id"


# -- the merchant -----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_merchant_stocks_a_catalog_reads_inventory_and_what_it_sold(client: httpx.AsyncClient) -> None:
    merchant = Merchant("woocommerce", client)
    await merchant.stock(["MUG", "CAP"], price=Decimal("9.99"), inventory=20)
    await merchant.stock(["MUG"], price=Decimal("1.00"), inventory=1)  # there already: unchanged
    assert (await merchant.inventory("MUG"), await merchant.inventory("CAP")) == (20, 20)
    with pytest.raises(MerchantError, match="product_invalid_sku"):
        await merchant.add_variant("MUG")
    await merchant.add_variant("HAT", price=Decimal("3.00"), inventory=2)
    assert await merchant.inventory("HAT") == 2
    with pytest.raises(MerchantError, match="no catalog item"):
        await merchant.inventory("NOPE")

    placed = await merchant.place_order({"MUG": 2, "HAT": 1})
    assert (await merchant.inventory("MUG"), await merchant.inventory("HAT")) == (18, 1)
    sold = await merchant.sold(placed)
    assert [(line.sku, line.quantity, line.unit_price, line.linked) for line in sold.lines] == [
        ("MUG", 2, Decimal("9.99"), True), ("HAT", 1, Decimal("3.00"), True)]
    assert (sold.shipping, sold.total, sold.currency, sold.flagged) == (Decimal(0), Decimal("22.98"), "USD", False)


@pytest.mark.asyncio
async def test_sold_shows_custom_lines_shipping_and_the_flag(client: httpx.AsyncClient) -> None:
    merchant = Merchant("woocommerce", client)
    await merchant.stock(["MUG"], price=Decimal("12.50"))
    (mug,) = (await client.get(f"{ADMIN}/products", params={"sku": "MUG"})).json()
    created = (await client.post("/wp-json/wc/v3/orders", auth=AUTH, json={
        "status": "processing", "set_paid": True, "currency": "EUR",
        "meta_data": [{"key": "fulfillsync_order_id", "value": "ord-9"},
                      {"key": "fulfillsync_unlinked_skus", "value": "GHOST"}],
        "line_items": [{"product_id": mug["id"], "quantity": 2, "subtotal": "20.00", "total": "20.00"},
                       {"sku": "GHOST", "name": "Ghost", "quantity": 1, "subtotal": "7.25", "total": "7.25",
                        "meta_data": [{"key": "SKU", "value": "GHOST"}]}],
        "shipping_lines": [{"method_id": "other", "method_title": "Ground", "total": "4.90"}]})).json()
    found = await merchant.find_order("ord-9")
    assert found is not None and found.order_ref == str(created["id"]) and set(found.line_ids) == {"MUG", "GHOST"}
    sold = await merchant.sold(found)
    assert [(line.sku, line.unit_price, line.linked) for line in sold.lines] == [
        ("MUG", Decimal("10"), True), ("GHOST", Decimal("7.25"), False)]
    assert (sold.shipping, sold.total, sold.currency, sold.flagged) == (
        Decimal("4.90"), Decimal("32.15"), "EUR", True)
    assert await merchant.inventory("MUG") == 98

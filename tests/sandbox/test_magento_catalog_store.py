"""The simulated Magento store's catalog as any client sees it: product search with Magento's searchCriteria
semantics, legacy stock items, the currency endpoint, orders linked to products, and the merchant's catalog actions
(`sandbox.merchant.Merchant`). `/V1` exchanges are checked against the official schema, with one deviation real
Magento needs: a stock item's `low_stock_date` is null."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.magento.app import create_app
from sandbox.merchant import Merchant, MerchantError
from sandbox.settings import StoreSettings
from tests.support.magento_store import START, TOKEN, SpecCheckingTransport, magento_spec

pytestmark = pytest.mark.asyncio
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Store:
    def __init__(self, app: Any, http: httpx.AsyncClient, transport: SpecCheckingTransport) -> None:
        self.app = app
        self.http = http
        self.transport = transport
        self.merchant = Merchant("magento2", http)

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"/rest/default/V1{path}", headers=kwargs.pop("headers", AUTH),
                                       **kwargs)

    async def admin(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = await self.http.request(method, f"/_sandbox/magento{path}", json=body)
        assert response.status_code == status, response.text
        return response.json()


async def store_for(**options: Any) -> tuple[Store, httpx.AsyncClient]:
    app = create_app(StoreSettings(platform="magento2", name="default", credentials={"access_token": TOKEN},
                                   options={"input_limit_enabled": True, **options}))
    app.sandbox.clock.set(START)
    spec = copy.copy(magento_spec())
    spec.definitions = copy.deepcopy(spec.definitions)
    spec.definitions["catalog-inventory-data-stock-item-interface"]["properties"]["low_stock_date"] = {
        "type": ["string", "null"]}
    transport = SpecCheckingTransport(app, "/rest/default", spec)
    http = httpx.AsyncClient(transport=transport, base_url="http://magento.test")
    return Store(app, http, transport), http


@pytest_asyncio.fixture
async def store() -> AsyncIterator[Store]:
    made, http = await store_for()
    await made.admin("POST", "/products", {"products": [
        {"sku": "MUG-1", "price": 12.5, "qty": 7, "name": "Mug"}, {"sku": "OLD-1", "status": 2},
        {"sku": "A,B", "price": 1}]})
    await made.admin("POST", "/configurables", {"sku": "TEE", "name": "Tee", "children": [
        {"sku": "TEE-S", "price": 15, "qty": 4, "options": {"size": "S"}},
        {"sku": "TEE-M", "price": 16, "qty": 2, "options": {"size": "M"}}]})
    yield made
    await http.aclose()


def search(*groups: list[tuple[str, str, str]], size: int = 50, page: int = 1) -> dict[str, str]:
    params = {"searchCriteria[pageSize]": str(size), "searchCriteria[currentPage]": str(page)}
    for g, group in enumerate(groups):
        for f, (field, value, condition) in enumerate(group):
            prefix = f"searchCriteria[filter_groups][{g}][filters][{f}]"
            params |= {f"{prefix}[field]": field, f"{prefix}[value]": value, f"{prefix}[condition_type]": condition}
    return params


async def skus(store: Store, *groups: list[tuple[str, str, str]], **paging: int) -> tuple[list[str], int]:
    response = await store.api("GET", "/products", params=search(*groups, **paging))
    assert response.status_code == 200, response.text
    return [item["sku"] for item in response.json()["items"]], response.json()["total_count"]


# -- products --------------------------------------------------------------------------------------------------

async def test_sku_searches_compare_like_mysql_and_split_in_values_on_commas(store: Store) -> None:
    assert await skus(store, [("sku", "MUG-1,TEE-S,NOPE", "in")]) == (["MUG-1", "TEE-S"], 2)
    assert await skus(store, [("sku", "mug-1 ", "eq")]) == (["MUG-1"], 1)  # case and trailing spaces ignored
    assert await skus(store, [("sku", "A,B", "in")]) == ([], 0)  # split into A and B
    assert await skus(store, [("sku", "A,B", "in"), ("sku", "A,B", "eq")]) == (["A,B"], 1)  # OR'ed in a group
    assert await skus(store, [("sku", "%-1", "like")], [("status", "1", "eq")]) == (["MUG-1"], 1)  # AND'ed
    assert await skus(store, [("type_id", "configurable", "eq")]) == (["TEE"], 1)
    assert await skus(store, [("sku", "TEE%", "like")], size=2, page=2) == (["TEE-M"], 3)


async def test_a_product_list_is_the_schemas_shape_without_stock_items(store: Store) -> None:
    response = await store.api("GET", "/products", params=search([("sku", "TEE,TEE-S", "in")]))
    parent, child = response.json()["items"]
    assert parent["type_id"] == "configurable" and child["type_id"] == "simple"
    assert parent["extension_attributes"]["configurable_product_links"] == [child["id"], child["id"] + 1]
    assert child["visibility"] == 1 and child["price"] == 15
    assert "stock_item" not in child["extension_attributes"]  # Magento 2.3+ lists leave it out
    assert {"attribute_code": "size", "value": "S"} in child["custom_attributes"]
    assert (await store.api("GET", "/products")).json()["parameters"] == {"fieldName": "searchCriteria"}


async def test_the_currency_is_anonymous_and_the_stores_base_currency() -> None:
    made, http = await store_for(base_currency="eur")
    response = await made.api("GET", "/directory/currency", headers={})
    await http.aclose()
    assert response.status_code == 200 and response.json()["base_currency_code"] == "EUR"


# -- stock items -----------------------------------------------------------------------------------------------

async def test_stock_items_are_read_and_set_as_magento_does(store: Store) -> None:
    item = (await store.api("GET", "/stockItems/MUG-1")).json()
    assert (item["qty"], item["is_in_stock"], item["manage_stock"]) == (7, True, True)
    answer = await store.api("PUT", "/products/MUG-1/stockItems/999", json={"stockItem": {**item, "qty": 0}})
    assert answer.json() == item["item_id"]  # the path's item id is ignored, the product's item is answered
    emptied = (await store.api("GET", "/stockItems/MUG-1")).json()
    assert (emptied["qty"], emptied["is_in_stock"], emptied["stock_status_changed_auto"]) == (0, False, 1)
    await store.api("PUT", "/products/MUG-1/stockItems/1", json={"stockItem": {**emptied, "qty": 3}})
    assert (await store.api("GET", "/stockItems/MUG-1")).json()["is_in_stock"] is True
    missing = await store.api("GET", "/stockItems/NOPE")
    assert missing.status_code == 404
    assert missing.json() == {"message": 'The Product with the "%1" SKU doesn\'t exist.', "parameters": ["NOPE"]}


async def test_storefront_orders_take_stock_and_rest_orders_do_not(store: Store) -> None:
    await store.admin("POST", "/orders", {"lines": [{"sku": "MUG-1", "qty": 2}, {"sku": "NOT-IN-CATALOG", "qty": 1}]})
    assert await store.merchant.inventory("MUG-1") == 5
    mug = store.app.store.catalog.by_sku("MUG-1")
    entity = {"customer_email": "a@example.com", "base_grand_total": 20, "grand_total": 20, "items": [
        {"sku": "MUG-1", "product_id": mug.entity_id, "qty_ordered": 1, "price": 20, "product_type": "simple"}]}
    created = await store.api("POST", "/orders", json={"entity": entity})
    assert created.status_code == 200 and created.json()["items"][0]["product_id"] == mug.entity_id
    assert await store.merchant.inventory("MUG-1") == 5  # POST /V1/orders moves no stock


@pytest.mark.parametrize(("product", "status", "says"), [
    (9999, 404, "The product that was requested doesn't exist"),
    ("TEE", 400, "cannot be product"),  # a configurable parent
    ("TEE-S", 400, "cannot be product"),  # another product's id for this SKU
])
async def test_orders_linked_to_no_or_the_wrong_product_are_refused(store: Store, product: Any, status: int,
                                                                   says: str) -> None:
    catalog = store.app.store.catalog
    product_id = catalog.by_sku(product).entity_id if isinstance(product, str) else product
    entity = {"customer_email": "a@example.com", "base_grand_total": 1, "grand_total": 1,
              "items": [{"sku": "MUG-1", "product_id": product_id, "qty_ordered": 1}]}
    response = await store.api("POST", "/orders", json={"entity": entity})
    assert response.status_code == status and says in response.json()["message"]
    assert store.app.store.orders == {}


# -- the merchant ----------------------------------------------------------------------------------------------

async def test_the_merchant_stocks_refuses_a_second_sku_and_reads_inventory(store: Store) -> None:
    merchant = store.merchant
    await merchant.stock(["MUG-1", "NEW-1", "NEW-1"], price=Decimal("3.25"), inventory=9)
    assert await merchant.inventory("MUG-1") == 7 and await merchant.inventory("NEW-1") == 9  # MUG-1 left alone
    assert store.app.store.catalog.by_sku("NEW-1").price == 3.25
    with pytest.raises(MerchantError, match="already used"):
        await merchant.add_variant("MUG-1")
    with pytest.raises(MerchantError, match="already used"):
        await merchant.add_variant("mug-1")  # Magento's SKUs are unique whatever their case
    await merchant.add_variant("OTHER-1", price=Decimal(1), inventory=2)
    assert await merchant.inventory("OTHER-1") == 2
    with pytest.raises(MerchantError, match="no product with SKU"):
        await merchant.inventory("NOPE")
    await store.admin("POST", "/stock", {"sku": "MUG-1", "qty": 1})
    assert await merchant.inventory("MUG-1") == 1


async def test_options_for_oauth_and_currency_are_checked() -> None:
    with pytest.raises(ValueError, match="oauth_signature_methods"):
        create_app(StoreSettings(platform="magento2", options={"oauth_signature_methods": ["PLAINTEXT"]}))
    with pytest.raises(ValueError, match="base_currency"):
        create_app(StoreSettings(platform="magento2", options={"base_currency": "EURO"}))
    with pytest.raises(ValueError, match="enable_integration_as_bearer"):
        create_app(StoreSettings(platform="magento2", options={"enable_integration_as_bearer": "no"}))

"""The simulated Shopify shop's catalog: `productVariants` with Shopify's loose search syntax, `shop.currencyCode`,
`orderCreate` with variant lines, prices, shipping lines and inventory behaviours, restocks, query cost, the
catalog admin routes and the merchant's catalog actions. Queries run against the vendored 2025-01 schema and, when
FULFILLSYNC_PLATFORM_SPECS is set, the 2026-07 SDL too (so every answer is checked against the real types)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.merchant import Merchant, MerchantError
from sandbox.shopify.catalog import NewVariant, Product
from tests.sandbox.test_shopify_store import SDL, TOKEN, Client, make

API = "/admin/api/2026-07/graphql.json"
VARIANTS = """query($q: String, $first: Int, $after: String, $reverse: Boolean) {
  productVariants(first: $first, after: $after, query: $q, reverse: $reverse) {
    pageInfo { hasNextPage endCursor }
    nodes { id sku title displayName price inventoryQuantity inventoryItem { tracked } product { id title status } }
  } }"""
CREATE = """mutation($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id currencyCode note tags
      totalPriceSet { shopMoney { amount currencyCode } } subtotalPriceSet { shopMoney { amount } }
      totalShippingPriceSet { shopMoney { amount } }
      shippingLines(first: 5) { nodes { title originalPriceSet { shopMoney { amount currencyCode } } } }
      lineItems(first: 10) { nodes { id title sku quantity variant { id sku } product { id }
        originalUnitPriceSet { shopMoney { amount currencyCode } } } } }
    userErrors { field message code }
  } }"""


@pytest_asyncio.fixture(params=["2025-01", "2026-07"])
async def shop(request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    sdl = None
    if request.param == "2026-07":
        sdl = str(request.getfixturevalue("platform_specs") / SDL)
    client = Client(make(sdl, restore_rate=10000, currency="EUR"))
    yield client
    await client.http.aclose()


def product(client: Client, title: str, *variants: tuple[str | None, str, int], status: str = "ACTIVE",
            policy: str = "DENY") -> Product:
    return client.store.catalog.add_product(
        title, [NewVariant(sku=sku, price=Decimal(price), inventory=units, inventory_policy=policy,
                           title="Default Title" if len(variants) == 1 else f"Size {n}")
                for n, (sku, price, units) in enumerate(variants)], status)


def vgid(item: Product, index: int = 0) -> str:
    return f"gid://shopify/ProductVariant/{item.variants[index].id}"


async def skus(client: Client, query: str, **variables: Any) -> list[str]:
    body = await client.gql(VARIANTS, {"q": query, "first": 50, **variables})
    assert "errors" not in body, body
    return [node["sku"] for node in body["data"]["productVariants"]["nodes"]]


def line(variant: str | None = None, quantity: int = 1, price: str | None = None, currency: str = "EUR",
         **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"quantity": quantity, **extra}
    if variant is not None:
        entry["variantId"] = variant
    if price is not None:
        entry["priceSet"] = {"shopMoney": {"amount": price, "currencyCode": currency}}
    return entry


# -- productVariants and shop ---------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_the_sku_search_is_loose_like_shopifys_and_takes_connectives(shop: Client) -> None:
    for sku in ("ACME-1", "acme-1", "ACME-10", "ACME-1-BLUE", "XACME-1", "BOLT-7", None):
        product(shop, f"Item {sku}", (sku, "1.00", 1))
    assert await skus(shop, "sku:'ACME-1'") == ["ACME-1", "acme-1", "ACME-10", "ACME-1-BLUE"]
    assert await skus(shop, "sku:7") == ["BOLT-7"]  # a token of the SKU
    assert await skus(shop, "sku:\"BOLT-7\" OR sku:'XACME-1'") == ["XACME-1", "BOLT-7"]
    assert await skus(shop, "(sku:ACME-1 OR sku:BOLT-7) AND -sku:ACME-10 NOT sku:acme-1-blue") == [
        "ACME-1", "acme-1", "BOLT-7"]
    assert await skus(shop, "sku:'ACME-1' sku:BOLT-7") == []  # AND implied
    assert await skus(shop, "bolt") == ["BOLT-7"]  # a bare word: title or SKU


@pytest.mark.asyncio
async def test_status_and_id_filters_pages_and_unknown_fields(shop: Client) -> None:
    active = product(shop, "Mug", ("MUG-1", "4.00", 3))
    product(shop, "Old mug", ("MUG-2", "4.00", 3), status="ARCHIVED")
    product(shop, "Draft mug", ("MUG-3", "4.00", 3), status="DRAFT")
    assert await skus(shop, "sku:MUG product_status:ACTIVE,DRAFT") == ["MUG-1", "MUG-3"]
    assert await skus(shop, f"product_id:{active.id}") == ["MUG-1"]
    assert await skus(shop, f"id:'{vgid(active)}'") == ["MUG-1"]
    body = await shop.gql(VARIANTS, {"q": "colour:red sku:MUG", "first": 50})
    assert len(body["data"]["productVariants"]["nodes"]) == 3
    assert "unknown search field 'colour'" in str(body["extensions"]["search"])
    seen, after = [], None
    while True:
        page = (await shop.gql(VARIANTS, {"q": "sku:MUG", "first": 2, "after": after}))["data"]["productVariants"]
        seen += [node["sku"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["MUG-1", "MUG-2", "MUG-3"]
    assert await skus(shop, "sku:MUG", reverse=True) == ["MUG-3", "MUG-2", "MUG-1"]


@pytest.mark.asyncio
async def test_variant_fields_and_the_shops_currency(shop: Client) -> None:
    shirt = product(shop, "Shirt", ("TEE-S", "19.5", 4), ("TEE-M", "21.00", 0))
    body = await shop.gql(VARIANTS, {"q": "sku:TEE", "first": 5})
    small = body["data"]["productVariants"]["nodes"][0]
    assert small == {"id": vgid(shirt), "sku": "TEE-S", "title": "Size 0", "displayName": "Shirt - Size 0",
                     "price": "19.50", "inventoryQuantity": 4, "inventoryItem": {"tracked": True},
                     "product": {"id": f"gid://shopify/Product/{shirt.id}", "title": "Shirt", "status": "ACTIVE"}}
    assert (await shop.gql("{ shop { currencyCode } }"))["data"] == {"shop": {"currencyCode": "EUR"}}
    nodes = await shop.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                           {"ids": [vgid(shirt, 1), f"gid://shopify/Product/{shirt.id}", "gid://shopify/Foo/1"]})
    assert nodes["data"]["nodes"] == [{"id": vgid(shirt, 1)}, {"id": f"gid://shopify/Product/{shirt.id}"}, None]


@pytest.mark.asyncio
async def test_a_variant_page_costs_its_variants_products_and_inventory_items(shop: Client) -> None:
    product(shop, "Mug", ("MUG", "1.00", 1))
    body = await shop.gql(VARIANTS, {"q": "sku:MUG", "first": 50})
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 50 * (1 + 1 + 1) + 1  # variant, inventoryItem, product; pageInfo
    assert cost["actualQueryCost"] == 1 * 3 + 1  # one variant came back: the rest is refunded
    assert (await shop.gql("{ shop { currencyCode } }"))["extensions"]["cost"]["requestedQueryCost"] == 1


# -- orderCreate with variants, prices, shipping and inventory -----------------------------------------------

@pytest.mark.asyncio
async def test_variant_lines_take_the_catalog_item_and_claim_inventory_as_asked(shop: Client) -> None:
    mug = product(shop, "Mug", ("MUG", "12.50", 5))
    answer = await shop.gql(CREATE, {"order": {
        "lineItems": [line(vgid(mug), 2, "9.00"), line(None, 1, "1.50", title="Gift wrap", sku="WRAP"),
                      line(vgid(mug), 1)],
        "shippingLines": [{"title": "Express", "priceSet": {"shopMoney": {"amount": "4.90", "currencyCode": "EUR"}}}],
        "tags": ["fulfillsync", "fulfillsync-custom-lines"], "note": "custom: WRAP"},
        "options": {"inventoryBehaviour": "DECREMENT_IGNORING_POLICY"}})
    payload = answer["data"]["orderCreate"]
    assert payload["userErrors"] == []
    order = payload["order"]
    assert [(n["title"], n["sku"], n["quantity"], n["variant"] and n["variant"]["id"],
             n["originalUnitPriceSet"]["shopMoney"]) for n in order["lineItems"]["nodes"]] == [
        ("Mug", "MUG", 2, vgid(mug), {"amount": "9.00", "currencyCode": "EUR"}),
        ("Gift wrap", "WRAP", 1, None, {"amount": "1.50", "currencyCode": "EUR"}),
        ("Mug", "MUG", 1, vgid(mug), {"amount": "12.50", "currencyCode": "EUR"})]  # no price: the variant's
    assert order["currencyCode"] == "EUR" and order["subtotalPriceSet"]["shopMoney"]["amount"] == "32.00"
    assert order["totalShippingPriceSet"]["shopMoney"]["amount"] == "4.90"
    assert order["totalPriceSet"]["shopMoney"] == {"amount": "36.90", "currencyCode": "EUR"}
    assert order["shippingLines"]["nodes"] == [{"title": "Express", "originalPriceSet": {"shopMoney": {
        "amount": "4.90", "currencyCode": "EUR"}}}]
    assert order["tags"] == ["fulfillsync", "fulfillsync-custom-lines"] and order["note"] == "custom: WRAP"
    assert mug.variants[0].inventory_quantity == 2


@pytest.mark.asyncio
async def test_inventory_behaviours(shop: Client) -> None:
    mug = product(shop, "Mug", ("MUG", "1.00", 1))
    backorder = product(shop, "Preorder", ("PRE", "1.00", 0), policy="CONTINUE")
    order = {"lineItems": [line(vgid(mug), 3)]}
    assert (await shop.gql(CREATE, {"order": order}))["data"]["orderCreate"]["userErrors"] == []
    assert mug.variants[0].inventory_quantity == 1  # BYPASS, Shopify's default, claims nothing
    refused = (await shop.gql(CREATE, {"order": order, "options": {"inventoryBehaviour": "DECREMENT_OBEYING_POLICY"}}
                              ))["data"]["orderCreate"]
    assert refused["order"] is None and refused["userErrors"][0]["code"] == "INVENTORY_CLAIM_FAILED"
    assert len(shop.store.orders) == 1 and mug.variants[0].inventory_quantity == 1
    obeyed = await shop.gql(CREATE, {"order": {"lineItems": [line(vgid(backorder), 2)]},
                                     "options": {"inventoryBehaviour": "DECREMENT_OBEYING_POLICY"}})
    assert obeyed["data"]["orderCreate"]["userErrors"] == [] and backorder.variants[0].inventory_quantity == -2
    ignored = await shop.gql(CREATE, {"order": order, "options": {"inventoryBehaviour": "DECREMENT_IGNORING_POLICY"}})
    assert ignored["data"]["orderCreate"]["userErrors"] == [] and mug.variants[0].inventory_quantity == -2


@pytest.mark.asyncio
async def test_unknown_variants_and_foreign_currencies_are_user_errors(shop: Client) -> None:
    product(shop, "Mug", ("MUG", "1.00", 1))
    for variant, field in (("gid://shopify/ProductVariant/424242", "variantId"),
                           ("gid://shopify/Product/1", "variantId")):
        payload = (await shop.gql(CREATE, {"order": {"lineItems": [line(None, 1, title="x"), line(variant)]}}
                                  ))["data"]["orderCreate"]
        assert payload["order"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["order", "lineItems", "1", field],
                                                                            "INVALID")]
    payload = (await shop.gql(CREATE, {"order": {"lineItems": [line(None, 1, "2.00", "USD", title="x")]}}
                              ))["data"]["orderCreate"]
    assert payload["userErrors"][0]["field"] == ["order", "lineItems", "0", "priceSet", "shopMoney", "currencyCode"]
    payload = (await shop.gql(CREATE, {"order": {"currency": "USD", "lineItems": [line(None, 1, "2.00", "USD",
                                                                                        title="x")]}}
                              ))["data"]["orderCreate"]
    assert payload["userErrors"] == [] and payload["order"]["currencyCode"] == "USD"  # the order's own currency
    assert shop.store.orders and all(o.currency == "USD" for o in shop.store.orders.values())


@pytest.mark.asyncio
async def test_cancelling_or_editing_with_restock_gives_units_back(shop: Client) -> None:
    mug = product(shop, "Mug", ("MUG", "1.00", 10))
    options = {"inventoryBehaviour": "DECREMENT_IGNORING_POLICY"}
    created = [(await shop.gql(CREATE, {"order": {"lineItems": [line(vgid(mug), 4)]}, "options": options})
                )["data"]["orderCreate"]["order"] for _ in range(2)]
    assert mug.variants[0].inventory_quantity == 2
    cancel = """mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, refund: false, restock: true) {
      job { id } userErrors { field message } } }"""
    assert (await shop.gql(cancel, {"id": created[0]["id"]}))["data"]["orderCancel"]["userErrors"] == []
    assert mug.variants[0].inventory_quantity == 6
    begun = (await shop.gql("""mutation($id: ID!) { orderEditBegin(id: $id) { calculatedOrder { id
      lineItems(first: 5) { nodes { id } } } userErrors { field message } } }""", {"id": created[1]["id"]})
             )["data"]["orderEditBegin"]["calculatedOrder"]
    await shop.gql("""mutation($id: ID!, $line: ID!) { orderEditSetQuantity(id: $id, lineItemId: $line, quantity: 1,
      restock: true) { userErrors { field message } } }""",
                   {"id": begun["id"], "line": begun["lineItems"]["nodes"][0]["id"]})
    await shop.gql("""mutation($id: ID!) { orderEditCommit(id: $id) { order { id } userErrors { field message } }
      }""", {"id": begun["id"]})
    assert mug.variants[0].inventory_quantity == 9


# -- admin routes and the merchant ----------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_catalog_admin_routes() -> None:
    client = Client(make(restore_rate=10000))
    admin = "/_sandbox/shopify"
    made = await client.http.post(f"{admin}/products", json={"title": "Mug", "variants": [
        {"sku": "MUG", "price": "3.50", "inventory": 8}]})
    assert made.status_code == 201
    body = made.json()
    assert (body["status"], body["variants"][0]["price"], body["variants"][0]["inventory_quantity"]) == (
        "ACTIVE", "3.50", 8)
    variant = body["variants"][0]["id"]
    assert (await client.http.post(f"{admin}/variants/{variant}/inventory", json={"quantity": 2})).json()[
        "inventory_quantity"] == 2
    archived = await client.http.post(f"{admin}/products/{body['id']}/status", json={"status": "ARCHIVED"})
    assert archived.json()["status"] == "ARCHIVED"
    found = (await client.http.get(f"{admin}/variants", params={"sku": "MUG"})).json()["variants"]
    assert [(v["sku"], v["product_status"], v["inventory_quantity"]) for v in found] == [("MUG", "ARCHIVED", 2)]
    assert (await client.http.get(f"{admin}/variants", params={"sku": "mug"})).json() == {"variants": []}
    assert (await client.http.get(f"{admin}/shop")).json() == {"name": "sandbox", "currency": "USD"}
    refused = await client.http.post(f"{admin}/products", json={"title": "Bad", "variants": [{"price": "-1"}]})
    assert refused.status_code == 422
    assert (await client.http.post(f"{admin}/products/999/status", json={"status": "DRAFT"})).status_code == 404
    assert (await client.http.post(f"{admin}/products", json={"title": "X", "variants": "no"})).status_code in (
        400, 422)
    customer = (await client.http.post(f"{admin}/orders", json={"lines": [
        {"sku": "MUG", "quantity": 2, "price": "3.50"}, {"sku": "CAP", "quantity": 1}]})).json()
    assert [(line["unit_price"], line["variant_id"]) for line in customer["lines"]] == [("3.50", None),
                                                                                        ("0.00", None)]
    after = (await client.http.get(f"{admin}/variants", params={"sku": "MUG"})).json()["variants"]
    assert (customer["total"], customer["currency"], after[0]["inventory_quantity"]) == ("7.00", "USD", 2)
    bad = await client.http.post(f"{admin}/orders", json={"lines": [{"sku": "MUG", "quantity": 1, "price": "x"}]})
    assert bad.status_code == 400
    await client.http.aclose()


@pytest.mark.asyncio
async def test_the_merchant_stocks_adds_duplicates_and_reads_inventory_and_sales() -> None:
    client = Client(make(restore_rate=10000, currency="GBP"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=client.app), base_url="http://shop.test") as http:
        merchant = Merchant("shopify", http)
        await merchant.stock(["MUG", "CAP", "MUG"], price=Decimal("5.00"), inventory=3)
        await merchant.stock(["MUG"], price=Decimal("9.99"), inventory=50)  # already there: unchanged
        assert [(v.sku, v.price, v.inventory_quantity) for _, v in client.store.catalog.variants()] == [
            ("MUG", Decimal("5.00"), 3), ("CAP", Decimal("5.00"), 3)]
        await merchant.add_variant("MUG", price=Decimal("6.00"), inventory=1)
        assert len(client.store.catalog.with_sku("MUG")) == 2
        assert await merchant.inventory("MUG") == 3  # the first variant with the SKU
        with pytest.raises(MerchantError, match="no variant"):
            await merchant.inventory("NOPE")

        (_, mug), = client.store.catalog.with_sku("MUG")[:1]
        answer = await client.gql(CREATE, {"order": {
            "sourceIdentifier": "ord-1", "tags": ["fulfillsync", "fulfillsync-custom-lines"],
            "lineItems": [line(f"gid://shopify/ProductVariant/{mug.id}", 2, "4.00", "GBP"),
                          line(None, 1, "1.00", "GBP", title="Gift", sku="GIFT")],
            "shippingLines": [{"title": "Post", "priceSet": {"shopMoney": {"amount": "2.5", "currencyCode": "GBP"}}}]},
            "options": {"inventoryBehaviour": "DECREMENT_IGNORING_POLICY"}})
        assert answer["data"]["orderCreate"]["userErrors"] == []
        assert await merchant.inventory("MUG") == 1
        placed = await merchant.find_order("ord-1")
        assert placed is not None
        sold = await merchant.sold(placed)
        assert [(s.sku, s.quantity, s.unit_price, s.linked) for s in sold.lines] == [
            ("MUG", 2, Decimal("4.00"), True), ("GIFT", 1, Decimal("1.00"), False)]
        assert (sold.shipping, sold.total, sold.currency, sold.flagged) == (Decimal("2.50"), Decimal("11.50"),
                                                                             "GBP", True)
        customer = await merchant.place_order({"MUG": 1})
        assert (await merchant.sold(customer)).flagged is False
    await client.http.aclose()


@pytest.mark.asyncio
async def test_the_api_refuses_a_wrong_token_for_catalog_reads_too() -> None:
    client = Client(make())
    response = await client.http.post(API, json={"query": "{ productVariants(first: 1) { nodes { id } } }"},
                                      headers={"X-Shopify-Access-Token": TOKEN + "x"})
    assert response.status_code == 401
    await client.http.aclose()

"""The simulated Shopify shop behaves like the GraphQL Admin API: auth, error shapes, validation against the real
schema, cursor pagination, search filters, calculated cost and the leaky bucket, mutations and their userErrors,
and the admin routes. The captured real sessions are replayed against it (same query texts, same outcomes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.common import SandboxApp
from sandbox.settings import StoreSettings
from sandbox.shopify.app import INVALID_TOKEN, create_app
from sandbox.shopify.cost import LeakyBucket
from sandbox.shopify.store import NewLine, ShopifyStore

pytestmark = pytest.mark.asyncio
TOKEN = "shpat_sandbox_token"
API = "/admin/api/2026-07/graphql.json"
SDL = Path("shopify/admin-graphql/2026-07/schema.graphql")


def make(sdl: str | None = None, **options: Any) -> SandboxApp:
    if sdl:
        options["schema_sdl"] = sdl
    return create_app(StoreSettings(platform="shopify", credentials={"access_token": TOKEN}, options=options))


class Client:
    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test")

    @property
    def store(self) -> ShopifyStore:
        found: ShopifyStore = self.app.store.store
        return found

    async def gql(self, query: str, variables: dict[str, Any] | None = None, token: str = TOKEN) -> Any:
        response = await self.http.post(API, json={"query": query, "variables": variables or {}},
                                        headers={"X-Shopify-Access-Token": token})
        assert response.status_code == 200, response.text
        return response.json()


@pytest_asyncio.fixture
async def shop() -> AsyncIterator[Client]:
    client = Client(make(restore_rate=10000))
    yield client
    await client.http.aclose()


def place(client: Client, *quantities: int) -> Any:
    return client.store.place_order([NewLine(title=f"Item {n}", sku=f"SKU-{n}", quantity=q)
                                     for n, q in enumerate(quantities)])


# -- HTTP layer --------------------------------------------------------------------------------------------

async def test_a_wrong_or_missing_token_is_401_with_shopifys_body(shop: Client) -> None:
    for headers in ({"X-Shopify-Access-Token": "nope"}, {}):
        response = await shop.http.post(API, json={"query": "{ shop { name } }"}, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"errors": INVALID_TOKEN}


async def test_bad_version_and_bad_body(shop: Client) -> None:
    headers = {"X-Shopify-Access-Token": TOKEN}
    response = await shop.http.post("/admin/api/latest/graphql.json", json={"query": "{ shop { name } }"},
                                    headers=headers)
    assert (response.status_code, response.json()) == (404, {"errors": "Not Found"})
    for asked, served in (("2026-07", "2026-07"), ("2024-01", "2025-10"), ("unstable", "unstable")):
        response = await shop.http.post(f"/admin/api/{asked}/graphql.json", json={"query": "{ shop { name } }"},
                                        headers=headers)
        assert response.headers["X-Shopify-API-Version"] == served
    response = await shop.http.post(API, content=b"query=1", headers=headers)
    assert response.status_code == 400 and "query" in response.json()["errors"]


async def test_invalid_queries_fail_as_on_shopify_with_http_200(shop: Client) -> None:
    body = await shop.gql("{ orders(first: 1) { nodes { id nonsense } } }")
    assert body["errors"][0]["message"] == "Cannot query field 'nonsense' on type 'Order'."
    assert "data" not in body
    body = await shop.gql("{ orders(first: 1) { nodes { id ")
    assert body["errors"][0]["message"].startswith("Syntax Error")


async def test_executed_operations_are_counted_by_name(shop: Client) -> None:
    await shop.gql("query ShopName { shop { name } }")
    await shop.gql("query ShopName { shop { name } }")
    await shop.gql("{ shop { name } }")
    await shop.gql("{ shop { nonsense } }")  # refused before it runs: not executed
    counted = (await shop.http.get("/_sandbox/requests")).json()
    assert (counted["total"], counted["by_operation"]) == (4, {"ShopName": 2, "(anonymous)": 1})


async def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown Shopify sandbox options \\['bucket'\\]"):
        make(bucket=5)


# -- reads ---------------------------------------------------------------------------------------------------

ORDERS = """query($q: String, $after: String, $first: Int!, $reverse: Boolean) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $q, reverse: $reverse) {
    pageInfo { hasNextPage endCursor } nodes { id name updatedAt sourceIdentifier } } }"""


async def test_cursor_pagination_sorted_by_updated_at(shop: Client) -> None:
    orders = [place(shop, 1) for _ in range(5)]
    shop.app.sandbox.clock.advance(10)
    shop.store.cancel_order(orders[0].id)  # now the newest
    seen: list[str] = []
    after = None
    while True:
        page = (await shop.gql(ORDERS, {"first": 2, "after": after}))["data"]["orders"]
        seen += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    expected = [f"gid://shopify/Order/{o.id}" for o in [*orders[1:], orders[0]]]
    assert seen == expected
    reverse = (await shop.gql(ORDERS, {"first": 5, "reverse": True}))["data"]["orders"]["nodes"]
    assert [node["id"] for node in reverse] == expected[::-1]


async def test_search_filters(shop: Client) -> None:
    old = place(shop, 1)
    shop.app.sandbox.clock.advance(3600)
    new = shop.store.place_order([NewLine(title="x", quantity=1)], source_identifier="ord_'42")
    since = new.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    async def ids(query: str) -> list[int]:
        body = await shop.gql(ORDERS, {"first": 10, "q": query})
        return [int(node["id"].rsplit("/", 1)[1]) for node in body["data"]["orders"]["nodes"]]

    assert await ids(f"updated_at:>='{since}'") == [new.id]
    assert await ids(f"updated_at:<'{since}'") == [old.id]
    assert await ids("source_identifier:\"ord_'42\"") == [new.id]
    assert await ids(f"-id:{new.id}") == [old.id]
    assert await ids("status:cancelled") == []
    body = await shop.gql(ORDERS, {"first": 10, "q": "colour:red"})
    assert len(body["data"]["orders"]["nodes"]) == 2  # an unknown field is ignored, with a warning
    assert "unknown search field 'colour'" in json.dumps(body["extensions"]["search"])


async def test_first_over_250_is_refused(shop: Client) -> None:
    body = await shop.gql("{ orders(first: 251) { nodes { id } } }")
    assert "between 0 and 250" in body["errors"][0]["message"]


# -- cost and throttle ---------------------------------------------------------------------------------------

async def test_cost_is_calculated_and_reported(shop: Client) -> None:
    order = place(shop, 1)
    read = """query($id: ID!) { order(id: $id) { id fulfillments(first: 5) { id trackingInfo(first: 5) { number } }
      } }"""
    body = await shop.gql(read, {"id": f"gid://shopify/Order/{order.id}"})
    assert body["extensions"]["cost"]["requestedQueryCost"] == 3  # as in the captured real read
    body = await shop.gql("{ orders(first: 10) { pageInfo { hasNextPage } nodes { id lineItems(first: 5) "
                          "{ nodes { id } } } } }")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10 * (1 + 5) + 1
    assert cost["actualQueryCost"] == 1 * (1 + 1) + 1  # one order with one line: the rest is refunded
    assert cost["throttleStatus"]["currentlyAvailable"] >= 2000 - 3 - 3
    assert cost["throttleStatus"]["maximumAvailable"] == 2000 and cost["throttleStatus"]["restoreRate"] == 10000


async def test_a_query_over_1000_points_is_refused_before_it_runs(shop: Client) -> None:
    body = await shop.gql("{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }")
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": 250 * (1 + 250), "maxCost": 1000}
    assert "exceeds the single query max cost limit (1000)" in error["message"]


async def test_the_bucket_throttles_and_refills() -> None:
    now = [0.0]
    client = Client(make(bucket_max=100, restore_rate=10))
    client.app.store.bucket = LeakyBucket(100, 10, now=lambda: now[0])
    for _ in range(30):
        place(client, 1)
    query = "{ orders(first: 30) { nodes { id } } }"  # 30 points, all used
    costs = [await client.gql(query) for _ in range(3)]
    assert [c["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] for c in costs] == [70, 40, 10]
    throttled = await client.gql(query)
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED" and "data" not in throttled
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 10
    now[0] += 2  # 20 points back
    assert "errors" not in await client.gql(query)
    await client.http.aclose()


# -- mutations ---------------------------------------------------------------------------------------------

CREATE = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
  fulfillment { id status trackingInfo { company number url } } userErrors { field message } } }"""
FOS = """query($id: ID!) { order(id: $id) { displayFulfillmentStatus fulfillmentOrders(first: 5) { nodes { id status
  supportedActions { action } lineItems(first: 5) { nodes { id remainingQuantity lineItem { id } } } } } } }"""


async def test_fulfillment_create_against_fulfillment_orders_and_its_user_errors(shop: Client) -> None:
    order = place(shop, 3)
    gid = f"gid://shopify/Order/{order.id}"
    (fo,) = (await shop.gql(FOS, {"id": gid}))["data"]["order"]["fulfillmentOrders"]["nodes"]
    item = fo["lineItems"]["nodes"][0]
    too_many = {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": [
        {"id": item["id"], "quantity": 4}]}]}
    refused = (await shop.gql(CREATE, {"f": too_many}))["data"]["fulfillmentCreate"]
    assert refused["fulfillment"] is None
    assert refused["userErrors"][0]["field"] == ["fulfillment", "lineItemsByFulfillmentOrder", "0",
                                                 "fulfillmentOrderLineItems", "0", "quantity"]
    two = {"trackingInfo": {"company": "UPS", "numbers": ["1Z1", "1Z2"]},
           "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": [
               {"id": item["id"], "quantity": 2}]}]}
    made = (await shop.gql(CREATE, {"f": two}))["data"]["fulfillmentCreate"]
    assert made["userErrors"] == [] and made["fulfillment"]["status"] == "SUCCESS"
    assert [t["number"] for t in made["fulfillment"]["trackingInfo"]] == ["1Z1", "1Z2"]
    assert made["fulfillment"]["trackingInfo"][0]["url"].startswith("https://www.ups.com/")  # built for UPS
    after = (await shop.gql(FOS, {"id": gid}))["data"]["order"]
    assert after["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    assert after["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"][0]["remainingQuantity"] == 1
    rest = {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}
    assert (await shop.gql(CREATE, {"f": rest}))["data"]["fulfillmentCreate"]["userErrors"] == []
    closed = (await shop.gql(FOS, {"id": gid}))["data"]["order"]
    assert closed["displayFulfillmentStatus"] == "FULFILLED"
    assert closed["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    assert closed["fulfillmentOrders"]["nodes"][0]["supportedActions"] == []
    again = (await shop.gql(CREATE, {"f": rest}))["data"]["fulfillmentCreate"]
    assert "unfulfillable status" in again["userErrors"][0]["message"]


# -- admin routes ------------------------------------------------------------------------------------------

async def test_admin_routes_drive_the_merchant_side(shop: Client) -> None:
    placed = await shop.http.post("/_sandbox/shopify/orders", json={
        "lines": [{"sku": "A", "quantity": 2}], "email": "e@example.com", "shipping_title": "Express"})
    assert placed.status_code == 201
    order = placed.json()
    line = order["lines"][0]["id"]
    fulfilled = await shop.http.post(f"/_sandbox/shopify/orders/{order['id']}/fulfillments", json={
        "lines": {str(line): 1}, "tracking": {"company": "UPS", "numbers": ["1Z1"]}})
    (fulfillment,) = fulfilled.json()["fulfillments"]
    assert fulfillment["lines"] == {str(line): 1} and fulfillment["tracking"][0]["number"] == "1Z1"
    edited = await shop.http.post(f"/_sandbox/shopify/fulfillments/{fulfillment['id']}/tracking",
                                  json={"company": "FedEx", "numbers": ["77"]})
    assert edited.json()["fulfillments"][0]["tracking"] == [{"company": "FedEx", "number": "77", "url": None}]
    cancelled = await shop.http.post(f"/_sandbox/shopify/fulfillments/{fulfillment['id']}/cancel")
    assert cancelled.json()["fulfillments"][0]["status"] == "CANCELLED"
    twice = await shop.http.post(f"/_sandbox/shopify/fulfillments/{fulfillment['id']}/cancel")
    assert twice.status_code == 422 and "already been cancelled" in twice.json()["error"]
    too_many = await shop.http.post(f"/_sandbox/shopify/orders/{order['id']}/fulfillments",
                                    json={"lines": {str(line): 3}})
    assert too_many.status_code == 422
    removed = await shop.http.post(f"/_sandbox/shopify/orders/{order['id']}/lines/{line}/remove",
                                   json={"quantity": 1})
    assert removed.json()["lines"][0]["current_quantity"] == 1
    assert (await shop.http.post(f"/_sandbox/shopify/orders/{order['id']}/cancel")).json()["cancelled"]
    assert (await shop.http.get("/_sandbox/shopify/orders/999")).status_code == 404
    garbage = await shop.http.post("/_sandbox/shopify/orders", content=b"garbage")
    assert garbage.status_code == 400 and "bad request body" in garbage.json()["error"]
    no_quantity = await shop.http.post("/_sandbox/shopify/orders", json={"lines": [{"sku": "A"}]})
    assert no_quantity.status_code == 400 and "quantity" in no_quantity.json()["error"]
    assert (await shop.http.get("/_sandbox/shopify/throttle")).json()["maximumAvailable"] == 2000


# -- the captured real sessions, replayed --------------------------------------------------------------------

def _swap(value: Any, ids: dict[str, str]) -> Any:
    text = json.dumps(value)
    for real, ours in ids.items():
        text = text.replace(real, ours)
    return json.loads(text)


async def test_the_captured_cancel_session_replays_with_the_same_outcomes(platform_specs: Path) -> None:
    session = json.loads((platform_specs / "shopify/examples/fulfillment-cancel-parity.json").read_text())
    client = Client(make(str(platform_specs / SDL), currency="CAD"))  # the captured shop's currency
    setup = session["setup"]
    created = await client.gql(setup["orderCreate"]["query"], setup["orderCreate"]["variables"])
    assert created["data"]["orderCreate"]["userErrors"] == []
    order = created["data"]["orderCreate"]["order"]
    real_order = setup["orderCreate"]["response"]["data"]["orderCreate"]["order"]
    ids = {real_order["id"]: order["id"],
           real_order["fulfillmentOrders"]["nodes"][0]["id"]: order["fulfillmentOrders"]["nodes"][0]["id"]}
    assert _shape(order) == _shape(real_order)
    made = await client.gql(setup["fulfillmentCreate"]["query"], _swap(setup["fulfillmentCreate"]["variables"], ids))
    real_made = setup["fulfillmentCreate"]["response"]["data"]["fulfillmentCreate"]["fulfillment"]
    ids[real_made["id"]] = made["data"]["fulfillmentCreate"]["fulfillment"]["id"]
    steps = [(setup["fulfillmentTrackingInfoUpdate"], "fulfillmentTrackingInfoUpdate"),
             (setup["hydrateBeforeCancel"], "order"),
             ({"query": session["query"], "variables": session["variables"], "response": session["mutation"]
               ["response"]}, "fulfillmentCancel"),
             (session["downstreamRead"], "order")]
    for step, root in steps:
        ours = (await client.gql(step["query"], _swap(step["variables"], ids)))["data"][root]
        real = step["response"]["data"][root]
        assert _shape(ours) == _shape(real), root
        for key in ("status", "displayStatus", "displayFulfillmentStatus"):
            if key in real:
                assert ours[key] == real[key], (root, key)
    final = (await client.gql(session["downstreamRead"]["query"],
                              _swap(session["downstreamRead"]["variables"], ids)))["data"]["order"]
    assert [f["status"] for f in final["fulfillments"]] == ["CANCELLED"]
    assert [(fo["status"], fo["lineItems"]["nodes"][0]["remainingQuantity"])
            for fo in final["fulfillmentOrders"]["nodes"]] == [("CLOSED", 0), ("OPEN", 1)]
    await client.http.aclose()


async def test_the_captured_multi_tracking_session_replays(platform_specs: Path) -> None:
    session = json.loads((platform_specs / "shopify/examples/fulfillment-multi-tracking-info.json").read_text())
    client = Client(make(str(platform_specs / SDL), currency="CAD"))  # the captured shop's currency
    create = session["setup"]["orderCreate"]
    order = (await client.gql(create["query"], create["variables"]))["data"]["orderCreate"]["order"]
    ids = {session["orderId"]: order["id"],
           session["fulfillmentOrderId"]: order["fulfillmentOrders"]["nodes"][0]["id"]}
    made = await client.gql(session["fulfillmentCreate"]["query"],
                            _swap(session["fulfillmentCreate"]["variables"], ids))
    ids[session["fulfillmentId"]] = made["data"]["fulfillmentCreate"]["fulfillment"]["id"]
    assert _shape(made["data"]) == _shape(session["fulfillmentCreate"]["response"]["data"])
    for step in ("fulfillmentTrackingInfoUpdate", "downstreamRead"):
        ours = (await client.gql(session[step]["query"], _swap(session[step]["variables"], ids)))["data"]
        real = session[step]["response"]["data"]
        assert _swap(ours, {v: k for k, v in ids.items()}) == real, step
    await client.http.aclose()


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return "null" if value is None else type(value).__name__


# -- metafields on orders ----------------------------------------------------------------------------------

_SET = """mutation Set($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { key namespace value type } userErrors { field message code } }
}"""
_READ = """query Read($id: ID!) { order(id: $id) { updatedAt
  metafields(first: 10, namespace: "fulfillsync") { nodes { key value type compareDigest } }
  metafield(namespace: "fulfillsync", key: "k1") { value } } }"""


async def test_metafields_set_then_read_back_on_the_order(shop: Client) -> None:
    order = place(shop, 1)
    owner = f"gid://shopify/Order/{order.id}"
    shop.app.sandbox.clock.advance(5)
    answer = await shop.gql(_SET, {"metafields": [
        {"ownerId": owner, "namespace": "fulfillsync", "key": "k1", "type": "json", "value": '{"a":1}'},
        {"ownerId": owner, "namespace": "other", "key": "k2", "type": "single_line_text_field", "value": "x"}]})
    assert answer["data"]["metafieldsSet"]["userErrors"] == []
    read = (await shop.gql(_READ, {"id": owner}))["data"]["order"]
    assert [(n["key"], n["value"], n["type"]) for n in read["metafields"]["nodes"]] == [("k1", '{"a":1}', "json")]
    assert read["metafield"] == {"value": '{"a":1}'}
    assert read["updatedAt"] != order.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")  # a metafield write moves it
    digest = read["metafields"]["nodes"][0]["compareDigest"]
    stale = await shop.gql(_SET, {"metafields": [{"ownerId": owner, "namespace": "fulfillsync", "key": "k1",
                                                  "value": '{"a":2}', "compareDigest": "0" * 64}]})
    assert stale["data"]["metafieldsSet"]["userErrors"][0]["code"] == "STALE_OBJECT"
    fresh = await shop.gql(_SET, {"metafields": [{"ownerId": owner, "namespace": "fulfillsync", "key": "k1",
                                                  "value": '{"a":2}', "compareDigest": digest}]})
    assert fresh["data"]["metafieldsSet"]["userErrors"] == []


@pytest.mark.parametrize(("entry", "field", "code"), [
    ({"key": "k", "type": "json", "value": "{}"}, "key", "TOO_SHORT"),
    ({"key": "k" * 65, "type": "json", "value": "{}"}, "key", "TOO_LONG"),
    ({"key": "bad key", "type": "json", "value": "{}"}, "key", None),  # INVALID: a 2026-07 code, not in 2025-01
    ({"key": "k1", "value": "{}"}, "type", "BLANK"),
    ({"key": "k1", "type": "json", "value": "{not json"}, "value", "INVALID_VALUE"),
    ({"key": "k1", "type": "json", "value": '"' + "x" * (128 * 1024) + '"'}, "value", "TOO_LONG"),
])
async def test_metafields_set_refuses_what_shopify_refuses_and_writes_nothing(
        shop: Client, entry: dict[str, Any], field: str, code: str | None) -> None:
    order = place(shop, 1)
    owner = f"gid://shopify/Order/{order.id}"
    good = {"ownerId": owner, "namespace": "fulfillsync", "key": "ok", "type": "json", "value": "{}"}
    answer = await shop.gql(_SET, {"metafields": [good, {"ownerId": owner, "namespace": "fulfillsync", **entry}]})
    payload = answer["data"]["metafieldsSet"]
    assert payload["metafields"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["metafields", "1", field], code)]
    assert shop.store.orders[order.id].metafields == {}  # all or nothing

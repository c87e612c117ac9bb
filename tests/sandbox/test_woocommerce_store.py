"""The simulated WooCommerce store over HTTP: auth, pagination, filters, error shapes, rate limit, tracking
routes per option, and the admin routes that drive it with curl."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.registry import create_store
from sandbox.woocommerce.app import create_app
from tests.support.woocommerce_store import KEY, SECRET, make_client, settings

AUTH = (KEY, SECRET)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http:
        yield http


async def seed(http: httpx.AsyncClient, orders: int = 1, advance_s: float = 0) -> list[dict[str, Any]]:
    assert (await http.post("/_sandbox/woocommerce/products", json={"sku": "MUG", "name": "Mug"})).status_code == 201
    placed = []
    for _ in range(orders):
        response = await http.post("/_sandbox/woocommerce/orders", json={
            "line_items": [{"sku": "MUG", "quantity": 2}],
            "shipping": {"first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Way", "city": "Portland"},
            "billing": {"email": "ada@example.com", "last_name": "Lovelace"}})
        assert response.status_code == 201, response.text
        placed.append(response.json())
        if advance_s:
            await http.post("/_sandbox/clock", json={"advance_s": advance_s})
    return placed


# -- auth -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "code"), [
    ("GET", "woocommerce_rest_cannot_view"), ("POST", "woocommerce_rest_cannot_create")])
@pytest.mark.asyncio
async def test_no_credentials_is_401_in_woocommerces_shape(client: httpx.AsyncClient, method: str,
                                                            code: str) -> None:
    response = await client.request(method, "/wp-json/wc/v3/orders")
    assert response.status_code == 401
    assert response.json() == {"code": code, "message": response.json()["message"], "data": {"status": 401}}


@pytest.mark.parametrize(("auth", "message"), [
    (("ck_other", SECRET), "Consumer key is invalid."), ((KEY, "cs_other"), "Consumer secret is invalid.")])
@pytest.mark.asyncio
async def test_wrong_credentials_are_refused(client: httpx.AsyncClient, auth: tuple[str, str], message: str) -> None:
    response = await client.get("/wp-json/wc/v3/orders", auth=auth)
    assert response.status_code == 401
    assert response.json()["code"] == "woocommerce_rest_authentication_error"
    assert response.json()["message"] == message


@pytest.mark.asyncio
async def test_query_string_credentials_work_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/wp-json/wc/v3/orders", params={"consumer_key": KEY, "consumer_secret": SECRET})
    assert response.status_code == 200 and response.json() == []


# -- orders -----------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_pagination_headers_and_links(client: httpx.AsyncClient) -> None:
    placed = await seed(client, orders=5, advance_s=1)
    response = await client.get("/wp-json/wc/v3/orders", auth=AUTH,
                                params={"per_page": 2, "page": 2, "orderby": "modified", "order": "asc"})
    assert response.status_code == 200
    assert (response.headers["X-WP-Total"], response.headers["X-WP-TotalPages"]) == ("5", "3")
    assert [o["id"] for o in response.json()] == [placed[2]["id"], placed[3]["id"]]
    prev, after = httpx.URL(response.links["prev"]["url"]), httpx.URL(response.links["next"]["url"])
    assert (prev.params["page"], after.params["page"]) == ("1", "3")
    assert after.params["orderby"] == "modified" and after.path == "/wp-json/wc/v3/orders"
    last = await client.get(str(after), auth=AUTH)
    assert len(last.json()) == 1 and set(last.links) == {"prev"}


@pytest.mark.parametrize(("params", "name"), [
    ({"per_page": 101}, "per_page"), ({"per_page": 0}, "per_page"), ({"orderby": "total"}, "orderby"),
    ({"order": "up"}, "order"), ({"modified_after": "last tuesday"}, "modified_after")])
@pytest.mark.asyncio
async def test_invalid_parameters_are_rest_invalid_param(client: httpx.AsyncClient, params: dict[str, Any],
                                                         name: str) -> None:
    response = await client.get("/wp-json/wc/v3/orders", auth=AUTH, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "rest_invalid_param" and name in body["data"]["params"]


@pytest.mark.asyncio
async def test_modified_after_is_exclusive_and_gmt_or_site_time() -> None:
    async with make_client(utc_offset_minutes=-180) as http:
        (order,) = await seed(http)
        gmt, local = order["date_modified_gmt"], order["date_modified"]
        assert gmt != local

        async def ids(**params: Any) -> list[int]:
            response = await http.get("/wp-json/wc/v3/orders", auth=AUTH, params=params)
            return [o["id"] for o in response.json()]

        second_before = (datetime.fromisoformat(gmt) - timedelta(seconds=1)).isoformat()
        assert await ids(modified_after=gmt, dates_are_gmt="true") == []  # exclusive
        assert await ids(modified_after=second_before, dates_are_gmt="true") == [order["id"]]
        assert await ids(modified_after=local, dates_are_gmt="false") == []
        assert await ids(modified_after=local, dates_are_gmt="true") == [order["id"]]  # 3 h before, read as GMT
        assert await ids(modified_after=gmt, dates_are_gmt="false") == []  # 3 h later, read as site time


@pytest.mark.asyncio
async def test_search_matches_addresses_and_items_not_meta(client: httpx.AsyncClient) -> None:
    (order,) = await seed(client)
    await client.put(f"/wp-json/wc/v3/orders/{order['id']}", auth=AUTH,
                     json={"meta_data": [{"key": "fulfillsync_order_id", "value": "ord-77"}]})
    found = await client.get("/wp-json/wc/v3/orders", auth=AUTH, params={"search": "lovelace"})
    assert [o["id"] for o in found.json()] == [order["id"]]
    assert (await client.get("/wp-json/wc/v3/orders", auth=AUTH, params={"search": "ord-77"})).json() == []


@pytest.mark.asyncio
async def test_create_update_and_fields(client: httpx.AsyncClient) -> None:
    await seed(client, orders=0)
    (mug,) = (await client.get("/wp-json/wc/v3/products", auth=AUTH, params={"sku": "MUG"})).json()
    created = await client.post("/wp-json/wc/v3/orders", auth=AUTH, json={
        "set_paid": True, "line_items": [{"product_id": mug["id"], "quantity": 3,
                                          "meta_data": [{"key": "fulfillsync_line_id", "value": "l1"}]}],
        "meta_data": [{"key": "fulfillsync_order_id", "value": "o1"}]})
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "processing" and body["created_via"] == "rest-api"
    assert body["line_items"][0]["meta_data"][0]["value"] == "l1"
    trimmed = await client.get(f"/wp-json/wc/v3/orders/{body['id']}", auth=AUTH, params={"_fields": "id,status"})
    assert trimmed.json() == {"id": body["id"], "status": "processing"}
    refused = await client.post("/wp-json/wc/v3/orders", auth=AUTH, json={"line_items": [{"quantity": 1}]})
    assert refused.status_code == 400 and refused.json()["code"] == "woocommerce_rest_required_product_reference"
    # WooCommerce does not refuse a product id it lacks: the item is created without a product, at 0
    ghost = await client.post("/wp-json/wc/v3/orders", auth=AUTH,
                              json={"line_items": [{"product_id": 999999, "quantity": 1}]})
    assert ghost.status_code == 201
    assert [(i["product_id"], i["sku"], i["total"]) for i in ghost.json()["line_items"]] == [(0, None, "0.00")]
    missing = await client.get("/wp-json/wc/v3/orders/999999", auth=AUTH)
    assert missing.status_code == 404 and missing.json()["code"] == "woocommerce_rest_shop_order_invalid_id"
    broken = await client.post("/wp-json/wc/v3/orders", auth=AUTH, content=b"{not json",
                               headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["code"] == "rest_invalid_json"


# -- tracking routes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tracking", "wcst", "core"), [
    ("shipment-tracking", True, False), ("fulfillments", False, True), ("both", True, True),
    ("none", False, False)])
@pytest.mark.asyncio
async def test_the_index_and_routes_follow_the_tracking_option(tracking: str, wcst: bool, core: bool) -> None:
    async with make_client(tracking=tracking) as http:
        (order,) = await seed(http)
        index = (await http.get("/wp-json/")).json()
        assert ("wc-shipment-tracking/v3" in index["namespaces"]) is wcst
        assert any(route.endswith("/fulfillments") for route in index["routes"]) is core
        listed = await http.get(f"/wp-json/wc-shipment-tracking/v3/orders/{order['id']}/shipment-trackings",
                                auth=AUTH)
        assert listed.status_code == (200 if wcst else 404)
        listed = await http.get(f"/wp-json/wc/v3/orders/{order['id']}/fulfillments", auth=AUTH)
        assert listed.status_code == (200 if core else 404)
        if not core:
            assert listed.json()["code"] == "rest_no_route"


@pytest.mark.asyncio
async def test_shipment_tracking_items(client: httpx.AsyncClient) -> None:
    (order,) = await seed(client)
    base = f"/wp-json/wc-shipment-tracking/v3/orders/{order['id']}/shipment-trackings"
    known = await client.post(base, auth=AUTH, json={"tracking_number": "1Z9", "tracking_provider": "ups",
                                                     "tracking_link": "https://ignored.test"})
    assert known.status_code == 201
    item = known.json()
    assert len(item["tracking_id"]) == 32 and int(item["tracking_id"], 16) >= 0
    assert (item["tracking_provider"], item["tracking_link"]) == ("UPS",
                                                                  "https://www.ups.com/track?loc=en_US&tracknum=1Z9")
    custom = await client.post(base, auth=AUTH, json={"tracking_number": "A1", "custom_tracking_provider": "Acme",
                                                      "custom_tracking_link": "https://acme.test/A1"})
    assert (custom.json()["tracking_provider"], custom.json()["tracking_link"]) == ("Acme", "https://acme.test/A1")
    missing = await client.post(base, auth=AUTH, json={"tracking_provider": "UPS"})
    assert missing.status_code == 400 and missing.json()["code"] == "rest_missing_callback_param"
    assert (await client.delete(f"{base}/{item['tracking_id']}", auth=AUTH)).status_code == 200
    gone = await client.get(f"{base}/{item['tracking_id']}", auth=AUTH)
    assert gone.status_code == 404
    await client.delete(f"{base}/{custom.json()['tracking_id']}", auth=AUTH)
    after = (await client.get(f"/wp-json/wc/v3/orders/{order['id']}", auth=AUTH)).json()
    meta = {m["key"]: m["value"] for m in after["meta_data"]}
    assert meta["_wc_shipment_tracking_items"] == []  # the plugin's meta stays once tracking was added
    assert after["date_modified_gmt"] >= order["date_modified_gmt"]


@pytest.mark.asyncio
async def test_core_fulfillments_check_quantities_replace_meta_and_soft_delete() -> None:
    async with make_client(tracking="fulfillments") as http:
        (order,) = await seed(http)
        item_id = order["line_items"][0]["id"]
        base = f"/wp-json/wc/v3/orders/{order['id']}/fulfillments"
        over = await http.post(base, auth=AUTH, json={"meta_data": [
            {"key": "_items", "value": [{"item_id": item_id, "qty": 3}]}]})
        assert over.status_code == 400 and over.json()["code"] == "woocommerce_rest_fulfillment_invalid_items"
        made = await http.post(base, auth=AUTH, params={"notify_customer": "true"}, json={
            "status": "fulfilled", "meta_data": [{"key": "_items", "value": [{"item_id": item_id, "qty": 2}]},
                                                 {"key": "_tracking_number", "value": "1Z"}]})
        assert made.status_code == 201
        fulfillment = made.json()
        assert fulfillment["entity_id"] == str(order["id"]) and fulfillment["is_fulfilled"] is True
        more = await http.post(base, auth=AUTH, json={"meta_data": [
            {"key": "_items", "value": [{"item_id": item_id, "qty": 1}]}]})
        assert more.status_code == 400  # both units are fulfilled already
        put = await http.put(f"{base}/{fulfillment['id']}", auth=AUTH, json={"meta_data": [
            {"key": "_items", "value": [{"item_id": item_id, "qty": 2}]}]})
        assert [m["key"] for m in put.json()["meta_data"]] == ["_items"]  # a PUT replaces all meta
        assert (await http.delete(f"{base}/{fulfillment['id']}", auth=AUTH)).status_code == 200
        listed = (await http.get(base, auth=AUTH)).json()
        assert listed[0]["date_deleted"] is not None
        again = await http.delete(f"{base}/{fulfillment['id']}", auth=AUTH)
        assert again.status_code == 404
        refill = await http.post(base, auth=AUTH, json={"meta_data": [
            {"key": "_items", "value": [{"item_id": item_id, "qty": 2}]}]})
        assert refill.status_code == 201  # a deleted fulfillment no longer covers its units


# -- rate limit, options, admin -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_optional_host_rate_limit_answers_429_with_retry_after() -> None:
    async with make_client(rate_limit={"requests": 2, "per_s": 30}) as http:
        statuses = [(await http.get("/wp-json/wc/v3/orders", auth=AUTH)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = await http.get("/wp-json/wc/v3/orders", auth=AUTH)
        assert 1 <= int(limited.headers["Retry-After"]) <= 30
        assert limited.headers["content-type"].startswith("text/html")
        await http.post("/_sandbox/clock", json={"advance_s": 30})
        assert (await http.get("/wp-json/wc/v3/orders", auth=AUTH)).status_code == 200


@pytest.mark.asyncio
async def test_no_rate_limit_by_default(client: httpx.AsyncClient) -> None:
    statuses = {(await client.get("/wp-json/wc/v3/orders", auth=AUTH)).status_code for _ in range(50)}
    assert statuses == {200}


def test_unknown_or_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown option"):
        create_app(settings(tracking_plugin="ast"))
    with pytest.raises(ValueError, match="tracking must be one of"):
        create_app(settings(tracking="ast"))


def test_the_registry_serves_it_from_the_site_root() -> None:
    app, base_path = create_store(settings())
    assert base_path == "" and app.store is not None


@pytest.mark.asyncio
async def test_the_admin_routes_drive_a_merchants_day(client: httpx.AsyncClient) -> None:
    (order,) = await seed(client)
    admin = f"/_sandbox/woocommerce/orders/{order['id']}"
    added = await client.post(f"{admin}/tracking", json={"tracking_number": "1Z1", "tracking_provider": "UPS"})
    assert added.status_code == 201
    edited = await client.put(f"{admin}/tracking/{added.json()['tracking_id']}", json={"tracking_number": "1Z2"})
    assert edited.json()["tracking_number"] == "1Z2" and edited.json()["tracking_id"] != added.json()["tracking_id"]
    assert (await client.delete(f"{admin}/tracking/{edited.json()['tracking_id']}")).status_code == 200
    cancelled = await client.post(f"{admin}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert (await client.get(admin)).json()["status"] == "cancelled"
    bad = await client.post("/_sandbox/woocommerce/orders", json={"line_items": [{"sku": "NOPE", "quantity": 1}]})
    assert bad.status_code == 400 and bad.json()["code"] == "woocommerce_rest_invalid_product_id"


@pytest.mark.asyncio
async def test_the_admin_fulfillment_routes() -> None:
    async with make_client(tracking="fulfillments") as http:
        (order,) = await seed(http)
        admin = f"/_sandbox/woocommerce/orders/{order['id']}/fulfillments"
        item_id = order["line_items"][0]["id"]
        made = await http.post(admin, json={"items": [{"item_id": item_id, "qty": 1}], "tracking_number": "1Z",
                                            "shipping_provider": "ups"})
        assert made.status_code == 201
        edited = await http.put(f"{admin}/{made.json()['id']}", json={"tracking_number": "1Z-NEW"})
        meta = {m["key"]: m["value"] for m in edited.json()["meta_data"]}
        assert meta["_tracking_number"] == "1Z-NEW" and meta["_shipping_provider"] == "ups"
        deleted = await http.delete(f"{admin}/{made.json()['id']}")
        assert deleted.json()["date_deleted"] is not None

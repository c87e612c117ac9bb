"""The simulated BigCommerce store over HTTP, as a client (or curl) sees it: paths, auth, pagination, rate
limits, error shapes, shipment rules and the admin routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.bigcommerce.app import create_app
from sandbox.common import SandboxApp
from sandbox.registry import create_store
from sandbox.settings import StoreSettings

TOKEN = "store-test-token-91c2"
API = "/stores/shop1/v2"
ADMIN = "/_sandbox/bigcommerce/orders"
AUTH = {"X-Auth-Token": TOKEN, "Accept": "application/json", "Content-Type": "application/json"}
ADDRESS = {"first_name": "Ada", "last_name": "Lovelace", "street_1": "1 Main St", "city": "Austin",
           "state": "Texas", "zip": "78751", "country": "United States", "country_iso2": "US",
           "email": "ada@example.com"}


def _settings(**options: Any) -> StoreSettings:
    return StoreSettings(platform="bigcommerce", name="shop1", credentials={"access_token": TOKEN}, options=options)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bc.test") as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


def _app(client: httpx.AsyncClient) -> SandboxApp:
    app: SandboxApp = client.app  # type: ignore[attr-defined]
    return app


async def _order(client: httpx.AsyncClient, *lines: tuple[str, int]) -> dict[str, Any]:
    response = await client.post(ADMIN, json={"billing_address": ADDRESS, "products": [
        {"name": sku, "sku": sku, "quantity": quantity} for sku, quantity in lines]})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_registry_and_options() -> None:
    app, base = create_store(_settings())
    assert base == "/stores/shop1" and app.store is not None
    with pytest.raises(ValueError, match="unknown options"):
        create_app(_settings(colour="blue"))
    with pytest.raises(ValueError, match="quota must be a positive integer"):
        create_app(_settings(quota=0))


@pytest.mark.asyncio
async def test_auth_is_required_and_refused_in_the_platform_shape(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"X-Auth-Token": "nope"}):
        response = await client.get(f"{API}/orders", headers=headers)
        assert response.status_code == 401
        [error] = response.json()
        assert error["status"] == 401 and "X-Auth-Token" in error["message"] and "nope" not in response.text
        assert response.headers["X-Rate-Limit-Requests-Quota"] == "150"
    assert (await client.get("/stores/other/v2/orders", headers=AUTH)).status_code == 404


@pytest.mark.asyncio
async def test_empty_collections_are_204_and_pages_hold_limit(client: httpx.AsyncClient) -> None:
    empty = await client.get(f"{API}/orders", headers=AUTH)
    assert empty.status_code == 204 and empty.content == b""
    ids = [(await _order(client, ("A", 1)))["id"] for _ in range(5)]
    first = await client.get(f"{API}/orders", params={"limit": 2, "page": 1}, headers=AUTH)
    third = await client.get(f"{API}/orders", params={"limit": 2, "page": 3}, headers=AUTH)
    past = await client.get(f"{API}/orders", params={"limit": 2, "page": 4}, headers=AUTH)
    assert [o["id"] for o in first.json()] == ids[:2] and [o["id"] for o in third.json()] == ids[4:]
    assert past.status_code == 204
    newest = await client.get(f"{API}/orders", params={"sort": "id:desc", "limit": 1}, headers=AUTH)
    assert newest.json()[0]["id"] == ids[-1]
    shipments = await client.get(f"{API}/orders/{ids[0]}/shipments", headers=AUTH)
    assert shipments.status_code == 204
    assert (await client.get(f"{API}/orders", params={"sort": "colour"}, headers=AUTH)).status_code == 400


@pytest.mark.asyncio
async def test_date_filters_accept_rfc2822_and_iso(client: httpx.AsyncClient) -> None:
    old = await _order(client, ("A", 1))
    _app(client).sandbox.clock.advance(3600)
    new = await _order(client, ("B", 1))
    newer = await client.get(f"{API}/orders", params={"min_date_modified": new["date_modified"]}, headers=AUTH)
    assert new["date_modified"].endswith("+0000") and [o["id"] for o in newer.json()] == [new["id"]]
    future = await client.get(f"{API}/orders", params={"min_date_modified": "2099-01-01T00:00:00+00:00"},
                              headers=AUTH)
    assert future.status_code == 204
    ours = await client.get(f"{API}/orders", params={"max_date_modified": old["date_modified"]}, headers=AUTH)
    assert [o["id"] for o in ours.json()] == [old["id"]]
    bad = await client.get(f"{API}/orders", params={"min_date_modified": "yesterday"}, headers=AUTH)
    assert bad.status_code == 400 and "min_date_modified" in bad.json()[0]["message"]


@pytest.mark.asyncio
async def test_shipments_follow_the_platform_rules(client: httpx.AsyncClient) -> None:
    order = await _order(client, ("A", 2), ("B", 1))
    oid = order["id"]
    a, b = (p["id"] for p in order["products"])
    address = order["shipping_addresses"][0]["id"]
    missing = await client.post(f"{API}/orders/{oid}/shipments", headers=AUTH, json={"items": []})
    assert missing.status_code == 400 and "order_address_id" in missing.json()[0]["message"]
    too_many = await client.post(f"{API}/orders/{oid}/shipments", headers=AUTH, json={
        "order_address_id": address, "items": [{"order_product_id": a, "quantity": 3}]})
    assert too_many.status_code == 400 and "remaining" in too_many.json()[0]["message"]
    created = await client.post(f"{API}/orders/{oid}/shipments", headers=AUTH, json={
        "order_address_id": address, "items": [{"order_product_id": a, "quantity": 2}],
        "tracking_number": "1Z1", "shipping_provider": "ups", "comments": "first box"})
    assert created.status_code == 201
    shipment = created.json()
    assert shipment["generated_tracking_link"].endswith("1Z1") and shipment["tracking_link"] == ""
    got = (await client.get(f"{API}/orders/{oid}", headers=AUTH)).json()
    assert got["status_id"] == 3 and got["status"] == "Partially Shipped"
    await client.post(f"{API}/orders/{oid}/shipments", headers=AUTH, json={
        "order_address_id": address, "items": [{"order_product_id": b, "quantity": 1}]})
    assert (await client.get(f"{API}/orders/{oid}", headers=AUTH)).json()["status_id"] == 2
    items = await client.put(f"{API}/orders/{oid}/shipments/{shipment['id']}", headers=AUTH, json={"items": []})
    assert items.status_code == 400
    _app(client).sandbox.clock.advance(10)
    edited = await client.put(f"{API}/orders/{oid}/shipments/{shipment['id']}", headers=AUTH,
                              json={"tracking_number": "1Z2", "tracking_link": "https://t.example/1Z2"})
    assert edited.json()["tracking_number"] == "1Z2" and edited.json()["generated_tracking_link"] == ""
    after_edit = (await client.get(f"{API}/orders/{oid}", headers=AUTH)).json()
    assert after_edit["date_modified"] != got["date_modified"]  # a shipment edit moves the order's date
    assert (await client.get(f"{API}/orders/{oid}/shipments/count", headers=AUTH)).json() == {"count": 2}
    deleted = await client.delete(f"{API}/orders/{oid}/shipments/{shipment['id']}", headers=AUTH)
    assert deleted.status_code == 204
    final = (await client.get(f"{API}/orders/{oid}", headers=AUTH)).json()
    products = (await client.get(f"{API}/orders/{oid}/products", headers=AUTH)).json()
    assert final["status_id"] == 2 and products[0]["quantity_shipped"] == 0  # status stays Shipped
    gone = await client.get(f"{API}/orders/{oid}/shipments/{shipment['id']}", headers=AUTH)
    assert gone.status_code == 404 and gone.json()[0]["status"] == 404


@pytest.mark.asyncio
async def test_orders_created_over_the_api_are_found_by_external_id(client: httpx.AsyncClient) -> None:
    body = {"billing_address": ADDRESS, "external_order_id": "fulfillsync:x1", "status_id": 11,
            "products": [{"name": "Anvil", "sku": "ACME-1", "quantity": 2, "price_inc_tax": 0, "price_ex_tax": 0}]}
    created = await client.post(f"{API}/orders", headers=AUTH, json=body)
    assert created.status_code == 200 and created.json()["status"] == "Awaiting Fulfillment"
    found = await client.get(f"{API}/orders", params={"external_order_id": "fulfillsync:x1"}, headers=AUTH)
    assert [o["id"] for o in found.json()] == [created.json()["id"]]
    no_zip = await client.post(f"{API}/orders", headers=AUTH, json={**body, "billing_address": {"city": "X"}})
    assert no_zip.status_code == 400 and "zip" in no_zip.json()[0]["message"].lower()
    wrong_type = await client.post(f"{API}/orders", headers={**AUTH, "Content-Type": "text/plain"}, content=b"{}")
    assert wrong_type.status_code == 415


@pytest.mark.asyncio
async def test_quota_headers_429_and_window_reset() -> None:
    app = create_app(_settings(quota=2, window_ms=1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bc.test") as http:
        first = await http.get(f"{API}/orders", headers=AUTH)
        assert first.headers["X-Rate-Limit-Requests-Left"] == "1"
        assert first.headers["X-Rate-Limit-Time-Window-Ms"] == "1000"
        await http.get(f"{API}/orders", headers=AUTH)
        limited = await http.get(f"{API}/orders", headers=AUTH)
        assert limited.status_code == 429 and limited.json()[0]["status"] == 429
        assert 0 < int(limited.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 1000
        assert limited.headers["X-Rate-Limit-Requests-Left"] == "0"
        app.sandbox.clock.advance(1.0)
        assert (await http.get(f"{API}/orders", headers=AUTH)).status_code == 204


@pytest.mark.asyncio
async def test_admin_routes_drive_the_merchant_side(client: httpx.AsyncClient) -> None:
    order = await _order(client, ("A", 2))
    oid, line = order["id"], order["products"][0]["id"]
    shipped = await client.post(f"{ADMIN}/{oid}/shipments", json={
        "items": [{"order_product_id": line, "quantity": 1}], "tracking_number": "T1"})
    assert shipped.status_code == 201
    sid = shipped.json()["id"]
    edited = await client.put(f"{ADMIN}/{oid}/shipments/{sid}", json={"tracking_number": "T2"})
    assert edited.json()["tracking_number"] == "T2"
    refunded = await client.post(f"{ADMIN}/{oid}/refunds", json={"order_product_id": line, "quantity": 1})
    assert refunded.json()["products"][0]["quantity_refunded"] == 1
    assert (await client.delete(f"{ADMIN}/{oid}/shipments/{sid}")).status_code == 204
    cancelled = await client.post(f"{ADMIN}/{oid}/cancel")
    assert cancelled.json()["status_id"] == 5 and cancelled.json()["shipments"] == []
    bad = await client.post(f"{ADMIN}/{oid}/shipments", json={"items": [{"order_product_id": 999, "quantity": 1}]})
    assert bad.status_code == 400 and bad.json()[0]["message"]
    assert (await client.get(f"{ADMIN}/4242")).status_code == 404

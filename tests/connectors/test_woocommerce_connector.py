"""WooCommerceConnector against the simulated store: seller order creation, failures (429, 5xx, 4xx, broken
bodies, wrong credentials), plain-http refusal and tracking API detection."""

from __future__ import annotations

import base64
import logging
import re
import time
from decimal import Decimal

import httpx
import pytest

from connectors.base import MalformedResponseError, PermanentError, RetryableError
from connectors.woocommerce import InsecureConnectionError, WooCommerceConnector
from sandbox.common import Fault
from schemas.platform import Address, CatalogVariant, NewOrder, PlatformOrder, SellerLine
from tests.support.woocommerce_store import KEY, SECRET, Woo, place, stock, woo

pytestmark = pytest.mark.asyncio

ADDRESS = Address(name="Grace Hopper", company="Navy", lines=("1 Compiler Rd", "Apt 2"), city="Arlington",
                  region="VA", postal_code="22201", country_code="US", phone="555-0199")


def variant(shop: Woo, sku: str) -> CatalogVariant:
    """The catalog item with `sku` as `catalog_variants` reports it (built from the store, without a request)."""
    product = shop.store.product_by_sku(sku)
    assert product is not None
    return CatalogVariant(sku=sku, product_ref=str(product.parent_id or product.id), variant_ref=str(product.id),
                          price=Decimal(product.regular_price))


def new_order(shop: Woo, our_id: str = "ord-1", *lines: tuple[str, str, int]) -> NewOrder:
    lines = lines or (("line-a", "MUG", 2), ("line-b", "TEE-M", 1))
    return NewOrder(our_order_id=our_id, buyer_order_number="#1001",
                    lines=tuple(SellerLine(line_ref=ref, sku=sku, quantity=qty, variant=variant(shop, sku),
                                           unit_price=Decimal("9.50")) for ref, sku, qty in lines),
                    shipping_address=ADDRESS, email="grace@example.com", shipping_method="Ground")


def catalogue(shop: Woo) -> None:
    stock(shop.store, "MUG")
    shop.store.add_product("TEE", "T-shirt")
    shop.store.add_product("TEE-M", "T-shirt, M", parent_sku="TEE")


# -- creating orders ------------------------------------------------------------------------------------------


async def test_create_order_maps_lines_and_products_and_reads_back_as_ours() -> None:
    shop = woo()
    catalogue(shop)
    connector = shop.connector(role="seller")
    created = await connector.create_order(new_order(shop))
    order = shop.store.order(int(created.order_ref))
    mug, tee = order.line_items
    assert created.line_refs == {"line-a": str(mug.id), "line-b": str(tee.id)}
    assert created.number == str(order.id)
    assert (mug.sku, mug.quantity, mug.variation_id) == ("MUG", 2, 0)
    tee_m = shop.store.product_by_sku("TEE-M")
    assert tee_m is not None and (tee.product_id, tee.variation_id) == (tee_m.parent_id, tee_m.id)
    assert order.status == "processing"
    assert (order.shipping["first_name"], order.shipping["last_name"], order.shipping["address_2"]) == (
        "Grace", "Hopper", "Apt 2")
    assert order.billing["email"] == "grace@example.com"
    assert order.shipping_lines[0]["method_title"] == "Ground"

    page = await connector.orders_changed_since(None)
    (polled,) = page.items
    assert polled.our_order_id == "ord-1" and polled.order_ref == created.order_ref
    assert polled.shipping_address == ADDRESS.model_copy(update={"lines": ("1 Compiler Rd", "Apt 2")})
    await connector.aclose()


async def test_create_order_twice_returns_the_first_order() -> None:
    shop = woo()
    catalogue(shop)
    first = await shop.connector(role="seller").create_order(new_order(shop, "ord-1"))
    for _ in range(30):  # other orders arrive in between, so the first is on a later page of the scan
        place(shop.store, ("MUG", 1))
    shop.store.create_order({"status": "processing", "line_items": [{"sku": "MUG", "quantity": 1}],
                             "meta_data": [{"key": "fulfillsync_order_id", "value": "ord-other"}]})
    # a new instance (no memory), scanning 10 orders a page: ours is on the fourth
    again = await shop.connector(role="seller", page_size=10).create_order(new_order(shop, "ord-1"))
    assert again == first
    assert sum(1 for o in shop.store.orders.values()
               if any(m.key == "fulfillsync_order_id" and m.value == "ord-1" for m in o.meta)) == 1
    assert shop.app.sandbox.requests["GET /wp-json/wc/v3/orders"] == 5  # 1 scan page first, 4 now


async def test_a_create_whose_answer_was_lost_is_found_by_the_retry() -> None:
    shop = woo()
    catalogue(shop)
    connector = shop.connector(role="seller")
    shop.app.sandbox.faults.append(Fault(truncate=True, path=r"/wc/v3/orders$", method="POST"))
    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        await connector.create_order(new_order(shop, "ord-1"))
    created = await connector.create_order(new_order(shop, "ord-1"))
    assert list(shop.store.orders) == [int(created.order_ref)]
    assert set(created.line_refs) == {"line-a", "line-b"}
    await connector.aclose()


async def test_an_old_order_of_ours_outside_the_scan_window_is_not_searched() -> None:
    shop = woo()
    catalogue(shop)
    first = await shop.connector(role="seller").create_order(new_order(shop, "ord-1"))
    shop.advance(49 * 3600)
    place(shop.store, ("MUG", 1))
    again = await shop.connector(role="seller").create_order(new_order(shop, "ord-1"))
    assert again.order_ref != first.order_ref  # documented limit: 48 hours back from the newest order


# -- failures ---------------------------------------------------------------------------------------------------


async def test_429_and_5xx_are_retried_until_the_store_recovers() -> None:
    shop = woo()
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 1))
    connector = shop.connector()
    shop.app.sandbox.faults.append(Fault(status=429, times=2, path="/wc/v3/orders", headers={"Retry-After": "7"},
                                         body="<html>Too Many Requests</html>"))
    page = await connector.orders_changed_since(None)
    assert [o.order_ref for o in page.items] == [str(order_id)]
    assert shop.sleeps.count(7.0) >= 2
    shop.app.sandbox.faults.append(Fault(status=503, times=2, path="/wc/v3/orders"))
    shop.store.touch_order(order_id)
    page = await connector.orders_changed_since(page.cursor)
    assert [o.order_ref for o in page.items] == [str(order_id)]
    assert shop.app.sandbox.requests["GET /wp-json/wc/v3/orders"] == 6
    await connector.aclose()


async def test_the_hosts_rate_limit_is_waited_out() -> None:
    shop = woo(rate_limit={"requests": 2, "per_s": 10})
    stock(shop.store, "MUG")
    for _ in range(5):
        place(shop.store, ("MUG", 1))
        shop.advance(1)
    connector = shop.connector(page_size=1)
    seen: list[PlatformOrder] = []
    cursor = None
    while True:
        page = await connector.orders_changed_since(cursor)
        seen += page.items
        cursor = page.cursor
        if not page.has_more:
            break
    assert len({o.order_ref for o in seen}) == 5
    assert shop.sleeps and all(s <= 10 for s in shop.sleeps)
    await connector.aclose()


async def test_5xx_that_does_not_end_is_a_retryable_error_with_the_platform_message() -> None:
    shop = woo()
    connector = shop.connector()
    shop.app.sandbox.faults.append(Fault(status=500, times=10, path="/wc/v3/orders", body=(
        '{"code": "internal_server_error", "message": "There has been a critical error on this website."}')))
    with pytest.raises(RetryableError) as failed:
        await connector.orders_changed_since(None)
    assert failed.value.status == 500
    assert "critical error on this website. (internal_server_error)" in failed.value.platform_message
    await connector.aclose()


@pytest.mark.parametrize("fault", [
    Fault(status=200, body="<html><body>Maintenance</body></html>"),
    Fault(truncate=True),
    Fault(status=200, body='{"orders": []}'),
], ids=["html", "truncated", "object-not-list"])
async def test_a_broken_body_is_a_malformed_response_never_an_empty_page(fault: Fault) -> None:
    shop = woo()
    stock(shop.store, "MUG")
    place(shop.store, ("MUG", 1))
    connector = shop.connector()
    fault.path = "/wc/v3/orders"
    shop.app.sandbox.faults.append(fault)
    with pytest.raises(MalformedResponseError, match=re.escape("GET http://127.0.0.1:8080/wp-json/wc/v3/orders")):
        await connector.orders_changed_since(None)
    await connector.aclose()


async def test_a_broken_tracking_body_is_a_malformed_response() -> None:
    shop = woo(tracking="shipment-tracking")
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 1))
    connector = shop.connector(role="seller", tracking_api="shipment-tracking")
    shop.app.sandbox.faults.append(Fault(status=200, path="shipment-trackings$", body='[{"tracking_id": "ab"}]'))
    with pytest.raises(MalformedResponseError, match="tracking_number"):
        await connector.fulfillments(str(order_id))
    await connector.aclose()


@pytest.mark.parametrize(("key", "secret", "said"), [
    ("ck_wrong", SECRET, "Consumer key is invalid."),
    (KEY, "cs_wrong_secret_value", "Consumer secret is invalid."),
])
async def test_wrong_credentials_are_permanent_with_a_hint_and_no_secret(
        key: str, secret: str, said: str, caplog: pytest.LogCaptureFixture) -> None:
    shop = woo()
    connector = WooCommerceConnector(shop.connection(key=key, secret=secret),
                                     transport=httpx.ASGITransport(app=shop.app), sleep=shop.sleep)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PermanentError) as refused:
        await connector.orders_changed_since(None)
    text = str(refused.value)
    assert refused.value.status == 401
    assert said in text and "woocommerce_rest_authentication_error" in text
    assert "check the connection's credentials" in text
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    for leaked in (key, secret, token):
        assert leaked not in text and leaked not in refused.value.platform_message and leaked not in caplog.text
    assert shop.app.sandbox.requests["GET /wp-json/wc/v3/orders"] == 1  # a 401 is not retried
    await connector.aclose()


async def test_a_secret_echoed_by_the_platform_is_redacted() -> None:
    shop = woo()
    connector = shop.connector()
    shop.app.sandbox.faults.append(Fault(status=400, path="/wc/v3/orders", body=(
        f'{{"code": "rest_invalid_param", "message": "bad consumer_secret={SECRET} for {KEY}"}}')))
    with pytest.raises(PermanentError) as refused:
        await connector.orders_changed_since(None)
    assert SECRET not in str(refused.value) and KEY not in str(refused.value)
    assert "[redacted]" in refused.value.platform_message
    await connector.aclose()


@pytest.mark.parametrize("base_url", ["http://shop.example", "http://10.0.0.5:8080"])
async def test_plain_http_is_refused_except_on_loopback(base_url: str) -> None:
    shop = woo()
    with pytest.raises(InsecureConnectionError, match="https"):
        WooCommerceConnector(shop.connection(base_url=base_url))
    for allowed in ("http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000", "https://shop.example"):
        await WooCommerceConnector(shop.connection(base_url=allowed)).aclose()


# -- tracking API detection -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tracking", "expected"), [
    ("fulfillments", "/wp-json/wc/v3/orders/{id}/fulfillments"),
    ("both", "/wp-json/wc/v3/orders/{id}/fulfillments"),
    ("shipment-tracking", "/wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings"),
])
async def test_auto_detection_reads_the_rest_index_once(tracking: str, expected: str) -> None:
    shop = woo(tracking=tracking)
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 1))
    connector = shop.connector(role="seller", tracking_api="auto")
    await connector.fulfillments(str(order_id))
    await connector.fulfillments(str(order_id))
    requests = shop.app.sandbox.requests
    assert requests["GET /wp-json/"] == 1
    assert requests[f"GET {expected.format(id=order_id)}"] == 2
    await connector.aclose()


async def test_a_store_without_a_tracking_api_is_a_permanent_error() -> None:
    shop = woo(tracking="none")
    connector = shop.connector(role="seller")
    with pytest.raises(PermanentError, match="no tracking API"):
        await connector.fulfillments("101")
    await connector.aclose()


async def test_a_configured_tracking_api_the_store_lacks_says_what_to_enable() -> None:
    shop = woo(tracking="shipment-tracking")
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 1))
    connector = shop.connector(role="seller", tracking_api="fulfillments")
    with pytest.raises(PermanentError, match="Order Fulfillments feature is off") as refused:
        await connector.fulfillments(str(order_id))
    assert "rest_no_route" in refused.value.platform_message
    await connector.aclose()


# -- defaults ---------------------------------------------------------------------------------------------------


class _Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


async def test_keys_travel_only_in_the_basic_auth_header() -> None:
    shop = woo()
    recording = _Recording(httpx.ASGITransport(app=shop.app))
    connector = WooCommerceConnector(shop.connection(), transport=recording, sleep=shop.sleep)
    await connector.orders_changed_since(None)
    (sent,) = recording.requests
    assert KEY not in str(sent.url) and SECRET not in str(sent.url)
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    assert sent.url.params["dates_are_gmt"] == "true" and sent.url.params["orderby"] == "modified"
    assert sent.url.params["per_page"] == "100" and sent.url.params["order"] == "asc"
    await connector.aclose()


async def test_without_a_configured_rate_the_connector_sends_two_requests_a_second() -> None:
    shop = woo()
    connector = WooCommerceConnector(shop.connection(requests_per_s=None),
                                     transport=httpx.ASGITransport(app=shop.app), sleep=shop.sleep)
    started = time.monotonic()
    for _ in range(4):
        await connector.orders_changed_since(None)
    assert time.monotonic() - started >= 0.9  # a bucket of 2, refilled at 2/s: the 4th waits about 1 s
    await connector.aclose()

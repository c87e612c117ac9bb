"""One bad order on a polled page is rejected on its own: the good orders are items, each bad one a
`RejectedOrder` with its reason and the field at fault, and the cursor moves past all of them. The bad orders are
served by the simulated stores among their real ones (`POST /_sandbox/raw-orders`, sandbox/common.py)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Any

import httpx
import pytest

from connectors.base import MalformedResponseError
from sandbox.common import Fault, SandboxApp
from sandbox.shopify.store import NewLine
from schemas.platform import Page, PlatformOrder
from tests.support.bigcommerce_store import harness as bigcommerce_harness
from tests.support.bigcommerce_store import load_spec
from tests.support.bigcommerce_store import place as bigcommerce_place
from tests.support.magento_store import make_harness
from tests.support.shopify_store import connector as shopify_connector
from tests.support.shopify_store import make_app
from tests.support.shopify_store import store as shopify_store
from tests.support.woocommerce_store import place, stock, woo

pytestmark = pytest.mark.asyncio

BAD_UTF8 = "@@bad-utf8@@"
DEEP = "@@deep@@"

Path = tuple[str | int, ...]


def _set(document: Any, path: Path, value: Any) -> None:
    for key in path[:-1]:
        document = document[key]
    document[path[-1]] = value


def bad_orders(template: dict[str, Any], *, id_key: str, quantity: Path, sku: Path, text: Path,
               required: str) -> dict[str, bytes]:
    """Raw variants of a real order, one per bad class, with ids 9001..9005 (by class name)."""
    variants: dict[str, bytes] = {}
    changes: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
            ("decimal_quantity", lambda order: _set(order, quantity, 1.5)),
            ("long_sku", lambda order: _set(order, sku, "S" * 600)),
            ("invalid_utf8", lambda order: _set(order, text, BAD_UTF8)),
            ("deep_nesting", lambda order: _set(order, text, DEEP)),
            ("missing_field", lambda order: order.pop(required)),
    ]
    for number, (name, change) in enumerate(changes, start=9001):
        order = copy.deepcopy(template)
        order[id_key] = number
        change(order)
        raw = json.dumps(order).encode()
        raw = raw.replace(json.dumps(BAD_UTF8).encode(), b'"caf\xe9 \xff"')
        raw = raw.replace(json.dumps(DEEP).encode(), b"[" * 5000 + b"]" * 5000)
        variants[name] = raw
    return variants


async def inject(app: SandboxApp, path: str, at: str, raws: list[bytes]) -> None:
    """Through the admin route, as a test over HTTP or the demo would."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as client:
        for raw in raws:
            try:
                body: dict[str, Any] = {"raw": raw.decode()}
            except UnicodeDecodeError:
                body = {"raw_base64": base64.b64encode(raw).decode()}
            answer = await client.post("/_sandbox/raw-orders", json={"path": path, "at": at, "times": 0, **body})
            assert answer.status_code == 201


def check_page(page: Page[PlatformOrder], good: set[str]) -> None:
    assert {order.order_ref for order in page.items} == good
    reasons = {item.order_ref: (item.reason, item.message) for item in page.rejected}
    assert set(reasons) == {"9001", "9002", "9003", "9004", "9005"}
    assert reasons["9001"][0] == "invalid_order" and "1.5" in reasons["9001"][1]
    assert reasons["9002"][0] == "invalid_order" and "sku of 600 characters" in reasons["9002"][1]
    assert reasons["9003"][0] == "invalid_payload" and "not valid UTF-8" in reasons["9003"][1]
    assert reasons["9004"][0] == "invalid_payload" and "nested deeper" in reasons["9004"][1]
    assert reasons["9005"][0] == "invalid_order"
    utf8 = next(item for item in page.rejected if item.order_ref == "9003")
    assert b'"caf\xe9 \xff"' in utf8.raw  # as the platform sent it
    assert all(len(item.raw) < 20_000 for item in page.rejected)


async def test_woocommerce_rejects_each_bad_order_and_moves_past_it() -> None:
    shop = woo()
    stock(shop.store, "MUG")
    good = {str(place(shop.store, ("MUG", 2))), str(place(shop.store, ("MUG", 1)))}
    connector = shop.connector()
    template = (await connector._client.get("/wp-json/wc/v3/orders"))[0][0]
    raws = bad_orders(template, id_key="id", quantity=("line_items", 0, "quantity"),
                      sku=("line_items", 0, "sku"), text=("customer_note",), required="line_items")
    await inject(shop.app, r"/wc/v3/orders$", "", list(raws.values()))
    shop.advance(10)  # past the cursor's settle time
    page = await connector.orders_changed_since(None)
    check_page(page, good)
    again = await connector.orders_changed_since(page.cursor)
    assert again.items == () and again.rejected == ()  # the cursor moved past good and bad orders alike
    await connector.aclose()


async def test_magento_rejects_each_bad_order_and_moves_past_it() -> None:
    h = make_harness()
    h.transport.allow_unreadable_bodies = True  # type: ignore[attr-defined]
    address = {"address_type": "shipping", "firstname": "Ada", "lastname": "Lovelace", "street": ["1 Row"],
               "city": "London", "postcode": "N1", "country_id": "GB", "telephone": "+44 20 7946 0000"}
    good = set()
    for qty in (1, 2):
        h.app.sandbox.clock.advance(10)
        good.add(str(h.store.place_order([{"sku": "LAMP", "qty": qty}], shipping_address=address).entity_id))
    connector = h.connector()
    template = dict((await connector._search("/V1/orders", [], page=1, page_size=10, what="t"))[1].items[0])
    raws = bad_orders(template, id_key="entity_id", quantity=("items", 0, "qty_ordered"), sku=("items", 0, "sku"),
                      text=("customer_email",), required="updated_at")
    await inject(h.app, r"/V1/orders$", "items", list(raws.values()))
    h.app.sandbox.clock.advance(10)  # past the cursor's settle time
    page = await connector.orders_changed_since(None)
    check_page(page, good)
    again = await connector.orders_changed_since(page.cursor)
    assert again.items == ()  # the cursor moved past good and bad orders alike; one without a time cannot be
    assert [item.order_ref for item in again.rejected] == ["9005"]  # remembered (the poller's letter id dedupes)
    await h.close()


@pytest.mark.parametrize("fault", [{"status": 200, "body": "<html>Bad gateway</html>"}, {"truncate": True}])
async def test_a_body_that_is_not_json_still_fails_the_whole_page(fault: dict[str, Any]) -> None:
    shop = woo()
    stock(shop.store, "MUG")
    place(shop.store, ("MUG", 2))
    shop.app.sandbox.faults.append(Fault(path=r"/wc/v3/orders$", **fault))
    connector = shop.connector()
    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        await connector.orders_changed_since(None)
    await connector.aclose()



async def test_bigcommerce_and_shopify_listings_reject_each_bad_order_and_keep_the_good_ones(
        platform_specs: FilePath) -> None:
    """The listing-level classes on the two platforms whose full reads need the store to know the order: a
    missing or unreadable field, invalid UTF-8 and deep nesting in the light listing; the good order is kept."""
    bench = bigcommerce_harness(load_spec(platform_specs))
    bench.transport.allow_unreadable_bodies = True
    good = bigcommerce_place(bench, ("A", 1))
    seller = bench.connector(role="seller")
    template = (await seller._get("/v2/orders"))[0][0]
    raws = [json.dumps({**template, "id": 9001, "date_modified": "yesterday"}).encode(),
            json.dumps({**template, "id": 9002, "customer_message": BAD_UTF8}).encode().replace(
                json.dumps(BAD_UTF8).encode(), b'"\xff"'),
            json.dumps({**template, "id": 9003, "customer_message": DEEP}).encode().replace(
                json.dumps(DEEP).encode(), b"[" * 5000 + b"]" * 5000)]
    await inject(bench.app, r"/v2/orders$", "", raws)
    page = await seller.changed_orders_since(None)
    assert [item.order_ref for item in page.items] == [str(good.id)]
    assert [(item.order_ref, item.reason) for item in page.rejected] == [
        ("9001", "invalid_order"), ("9002", "invalid_payload"), ("9003", "invalid_payload")]
    assert "date_modified" in page.rejected[0].message

    app = make_app(None)
    shopify_store(app).place_order([NewLine(title="Mug", sku="MUG", quantity=1)])
    buyer = shopify_connector(app)
    nodes = [b'{"id": "gid://shopify/Order/9001", "tags": []}',
             b'{"id": "gid://shopify/Order/9002", "updatedAt": "2026-05-01T00:00:00Z", "tags": ["\xff"]}']
    await inject(app, r"graphql\.json$", "data.orders.nodes", nodes)
    listed = await buyer.orders_changed_since(None)
    assert len(listed.items) == 1 and listed.items[0].lines[0].sku == "MUG"
    assert [(item.order_ref, item.reason) for item in listed.rejected] == [
        ("gid://shopify/Order/9001", "invalid_order"), ("gid://shopify/Order/9002", "invalid_payload")]
    await buyer.aclose()

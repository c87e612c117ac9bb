"""The Shopify parsers on real payloads: the REST / webhook fixtures copied into tests/fixtures (MIT), and the
GraphQL sessions captured from a live dev store (read through the platform_specs fixture). Also: the variables the
connector sends have the shape of the captured real requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.shopify.parse import (
    OpenLine,
    ShapeError,
    graphql_fulfillment,
    graphql_fulfillment_orders,
    graphql_order,
    graphql_tracking,
    tracking_input,
    webhook_fulfillment,
    webhook_fulfillment_order,
    webhook_order,
)
from sandbox.shopify.store import NewLine
from schemas.platform import Address, FulfillmentLine, FulfillmentRequest, Tracking
from tests.support.shopify_store import CheckingTransport, connector, make_app, schemas_for, store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "platform-specs" / "shopify"
EXAMPLES = Path("shopify/examples")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def capture(platform_specs: Path, name: str) -> Any:
    return json.loads((platform_specs / EXAMPLES / name).read_text(encoding="utf-8"))


# -- REST / webhook shape ----------------------------------------------------------------------------------

def test_webhook_order() -> None:
    order = webhook_order(fixture("order.json"))
    assert order.order_ref == "gid://shopify/Order/450789469" and order.number == "#1001"
    assert order.updated_at == datetime(2008, 1, 10, 11, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert order.created_at == order.updated_at
    assert [(line.line_ref, line.sku, line.quantity, line.title) for line in order.lines] == [
        ("gid://shopify/LineItem/466157049", "IPOD2008GREEN", 1, "IPod Nano - 8gb - green"),
        ("gid://shopify/LineItem/518995019", "IPOD2008RED", 1, "IPod Nano - 8gb - red"),
        ("gid://shopify/LineItem/703073504", "IPOD2008BLACK", 1, "IPod Nano - 8gb - black")]
    assert order.shipping_address == Address(name="Bob Norman", lines=("Chestnut Street 92",), city="Louisville",
                                             region="KY", postal_code="40202", country_code="US",
                                             phone="555-625-1199")
    assert (order.email, order.shipping_method, order.cancelled, order.our_order_id) == (
        "bob.norman@hostmail.com", "Free Shipping", False, None)


def test_webhook_order_reads_our_marker_and_removed_units() -> None:
    raw = fixture("order.json")["order"]
    raw["note_attributes"].append({"name": "fulfillsync_order_id", "value": "ord_1"})
    raw["line_items"][0] |= {"quantity": 3, "current_quantity": 1}
    raw["cancelled_at"] = "2008-01-11T11:00:00-05:00"
    order = webhook_order(raw)
    assert order.our_order_id == "ord_1" and order.cancelled
    assert (order.lines[0].quantity, order.lines[0].cancelled_quantity) == (3, 2)


def test_webhook_fulfillment() -> None:
    fulfillment = webhook_fulfillment(fixture("fulfillment.json"))
    assert fulfillment.fulfillment_ref == "gid://shopify/Fulfillment/255858046"
    assert fulfillment.order_ref == "gid://shopify/Order/450789469"
    assert fulfillment.updated_at == datetime(2013, 11, 1, 20, 6, 8, tzinfo=UTC)
    assert fulfillment.lines == (FulfillmentLine(line_ref="gid://shopify/LineItem/466157049", quantity=1),)
    assert fulfillment.tracking == Tracking(carrier="null-company", numbers=("1Z2345",),
                                            urls=("http://www.google.com/search?q=1Z2345",))
    assert not fulfillment.cancelled


def test_a_failed_fulfillment_inside_an_order_webhook_counts_as_cancelled() -> None:
    (nested,) = fixture("order.json")["order"]["fulfillments"]
    fulfillment = webhook_fulfillment(nested)
    assert fulfillment.cancelled and fulfillment.tracking.numbers == ("1Z2345",)
    assert fulfillment.tracking.carrier is None


def test_webhook_fulfillment_order() -> None:
    assert webhook_fulfillment_order(fixture("fulfillment_orders.json")) == [OpenLine(
        fulfillment_order_id="gid://shopify/FulfillmentOrder/2558888935587",
        fulfillment_order_line_id="gid://shopify/FulfillmentOrderLineItem/7118028439715",
        line_ref="gid://shopify/LineItem/6037638185123", remaining=1)]


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda o: o.pop("line_items"), "order.line_items: expected an array, got NoneType"),
    (lambda o: o.update(updated_at="yesterday"), "order.updated_at is 'yesterday', not an ISO 8601"),
    (lambda o: o.update(updated_at="2008-01-10T11:00:00"), "without a time zone"),
    (lambda o: o["line_items"][1].update(quantity="1"), r"order.line_items\[1\].quantity is '1'"),
    (lambda o: o.pop("id"), "order.id is None"),
])
def test_webhook_order_shape_errors_name_the_part(mutate: Any, expected: str) -> None:
    raw = fixture("order.json")["order"]
    mutate(raw)
    with pytest.raises(ShapeError, match=expected):
        webhook_order(raw)


# -- captured GraphQL sessions -----------------------------------------------------------------------------

def test_captured_multi_tracking_responses(platform_specs: Path) -> None:
    session = capture(platform_specs, "fulfillment-multi-tracking-info.json")
    created = session["fulfillmentCreate"]["response"]["data"]["fulfillmentCreate"]["fulfillment"]
    assert graphql_tracking(created["trackingInfo"], "trackingInfo") == Tracking(
        carrier="Hermes", numbers=("MULTI-CREATE-1783751369060-1", "MULTI-CREATE-1783751369060-2"),
        urls=("https://example.com/track/MULTI-CREATE-1783751369060-1",
              "https://example.com/track/MULTI-CREATE-1783751369060-2"))
    (read,) = session["downstreamRead"]["response"]["data"]["order"]["fulfillments"]
    tracking = graphql_tracking(read["trackingInfo"], "trackingInfo")
    assert tracking.carrier == "UPS" and tracking.numbers == ("MULTI-UPDATE-1783751369060-1",
                                                              "MULTI-UPDATE-1783751369060-2")
    hydrate = session["setup"]["hydrateBeforeFulfillmentCreate"]["response"]["data"]["fulfillmentOrder"]
    assert graphql_fulfillment_orders([hydrate]) == [OpenLine(
        fulfillment_order_id="gid://shopify/FulfillmentOrder/9878523576626",
        fulfillment_order_line_id="gid://shopify/FulfillmentOrderLineItem/20096549323058",
        line_ref="gid://shopify/LineItem/19925623144754", remaining=2)]


def test_captured_cancel_lifecycle(platform_specs: Path) -> None:
    session = capture(platform_specs, "fulfillment-cancel-parity.json")
    order_ref = "gid://shopify/Order/8731439890738"
    before = session["setup"]["hydrateBeforeCancel"]["response"]["data"]["order"]
    after = session["downstreamRead"]["response"]["data"]["order"]
    (active,) = [graphql_fulfillment(f, order_ref) for f in before["fulfillments"]]
    (cancelled,) = [graphql_fulfillment(f, order_ref) for f in after["fulfillments"]]
    assert not active.cancelled and cancelled.cancelled
    assert cancelled.fulfillment_ref == "gid://shopify/Fulfillment/7879285309746"
    assert cancelled.lines == (FulfillmentLine(line_ref="gid://shopify/LineItem/19305079374130", quantity=1),)
    assert cancelled.tracking == Tracking(carrier="Hermes", numbers=("CANCEL-PARITY-UPDATED-1778031860965",),
                                          urls=("https://example.com/track/CANCEL-PARITY-UPDATED-1778031860965",))
    assert cancelled.updated_at == datetime(2026, 5, 6, 1, 44, 25, tzinfo=UTC)
    # after the cancel the units are open on a new fulfillment order; the closed one offers nothing
    nodes = [fo | {"supportedActions": [{"action": "CREATE_FULFILLMENT"}] if fo["status"] == "OPEN" else []}
             for fo in after["fulfillmentOrders"]["nodes"]]
    (open_line,) = graphql_fulfillment_orders(nodes)
    assert open_line.fulfillment_order_id == "gid://shopify/FulfillmentOrder/9654847504690"


def test_graphql_order_from_a_captured_read_plus_line_items(platform_specs: Path) -> None:
    session = capture(platform_specs, "fulfillment-cancel-parity.json")
    order = dict(session["downstreamRead"]["response"]["data"]["order"])
    order["lineItems"] = {"nodes": [{"id": "gid://shopify/LineItem/19305079374130", "sku": "S", "quantity": 1,
                                     "currentQuantity": 1, "title": "Fulfillment state item cancel-parity"}]}
    parsed = graphql_order(order)
    assert parsed.order_ref == "gid://shopify/Order/8731439890738" and parsed.number == "#1167"
    assert parsed.email == "fulfillment-state-cancel-parity-1778031863779@example.com"
    assert parsed.updated_at == datetime(2026, 5, 6, 1, 44, 25, tzinfo=UTC) and not parsed.cancelled


# -- what we send ------------------------------------------------------------------------------------------

def _shape(value: Any) -> Any:
    """The structure of a JSON value: keys of objects, the element shape of lists, the type of scalars."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


@pytest.mark.asyncio
async def test_sent_variables_have_the_shape_of_the_captured_real_requests(platform_specs: Path) -> None:
    session = capture(platform_specs, "fulfillment-multi-tracking-info.json")
    sdl = str(platform_specs / "shopify/admin-graphql/2026-07/schema.graphql")
    app = make_app(sdl)
    order = store(app).place_order([NewLine(title="Item", sku="S", quantity=2)])
    transport = CheckingTransport(httpx.ASGITransport(app=app), schemas_for(sdl))
    shopify = connector(app, transport=transport)
    line = f"gid://shopify/LineItem/{order.line_items[0].id}"
    tracking = Tracking(carrier="Hermes", numbers=("N-1", "N-2"), urls=("https://e.example/1", "https://e.example/2"))
    ref = await shopify.create_fulfillment(f"gid://shopify/Order/{order.id}", FulfillmentRequest(
        our_fulfillment_id="f", lines=(FulfillmentLine(line_ref=line, quantity=2),), tracking=tracking))
    await shopify.update_tracking(f"gid://shopify/Order/{order.id}", ref,
                                  Tracking(carrier="UPS", numbers=("1Z1", "1Z2")))
    await shopify.aclose()
    assert transport.problems == []
    sent = {body["operationName"]: body["variables"] for body in transport.sent}

    captured = session["fulfillmentCreate"]["variables"]["fulfillment"]
    ours = sent["CreateFulfillment"]["fulfillment"]
    assert _shape(ours["trackingInfo"]) == _shape(captured["trackingInfo"])
    assert ours["notifyCustomer"] is False and _shape(captured["notifyCustomer"]) == "bool"
    (group,) = ours["lineItemsByFulfillmentOrder"]
    (captured_group,) = captured["lineItemsByFulfillmentOrder"]
    assert set(captured_group) <= set(group) and group["fulfillmentOrderLineItems"][0]["quantity"] == 2
    captured_update = session["fulfillmentTrackingInfoUpdate"]["variables"]
    assert set(sent["UpdateTracking"]) == set(captured_update)
    assert set(sent["UpdateTracking"]["trackingInfoInput"]) <= set(captured_update["trackingInfoInput"])


def test_tracking_input_follows_shopifys_carrier_rules() -> None:
    assert tracking_input(Tracking()) is None
    assert tracking_input(Tracking(carrier="UPS", numbers=("1Z1", "1Z2"))) == {
        "company": "UPS", "numbers": ["1Z1", "1Z2"]}  # Shopify builds UPS URLs itself
    partial = tracking_input(Tracking(carrier="Hermes", numbers=("A", "B"), urls=("https://h.example/A", None)))
    assert partial == {"company": "Hermes", "numbers": ["A", "B"]}  # never urls that do not pair with numbers
    assert tracking_input(Tracking(carrier="UPS", numbers=("1Z1",), urls=("https://u.example/1Z1",))) == {
        "company": "UPS", "numbers": ["1Z1"], "urls": ["https://u.example/1Z1"]}

"""Magento payloads through the connector's pure parsers and builders, checked against the official schema.

The documented ship request (AdobeDocs tutorial, copied under tests/fixtures and also read from the shared
specs folder) goes through the simulated store's request handling; the order and shipment payloads below are
written in the shape of `sales-data-order-interface` / `sales-data-shipment-interface` and validated against
the schema before they are parsed, so they cannot drift from it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.magento import comments, payloads
from connectors.magento.parse import (
    PayloadError,
    order_item_refs,
    our_fulfillment_refs,
    parse_datetime,
    parse_order,
    parse_search_result,
    parse_shipment,
    read_carrier,
    render_error,
)
from sandbox.magento.app import parse_ship_request
from schemas.platform import Address, FulfillmentLine, FulfillmentRequest, NewOrder, SellerLine, Tracking
from tests.support.magento_store import SHIP_EXAMPLE, MagentoSpec, SpecViolation, magento_spec

ORDER: dict[str, Any] = {
    "entity_id": 12, "increment_id": "000000012", "state": "processing", "status": "processing",
    "created_at": "2026-05-01 09:15:00", "updated_at": "2026-05-02 10:30:45", "customer_email": "ada@example.com",
    "base_grand_total": 89.5, "grand_total": 89.5, "ext_order_id": "fulfillsync:ord-42",
    "shipping_description": "Flat Rate - Fixed",
    "items": [
        {"item_id": 31, "sku": "TEE-M-RED", "name": "Tee", "qty_ordered": 2, "qty_canceled": 1, "qty_shipped": 0,
         "product_type": "configurable", "ext_order_item_id": "line-1"},
        {"item_id": 32, "sku": "TEE-M-RED", "name": "Tee", "qty_ordered": 2, "parent_item_id": 31,
         "product_type": "simple"},
        {"item_id": 33, "sku": "MUG", "name": "Mug", "qty_ordered": 1.0, "product_type": "simple",
         "ext_order_item_id": "line-2"},
    ],
    "extension_attributes": {"shipping_assignments": [{"items": [], "shipping": {
        "method": "flatrate_flatrate",
        "address": {"address_type": "shipping", "firstname": "Ada", "lastname": "Lovelace", "company": "AE Ltd",
                    "street": ["12 Analytical Row", "Flat 2"], "city": "London", "postcode": "N1 9GU",
                    "country_id": "gb", "region": "Greater London", "telephone": "+44 20 7946 0000"}}}]},
}

SHIPMENT: dict[str, Any] = {
    "entity_id": 7, "increment_id": "000000007", "order_id": 12, "created_at": "2026-05-02 11:00:00",
    "updated_at": "2026-05-02 11:00:00",
    "items": [{"order_item_id": 31, "qty": 1, "sku": "TEE-M-RED"}, {"order_item_id": 33, "qty": 0, "sku": "MUG"}],
    "tracks": [
        {"entity_id": 70, "order_id": 12, "parent_id": 7, "weight": 0, "qty": 1, "description": "",
         "track_number": "1Z001", "title": "United Parcel Service", "carrier_code": "ups",
         "created_at": "2026-05-02 11:00:00", "updated_at": "2026-05-02 11:05:00"},
        {"entity_id": 71, "order_id": 12, "parent_id": 7, "weight": 0, "qty": 1, "description": "",
         "track_number": "1Z002", "title": "United Parcel Service", "carrier_code": "ups",
         "created_at": "2026-05-02 11:00:00"}],
    "comments": [
        {"entity_id": 2, "parent_id": 7, "is_customer_notified": 0, "is_visible_on_front": 1,
         "created_at": "2026-05-02 12:00:00", "comment": "Tracking updated by fulfillsync\nTracking 1Z001: https://b"},
        {"entity_id": 1, "parent_id": 7, "is_customer_notified": 1, "is_visible_on_front": 1,
         "created_at": "2026-05-02 11:00:00",
         "comment": "Shipped by fulfillsync [ref fulfillsync:ful-9]\nTracking 1Z001: https://a"}],
}


@pytest.fixture(scope="module")
def spec() -> MagentoSpec:
    return magento_spec()


def definition(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


# -- the documented ship request -------------------------------------------------------------------------------

def ship_example_checks(example: Any, spec: MagentoSpec) -> None:
    spec.check_request("POST", "/V1/order/3/ship", [], example)
    items, tracks, comment, notify = parse_ship_request(example)
    assert items == [(3, 1.0), (5, 1.0), (11, 1.0)] and notify is True and comment is None
    assert tracks == [{"track_number": "1Y-9876543210", "title": "United Parcel Service", "carrier_code": "ups"}]
    built = payloads.ship_body(FulfillmentRequest(
        our_fulfillment_id="f", notify_customer=True, tracking=Tracking(carrier="UPS", numbers=("1Y-9876543210",)),
        lines=tuple(FulfillmentLine(line_ref=str(ref), quantity=1) for ref in (3, 5, 11))))
    spec.check_request("POST", "/V1/order/3/ship", [], built)
    assert built["items"] == example["items"] and built["notify"] == example["notify"]
    assert [{k: t[k] for k in ("track_number", "carrier_code")} for t in built["tracks"]] == \
        [{k: t[k] for k in ("track_number", "carrier_code")} for t in example["tracks"]]
    assert parse_ship_request(built)[:2] == (items, built["tracks"])


def test_the_copied_ship_example_parses_in_the_store_and_matches_what_we_build(spec: MagentoSpec) -> None:
    ship_example_checks(json.loads(SHIP_EXAMPLE.read_text(encoding="utf-8")), spec)


def test_the_shared_ship_example_and_the_248_schema(platform_specs: Path, spec: MagentoSpec) -> None:
    shared = platform_specs / "magento"
    ship_example_checks(json.loads((shared / "examples" / "order-ship.request.example.json").read_text()), spec)
    with (shared / "admin-schema-2.4.8.yaml").open("rb") as raw:
        older = MagentoSpec(yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    older.check_request("POST", "/V1/orders", [], payloads.order_body(NEW_ORDER, "USD"))
    older.check_request("POST", "/V1/shipment/track", [], payloads.track_body(1, 2, payloads.tracks(
        Tracking(carrier="USPS", numbers=("94001",)))[0], 1))
    older.validate(definition("sales-data-order-interface"), ORDER, "order")


def test_the_validator_rejects_what_the_schema_forbids(spec: MagentoSpec) -> None:
    with pytest.raises(SpecViolation, match="title"):
        spec.check_request("POST", "/V1/order/3/ship", [], {"tracks": [{"track_number": "1", "carrier_code": "x"}]})
    with pytest.raises(SpecViolation, match="not in the schema"):
        spec.check_request("GET", "/V1/orders", [("searchCriteria[page]", "1")], None)
    with pytest.raises(SpecViolation, match="not an operation"):
        spec.check_request("PATCH", "/V1/orders/1", [], None)


# -- orders ----------------------------------------------------------------------------------------------------

def test_an_order_parses_into_top_level_lines_and_our_reference(spec: MagentoSpec) -> None:
    spec.validate(definition("sales-data-order-interface"), ORDER, "order")
    order = parse_order(ORDER)
    assert order.order_ref == "12" and order.number == "000000012" and order.our_order_id == "ord-42"
    assert order.updated_at == datetime(2026, 5, 2, 10, 30, 45, tzinfo=UTC)
    assert order.created_at == datetime(2026, 5, 1, 9, 15, tzinfo=UTC)
    assert [(line.line_ref, line.sku, line.quantity, line.cancelled_quantity) for line in order.lines] == \
        [("31", "TEE-M-RED", 2, 1), ("33", "MUG", 1, 0)]
    assert order.shipping_address == Address(
        name="Ada Lovelace", company="AE Ltd", lines=("12 Analytical Row", "Flat 2"), city="London",
        region="Greater London", postal_code="N1 9GU", country_code="GB", phone="+44 20 7946 0000")
    assert order.shipping_method == "Flat Rate - Fixed" and order.email == "ada@example.com"
    assert not order.cancelled
    assert order_item_refs(ORDER) == {"line-1": "31", "line-2": "33"}


def test_a_foreign_ext_order_id_is_not_ours_and_canceled_state_is_cancelled() -> None:
    order = parse_order({**ORDER, "ext_order_id": "AMZ-113-555", "state": "canceled",
                         "extension_attributes": {}})
    assert order.our_order_id is None and order.cancelled and order.shipping_address is None


@pytest.mark.parametrize(("change", "says"), [
    ({"entity_id": None}, "order.entity_id"),
    ({"updated_at": "02/05/2026"}, "order 12.updated_at"),
    ({"items": [{"item_id": 1, "sku": "A", "qty_ordered": 1.5}]}, "not a whole number"),
    ({"items": "none"}, "order 12.items: expected an array"),
])
def test_broken_orders_raise_payload_errors_naming_the_field(change: dict[str, Any], says: str) -> None:
    with pytest.raises(PayloadError, match=says):
        parse_order({**ORDER, **change})


def test_search_envelopes() -> None:
    result = parse_search_result({"items": [ORDER], "total_count": 41, "search_criteria": {}}, "orders")
    assert result.total_count == 41 and result.items[0]["entity_id"] == 12
    with pytest.raises(PayloadError, match="no items"):
        parse_search_result({"total_count": 1}, "orders")
    with pytest.raises(PayloadError, match="expected an object"):
        parse_search_result([], "orders")


# -- shipments -------------------------------------------------------------------------------------------------

def test_a_shipment_parses_with_tracks_urls_and_its_newest_time(spec: MagentoSpec) -> None:
    spec.validate(definition("sales-data-shipment-interface"), SHIPMENT, "shipment")
    shipment = parse_shipment(SHIPMENT)
    assert shipment.fulfillment_ref == "7" and shipment.order_ref == "12" and not shipment.cancelled
    assert shipment.lines == (FulfillmentLine(line_ref="31", quantity=1),)  # qty 0 items are left out
    assert shipment.tracking == Tracking(carrier="UPS", numbers=("1Z001", "1Z002"), urls=("https://b", None))
    assert shipment.updated_at == datetime(2026, 5, 2, 12, 0, tzinfo=UTC)  # the newest comment


def test_cancel_and_reinstate_comments_decide_cancelled() -> None:
    def with_comments(*texts: str, tracks: bool = False) -> Any:
        notes = [{"entity_id": n, "parent_id": 7, "is_customer_notified": 0, "is_visible_on_front": 0,
                  "created_at": f"2026-05-03 10:00:0{n}", "comment": text} for n, text in enumerate(texts)]
        return {**SHIPMENT, "tracks": SHIPMENT["tracks"] if tracks else [], "comments": notes}

    cancel, reinstate = comments.cancelled("ful-9"), comments.reinstated("ful-10", (), ())
    assert parse_shipment(with_comments(cancel)).cancelled
    assert not parse_shipment(with_comments(cancel, reinstate)).cancelled
    assert parse_shipment(with_comments(cancel, reinstate, "Fulfillment cancelled by the merchant")).cancelled
    assert not parse_shipment(with_comments(cancel, tracks=True)).cancelled  # tracks back: active
    assert not parse_shipment(with_comments()).cancelled  # no tracks, no comment: a shipment without tracking
    assert comments.references([cancel, reinstate]) == {"ful-9", "ful-10"}
    assert our_fulfillment_refs(with_comments(cancel, reinstate)) == ["ful-9", "ful-10"]


def test_carriers_round_trip_through_magentos_codes_and_titles() -> None:
    for carrier in ("UPS", "USPS", "FedEx", "DHL Express", None):
        (track,) = payloads.tracks(Tracking(carrier=carrier, numbers=("1",)))
        assert read_carrier(track["title"], track["carrier_code"]) == carrier
    (evri,) = payloads.tracks(Tracking(carrier="Evri", numbers=("1",)))
    assert evri == {"track_number": "1", "title": "Evri", "carrier_code": "custom"}
    assert read_carrier("Evri", "custom") == "Evri"


# -- errors, dates, bodies -------------------------------------------------------------------------------------

def test_error_bodies_are_rendered_with_their_parameters() -> None:
    assert render_error({"message": "The consumer isn't authorized to access %resources.",
                         "parameters": {"resources": "Magento_Sales::sales"}}) == \
        "The consumer isn't authorized to access Magento_Sales::sales."
    assert render_error({"message": 'Invalid value of "%1" provided for the %2 field.',
                         "parameters": ["abc", "pageSize"]}) == \
        'Invalid value of "abc" provided for the pageSize field.'
    assert render_error({"message": "%1 and %2", "parameters": ["one"]}) == "one and %2"
    assert render_error({"message": "Validation failed", "errors": [{"message": "%f is bad",
                                                                     "parameters": {"f": "qty"}}]}) == \
        "Validation failed; qty is bad"
    assert render_error({"error": "x"}) == "" and render_error("text") == ""


def test_datetimes_are_utc_magento_strings() -> None:
    assert parse_datetime("2026-05-01 00:00:00", "x") == datetime(2026, 5, 1, tzinfo=UTC)
    assert payloads.search_params([[payloads.Filter("updated_at", "2026-05-01 00:00:00", "gteq")]],
                                  page_size=300, page=2) == {
        "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
        "searchCriteria[filter_groups][0][filters][0][value]": "2026-05-01 00:00:00",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
        "searchCriteria[pageSize]": "300", "searchCriteria[currentPage]": "2"}
    with pytest.raises(ValueError, match=r"outside 1\.\.300"):
        payloads.search_params([], page_size=301, page=1)
    with pytest.raises(PayloadError):
        parse_datetime(None, "x")


NEW_ORDER = NewOrder(our_order_id="ord-1", lines=(SellerLine(line_ref="l1", sku="S1", quantity=3),))


def test_the_order_body_is_valid_without_email_or_phone(spec: MagentoSpec) -> None:
    body = payloads.order_body(NEW_ORDER, "USD")
    spec.check_request("POST", "/V1/orders", [], body)
    entity = body["entity"]
    assert entity["ext_order_id"] == "fulfillsync:ord-1"
    assert entity["customer_email"] == "dropship+ord-1@fulfillsync.invalid"
    assert entity["billing_address"]["telephone"] == "n/a"
    (item,) = entity["items"]
    assert {key: item[key] for key in ("sku", "name", "qty_ordered", "price", "base_price", "row_total",
                                       "product_type", "ext_order_item_id")} == {
        "sku": "S1", "name": "S1", "qty_ordered": 3, "price": 0, "base_price": 0, "row_total": 0,
        "product_type": "simple", "ext_order_item_id": "l1"}
    assert "product_id" not in item and entity["order_currency_code"] == "USD"

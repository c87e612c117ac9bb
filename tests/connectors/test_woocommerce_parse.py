"""The WooCommerce parsers on real documented payloads and on broken ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.woocommerce import parse
from connectors.woocommerce.payloads import PayloadError, core_fulfillment_meta, order_body, shipment_tracking_bodies
from schemas.platform import Address, CatalogVariant, FulfillmentLine, NewOrder, SellerLine, Tracking

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "platform-specs" / "woocommerce" / \
    "order.retrieve.example.json"


def example() -> Any:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_the_documented_order_example_parses() -> None:
    order = parse.parse_order(example())
    assert order.order_ref == "727" and order.number == "727"
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)  # date_modified_gmt, not local
    assert order.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert [(line.line_ref, line.sku, line.quantity, line.title) for line in order.lines] == [
        ("315", None, 2, "Woo Single #1"),
        ("316", "Bar3", 1, "Ship Your Idea \u2013 Color: Black, Size: M Test")]  # `&ndash;` unescaped
    assert order.shipping_address == Address(name="John Doe", lines=("969 Market",), city="San Francisco",
                                             region="CA", postal_code="94103", country_code="US")
    assert order.email == "john.doe@example.com" and order.phone == "(555) 555-5555"
    assert order.shipping_method == "Flat Rate"
    assert not order.cancelled and order.our_order_id is None
    assert parse.line_markers(example()) == {}


def test_the_shared_spec_folder_holds_the_same_example(platform_specs: Path) -> None:
    shared = platform_specs / "woocommerce" / "examples" / "order.retrieve.example.json"
    assert parse.parse_order(json.loads(shared.read_text(encoding="utf-8"))) == parse.parse_order(example())


@pytest.mark.parametrize(("status", "cancelled"), [
    ("processing", False), ("completed", False), ("on-hold", False), ("cancelled", True), ("refunded", True),
    ("trash", True)])
def test_cancelled_statuses(status: str, cancelled: bool) -> None:
    assert parse.parse_order({**example(), "status": status}).cancelled is cancelled


def test_our_markers_are_read() -> None:
    raw = example()
    raw["meta_data"].append({"id": 9, "key": "fulfillsync_order_id", "value": "ord-7"})
    raw["line_items"][1]["meta_data"].append({"id": 10, "key": "fulfillsync_line_id", "value": "line-b"})
    assert parse.parse_order(raw).our_order_id == "ord-7"
    assert parse.line_markers(raw) == {"line-b": "316"}


@pytest.mark.parametrize(("change", "field"), [
    (lambda o: o.pop("date_modified_gmt"), "order 727.date_modified_gmt"),
    (lambda o: o.update(date_modified_gmt="22/03/2017"), "order 727.date_modified_gmt"),
    (lambda o: o.update(line_items={"id": 1}), "order 727.line_items"),
    (lambda o: o["line_items"][0].update(quantity="two"), "order 727.line_items[0].quantity"),
    (lambda o: o["line_items"][0].update(quantity=1.5), "order 727.line_items[0].quantity"),
    (lambda o: o["line_items"][1].pop("id"), "order 727.line_items[1].id"),
    (lambda o: o.pop("id"), "order ?.id"),
])
def test_a_broken_order_names_the_field(change: Any, field: str) -> None:
    raw = example()
    change(raw)
    with pytest.raises(parse.ShapeError) as broken:
        parse.parse_order(raw)
    assert str(broken.value).startswith(field)


def test_shipment_tracking_items_parse_and_group() -> None:
    raw = [{"tracking_id": "b4f2a1c0d9e8f7a6b5c4d3e2f1a0b9c8", "tracking_provider": "Fedex",
            "tracking_link": "https://www.fedex.com/apps/fedextrack/?tracknumbers=7489", "tracking_number": "7489",
            "date_shipped": "2026-05-01"},
           {"tracking_id": "c4f2a1c0d9e8f7a6b5c4d3e2f1a0b9c8", "tracking_provider": "Fedex", "tracking_link": "",
            "tracking_number": "7490", "date_shipped": "2026-05-01"}]
    items = parse.parse_tracking_items(raw)
    assert [i.number for i in items] == ["7489", "7490"]
    assert parse.tracking_of_items(items) == Tracking(
        carrier="FedEx", numbers=("7489", "7490"),
        urls=("https://www.fedex.com/apps/fedextrack/?tracknumbers=7489", None))
    with pytest.raises(parse.ShapeError, match=r"shipment-trackings\[0\].tracking_id"):
        parse.parse_tracking_items([{"tracking_number": "1"}])


def test_a_core_fulfillment_in_the_documented_shape_parses() -> None:
    raw: dict[str, Any] = {
           "id": 2, "entity_type": "WC_Order", "entity_id": "123", "status": "fulfilled", "is_fulfilled": True,
           "date_updated": "2024-01-15T11:45:00", "date_deleted": None,
           "meta_data": [{"id": 3, "key": "_items", "value": [{"item_id": 456, "qty": 2}, {"item_id": 789, "qty": 1}]},
                         {"id": 4, "key": "_tracking_number", "value": "1Z999AA1234567890"},
                         {"id": 5, "key": "_shipping_provider", "value": "ups"},
                         {"id": 6, "key": "_tracking_url", "value": "https://www.ups.com/track?tracknum=1Z999AA1234567890"}]}
    found = parse.parse_core_fulfillment(raw)
    assert (found.fulfillment_id, found.order_ref, found.is_fulfilled, found.deleted_at) == ("2", "123", True, None)
    assert found.lines == (FulfillmentLine(line_ref="456", quantity=2), FulfillmentLine(line_ref="789", quantity=1))
    assert found.tracking == Tracking(carrier="UPS", numbers=("1Z999AA1234567890",),
                                      urls=("https://www.ups.com/track?tracknum=1Z999AA1234567890",))
    assert found.updated_at == datetime(2024, 1, 15, 11, 45, tzinfo=UTC)
    deleted = parse.parse_core_fulfillment({**raw, "date_deleted": "2024-01-16T08:00:00"})
    assert deleted.deleted_at == datetime(2024, 1, 16, 8, tzinfo=UTC)
    # the README's spelling of the provider key is read too
    other = {**raw, "meta_data": [*raw["meta_data"][:2], {"key": "_shipment_provider", "value": "fedex"}]}
    assert parse.parse_core_fulfillment(other).tracking.carrier == "FedEx"


def test_what_we_write_reads_back_the_same() -> None:
    tracking = Tracking(carrier="DHL Express", numbers=("JD1", "JD2"), urls=("https://dhl.test/1", None))
    lines = (FulfillmentLine(line_ref="31", quantity=2),)
    raw = {"id": 8, "entity_id": "5", "is_fulfilled": True, "date_updated": "2026-05-01T00:00:00",
           "meta_data": core_fulfillment_meta("ful-9", lines, tracking)}
    back = parse.parse_core_fulfillment(raw)
    assert back.lines == lines and back.our_fulfillment_id == "ful-9"
    assert back.tracking.carrier == "DHL Express" and back.tracking.numbers == ("JD1", "JD2")
    assert back.tracking.urls[0] == "https://dhl.test/1"
    assert back.tracking.urls[1] is None


def test_shipment_tracking_bodies_use_known_providers_or_custom_ones() -> None:
    assert shipment_tracking_bodies(Tracking(carrier="FedEx", numbers=("1",))) == [
        {"tracking_number": "1", "tracking_provider": "Fedex"}]
    assert shipment_tracking_bodies(Tracking(carrier="Acme", numbers=("A",), urls=("https://a.test/A",))) == [
        {"tracking_number": "A", "custom_tracking_provider": "Acme", "custom_tracking_link": "https://a.test/A"}]


def test_an_order_body_refuses_lines_it_cannot_place() -> None:
    order = NewOrder(our_order_id="o", lines=(SellerLine(line_ref="l", sku=None, quantity=1),))
    with pytest.raises(PayloadError, match="neither a catalog item nor a SKU"):
        order_body(order)
    foreign = CatalogVariant(sku="MUG", product_ref="gid://shopify/Product/1", variant_ref="gid://x/2")
    with pytest.raises(PayloadError, match="not a WooCommerce product"):
        order_body(NewOrder(our_order_id="o", lines=(SellerLine(line_ref="l", sku="MUG", quantity=1,
                                                                variant=foreign),)))


def test_the_rest_index_tells_which_tracking_api() -> None:
    core = {"namespaces": ["wc/v3"], "routes": {"/wc/v3/orders/(?P<order_id>[\\d]+)/fulfillments": {}}}
    wcst = {"namespaces": ["wc/v3", "wc-shipment-tracking/v3"], "routes": {}}
    both = {"namespaces": wcst["namespaces"], "routes": core["routes"]}
    assert parse.tracking_api_from_index(core) == "fulfillments"
    assert parse.tracking_api_from_index(wcst) == "shipment-tracking"
    assert parse.tracking_api_from_index(both) == "fulfillments"
    assert parse.tracking_api_from_index({"namespaces": ["wc/v3"], "routes": {"/wc/v3/orders": {}}}) is None


def test_error_messages() -> None:
    def response(body: str, status: int = 400) -> httpx.Response:
        return httpx.Response(status, text=body)

    assert parse.error_message(response(
        '{"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page", "data": {"status": 400, '
        '"params": {"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"}}}')) == (
        "Invalid parameter(s): per_page per_page: per_page must be between 1 (inclusive) and 100 (inclusive) "
        "(rest_invalid_param)")
    assert parse.error_message(response('{"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot '
                                        'list resources.", "data": {"status": 401}}', 401)) == (
        "Sorry, you cannot list resources. (woocommerce_rest_cannot_view)")
    assert parse.error_message(response("<html>429 Too Many Requests</html>", 429)) == ""
    assert parse.error_message(response("[1, 2]")) == ""

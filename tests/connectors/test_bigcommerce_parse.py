"""The BigCommerce parsers and planners on the real example payloads (read from the platform specs folder: they
carry no licence, so they are not copied) and on hand-made edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.bigcommerce import parse, plan
from schemas.platform import Address, FulfillmentLine, NewOrder, SellerLine, Tracking
from tests.support.bigcommerce_store import SpecCheckingTransport, load_spec


def _example(folder: Path, name: str) -> Any:
    return json.loads((folder / "bigcommerce" / "examples" / name).read_text(encoding="utf-8"))


def test_products_example_parses_into_lines(platform_specs: Path) -> None:
    lines = parse.parse_lines(_example(platform_specs, "orderProductsCollection_Resp.example.json"))
    assert [(x.line_ref, x.sku, x.quantity, x.cancelled_quantity, x.title) for x in lines] == [
        ("65", "S-ORAN", 1, 0, "Fog Linen Chambray Towel - Beige Stripe"),
        ("66", "ABS", 1, 0, "Able Brewing System")]


def test_shipment_collection_example_parses_into_fulfillments(platform_specs: Path) -> None:
    found = parse.parse_fulfillments("225", _example(platform_specs, "orderShipmentCollection_Resp.example.json"))
    assert [f.fulfillment_ref for f in found] == ["6", "7"]  # unmarked: each shipment is one fulfillment
    first = found[0]
    assert first.order_ref == "225" and not first.cancelled
    assert first.updated_at == datetime(2019, 3, 11, 17, 22, 8, tzinfo=UTC)
    assert first.lines == (FulfillmentLine(line_ref="188", quantity=1),)
    assert first.tracking == Tracking(
        carrier="USPS", numbers=("EJ958083578US",),
        urls=("https://trkcnfrm1.smi.usps.com/PTSInternetWeb/InterLabelInquiry.do?strOrigTrackNum=EJ958083578US",))
    assert found[1].tracking.numbers == ("EJ958083578UK",) and found[1].lines[0].line_ref == "189"


def test_single_shipment_example_versioned_by_the_order(platform_specs: Path) -> None:
    shipment = _example(platform_specs, "orderShipment_Resp.example.json")
    modified = datetime(2019, 3, 14, tzinfo=UTC)
    [fulfillment] = parse.parse_fulfillments("228", [shipment], modified, known_refs=["11", "9"])[:1]
    assert fulfillment.lines == (FulfillmentLine(line_ref="194", quantity=1), FulfillmentLine(line_ref="195",
                                                                                               quantity=1))
    assert fulfillment.updated_at == modified
    vanished = parse.parse_fulfillments("228", [shipment], modified, known_refs=["11", "9"])[1]
    assert (vanished.fulfillment_ref, vanished.cancelled, vanished.updated_at) == ("9", True, modified)


@pytest.mark.parametrize(("name", "expected"), [
    ("store_shipment_created.json", ("store/shipment/created", "shipment", "12", "251", None)),
    ("store_order_updated.json", ("store/order/updated", "order", "250", "250", None)),
    ("store_order_statusUpdated.json", ("store/order/statusUpdated", "order", "250", "250", 11)),
])
def test_webhook_examples(platform_specs: Path, name: str, expected: tuple[Any, ...]) -> None:
    event = parse.parse_webhook(_example(platform_specs, name))
    assert (event.scope, event.resource_type, event.resource_id, event.order_ref, event.new_status_id) == expected
    assert event.store_id == "1025646" and len(event.hash) == 40 and event.created_at.year == 2019


@pytest.mark.parametrize("payload", [[], {"scope": "store/cart/created", "data": {"type": "cart", "id": 1}},
                                     {"scope": "store/shipment/created", "data": {"type": "shipment", "id": 1},
                                      "created_at": 1}])
def test_webhook_of_another_shape_is_refused(payload: object) -> None:
    with pytest.raises(parse.PayloadError):
        parse.parse_webhook(payload)


def test_marked_shipments_are_one_fulfillment() -> None:
    def shipment(sid: int, number: str, line: int, comments: str) -> dict[str, Any]:
        return {"id": sid, "order_id": 5, "date_created": "Mon, 11 Mar 2019 17:22:08 +0000", "comments": comments,
                "tracking_number": number, "shipping_provider": "", "tracking_carrier": "",
                "tracking_link": "", "generated_tracking_link": "", "shipping_method": "Acme Freight",
                "items": [{"order_product_id": line, "quantity": 1}]}
    marked = parse.with_marker("", "ff-1")
    found = parse.parse_fulfillments("5", [shipment(9, "B", 2, marked), shipment(3, "A", 1, marked),
                                           shipment(4, "C", 1, "seller's own")])
    assert [f.fulfillment_ref for f in found] == ["3", "4"]
    assert found[0].tracking == Tracking(carrier="Acme Freight", numbers=("A", "B"), urls=(None, None))
    assert found[0].lines == (FulfillmentLine(line_ref="1", quantity=1), FulfillmentLine(line_ref="2", quantity=1))
    assert found[1].tracking.carrier is None  # a seller's shipping method is not a carrier


def test_dates_and_errors() -> None:
    assert parse.parse_datetime("Tue, 20 Nov 2012 00:00:00 +0000", "x") == datetime(2012, 11, 20, tzinfo=UTC)
    assert parse.parse_datetime("2017-04-20T11:32:00.000-04:00", "x").utcoffset() is not None
    with pytest.raises(parse.PayloadError, match=r"x\.date"):
        parse.parse_datetime("", "x.date")
    assert parse.error_message([{"status": 400, "message": "The field 'items' is invalid."}]) == \
        "The field 'items' is invalid."
    assert parse.error_message({"title": "Too many requests"}) == "Too many requests"
    assert parse.error_message("nope") == ""


def test_units_split_so_each_shipment_has_one() -> None:
    lines = [FulfillmentLine(line_ref="1", quantity=3), FulfillmentLine(line_ref="2", quantity=2)]
    parts = plan.split_units(lines, 3)
    assert parts == [((1, 2),), ((1, 1), (2, 1)), ((2, 1),)]
    assert plan.split_units(lines, 5) == [((1, 1),)] * 3 + [((2, 1),)] * 2
    with pytest.raises(plan.PlanError, match="6 tracking numbers for 5 unit"):
        plan.split_units(lines, 6)


def test_tracking_fields_for_known_and_other_carriers() -> None:
    known = plan.tracking_fields(Tracking(carrier="Royal Mail", numbers=("RM1",)), 0)
    assert known == {"tracking_number": "RM1", "shipping_provider": "royalmail", "tracking_carrier": "royal-mail",
                     "tracking_link": ""}
    other = plan.tracking_fields(Tracking(carrier="Acme Freight", numbers=("D1",), urls=("https://acme.example/D1",)),
                                 0)
    assert other == {"tracking_number": "D1", "shipping_provider": "", "tracking_carrier": "",
                     "tracking_link": "https://acme.example/D1", "shipping_method": "Acme Freight"}
    with pytest.raises(plan.PlanError, match="at most 50"):
        plan.tracking_fields(Tracking(numbers=("9" * 51,)), 0)


def test_order_body_needs_an_address() -> None:
    order = NewOrder(our_order_id="o", lines=(SellerLine(line_ref="l", sku="S", quantity=1),))
    with pytest.raises(plan.PlanError, match="billing address"):
        plan.order_body(order)
    body = plan.order_body(order.model_copy(update={"shipping_address": Address(
        name="Ada", postal_code="12345", country_code="GB")}))
    assert body["external_order_id"] == "fulfillsync:o" and body["billing_address"]["zip"] == "12345"


@pytest.mark.asyncio
async def test_the_spec_check_itself_catches_departures(platform_specs: Path) -> None:
    """The validating transport is not a rubber stamp: a bad query and a mistyped body are findings."""
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": "not-a-number", "order_id": 1}])

    transport = SpecCheckingTransport(httpx.MockTransport(handler), load_spec(platform_specs))
    async with httpx.AsyncClient(transport=transport, base_url="http://x/stores/s/v2") as client:
        await client.get("/orders/1/shipments", headers={"Accept": "application/json"})
        await client.get("/orders", params={"sort": "colour:asc"}, headers={"Accept": "application/json"})
    assert any("response GET /stores/s/v2/orders/1/shipments" in p for p in transport.problems)
    assert any("request GET /stores/s/v2/orders" in p for p in transport.problems)


@given(st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=4), st.integers(min_value=1, max_value=30))
def test_split_units_keeps_every_unit_and_gives_each_part_one(quantities: list[int], parts: int) -> None:
    lines = [FulfillmentLine(line_ref=str(index + 1), quantity=q) for index, q in enumerate(quantities)]
    if parts > sum(quantities):
        with pytest.raises(plan.PlanError):
            plan.split_units(lines, parts)
        return
    split = plan.split_units(lines, parts)
    assert len(split) == parts and all(sum(q for _, q in part) >= 1 for part in split)
    totals: dict[int, int] = {}
    for part in split:
        for line, quantity in part:
            totals[line] = totals.get(line, 0) + quantity
    assert totals == {index + 1: q for index, q in enumerate(quantities)}
    sizes = [sum(q for _, q in part) for part in split]
    assert max(sizes) - min(sizes) <= 1

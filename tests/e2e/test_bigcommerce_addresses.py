"""A BigCommerce buyer order shipping to two addresses, through the whole loop on the real broker: two stored
orders (one per address), two seller orders each shipping to its own address and made of the seller's catalog
products, both fulfilled, two shipments on the buyer's order each to the address of its lines, and each stored
order Shipped once."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.merchant import Merchant, PlacedOrder
from tests.support.marketplace import Marketplace, buyer_id, marketplace, sku

pytestmark = pytest.mark.kafka

HOME = {"first_name": "Ada", "last_name": "Buyer", "street_1": "1 Main St", "city": "Springfield",
        "state": "Illinois", "zip": "62701", "country": "United States", "country_iso2": "US",
        "email": "ada@example.com", "shipping_method": "Ground"}
OFFICE = {**HOME, "first_name": "Grace", "last_name": "Office", "street_1": "2 Office Rd", "city": "Chicago",
          "zip": "60601", "shipping_method": "Express"}


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Marketplace]:
    with marketplace(tmp_path_factory.mktemp("addresses"), kafka_bootstrap, buyers=("bigcommerce",),
                     sellers=("bigcommerce",)) as running:
        yield running


def placed_for(market: Marketplace, buyer_order_ref: str) -> list[dict[str, Any]]:
    """The `order.placed` events of one buyer order (of the BigCommerce buyer), as published so far."""
    return [value for value in market.topics.of(market.names.order_events, kind="order.placed")
            if value["buyer"]["connection"] == buyer_id("bigcommerce")
            and value["buyer"]["order_ref"] == buyer_order_ref]


def shipped(market: Marketplace, order_id: str) -> list[dict[str, Any]]:
    return market.topics.of(market.names.shipped_orders, order_id, "order.shipped")


def test_an_order_to_two_addresses_is_two_seller_orders_and_two_shipments_each_to_its_address(
        market: Marketplace) -> None:
    buyer, seller = market.buyers["bigcommerce"], market.sellers["bigcommerce"]
    mug, cap = sku("bigcommerce", "MUG"), sku("bigcommerce", "CAP")
    stock_before = {name: seller.act(functools.partial(Merchant.inventory, sku=name)) for name in (mug, cap)}
    body = buyer.admin("POST", "/bigcommerce/orders", {
        "billing_address": HOME, "shipping_addresses": [HOME, OFFICE], "products": [
            {"name": "Mug", "sku": mug, "quantity": 2, "price_inc_tax": 10, "price_ex_tax": 10},
            {"name": "Cap", "sku": cap, "quantity": 1, "price_inc_tax": 10, "price_ex_tax": 10,
             "shipping_address_index": 1}]})
    home_id, office_id = (address["id"] for address in body["shipping_addresses"])
    order = PlacedOrder(str(body["id"]), int(body["id"]), {p["sku"]: str(p["id"]) for p in body["products"]})

    def both_placed() -> list[dict[str, Any]] | None:
        found = placed_for(market, order.order_ref)
        return found if len(found) == 2 else None

    events = market.wait_for(both_placed, "two order.placed for the buyer order, one per address")
    by_street = {event["shipping"]["address"]["lines"][0]: event for event in events}
    assert set(by_street) == {"1 Main St", "2 Office Rd"} and len({e["order_id"] for e in events}) == 2
    assert [line["sku"] for line in by_street["1 Main St"]["lines"]] == [mug]
    assert [line["sku"] for line in by_street["2 Office Rd"]["lines"]] == [cap]
    assert by_street["2 Office Rd"]["shipping"]["method"] == "Express"

    on_seller: dict[str, PlacedOrder] = {}
    for street, event in by_street.items():
        created = market.seller_order("bigcommerce", event["order_id"])
        raw = seller.admin("GET", f"/bigcommerce/orders/{created.admin_id}")
        [address] = raw["shipping_addresses"]
        assert address["street_1"] == street and raw["external_order_id"] == f"fulfillsync:{event['order_id']}"
        assert all(product["product_id"] for product in raw["products"])  # the seller's catalog products
        on_seller[street] = created
    assert seller.act(lambda m: m.inventory(mug)) == stock_before[mug] - 2
    assert seller.act(lambda m: m.inventory(cap)) == stock_before[cap] - 1

    seller.act(lambda m: m.fulfill(on_seller["1 Main St"], {mug: 2}, ["1Z999AA10000000001"], "UPS"))
    seller.act(lambda m: m.fulfill(on_seller["2 Office Rd"], {cap: 1}, ["1Z999AA10000000002"], "UPS"))

    def shipments() -> list[dict[str, Any]] | None:
        found = buyer.admin("GET", f"/bigcommerce/orders/{order.admin_id}")["shipments"]
        return found if len(found) == 2 else None

    written = market.wait_for(shipments, "two shipments on the buyer's order")
    products = {str(p["id"]): p["order_address_id"] for p in body["products"]}
    assert sorted((s["tracking_number"], s["order_address_id"]) for s in written) == [
        ("1Z999AA10000000001", home_id), ("1Z999AA10000000002", office_id)]
    for shipment in written:
        assert {products[str(item["order_product_id"])] for item in shipment["items"]} == {
            shipment["order_address_id"]}
    for event in events:
        market.wait_for(functools.partial(shipped, market, event["order_id"]),
                        f"stored order {event['order_id']} shipped")
    market.topics.read(2.0)
    assert [len(shipped(market, event["order_id"])) for event in events] == [1, 1]
    assert buyer.admin("GET", f"/bigcommerce/orders/{order.admin_id}")["status_id"] == 2
    assert market.topics.of(market.names.dead_letters) == [], market.worker.log_tail(200)

"""BigCommerce orders shipping to several addresses, through the connector and its simulated store (every exchange
checked against the official V2 spec): each line read with its address, each address with its shipping method, and
the tracking written back as shipments to the address of the lines they carry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import PermanentError
from connectors.bigcommerce import parse
from schemas.platform import Address, FulfillmentLine, FulfillmentRequest, OrderAddress, Tracking
from tests.support.bigcommerce_store import ADDRESS, Harness, harness, load_spec

OFFICE = {**ADDRESS, "first_name": "Grace", "last_name": "Hopper", "street_1": "2 Office Rd", "city": "Dallas",
          "zip": "75201", "phone": "555-0199", "shipping_method": "Express"}


@pytest.fixture
def h(platform_specs: Path) -> Iterator[Harness]:
    bench = harness(load_spec(platform_specs))
    yield bench
    assert bench.transport.problems == [], "\n".join(bench.transport.problems)


def two_addresses(h: Harness) -> Any:
    """A storefront order: A x2 and C x1 to the customer's home, B x3 to the office."""
    return h.store.place_order(
        [{"name": "A", "sku": "A", "quantity": 2}, {"name": "B", "sku": "B", "quantity": 3,
                                                    "shipping_address_index": 1},
         {"name": "C", "sku": "C", "quantity": 1}],
        billing_address=ADDRESS, shipping_addresses=[{**ADDRESS, "shipping_method": "Ground"}, OFFICE],
        multi_address=True)


@pytest.mark.asyncio
async def test_each_line_is_read_with_its_address_and_each_address_with_its_method(h: Harness) -> None:
    placed = two_addresses(h)
    home, office = (address.id for address in placed.addresses)
    [order] = (await h.connector(role="buyer").orders_changed_since(None)).items
    assert [(line.sku, line.address_ref) for line in order.lines] == [("A", str(home)), ("B", str(office)),
                                                                       ("C", str(home))]
    assert order.addresses == (
        OrderAddress(ref=str(home), shipping_method="Ground", address=Address(
            name="Ada Lovelace", lines=("1 Main St",), city="Austin", region="Texas", postal_code="78751",
            country_code="US", phone="555-0100")),
        OrderAddress(ref=str(office), shipping_method="Express", address=Address(
            name="Grace Hopper", lines=("2 Office Rd",), city="Dallas", region="Texas", postal_code="75201",
            country_code="US", phone="555-0199")))
    assert order.shipping_address == order.addresses[0].address and order.shipping_method == "Ground"


def test_an_address_without_an_id_is_unreadable_only_when_the_order_has_several() -> None:
    order = {"id": 7, "date_modified": "Tue, 20 Nov 2012 00:00:00 +0000",
             "date_created": "Tue, 20 Nov 2012 00:00:00 +0000", "status_id": 11}
    products = [{"id": 1, "quantity": 1, "sku": "A", "order_address_id": 0}]
    single = parse.parse_order(order, products, [{k: v for k, v in ADDRESS.items()}])
    assert single.addresses == () and single.lines[0].address_ref is None  # a digital item: no address
    with pytest.raises(parse.PayloadError, match=r"shipping_addresses\[1\]\.id"):
        parse.parse_order(order, products, [{**ADDRESS, "id": 1}, dict(ADDRESS)])


def _request(our_id: str, lines: dict[str, int], number: str) -> FulfillmentRequest:
    return FulfillmentRequest(our_fulfillment_id=our_id, tracking=Tracking(carrier="UPS", numbers=(number,)),
                              lines=tuple(FulfillmentLine(line_ref=ref, quantity=q) for ref, q in lines.items()))


@pytest.mark.asyncio
async def test_shipments_are_written_to_the_address_of_their_lines(h: Harness) -> None:
    placed = two_addresses(h)
    a, b, c = (str(product.id) for product in placed.products)
    home, office = (address.id for address in placed.addresses)
    connector = h.connector(role="buyer")
    order_ref = str(placed.id)

    to_office = await connector.create_fulfillment(order_ref, _request("f-office", {b: 3}, "1Z0000000000000001"))
    to_home = await connector.create_fulfillment(order_ref, _request("f-home", {a: 2, c: 1}, "1Z0000000000000002"))

    shipments = {s.id: s for s in placed.shipments.values()}
    assert shipments[int(to_office)].order_address_id == office
    assert shipments[int(to_home)].order_address_id == home
    assert placed.status_id == 2  # every unit shipped, each to its address
    assert await connector.find_fulfillment(order_ref, _request("f-office", {b: 3}, "1Z0000000000000001")) \
        == to_office
    # a tracking rewrite that needs new shipments keeps them at the same address
    grown = Tracking(carrier="UPS", numbers=("1Z0000000000000003", "1Z0000000000000004"))
    await connector.update_tracking(order_ref, to_office, grown)
    assert {s.order_address_id for s in placed.shipments.values() if s.items[0][0] == int(b)} == {office}

    with pytest.raises(PermanentError, match="2 shipping addresses"):
        await connector.create_fulfillment(order_ref, _request("f-both", {a: 1, b: 1}, "1Z0000000000000005"))

"""The Magento connector against the simulated Magento store, through the whole buyer and seller interface.

Every request the connector sends and every JSON answer the store gives is validated against the official
`admin-schema-2.4.9.yaml` by the transport in tests/support/magento_store.py (a violation fails the test)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from connectors.base import MalformedResponseError, PermanentError, RetryableError
from connectors.magento import MagentoConnector
from schemas.platform import (
    Address,
    FulfillmentLine,
    FulfillmentRequest,
    NewOrder,
    PlatformOrder,
    SellerLine,
    Tracking,
)
from tests.support.magento_store import SHIP_EXAMPLE, TOKEN, Harness, make_harness

pytestmark = pytest.mark.asyncio

ADDRESS = {"address_type": "shipping", "firstname": "Ada", "lastname": "Lovelace", "street": ["12 Analytical Row"],
           "city": "London", "postcode": "N1 9GU", "country_id": "GB", "telephone": "+44 20 7946 0000"}


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[Harness]:
    made = make_harness()
    yield made
    await made.close()


def place(h: Harness, *lines: tuple[str, int], advance_s: float = 10, **extra: Any) -> int:
    """Place an order `advance_s` seconds after the previous store event; returns its id."""
    h.app.sandbox.clock.advance(advance_s)
    order = h.store.place_order([{"sku": sku, "qty": qty, **extra} for sku, qty in lines], shipping_address=ADDRESS)
    return int(order.entity_id)


def item_ids(h: Harness, order_id: int) -> list[int]:
    return [item.item_id for item in h.store.order(order_id).items if item.parent_item_id is None]


async def walk(connector: MagentoConnector, cursor: str | None) -> tuple[list[PlatformOrder], str, int]:
    """Poll until has_more is False; the orders seen, the final cursor and the number of pages."""
    seen: list[PlatformOrder] = []
    pages = 0
    while True:
        page = await connector.orders_changed_since(cursor)
        pages += 1
        seen.extend(page.items)
        cursor = page.cursor
        if not page.has_more:
            return seen, cursor, pages
        assert pages < 50, "the walk does not end"


def request(our_id: str, lines: list[tuple[int, int]], tracking: Tracking | None = None,
            notify: bool = False) -> FulfillmentRequest:
    return FulfillmentRequest(our_fulfillment_id=our_id, notify_customer=notify, tracking=tracking or Tracking(),
                              lines=tuple(FulfillmentLine(line_ref=str(ref), quantity=qty) for ref, qty in lines))


# -- polling ---------------------------------------------------------------------------------------------------

async def test_poll_walks_pages_and_a_cursor_resumes_in_a_new_connector(harness: Harness) -> None:
    ids = [place(harness, ("SKU-0", 1))]
    harness.app.sandbox.clock.advance(600)  # the first order lies outside the next polls' 2-minute overlap
    ids += [place(harness, (f"SKU-{n}", n + 1)) for n in range(1, 7)]
    harness.app.sandbox.clock.advance(10)  # settled (connectors.cursor.SETTLE): remembered as seen
    first = await harness.connector(page_size=3).orders_changed_since(None)
    assert first.has_more and [o.order_ref for o in first.items] == [str(i) for i in ids[:3]]
    rest, cursor, pages = await walk(harness.connector(page_size=3), first.cursor)  # a new instance resumes
    assert [o.order_ref for o in [*first.items, *rest]] == [str(i) for i in ids]  # each once, oldest first
    assert pages == 2
    order = next(o for o in first.items if o.order_ref == str(ids[2]))
    assert order.number == f"{ids[2]:09d}" and order.lines[0].sku == "SKU-2" and order.lines[0].quantity == 3
    assert order.shipping_address is not None and order.shipping_address.name == "Ada Lovelace"
    assert order.shipping_address.country_code == "GB" and order.phone == "+44 20 7946 0000"

    # nothing changed: the overlap lists the newest orders again, unchanged, so none comes back
    harness.app.sandbox.clock.advance(600)
    quiet, cursor, _ = await walk(harness.connector(page_size=3), cursor)
    assert quiet == []
    late = place(harness, ("LATE", 1))
    harness.store.ship(ids[0], None)  # a shipment saves the order: its updated_at moves
    changed, cursor, _ = await walk(harness.connector(page_size=3), cursor)
    assert {str(late), str(ids[0])} <= {o.order_ref for o in changed}
    assert str(ids[0]) not in {o.order_ref for o in quiet}
    shipped = next(o for o in changed if o.order_ref == str(ids[0]))
    assert shipped.updated_at == harness.app.sandbox.clock.now()


async def test_an_order_edited_during_a_walk_cannot_push_another_out_of_it(harness: Harness) -> None:
    ids = [place(harness, (f"SKU-{n}", 1)) for n in range(6)]
    connector = harness.connector(page_size=2)
    page = await connector.orders_changed_since(None)
    seen = [o.order_ref for o in page.items]
    # the first order changes mid-walk: with currentPage offsets every later order would shift one place left
    # and the third order would never be read; keyset paging on updated_at cannot lose it
    harness.app.sandbox.clock.advance(5)
    harness.store.add_order_comment(ids[0], {"comment": "edited", "is_customer_notified": 0,
                                             "is_visible_on_front": 0, "parent_id": ids[0]})
    rest, _, _ = await walk(connector, page.cursor)
    seen += [o.order_ref for o in rest]
    assert set(seen) == {str(i) for i in ids}


async def test_a_change_committed_late_with_an_older_time_is_caught_by_the_overlap(harness: Harness) -> None:
    place(harness, ("A", 1))
    _, cursor, _ = await walk(harness.connector(), None)
    # a transaction that started before the poll commits after it: its updated_at is older than the newest
    # time the poll saw, but within the 2-minute overlap
    harness.app.sandbox.clock.advance(-90)
    late = place(harness, ("LATE", 1), advance_s=0)
    seen, _, _ = await walk(harness.connector(), cursor)
    assert str(late) in {o.order_ref for o in seen}


async def test_the_stores_own_rate_limit_is_waited_out() -> None:
    h = make_harness(requests_per_s=2)
    try:
        for n in range(5):
            place(h, (f"S{n}", 1))
        waits: list[float] = []

        async def sleep(seconds: float) -> None:  # waiting moves the store's clock instead of real time
            waits.append(seconds)
            h.app.sandbox.clock.advance(max(seconds, 0.01))

        seen, _, pages = await walk(h.connector(page_size=1, sleep=sleep), None)
        assert len({o.order_ref for o in seen}) == 5 and pages == 5
        assert h.requests("GET /rest/default/V1/orders") > pages  # some answers were 429 and were retried
        assert any(wait >= 1 for wait in waits)  # the Retry-After of 1 s was honoured
    finally:
        await h.close()


async def test_orders_sharing_one_timestamp_are_each_read_once(harness: Harness) -> None:
    ids = [place(harness, (f"SKU-{n}", 1), advance_s=0) for n in range(5)]
    seen, _, pages = await walk(harness.connector(page_size=2), None)
    assert [int(o.order_ref) for o in seen] == ids
    assert pages == 3 and harness.requests("GET /rest/default/V1/orders") == 3


async def test_shipment_pages_stop_at_total_count_on_versions_that_repeat_the_last_page() -> None:
    h = make_harness(repeat_last_page=True)  # emulate Magento before 2.4.x: past the end, the last page again
    try:
        order_id = place(h, ("A", 5))
        (a,) = item_ids(h, order_id)
        for _ in range(5):
            h.store.ship(order_id, [(a, 1)])
        found = await h.connector(role="seller", page_size=2).fulfillments(str(order_id))
        assert [f.fulfillment_ref for f in found] == [str(s) for s in h.store.shipments]
        assert h.requests("GET /rest/default/V1/shipments") == 3  # stopped at 3 * 2 >= 5
    finally:
        await h.close()


async def test_cancelled_orders_and_configurable_items_are_parsed(harness: Harness) -> None:
    order_id = place(harness, ("SHIRT", 2), ("MUG", 3), child_sku="CHILD")
    harness.store.ship(order_id, [(item_ids(harness, order_id)[1], 1)])
    harness.store.cancel_order(order_id)
    seen, _, _ = await walk(harness.connector(), None)
    (order,) = seen
    assert [line.sku for line in order.lines] == ["SHIRT", "MUG"]  # the configurable children are left out
    assert [(line.quantity, line.cancelled_quantity) for line in order.lines] == [(2, 2), (3, 2)]
    assert not order.cancelled  # one unit was shipped, so Magento keeps it processing
    other = place(harness, ("CAP", 1))
    harness.store.cancel_order(other)
    seen, _, _ = await walk(harness.connector(), None)
    assert next(o for o in seen if o.order_ref == str(other)).cancelled


# -- seller side: reading fulfillments -------------------------------------------------------------------------

async def test_partial_shipments_with_several_tracks_edits_and_cancels_are_read(harness: Harness) -> None:
    order_id = place(harness, ("A", 3), ("B", 1))
    a, b = item_ids(harness, order_id)
    first = harness.store.ship(order_id, [(a, 2)], tracks=[
        {"track_number": "1Z001", "title": "United Parcel Service", "carrier_code": "ups"},
        {"track_number": "1Z002", "title": "United Parcel Service", "carrier_code": "ups"}])
    seller = harness.connector(role="seller")
    (only,) = await seller.fulfillments(str(order_id))
    assert only.fulfillment_ref == str(first.entity_id) and only.order_ref == str(order_id)
    assert only.lines == (FulfillmentLine(line_ref=str(a), quantity=2),)
    assert only.tracking == Tracking(carrier="UPS", numbers=("1Z001", "1Z002"), urls=(None, None))
    assert not only.cancelled

    harness.app.sandbox.clock.advance(30)
    harness.store.ship(order_id, [(a, 1), (b, 1)], tracks=[
        {"track_number": "9400111", "title": "USPS", "carrier_code": "usps"}])
    harness.app.sandbox.clock.advance(30)
    harness.store.edit_tracking(first.entity_id, [{"track_number": "1Z003", "carrier_code": "fedex",
                                                   "title": "Federal Express"}])
    edited, second = await seller.fulfillments(str(order_id))
    assert edited.tracking == Tracking(carrier="FedEx", numbers=("1Z003",), urls=(None,))
    assert edited.updated_at > only.updated_at  # the new track's time is the version the ledger compares
    assert {(line.line_ref, line.quantity) for line in second.lines} == {(str(a), 1), (str(b), 1)}

    harness.app.sandbox.clock.advance(30)
    harness.store.cancel_shipment(int(second.fulfillment_ref))
    _, cancelled = await seller.fulfillments(str(order_id))
    assert cancelled.cancelled and cancelled.tracking.numbers == () and cancelled.updated_at > second.updated_at
    assert harness.store.order(order_id).items[1].qty_shipped == 1  # Magento still counts the units as shipped


async def test_a_shipment_without_tracks_is_not_cancelled_without_the_comment(harness: Harness) -> None:
    order_id = place(harness, ("A", 1))
    harness.store.ship(order_id, None)
    (shipment,) = await harness.connector(role="seller").fulfillments(str(order_id))
    assert not shipment.cancelled and shipment.tracking == Tracking()


# -- seller side: creating orders ------------------------------------------------------------------------------

NEW_ORDER = NewOrder(
    our_order_id="ord-7f3a", buyer_order_number="#1042", email="buyer@example.com",
    shipping_address=Address(name="Grace Hopper", lines=("1 Navy Yard",), city="Arlington", region="VA",
                             postal_code="22202", country_code="US", phone="+1 703 555 0100"),
    lines=(SellerLine(line_ref="line-a", sku="ACME-1", quantity=2, title="Widget"),
           SellerLine(line_ref="line-b", sku="ACME-2", quantity=1)))


async def test_create_order_maps_lines_and_is_idempotent(harness: Harness) -> None:
    seller = harness.connector(role="seller")
    created = await seller.create_order(NEW_ORDER)
    again = await harness.connector(role="seller").create_order(NEW_ORDER)
    assert again == created and len(harness.store.orders) == 1
    assert harness.requests("POST /rest/default/V1/orders") == 1
    order = harness.store.order(int(created.order_ref))
    assert order.ext_order_id == "fulfillsync:ord-7f3a"
    by_ref = {item.ext_order_item_id: item for item in order.items}
    assert created.line_refs == {"line-a": str(by_ref["line-a"].item_id), "line-b": str(by_ref["line-b"].item_id)}
    assert (by_ref["line-a"].sku, by_ref["line-a"].qty_ordered) == ("ACME-1", 2)
    seen, _, _ = await walk(seller, None)
    assert seen[0].our_order_id == "ord-7f3a" and seen[0].shipping_address is not None
    assert seen[0].shipping_address.region == "VA" and seen[0].email == "buyer@example.com"


async def test_create_order_whose_answer_was_lost_is_found_not_made_twice(harness: Harness) -> None:
    harness.app.sandbox.faults.append(_fault(truncate=True, method="POST", path=r"/V1/orders$"))
    seller = harness.connector(role="seller")
    with pytest.raises(MalformedResponseError):
        await seller.create_order(NEW_ORDER)  # created on Magento, but the answer was cut
    created = await seller.create_order(NEW_ORDER)
    assert len(harness.store.orders) == 1 and created.order_ref == str(next(iter(harness.store.orders)))


async def test_create_order_refuses_an_order_edited_on_magento(harness: Harness) -> None:
    seller = harness.connector(role="seller")
    created = await seller.create_order(NEW_ORDER)
    harness.store.order(int(created.order_ref)).items[1].ext_order_item_id = None
    with pytest.raises(PermanentError, match="no item with ext_order_item_id line-b"):
        await seller.create_order(NEW_ORDER)


# -- buyer side: writing fulfillments --------------------------------------------------------------------------

UPS = Tracking(carrier="UPS", numbers=("1Z999AA10123456784", "1Z999AA10123456785"),
               urls=("https://www.ups.com/track?tracknum=1Z999AA10123456784", None))


async def test_create_then_find_fulfillment_and_read_it_back(harness: Harness) -> None:
    order_id = place(harness, ("A", 3), ("B", 1))
    a, _ = item_ids(harness, order_id)
    buyer = harness.connector()
    wanted = request("ful-1", [(a, 2)], UPS, notify=True)
    assert await buyer.find_fulfillment(str(order_id), wanted) is None
    ref = await buyer.create_fulfillment(str(order_id), wanted)
    assert await harness.connector().find_fulfillment(str(order_id), wanted) == ref
    (sent,) = harness.transport.bodies("POST", rf"/V1/order/{order_id}/ship")
    assert sent["items"] == [{"order_item_id": a, "qty": 2}] and sent["notify"] is True
    assert [t["track_number"] for t in sent["tracks"]] == list(UPS.numbers)
    assert {(t["carrier_code"], t["title"]) for t in sent["tracks"]} == {("ups", "UPS")}
    (read,) = await buyer.fulfillments(str(order_id))
    assert read.fulfillment_ref == ref and read.tracking == UPS  # the URL travelled in the shipment comment
    assert read.lines == (FulfillmentLine(line_ref=str(a), quantity=2),)
    assert harness.store.order(order_id).items[0].qty_shipped == 2


async def test_the_connector_builds_the_documented_ship_request_shape(harness: Harness) -> None:
    example = json.loads(SHIP_EXAMPLE.read_text(encoding="utf-8"))
    order_id = place(harness, ("A", 1))
    (a,) = item_ids(harness, order_id)
    await harness.connector().create_fulfillment(str(order_id), request(
        "ful-x", [(a, 1)], Tracking(carrier="UPS", numbers=("1Y-9876543210",)), notify=True))
    (sent,) = harness.transport.bodies("POST", rf"/V1/order/{order_id}/ship")
    assert set(example) <= set(sent)
    assert set(sent["items"][0]) == set(example["items"][0]) and set(sent["tracks"][0]) == set(example["tracks"][0])
    assert sent["tracks"][0]["carrier_code"] == example["tracks"][0]["carrier_code"]
    assert sent["tracks"][0]["track_number"] == example["tracks"][0]["track_number"]


async def test_find_fulfillment_never_matches_by_lines_and_numbers(harness: Harness) -> None:
    order_id = place(harness, ("A", 2))
    (a,) = item_ids(harness, order_id)
    harness.store.ship(order_id, [(a, 2)], tracks=[{"track_number": "T1", "title": "UPS", "carrier_code": "ups"}])
    buyer = harness.connector()
    same = request("ful-other", [(a, 2)], Tracking(carrier="UPS", numbers=("T1",)))
    assert await buyer.find_fulfillment(str(order_id), same) is None  # the merchant's shipment, not ours


async def test_two_identical_fulfillments_are_two_shipments(harness: Harness) -> None:
    """Two seller fulfillments of identical parcels: each finds only its own shipment, so cancelling one leaves
    the other active."""
    order_id = place(harness, ("A", 2))
    (a,) = item_ids(harness, order_id)
    buyer = harness.connector()
    first, twin = (request(our_id, [(a, 1)], Tracking(carrier="UPS", numbers=("T1",))) for our_id in ("f-1", "f-2"))
    ref = await buyer.create_fulfillment(str(order_id), first)
    assert await buyer.find_fulfillment(str(order_id), twin) is None
    twin_ref = await buyer.create_fulfillment(str(order_id), twin)
    assert twin_ref != ref and await buyer.find_fulfillment(str(order_id), twin) == twin_ref
    await buyer.cancel_fulfillment(str(order_id), ref)
    assert {f.fulfillment_ref: f.cancelled for f in await buyer.fulfillments(str(order_id))} == {
        ref: True, twin_ref: False}


async def test_a_lost_ship_answer_is_found_by_the_retry_not_shipped_twice(harness: Harness) -> None:
    order_id = place(harness, ("A", 2))
    (a,) = item_ids(harness, order_id)
    harness.app.sandbox.faults.append(_fault(truncate=True, method="POST", path=r"/ship$"))
    buyer = harness.connector()
    wanted = request("ful-2", [(a, 1)], UPS)
    with pytest.raises(MalformedResponseError):
        await buyer.create_fulfillment(str(order_id), wanted)
    found = await buyer.find_fulfillment(str(order_id), wanted)
    assert found is not None and len(harness.store.shipments) == 1


async def test_a_5xx_on_ship_is_not_resent_blindly(harness: Harness) -> None:
    order_id = place(harness, ("A", 2))
    (a,) = item_ids(harness, order_id)
    harness.app.sandbox.faults.append(_fault(status=503, method="POST", path=r"/ship$", body=INTERNAL_ERROR))
    buyer = harness.connector()
    wanted = request("ful-3", [(a, 1)], UPS)
    with pytest.raises(RetryableError) as caught:
        await buyer.create_fulfillment(str(order_id), wanted)
    assert caught.value.status == 503 and "Report ID: webapi-1" in str(caught.value)
    assert harness.requests(f"POST /rest/default/V1/order/{order_id}/ship") == 1  # not retried inside
    assert await buyer.find_fulfillment(str(order_id), wanted) is None
    assert await buyer.create_fulfillment(str(order_id), wanted)
    assert len(harness.store.shipments) == 1


async def test_update_tracking_replaces_tracks_and_urls_idempotently(harness: Harness) -> None:
    order_id = place(harness, ("A", 3))
    (a,) = item_ids(harness, order_id)
    buyer = harness.connector()
    ref = await buyer.create_fulfillment(str(order_id), request("ful-4", [(a, 3)], UPS))
    harness.app.sandbox.clock.advance(60)
    (before,) = await buyer.fulfillments(str(order_id))
    new = Tracking(carrier="FedEx", numbers=("7712", "1Z999AA10123456785"),
                   urls=("https://www.fedex.com/fedextrack/?trknbr=7712", None))
    assert await buyer.update_tracking(str(order_id), ref, new) == ref
    assert await buyer.update_tracking(str(order_id), ref, new) == ref  # a retry changes nothing more
    (after,) = await buyer.fulfillments(str(order_id))
    assert after.tracking == new and after.updated_at > before.updated_at
    assert len(harness.store.shipment(int(ref)).tracks) == 2
    other = place(harness, ("B", 1))
    with pytest.raises(PermanentError, match=f"belongs to order {order_id}, not {other}"):
        await buyer.update_tracking(str(other), ref, new)


async def test_cancel_fulfillment_then_replacement_reuses_the_cancelled_shipment(harness: Harness) -> None:
    order_id = place(harness, ("A", 2), ("B", 1))
    a, _ = item_ids(harness, order_id)
    buyer = harness.connector()
    ref = await buyer.create_fulfillment(str(order_id), request("ful-5", [(a, 2)], UPS))
    harness.app.sandbox.clock.advance(60)
    await buyer.cancel_fulfillment(str(order_id), ref)
    (cancelled,) = await buyer.fulfillments(str(order_id))
    assert cancelled.cancelled and cancelled.tracking.numbers == ()
    assert any("cancelled by fulfillsync" in h["comment"] for h in harness.store.order(order_id).histories)
    before = sum(harness.app.sandbox.requests.values())
    await buyer.cancel_fulfillment(str(order_id), ref)  # already cancelled: one read, no write
    assert sum(harness.app.sandbox.requests.values()) == before + 1
    assert harness.store.order(order_id).items[0].qty_shipped == 2  # Magento keeps the units shipped

    # the corrected fulfillment of the same units cannot be shipped again: the cancelled shipment carries it
    harness.app.sandbox.clock.advance(60)
    fixed = request("ful-6", [(a, 2)], Tracking(carrier="USPS", numbers=("9400",), urls=("https://usps/9400",)))
    assert await buyer.create_fulfillment(str(order_id), fixed) == ref
    assert await buyer.find_fulfillment(str(order_id), fixed) == ref
    (again,) = await buyer.fulfillments(str(order_id))
    assert not again.cancelled and again.tracking == fixed.tracking and again.updated_at > cancelled.updated_at
    harness.app.sandbox.clock.advance(60)
    await buyer.cancel_fulfillment(str(order_id), ref)  # cancelling the reinstated one names the new fulfillment
    assert "[ref fulfillsync:ful-6]" in harness.store.shipment(int(ref)).comments[-1]["comment"]


async def test_over_shipping_surfaces_magentos_message_as_permanent(harness: Harness) -> None:
    order_id = place(harness, ("A", 1))
    (a,) = item_ids(harness, order_id)
    with pytest.raises(PermanentError) as caught:
        await harness.connector().create_fulfillment(str(order_id), request("ful-7", [(a, 5)]))
    assert caught.value.status == 400
    assert "Shipment Document Validation Error(s):" in caught.value.platform_message
    assert "exceeds the quantity that can be shipped" in str(caught.value)


# -- transport failures ----------------------------------------------------------------------------------------

INTERNAL_ERROR = json.dumps({"message": "Internal Error. Details are available in Magento log file. "
                                        "Report ID: webapi-1"})


def _fault(**fields: Any) -> Any:
    from sandbox.common import Fault
    return Fault(**fields)


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_429_and_5xx_on_reads_are_retried(harness: Harness, status: int) -> None:
    place(harness, ("A", 1))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    headers = {"Retry-After": "0.02"} if status == 429 else {}
    body = json.dumps({"message": "Too many requests"}) if status == 429 else INTERNAL_ERROR
    harness.app.sandbox.faults.append(_fault(status=status, times=2, method="GET", path=r"/V1/orders$",
                                             headers=headers, body=body))
    page = await harness.connector(sleep=sleep).orders_changed_since(None)
    assert len(page.items) == 1 and harness.requests("GET /rest/default/V1/orders") == 3
    if status == 429:
        assert 0.02 in waits  # Retry-After honoured


async def test_errors_render_magentos_parameters(harness: Harness) -> None:
    harness.app.sandbox.faults.append(_fault(status=404, method="GET", path=r"/V1/shipments$", body=json.dumps(
        {"message": "No such entity with %fieldName = %fieldValue",
         "parameters": {"fieldName": "orderId", "fieldValue": "999"}})))
    with pytest.raises(PermanentError, match="No such entity with orderId = 999"):
        await harness.connector().fulfillments("999")
    harness.app.sandbox.faults.append(_fault(status=400, method="GET", path=r"/V1/orders$", body=json.dumps(
        {"message": 'Invalid value of "%1" provided for the %2 field.', "parameters": ["abc", "pageSize"]})))
    with pytest.raises(PermanentError) as caught:
        await harness.connector().orders_changed_since(None)
    assert caught.value.platform_message == 'Invalid value of "abc" provided for the pageSize field.'


@pytest.mark.parametrize(("fault", "says"), [
    ({"status": 200, "body": "<html><body>Service Unavailable</body></html>"}, "not valid JSON"),
    ({"truncate": True}, "not valid JSON"),
    ({"status": 200, "body": json.dumps({"items": []})}, "no total_count"),
])
async def test_malformed_answers_raise_malformed_response_error(harness: Harness, fault: dict[str, Any],
                                                                says: str) -> None:
    place(harness, ("A", 1))
    harness.transport.check_responses = False  # these answers violate the schema on purpose
    harness.app.sandbox.faults.append(_fault(method="GET", path=r"/V1/orders$", **fault))
    with pytest.raises(MalformedResponseError, match=says):
        await harness.connector().orders_changed_since(None)


async def test_a_non_integer_ship_answer_is_malformed(harness: Harness) -> None:
    order_id = place(harness, ("A", 1))
    (a,) = item_ids(harness, order_id)
    harness.transport.check_responses = False  # this answer violates the schema on purpose
    harness.app.sandbox.faults.append(_fault(status=200, method="POST", path=r"/ship$", body='{"id": 5}'))
    with pytest.raises(MalformedResponseError, match="expected the new shipment id"):
        await harness.connector().create_fulfillment(str(order_id), request("ful-8", [(a, 1)]))


async def test_wrong_credentials_are_permanent_with_a_hint_and_no_secret(harness: Harness,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "mgt-wrong-token-0000-secret"
    with pytest.raises(PermanentError) as caught:
        await harness.connector(token=wrong).orders_changed_since(None)
    message = str(caught.value)
    assert caught.value.status == 401
    assert "The consumer isn't authorized to access Magento_Sales::sales" in message
    assert "credentials" in message and "mg-buyer" in message
    assert wrong not in message and wrong not in caught.value.platform_message and wrong not in caplog.text


async def test_a_secret_echoed_by_the_platform_is_redacted(harness: Harness) -> None:
    harness.app.sandbox.faults.append(_fault(status=400, method="GET", path=r"/V1/orders$", body=json.dumps(
        {"message": "Token %1 is not valid for store %2", "parameters": [TOKEN, "default"]})))
    with pytest.raises(PermanentError) as caught:
        await harness.connector().orders_changed_since(None)
    assert TOKEN not in str(caught.value) and "Token [redacted] is not valid" in str(caught.value)


async def test_refs_that_are_not_magento_ids_are_refused_before_any_request(harness: Harness) -> None:
    with pytest.raises(PermanentError, match="not a Magento numeric id"):
        await harness.connector().fulfillments("gid://shopify/Order/1")
    assert sum(harness.app.sandbox.requests.values()) == 0


async def test_an_unreadable_cursor_is_permanent_and_says_what_to_do(harness: Harness) -> None:
    with pytest.raises(PermanentError, match="reset the connection's cursor"):
        await harness.connector().orders_changed_since("not-a-cursor")


async def test_page_size_above_magentos_limit_is_refused(harness: Harness) -> None:
    with pytest.raises(ValueError, match=r"outside 1\.\.300"):
        harness.connector(page_size=301)

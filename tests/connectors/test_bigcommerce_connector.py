"""The BigCommerce connector against its simulated store, through the whole buyer and seller interface, with
every request and response checked against the official V2 spec (see tests/support/bigcommerce_store.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI

from connectors.base import MalformedResponseError, PermanentError, RetryableError
from sandbox.bigcommerce.store import StoreError
from sandbox.common import Fault
from schemas.platform import (
    Address,
    FulfillmentLine,
    FulfillmentRequest,
    NewOrder,
    SellerLine,
    Tracking,
)
from tests.support.bigcommerce_store import BASE_URL, TOKEN, Harness, harness, load_spec, place


@pytest.fixture
def spec(platform_specs: Path) -> OpenAPI:
    return load_spec(platform_specs)


@pytest.fixture
def h(spec: OpenAPI) -> Iterator[Harness]:
    bench = harness(spec)
    yield bench
    assert bench.transport.problems == [], "\n".join(bench.transport.problems)


def _request(our_id: str, lines: list[tuple[str, int]], numbers: tuple[str, ...] = (), carrier: str | None = "UPS",
             urls: tuple[str | None, ...] = ()) -> FulfillmentRequest:
    return FulfillmentRequest(our_fulfillment_id=our_id,
                              lines=tuple(FulfillmentLine(line_ref=ref, quantity=q) for ref, q in lines),
                              tracking=Tracking(carrier=carrier, numbers=numbers, urls=urls))


# -- polling -----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_polls_every_order_across_pages_and_resumes_in_a_new_instance(h: Harness) -> None:
    orders = [place(h, (f"SKU-{n}", n + 1)) for n in range(7)]
    for order in orders[:3]:  # several orders modified in the same second: ties across a page boundary
        h.store.set_status(order.id, 9)
    h.app.sandbox.clock.advance(5)
    first = h.connector(page_size=3)
    seen: list[str] = []
    page = await first.orders_changed_since(None)
    seen += [o.order_ref for o in page.items]
    await first.aclose()
    cursor = page.cursor
    while page.has_more:
        resumed = h.connector(page_size=3)  # a new instance: only the cursor carries over
        page = await resumed.orders_changed_since(cursor)
        cursor = page.cursor
        seen += [o.order_ref for o in page.items]
        await resumed.aclose()
    assert sorted(seen) == sorted(str(o.id) for o in orders)
    assert len(seen) == len(set(seen))
    by_ref = {o.id: o for o in orders}
    got = await h.connector().orders_changed_since(None)
    line = next(o for o in got.items if o.order_ref == str(orders[2].id)).lines[0]
    assert (line.sku, line.quantity, line.line_ref) == ("SKU-2", 3, str(by_ref[orders[2].id].products[0].id))
    assert h.transport.checked > 10

    # nothing changed: the next poll repeats only what the overlap covers, at the versions already seen
    h.app.sandbox.clock.advance(600)
    again = await h.connector(page_size=10).orders_changed_since(cursor)
    assert not again.has_more
    assert {(o.order_ref, o.updated_at) for o in again.items} <= {(o.order_ref, o.updated_at) for o in got.items}

    # a change after the poll is seen by the next one
    h.store.cancel_order(orders[4].id)
    later = await h.connector(page_size=10).orders_changed_since(again.cursor)
    assert not later.has_more
    assert (str(orders[4].id), True) in [(o.order_ref, o.cancelled) for o in later.items]


@pytest.mark.asyncio
async def test_the_seller_listing_is_one_request_a_page_and_tells_our_orders_from_the_sellers_own(
        h: Harness) -> None:
    created = await h.connector().create_order(_new_order())
    own = place(h, ("OWN-1", 1))
    h.app.sandbox.clock.advance(10)  # settled: the walk remembers both as seen
    before = h.transport.checked
    clock = h.app.sandbox.clock.now  # the connector's clock is the store's, so settling is judged alike
    page = await h.connector(now=clock).changed_orders_since(None)
    assert h.transport.checked - before == 1  # the listing only: no products, no shipping addresses
    assert sorted((item.order_ref, item.our_order_id) for item in page.items) == sorted(
        [(created.order_ref, "ord-1"), (str(own.id), None)])
    full = await h.connector().orders_changed_since(None)
    assert {(o.order_ref, o.our_order_id, o.updated_at) for o in full.items} == {
        (item.order_ref, item.our_order_id, item.updated_at) for item in page.items}
    assert (await h.connector(now=clock).changed_orders_since(page.cursor)).items == ()  # unchanged, in the overlap


@pytest.mark.asyncio
async def test_an_order_modified_during_a_walk_is_not_lost_and_nothing_is_skipped(h: Harness) -> None:
    orders = [place(h, ("A", 1)) for _ in range(6)]
    for order in orders:
        h.app.sandbox.clock.advance(1)
        h.store.set_status(order.id, 9)  # distinct modification times, in id order
    connector = h.connector(page_size=2)
    page = await connector.orders_changed_since(None)
    seen = [o.order_ref for o in page.items]
    h.app.sandbox.clock.advance(1)
    h.store.set_status(orders[0].id, 7)  # moves behind the walk; page numbers would now skip orders[2]
    while page.has_more:
        page = await connector.orders_changed_since(page.cursor)
        seen += [o.order_ref for o in page.items]
    assert set(seen) == {str(o.id) for o in orders}
    assert seen.count(str(orders[0].id)) == 2  # seen before and after its change


@pytest.mark.asyncio
async def test_overlap_sees_a_change_committed_in_the_same_second_as_the_last_poll(h: Harness) -> None:
    first = place(h, ("A", 1))
    page = await h.connector().orders_changed_since(None)
    assert [o.order_ref for o in page.items] == [str(first.id)]
    second = place(h, ("B", 1))  # same store second as `first`'s last change
    page = await h.connector().orders_changed_since(page.cursor)
    assert str(second.id) in [o.order_ref for o in page.items]


@pytest.mark.asyncio
async def test_reads_the_order_in_our_terms(h: Harness) -> None:
    order = place(h, ("A", 2), ("B", 1))
    h.store.refund(order.id, order.products[1].id, 1)
    [platform] = (await h.connector().orders_changed_since(None)).items
    assert platform.shipping_address == Address(name="Ada Lovelace", lines=("1 Main St",), city="Austin",
                                                region="Texas", postal_code="78751", country_code="US",
                                                phone="555-0100")
    assert platform.email == "ada@example.com" and platform.our_order_id is None and not platform.cancelled
    assert [(line.sku, line.quantity, line.cancelled_quantity) for line in platform.lines] == [("A", 2, 0),
                                                                                               ("B", 1, 1)]


# -- seller side -------------------------------------------------------------------------------------------


def _new_order(our_id: str = "ord-1") -> NewOrder:
    return NewOrder(our_order_id=our_id, buyer_order_number="#1001", email="ada@example.com",
                    lines=(SellerLine(line_ref="l1", sku="ACME-1", quantity=2, title="Anvil"),
                           SellerLine(line_ref="l2", sku="ACME-2", quantity=1)),
                    shipping_address=Address(name="Ada Lovelace", lines=("1 Main St", "Apt 2"), city="Austin",
                                             region="TX", postal_code="78751", country_code="US"))


@pytest.mark.asyncio
async def test_create_order_maps_lines_and_is_idempotent(h: Harness) -> None:
    connector = h.connector()
    created = await connector.create_order(_new_order())
    again = await h.connector().create_order(_new_order())
    assert again == created
    assert len(h.store.orders) == 1
    order = h.store.orders[int(created.order_ref)]
    assert order.external_order_id == "fulfillsync:ord-1" and order.status_id == 11
    assert created.line_refs == {"l1": str(order.products[0].id), "l2": str(order.products[1].id)}
    assert [(p.sku, p.quantity, p.name) for p in order.products] == [("ACME-1", 2, "Anvil"), ("ACME-2", 1, "ACME-2")]
    [platform] = (await connector.orders_changed_since(None)).items
    assert platform.our_order_id == "ord-1"
    assert platform.shipping_address is not None and platform.shipping_address.lines == ("1 Main St", "Apt 2")


@pytest.mark.asyncio
async def test_create_order_after_a_lost_response_finds_the_order(h: Harness) -> None:
    h.transport.allow_unreadable_bodies = True
    # the store creates the order but the answer arrives cut in half
    h.app.sandbox.faults.append(Fault(path=r"/v2/orders$", method="POST", truncate=True))
    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        await h.connector().create_order(_new_order())
    assert len(h.store.orders) == 1
    created = await h.connector().create_order(_new_order())  # the caller's retry
    assert len(h.store.orders) == 1 and created.order_ref == str(next(iter(h.store.orders)))
    assert set(created.line_refs) == {"l1", "l2"}


@pytest.mark.asyncio
async def test_seller_fulfillments_partial_multi_edit_cancel(h: Harness) -> None:
    order = place(h, ("A", 3), ("B", 1))
    a, b = order.products
    connector = h.connector()
    assert await connector.fulfillments(str(order.id)) == ()
    first = h.store.ship(order.id, [{"order_product_id": a.id, "quantity": 2}], tracking_number="1Z999",
                         shipping_provider="ups", tracking_carrier="ups")
    h.app.sandbox.clock.advance(2)
    second = h.store.ship(order.id, [{"order_product_id": a.id, "quantity": 1}, {"order_product_id": b.id,
                                                                                 "quantity": 1}],
                          tracking_number="RM123GB", tracking_carrier="royal-mail",
                          tracking_link="https://track.example/RM123GB")
    assert h.store.orders[order.id].status_id == 2
    found = await connector.fulfillments(str(order.id))
    assert [f.fulfillment_ref for f in found] == [str(first.id), str(second.id)]
    ups, royal = found
    assert ups.lines == (FulfillmentLine(line_ref=str(a.id), quantity=2),)
    assert ups.tracking == Tracking(carrier="UPS", numbers=("1Z999",), urls=("https://www.ups.com/track?tracknum=1Z999",))
    assert royal.tracking.carrier == "Royal Mail" and royal.tracking.urls == ("https://track.example/RM123GB",)

    h.app.sandbox.clock.advance(3)
    h.store.edit_shipment(order.id, first.id, tracking_number="1Z000")
    edited = (await connector.fulfillments(str(order.id)))[0]
    assert edited.tracking.numbers == ("1Z000",) and edited.updated_at > ups.updated_at

    h.app.sandbox.clock.advance(3)
    h.store.delete_shipment(order.id, second.id)
    after = await connector.fulfillments(str(order.id), known_refs=[str(first.id), str(second.id)])
    assert [(f.fulfillment_ref, f.cancelled) for f in after] == [(str(first.id), False), (str(second.id), True)]
    assert h.store.orders[order.id].status_id == 2  # deleting a shipment keeps Shipped, as on BigCommerce


# -- buyer side --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_two_identical_fulfillments_are_two_shipment_groups(h: Harness) -> None:
    """Two seller fulfillments of identical parcels (same line, units and number): each finds only its own group,
    so cancelling one leaves the other."""
    order = place(h, ("A", 2))
    a = str(order.products[0].id)
    buyer = h.connector(role="buyer")
    first, twin = (_request(our_id, [(a, 1)], numbers=("1ZA",)) for our_id in ("f-1", "f-2"))
    ref = await buyer.create_fulfillment(str(order.id), first)
    assert await buyer.find_fulfillment(str(order.id), twin) is None
    twin_ref = await buyer.create_fulfillment(str(order.id), twin)
    assert twin_ref != ref
    assert await buyer.find_fulfillment(str(order.id), first) == ref
    assert await buyer.find_fulfillment(str(order.id), twin) == twin_ref
    await buyer.cancel_fulfillment(str(order.id), ref)
    assert [f.fulfillment_ref for f in await buyer.fulfillments(str(order.id))] == [twin_ref]


@pytest.mark.asyncio
async def test_create_fulfillment_one_shipment_per_number_read_back_as_one(h: Harness) -> None:
    order = place(h, ("A", 3), ("B", 2))
    a, b = (str(p.id) for p in order.products)
    buyer = h.connector(role="buyer")
    request = _request("f-1", [(a, 3), (b, 1)], numbers=("1ZA", "1ZB", "1ZC"),
                       urls=(None, "https://ups.example/1ZB", None))
    assert await buyer.find_fulfillment(str(order.id), request) is None
    ref = await buyer.create_fulfillment(str(order.id), request)
    shipments = h.store.orders[order.id].shipments
    assert len(shipments) == 3
    assert all(sum(q for _, q in s.items) >= 1 for s in shipments.values())
    assert ref == str(min(shipments))
    assert await buyer.find_fulfillment(str(order.id), request) == ref
    assert await h.connector(role="buyer").find_fulfillment(str(order.id), request) == ref  # a retry finds it
    [read] = await buyer.fulfillments(str(order.id))
    assert read.fulfillment_ref == ref
    assert sorted((x.line_ref, x.quantity) for x in read.lines) == sorted([(a, 3), (b, 1)])
    assert read.tracking.numbers == ("1ZA", "1ZB", "1ZC") and read.tracking.carrier == "UPS"
    assert read.tracking.urls[1] == "https://ups.example/1ZB"
    assert h.store.orders[order.id].status_id == 3  # partially shipped: one unit of B is open


@pytest.mark.asyncio
async def test_an_interrupted_create_is_completed_not_duplicated(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    order = place(h, ("A", 2))
    a = str(order.products[0].id)
    request = _request("f-2", [(a, 2)], numbers=("N1", "N2"))
    buyer = h.connector(role="buyer")
    original = h.store.ship
    calls: list[int] = []

    def second_fails(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise StoreError(503, "Service unavailable")
        return original(*args, **kwargs)

    monkeypatch.setattr(h.store, "ship", second_fails)
    with pytest.raises(RetryableError, match="503"):  # a POST answered 5xx is not resent blindly
        await buyer.create_fulfillment(str(order.id), request)
    assert len(calls) == 2
    monkeypatch.setattr(h.store, "ship", original)
    assert await buyer.find_fulfillment(str(order.id), request) is None  # incomplete: not reported as done
    ref = await buyer.create_fulfillment(str(order.id), request)
    shipments = h.store.orders[order.id].shipments
    assert sorted(s.tracking["tracking_number"] for s in shipments.values()) == ["N1", "N2"]
    assert await buyer.find_fulfillment(str(order.id), request) == ref


@pytest.mark.asyncio
async def test_update_tracking_in_place_grow_and_shrink(h: Harness) -> None:
    order = place(h, ("A", 4))
    a = str(order.products[0].id)
    buyer = h.connector(role="buyer")
    ref = await buyer.create_fulfillment(str(order.id), _request("f-3", [(a, 4)], numbers=("OLD1",)))
    h.app.sandbox.clock.advance(1)
    same = await buyer.update_tracking(str(order.id), ref, Tracking(carrier="FedEx", numbers=("NEW1",)))
    assert same == ref
    [read] = await buyer.fulfillments(str(order.id))
    assert read.tracking.numbers == ("NEW1",) and read.tracking.carrier == "FedEx"

    grown = await buyer.update_tracking(str(order.id), ref, Tracking(carrier="FedEx", numbers=("N1", "N2", "N3")))
    [read] = await buyer.fulfillments(str(order.id))
    assert read.fulfillment_ref == grown and read.tracking.numbers == ("N1", "N2", "N3")
    assert read.lines == (FulfillmentLine(line_ref=a, quantity=4),)
    assert len(h.store.orders[order.id].shipments) == 3

    shrunk = await buyer.update_tracking(str(order.id), grown, Tracking(carrier="Acme Freight", numbers=("D1",),
                                                                      urls=("https://acme.example/D1",)))
    [read] = await buyer.fulfillments(str(order.id))
    assert read.fulfillment_ref == shrunk and read.tracking == Tracking(carrier="Acme Freight", numbers=("D1",),
                                                                       urls=("https://acme.example/D1",))
    assert read.lines == (FulfillmentLine(line_ref=a, quantity=4),)


@pytest.mark.asyncio
async def test_cancel_fulfillment_deletes_the_group_and_is_idempotent(h: Harness) -> None:
    order = place(h, ("A", 2))
    a = str(order.products[0].id)
    buyer = h.connector(role="buyer")
    ref = await buyer.create_fulfillment(str(order.id), _request("f-4", [(a, 2)], numbers=("X1", "X2")))
    await buyer.cancel_fulfillment(str(order.id), ref)
    assert h.store.orders[order.id].shipments == {}
    await buyer.cancel_fulfillment(str(order.id), ref)  # already cancelled: a no-op
    assert h.store.orders[order.id].status_id == 2


@pytest.mark.asyncio
async def test_a_request_bigcommerce_cannot_take_is_permanent_with_its_message(h: Harness) -> None:
    order = place(h, ("A", 1))
    a = str(order.products[0].id)
    buyer = h.connector(role="buyer")
    await buyer.create_fulfillment(str(order.id), _request("f-5", [(a, 1)], numbers=("Z1",)))
    with pytest.raises(PermanentError) as caught:
        await buyer.create_fulfillment(str(order.id), _request("f-6", [(a, 1)], numbers=("Z2",)))
    assert caught.value.status == 400 and "greater than the quantity remaining" in caught.value.platform_message
    with pytest.raises(PermanentError, match="no products 999"):
        await buyer.create_fulfillment(str(order.id), _request("f-7", [("999", 1)]))
    with pytest.raises(PermanentError, match="404") as missing:
        await buyer.fulfillments("424242")
    assert "not found" in missing.value.platform_message


@pytest.mark.asyncio
async def test_wrong_token_is_permanent_with_a_hint_and_no_secret(h: Harness) -> None:
    wrong = "wrong-token-5551212"
    with pytest.raises(PermanentError) as caught:
        await h.connector(token=wrong).orders_changed_since(None)
    message = str(caught.value)
    assert caught.value.status == 401 and "credentials" in message and "X-Auth-Token" in message
    assert wrong not in message and TOKEN not in message and wrong not in caught.value.platform_message


# -- rate limits, faults, malformed answers ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_pauses_before_the_quota_runs_dry_and_never_gets_a_429(spec: OpenAPI) -> None:
    h = harness(spec, quota=5, window_ms=2000)
    for n in range(4):
        place(h, (f"S{n}", 1))
    page = await h.connector(page_size=10).orders_changed_since(None)  # 1 + 2 per order = 9 requests
    assert len(page.items) == 4
    assert h.transport.statuses.count(429) == 0
    assert h.slept and all(0 < pause <= 2.0 for pause in h.slept)
    assert h.transport.problems == []


@pytest.mark.asyncio
async def test_a_429_waits_the_reset_the_store_names_then_succeeds(spec: OpenAPI) -> None:
    h = harness(spec, quota=3, window_ms=5000)
    order = place(h, ("A", 1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app), base_url=BASE_URL) as other_app:
        for _ in range(3):  # another app on the store spends the shared quota
            await other_app.get("/v2/orders", headers={"X-Auth-Token": TOKEN, "Accept": "application/json"})
    found = await h.connector().fulfillments(str(order.id))
    assert found == ()
    assert h.transport.statuses[0] == 429
    assert h.slept and 0 < h.slept[0] <= 5.0  # X-Rate-Limit-Time-Reset-Ms, not a guess
    assert h.transport.problems == []


@pytest.mark.asyncio
async def test_recovers_from_5xx_and_bare_429(h: Harness) -> None:
    order = place(h, ("A", 1))
    h.app.sandbox.faults.append(Fault(status=500, times=2, path="/shipments$", method="GET"))
    h.app.sandbox.faults.append(Fault(status=429, times=1, path=r"/orders/\d+$",
                                      headers={"X-Rate-Limit-Time-Reset-Ms": "1500"}))
    assert await h.connector().fulfillments(str(order.id)) == ()
    assert 1.5 in h.slept
    assert h.transport.statuses.count(500) == 2 and h.transport.statuses.count(429) == 1
    h.app.sandbox.faults.append(Fault(status=503, times=10, path="/shipments$"))
    with pytest.raises(RetryableError, match="503"):
        await h.connector().fulfillments(str(order.id))
    h.app.sandbox.faults.clear()


@pytest.mark.asyncio
@pytest.mark.parametrize(("fault", "expected"), [
    (Fault(status=200, body="<html>Bad gateway</html>", path="/v2/orders$"), "not valid JSON"),
    (Fault(truncate=True, path="/v2/orders$"), "not valid JSON"),
    (Fault(status=200, body='{"data": []}', path="/v2/orders$"), "expected an array"),
    (Fault(status=200, body='[{"id": 7}]', path="/shipments$"), "items"),
])
async def test_unreadable_answers_are_malformed_response_errors(h: Harness, fault: Fault, expected: str) -> None:
    h.transport.allow_unreadable_bodies = True
    order = place(h, ("A", 1))
    h.app.sandbox.faults.append(fault)
    with pytest.raises(MalformedResponseError, match=expected) as caught:
        if fault.path == "/shipments$":
            await h.connector().fulfillments(str(order.id))
        else:
            await h.connector().orders_changed_since(None)
    assert "bigcommerce connection 'bc-seller'" in str(caught.value)


@pytest.mark.asyncio
async def test_secrets_stay_out_of_errors_and_logs(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h.app.sandbox.faults.append(Fault(status=500, times=10, body=f'[{{"status": 500, "message": "boom {TOKEN}"}}]'))
    with pytest.raises(RetryableError) as caught:
        await h.connector().orders_changed_since(None)
    assert TOKEN not in str(caught.value) and TOKEN not in caught.value.platform_message
    assert "[redacted]" in caught.value.platform_message
    assert TOKEN not in caplog.text
    h.app.sandbox.faults.clear()


@pytest.mark.asyncio
async def test_unmarked_shipments_are_never_found_by_content_but_can_grow(h: Harness) -> None:
    order = place(h, ("A", 3))
    a = order.products[0].id
    merchant = h.store.ship(order.id, [{"order_product_id": a, "quantity": 3}], tracking_number="M1",
                            comments="packed by hand")
    buyer = h.connector(role="buyer")
    request = _request("f-9", [(str(a), 3)], numbers=("M1",))
    assert await buyer.find_fulfillment(str(order.id), request) is None  # the merchant's, not ours
    ref = await buyer.update_tracking(str(order.id), str(merchant.id), Tracking(carrier="UPS", numbers=("M1", "M2")))
    assert ref != str(merchant.id)  # its one shipment holds every unit: rewritten as two, under a new ref
    [read] = await buyer.fulfillments(str(order.id))
    assert read.fulfillment_ref == ref and read.tracking.numbers == ("M1", "M2")
    assert read.lines == (FulfillmentLine(line_ref=str(a), quantity=3),)
    assert len(h.store.orders[order.id].shipments) == 2


@pytest.mark.asyncio
async def test_the_ledger_accepts_a_tracking_edit_read_through_the_connector(h: Harness) -> None:
    """The source-version decision end to end: every edit on the seller's store must win in the ledger, whatever
    its digest, so the edited shipment must come back with a newer `updated_at`."""
    from ledger import apply, new_state
    from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef
    from schemas.factories import fulfillment_recorded, order_placed

    order = place(h, ("A", 2))
    line = order.products[0]
    buyer = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce", order_ref="9001")
    seller = PartyRef(partner="acme", connection="bc-seller", platform="bigcommerce", order_ref=str(order.id))
    placed = order_placed(buyer=buyer, seller=seller, occurred_at=order.date_created,
                          lines=[OrderLine(line_id=str(line.id), sku="A", quantity=2)])
    state = apply(new_state(placed.order_id), placed).state
    source = SourceRef(partner="acme", connection="bc-seller", platform="bigcommerce")
    shipment = h.store.ship(order.id, [{"order_product_id": line.id, "quantity": 2}], tracking_number="ZZZ9",
                            shipping_provider="ups")
    for number in ("ZZZ9", "AAA1", "MMM5", "BBB2", "YYY8", "CCC3"):  # digests in every order relative to each other
        if number != "ZZZ9":
            h.app.sandbox.clock.advance(1)
            h.store.edit_shipment(order.id, shipment.id, tracking_number=number)
        [read] = await h.connector().fulfillments(str(order.id))
        event = fulfillment_recorded(
            order_id=placed.order_id, source=source, fulfillment_id=read.fulfillment_ref,
            source_version=read.updated_at, carrier=read.tracking.carrier,
            tracking_numbers=read.tracking.numbers, tracking_urls=read.tracking.urls,
            lines=[FulfilledLine(line_id=x.line_ref, quantity=x.quantity) for x in read.lines])
        result = apply(state, event)
        assert result.status == "applied", result.detail
        state = result.state
        assert state.fulfillments[read.fulfillment_ref].tracking_numbers == [number]

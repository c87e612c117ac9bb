"""The Shopify connector against its simulated shop through the whole buyer and seller interface. Every GraphQL
request it sends is validated against the 2025-01 introspection and, when FULFILLSYNC_PLATFORM_SPECS is set, the
2026-07 SDL (which the shop then executes against); see tests/support/shopify_store.py, CheckingTransport."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from connectors.base import MalformedResponseError, PermanentError, RetryableError
from connectors.cursor import PollCursor
from connectors.http import RetryPolicy
from connectors.shopify import ShopifyConnector
from connectors.shopify import operations as ops
from sandbox.common import Fault, SandboxApp
from sandbox.shopify.store import NewLine, Order, ShopifyStore, TrackingInfo
from schemas.platform import (
    Address,
    ChangedOrder,
    FulfillmentLine,
    FulfillmentRequest,
    NewOrder,
    SellerLine,
    Tracking,
)
from tests.support.shopify_store import (
    TOKEN,
    CheckingTransport,
    checked_shop,
    connector,
    make_app,
    sdl_path,
    store,
)

pytestmark = pytest.mark.asyncio


@dataclass
class Shop:
    app: SandboxApp
    store: ShopifyStore
    transport: CheckingTransport

    def connector(self, **options: Any) -> ShopifyConnector:
        options.setdefault("now", self.app.sandbox.clock.now)
        return connector(self.app, transport=self.transport, **options)

    def place(self, *lines: tuple[str, int], **details: Any) -> Order:
        return self.store.place_order([NewLine(title=f"Item {sku}", sku=sku, quantity=qty) for sku, qty in lines],
                                      **details)

    def advance(self, seconds: float = 5) -> None:
        self.app.sandbox.clock.advance(seconds)


@pytest_asyncio.fixture
async def shop(request: pytest.FixtureRequest) -> AsyncIterator[Shop]:
    # a Plus-plan refill keeps the tests quick; throttling is tested below
    with checked_shop(request, restore_rate=2000) as (app, transport):
        yield Shop(app, store(app), transport)


@pytest_asyncio.fixture
async def conn(shop: Shop) -> AsyncIterator[ShopifyConnector]:
    connector = shop.connector()
    yield connector
    await connector.aclose()


def line_gid(order: Order, index: int) -> str:
    return f"gid://shopify/LineItem/{order.line_items[index].id}"


def order_gid(order: Order) -> str:
    return f"gid://shopify/Order/{order.id}"


def request(our_id: str, lines: list[tuple[str, int]], numbers: tuple[str, ...] = (), carrier: str | None = "UPS",
            urls: tuple[str | None, ...] = ()) -> FulfillmentRequest:
    return FulfillmentRequest(our_fulfillment_id=our_id,
                              lines=tuple(FulfillmentLine(line_ref=ref, quantity=q) for ref, q in lines),
                              tracking=Tracking(carrier=carrier, numbers=numbers, urls=urls))


async def walk(connector: ShopifyConnector, cursor: str | None) -> tuple[list[str], str, int]:
    """Every order ref of a complete walk from `cursor`, the cursor after it, and the number of pages."""
    refs: list[str] = []
    pages = 0
    while True:
        page = await connector.orders_changed_since(cursor)
        pages += 1
        refs += [order.order_ref for order in page.items]
        cursor = page.cursor
        if not page.has_more:
            return refs, cursor, pages


# -- polling -----------------------------------------------------------------------------------------------

async def test_polls_every_order_across_pages_and_a_cursor_resumes_in_a_new_instance(shop: Shop) -> None:
    orders = [shop.place((f"SKU-{n}", 1)) for n in range(7)]
    first = shop.connector(page_size=3)
    page = await first.orders_changed_since(None)
    await first.aclose()
    assert page.has_more and len(page.items) == 3
    second = shop.connector(page_size=3)  # a restart between pages: the cursor carries Shopify's endCursor
    rest, cursor, pages = await walk(second, page.cursor)
    assert sorted([o.order_ref for o in page.items] + rest) == sorted(order_gid(o) for o in orders)
    assert pages == 2
    shop.advance(300)  # past the cursor's 2-minute overlap: only the change comes back
    shop.store.fulfill_lines(orders[4].id, None, tracking=[TrackingInfo("UPS", "1Z999", None)])
    shop.advance(10)  # settled (connectors.cursor.SETTLE): remembered as seen by the next walk
    third = shop.connector(page_size=3)
    changed, cursor, _ = await walk(third, cursor)
    assert order_gid(orders[4]) in changed  # with the orders inside the overlap, which the ledger drops
    shop.advance(300)
    quiet, _, _ = await walk(third, cursor)
    await second.aclose()
    await third.aclose()
    assert quiet == []  # the overlap lists the newest change again, unchanged: not returned again


async def test_a_buyer_poll_reads_in_full_only_what_its_caller_does_not_skip(
        shop: Shop, conn: ShopifyConnector) -> None:
    orders = [shop.place(("A", 3), ("B", 1)) for _ in range(3)]
    marks = {listed.order_ref: listed.cancel_mark for listed in (await conn.changed_orders_since(None)).items}
    asked: list[str] = []

    def skip_the_first(listed: ChangedOrder) -> bool:
        asked.append(listed.order_ref)
        return listed.order_ref == order_gid(orders[0])

    page = await conn.orders_changed_since(None, skip_the_first)
    assert sorted(asked) == sorted(order_gid(order) for order in orders)
    assert [order.order_ref for order in page.items] == [order_gid(order) for order in orders[1:]]
    assert all(order.cancel_mark == marks[order.order_ref] for order in page.items)  # the full read's mark
    (read,) = [body for body in shop.transport.sent if body["operationName"] == "OrdersById"]
    assert read["variables"]["ids"] == [order_gid(order) for order in orders[1:]]
    assert shop.transport.problems == []


async def test_the_cancellation_mark_changes_with_every_cancellation_and_nothing_else(
        shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(("A", 3), ("B", 1))

    async def mark() -> str | None:
        shop.advance(1)
        (listed,) = (await conn.changed_orders_since(None)).items
        return listed.cancel_mark

    placed = await mark()
    shop.store.fulfill_lines(order.id, {order.line_items[1].id: 1}, tracking=[TrackingInfo("UPS", "1Z9", None)])
    assert await mark() == placed  # a fulfillment (ours, written on a buyer's order) cancels nothing
    shop.store.remove_units(order.id, order.line_items[0].id, 1)
    units_removed = await mark()
    assert units_removed not in (None, placed)
    shop.store.cancel_order(order.id)
    assert await mark() not in (placed, units_removed)


async def test_a_change_made_while_a_walk_runs_is_seen_by_that_walk_or_the_next(shop: Shop) -> None:
    orders = [shop.place((f"SKU-{n}", 1)) for n in range(4)]
    connector = shop.connector(page_size=2)
    page = await connector.orders_changed_since(None)
    shop.advance(3)
    shop.store.cancel_order(orders[0].id)  # already returned on page 1
    seen, cursor, _ = await walk(connector, page.cursor)
    again, _, _ = await walk(connector, cursor)
    await connector.aclose()
    assert order_gid(orders[0]) in seen + again


async def test_the_overlap_catches_a_change_stamped_before_the_cursor(shop: Shop) -> None:
    """Shopify's search index lags: a change can show up with an updatedAt older than the newest seen."""
    late, fresh = shop.place(("LATE", 1)), shop.place(("FRESH", 1))
    shop.advance(60)
    shop.store.cancel_order(fresh.id)
    _, cursor, _ = await walk(conn := shop.connector(), None)
    shop.advance(-30)  # an update committed 30 s before the newest one seen, indexed only now
    shop.store.remove_units(late.id, late.line_items[0].id, 1)
    seen, _, _ = await walk(conn, cursor)
    await conn.aclose()
    assert order_gid(late) in seen


async def test_order_fields_are_parsed(shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(("A", 3), ("B", 1), email="ann@example.com", phone="+15555550100", shipping_title="Express",
                       shipping_address={"firstName": "Ann", "lastName": "Lee", "address1": "1 Main St",
                                         "address2": "Suite 2", "city": "Louisville", "provinceCode": "KY",
                                         "zip": "40202", "countryCode": "US", "phone": "+15555550100"})
    shop.store.remove_units(order.id, order.line_items[0].id, 1)
    (parsed,) = (await conn.orders_changed_since(None)).items
    assert parsed.order_ref == order_gid(order) and parsed.number == "#1001"
    assert [(line.line_ref, line.sku, line.quantity, line.cancelled_quantity) for line in parsed.lines] == [
        (line_gid(order, 0), "A", 3, 1), (line_gid(order, 1), "B", 1, 0)]
    assert parsed.shipping_address == Address(name="Ann Lee", lines=("1 Main St", "Suite 2"), city="Louisville",
                                              region="KY", postal_code="40202", country_code="US",
                                              phone="+15555550100")
    assert (parsed.email, parsed.phone, parsed.shipping_method) == ("ann@example.com", "+15555550100", "Express")
    assert not parsed.cancelled and parsed.our_order_id is None
    shop.advance()
    shop.store.cancel_order(order.id)
    (cancelled,) = (await conn.orders_changed_since(None)).items
    assert cancelled.cancelled and cancelled.updated_at > parsed.updated_at


async def test_an_order_with_more_line_items_than_one_page_is_read_whole(shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(*[(f"SKU-{n}", 1) for n in range(120)])
    (parsed,) = (await conn.orders_changed_since(None)).items
    assert [line.line_ref for line in parsed.lines] == [line_gid(order, n) for n in range(120)]
    assert shop.transport.operations().count("OrderLineItems") == 1


async def test_a_page_cursor_shopify_refuses_restarts_the_walk(shop: Shop, conn: ShopifyConnector,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    orders = [shop.place(("A", 1)) for _ in range(3)]
    stale = PollCursor(since=datetime.now(UTC) - timedelta(days=1), page="bm90LWEtY3Vyc29y").encode()
    seen, _, _ = await walk(conn, stale)
    assert sorted(seen) == sorted(order_gid(o) for o in orders)
    assert "refused the stored page cursor" in caplog.text


async def test_a_version_shopify_no_longer_serves_is_warned_about_once(
        shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    old = shop.connector(api_version="2024-10")
    await old.orders_changed_since(None)
    await old.orders_changed_since(None)
    await old.aclose()
    assert caplog.text.count("asked for Shopify API 2024-10 but was served 2025-10") == 1


async def test_a_page_that_promises_more_without_a_cursor_is_malformed_not_a_loop(
        shop: Shop, conn: ShopifyConnector) -> None:
    listing = ('{"data": {"orders": {"pageInfo": {"hasNextPage": false}, "nodes": [{"id": "gid://shopify/Order/1", '
               '"updatedAt": "2026-05-01T00:00:00Z"}]}}}')
    read = ('{"data": {"nodes": [{"id": "gid://shopify/Order/1", "updatedAt": "2026-05-01T00:00:00Z", '
            '"lineItems": {"pageInfo": {"hasNextPage": true, "endCursor": null}, "nodes": []}}]}}')
    shop.app.sandbox.faults += [Fault(status=200, body=listing), Fault(status=200, body=read)]
    with pytest.raises(MalformedResponseError, match="hasNextPage is true but endCursor is None"):
        await conn.orders_changed_since(None)


# -- seller side: reading fulfillments ---------------------------------------------------------------------

async def test_partial_fulfillments_tracking_edits_and_cancels_are_read(shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(("A", 3), ("B", 1))
    first = shop.store.fulfill_lines(order.id, {order.line_items[0].id: 2}, tracking=[
        TrackingInfo("UPS", "1Z001", None), TrackingInfo("UPS", "1Z002", "https://example.com/t/1Z002")])
    (read,) = await conn.fulfillments(order_gid(order))
    assert read.fulfillment_ref == f"gid://shopify/Fulfillment/{first.id}" and read.order_ref == order_gid(order)
    assert [(line.line_ref, line.quantity) for line in read.lines] == [(line_gid(order, 0), 2)]
    assert read.tracking == Tracking(carrier="UPS", numbers=("1Z001", "1Z002"),
                                     urls=(None, "https://example.com/t/1Z002"))
    assert not read.cancelled
    shop.advance()
    shop.store.update_tracking(first.id, [TrackingInfo("Hermes", "H-1", "https://hermes.example/H-1")])
    (edited,) = await conn.fulfillments(order_gid(order))
    assert edited.tracking == Tracking(carrier="Hermes", numbers=("H-1",), urls=("https://hermes.example/H-1",))
    assert edited.updated_at > read.updated_at
    shop.advance()
    shop.store.cancel_fulfillment(first.id)
    second = shop.store.fulfill_lines(order.id, None)  # the cancelled units are open again
    cancelled, rest = await conn.fulfillments(order_gid(order))
    assert cancelled.cancelled and not rest.cancelled
    assert rest.fulfillment_ref == f"gid://shopify/Fulfillment/{second.id}"
    assert sorted((line.line_ref, line.quantity) for line in rest.lines) == [
        (line_gid(order, 0), 3), (line_gid(order, 1), 1)]
    assert rest.tracking == Tracking()


async def test_a_fulfillment_with_more_lines_than_one_page_is_read_whole(shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(*[(f"SKU-{n}", 2) for n in range(130)])
    shop.store.fulfill_lines(order.id, None)
    (read,) = await conn.fulfillments(order_gid(order))
    assert [(line.line_ref, line.quantity) for line in read.lines] == [(line_gid(order, n), 2) for n in range(130)]
    assert shop.transport.operations().count("FulfillmentLineItems") == 1


async def test_fulfillments_of_an_unknown_order_is_a_permanent_error(conn: ShopifyConnector) -> None:
    with pytest.raises(PermanentError, match="gid://shopify/Order/999 does not exist"):
        await conn.fulfillments("gid://shopify/Order/999")


# -- buyer side: writing fulfillments ----------------------------------------------------------------------

async def test_partial_fulfillment_with_several_tracking_numbers_and_idempotent_retry(
        shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(("A", 3), ("B", 2))
    wanted = request("ful-1", [(line_gid(order, 0), 2)], numbers=("1Z001", "1Z002"))
    assert await conn.find_fulfillment(order_gid(order), wanted) is None
    ref = await conn.create_fulfillment(order_gid(order), wanted)
    assert await conn.find_fulfillment(order_gid(order), wanted) == ref
    same_id_other_numbers = request("ful-1", [(line_gid(order, 0), 2)], numbers=("1Z003",))
    assert await conn.find_fulfillment(order_gid(order), same_id_other_numbers) == ref  # found by our id
    same_content_other_id = request("ful-9", [(line_gid(order, 0), 2)], numbers=("1Z001", "1Z002"))
    assert await conn.find_fulfillment(order_gid(order), same_content_other_id) is None  # never by content
    (made,) = shop.store.orders[order.id].fulfillments
    assert ref == f"gid://shopify/Fulfillment/{made.id}"
    assert [(t.company, t.number) for t in made.tracking] == [("UPS", "1Z001"), ("UPS", "1Z002")]
    assert [(line.line_item_id, line.quantity) for line in made.lines] == [(order.line_items[0].id, 2)]
    assert shop.store.orders[order.id].display_fulfillment_status() == "PARTIALLY_FULFILLED"
    rest = request("ful-2", [(line_gid(order, 0), 1), (line_gid(order, 1), 2)], numbers=("1Z004",))
    await conn.create_fulfillment(order_gid(order), rest)
    assert shop.store.orders[order.id].display_fulfillment_status() == "FULFILLED"
    with pytest.raises(PermanentError, match=r"line gid://shopify/LineItem/\d+: 1 unit\(s\) to fulfill but only 0"):
        await conn.create_fulfillment(order_gid(order), request("ful-3", [(line_gid(order, 1), 1)]))


async def test_unknown_carriers_are_sent_by_name_with_their_urls(shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(("A", 2))
    tracking = ("H-1", "H-2")
    urls = ("https://hermes.example/H-1", "https://hermes.example/H-2")
    await conn.create_fulfillment(order_gid(order), request("f", [(line_gid(order, 0), 2)], tracking, "Hermes",
                                                            urls))
    (made,) = shop.store.orders[order.id].fulfillments
    assert [(t.company, t.number, t.url) for t in made.tracking] == [
        ("Hermes", "H-1", urls[0]), ("Hermes", "H-2", urls[1])]
    sent = [body for body in shop.transport.sent if body["operationName"] == "CreateFulfillment"][-1][
        "variables"]["fulfillment"]
    assert sent["trackingInfo"] == {"company": "Hermes", "numbers": list(tracking), "urls": list(urls)}
    assert sent["notifyCustomer"] is False


async def test_tracking_update_and_cancel_with_a_repeat_cancel_as_no_op(shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(("A", 1))
    ref = await conn.create_fulfillment(order_gid(order), request("f", [(line_gid(order, 0), 1)], ("1Z1",)))
    new_ref = await conn.update_tracking(order_gid(order), ref, Tracking(carrier="FedEx", numbers=("7777",)))
    assert new_ref == ref
    (read,) = await conn.fulfillments(order_gid(order))
    assert read.tracking.carrier == "FedEx" and read.tracking.numbers == ("7777",)
    await conn.cancel_fulfillment(order_gid(order), ref)
    await conn.cancel_fulfillment(order_gid(order), ref)
    (cancelled,) = await conn.fulfillments(order_gid(order))
    assert cancelled.cancelled
    assert await conn.find_fulfillment(order_gid(order), request("f", [(line_gid(order, 0), 1)], ("7777",))) is None
    again = await conn.create_fulfillment(order_gid(order), request("f2", [(line_gid(order, 0), 1)], ("1Z2",)))
    assert again != ref


async def test_a_refused_mutation_is_permanent_with_shopifys_message(shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(("A", 1))
    ref = await conn.create_fulfillment(order_gid(order), request("f", [(line_gid(order, 0), 1)], ("1Z1",)))
    await conn.cancel_fulfillment(order_gid(order), ref)
    with pytest.raises(PermanentError) as caught:
        await conn.update_tracking(order_gid(order), ref, Tracking(carrier="UPS", numbers=("1Z9",)))
    assert caught.value.platform_message == "fulfillmentId: Fulfillment has been cancelled and cannot be updated."
    with pytest.raises(PermanentError, match="does not exist"):
        await conn.cancel_fulfillment(order_gid(order), "gid://shopify/Fulfillment/424242")


# -- seller side: creating orders --------------------------------------------------------------------------

NEW_ORDER = NewOrder(
    our_order_id="ord_7a1c", buyer_order_number="#5001", email="cust@example.com", shipping_method="Standard",
    lines=(SellerLine(line_ref="L1", sku="ACME-1", quantity=2, title="Widget"),
           SellerLine(line_ref="L2", sku="ACME-2", quantity=1)),
    shipping_address=Address(name="Mary Ann Smith", company="Smith Co", lines=("2 High St", "Floor 3", "Back"),
                             city="Leeds", postal_code="LS1 1AA", country_code="gb"))


async def test_create_order_maps_lines_and_is_idempotent(shop: Shop, conn: ShopifyConnector) -> None:
    created = await conn.create_order(NEW_ORDER)
    again = await shop.connector().create_order(NEW_ORDER)
    assert again == created
    (order,) = shop.store.orders.values()
    assert created.order_ref == order_gid(order) and created.number == order.name
    assert created.line_refs == {"L1": line_gid(order, 0), "L2": line_gid(order, 1)}
    assert [(line.sku, line.quantity, line.title) for line in order.line_items] == [
        ("ACME-1", 2, "Widget"), ("ACME-2", 1, "ACME-2")]
    assert order.source_identifier == "ord_7a1c" and order.po_number == "#5001"
    assert order.tags == ["fulfillsync", "fulfillsync-custom-lines"]
    assert order.shipping_address == {"firstName": "Mary Ann", "lastName": "Smith", "company": "Smith Co",
                                      "address1": "2 High St", "address2": "Floor 3, Back", "city": "Leeds",
                                      "zip": "LS1 1AA", "countryCode": "GB"}
    (polled,) = (await conn.orders_changed_since(None)).items
    assert polled.our_order_id == "ord_7a1c" and polled.shipping_method == "Standard"
    (create,) = [body for body in shop.transport.sent if body["operationName"] == "CreateOrder"]
    assert create["variables"]["options"] == {"sendReceipt": False, "sendFulfillmentReceipt": False,
                                              "inventoryBehaviour": "DECREMENT_IGNORING_POLICY"}


async def test_the_seller_listing_tells_our_orders_from_the_sellers_own_with_the_same_cursor(
        shop: Shop, conn: ShopifyConnector) -> None:
    created = await conn.create_order(NEW_ORDER)
    own = shop.place(("OWN-1", 1))  # the seller's own order: no reference of ours
    shop.advance(10)  # settled (connectors.cursor.SETTLE): the walk remembers both as seen
    light = await conn.changed_orders_since(None)
    full = await conn.orders_changed_since(None)
    assert {(item.order_ref, item.our_order_id, item.updated_at) for item in light.items} == {
        (order.order_ref, order.our_order_id, order.updated_at) for order in full.items} == {
        (created.order_ref, "ord_7a1c", light.items[0].updated_at), (order_gid(own), None, light.items[0].updated_at)}
    assert (await conn.changed_orders_since(light.cursor)).items == ()  # inside the overlap, unchanged
    shop.store.fulfill_lines(own.id, None, tracking=[TrackingInfo("UPS", "1Z999", None)])
    (changed,) = (await conn.changed_orders_since(light.cursor)).items
    assert changed.order_ref == order_gid(own)
    listing = [body for body in shop.transport.sent if body["operationName"] == "OrdersChangedSince"]
    assert [body["variables"]["first"] for body in listing] == [ops.LISTING_PAGE_SIZE] * 4


async def test_create_order_finds_an_id_with_quotes_again(shop: Shop, conn: ShopifyConnector) -> None:
    tricky = NEW_ORDER.model_copy(update={"our_order_id": "ord_'7\\a"})
    first = await conn.create_order(tricky)
    assert await conn.create_order(tricky) == first
    assert [o.source_identifier for o in shop.store.orders.values()] == ["ord_'7\\a"]


async def test_create_order_after_a_lost_response_finds_the_order_instead_of_a_second(
        shop: Shop, conn: ShopifyConnector) -> None:
    lost = {"calls": 0}
    original = shop.transport.inner

    class LoseCreateResponse(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await original.handle_async_request(request)
            if b"CreateOrder" in request.content and lost["calls"] == 0:
                lost["calls"] += 1
                await response.aread()
                raise httpx.ReadError("connection reset after the order was created")
            return response

    shop.transport.inner = LoseCreateResponse()
    with pytest.raises(RetryableError) as caught:
        await conn.create_order(NEW_ORDER)
    assert not caught.value.not_applied
    created = await conn.create_order(NEW_ORDER)
    assert len(shop.store.orders) == 1 and created.order_ref == order_gid(next(iter(shop.store.orders.values())))


# -- transport failures ------------------------------------------------------------------------------------

async def test_429_and_5xx_on_reads_are_retried(shop: Shop, conn: ShopifyConnector) -> None:
    shop.place(("A", 1))
    shop.app.sandbox.faults.append(Fault(status=429, times=2, headers={"Retry-After": "0"}))
    assert len((await conn.orders_changed_since(None)).items) == 1
    shop.app.sandbox.faults.append(Fault(status=503, times=2, body='{"errors": "Service Unavailable"}'))
    assert len((await conn.orders_changed_since(None)).items) == 1
    # per poll: two failed listings, the listing, the order's full read
    assert sum(shop.app.sandbox.requests.values()) == 8


async def test_a_5xx_on_a_write_is_not_resent_and_the_retry_starts_with_find(
        shop: Shop, conn: ShopifyConnector) -> None:
    order = shop.place(("A", 1))
    wanted = request("f", [(line_gid(order, 0), 1)], ("1Z1",))
    original = shop.transport.inner

    class BadGatewayOnWrites(httpx.AsyncBaseTransport):
        """A proxy that answers 502 to the first mutation (after Shopify applied it or not: unknown)."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if b"CreateFulfillment" in request.content and not failed:
                failed.append(request)
                return httpx.Response(502, text="<html>Bad gateway</html>", request=request)
            return await original.handle_async_request(request)

    failed: list[httpx.Request] = []
    shop.transport.inner = BadGatewayOnWrites()
    with pytest.raises(RetryableError) as caught:
        await conn.create_fulfillment(order_gid(order), wanted)
    assert caught.value.status == 502 and not caught.value.not_applied
    assert shop.transport.operations() == ["OrderFulfillmentMarks", "OrderFulfillments", "FulfillmentOrdersForOrder",
                                           "SetFulfillmentMark", "CreateFulfillment"]
    assert await conn.find_fulfillment(order_gid(order), wanted) is None
    ref = await conn.create_fulfillment(order_gid(order), wanted)
    assert await conn.find_fulfillment(order_gid(order), wanted) == ref


def _lose_answers(shop: Shop, *parts: bytes, applied: bool = True) -> None:
    """From now on, the next request holding every one of `parts` is answered 502 by a proxy, after the shop
    applied it (`applied`: its answer was lost) or without reaching the shop: the caller cannot tell which."""
    original = shop.transport.inner
    lost: list[int] = []

    class LosesAnswers(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            hit = all(part in request.content for part in parts) and not lost
            if hit and not applied:
                lost.append(1)
                return httpx.Response(502, text="<html>Bad gateway</html>", request=request)
            response = await original.handle_async_request(request)
            if hit:
                lost.append(1)
                return httpx.Response(502, text="<html>Bad gateway</html>", request=request)
            return response

    shop.transport.inner = LosesAnswers()


async def test_a_create_whose_answer_was_lost_is_found_by_its_mark(shop: Shop, conn: ShopifyConnector) -> None:
    """fulfillmentCreate landed but its answer was lost (so the mark stayed incomplete): the retry's find resolves
    the mark to that fulfillment, and a second seller fulfillment of identical content still gets its own."""
    order = shop.place(("A", 2))
    first = request("ful-a", [(line_gid(order, 0), 1)], ("1Z1",))
    _lose_answers(shop, b"CreateFulfillment")
    with pytest.raises(RetryableError):
        await conn.create_fulfillment(order_gid(order), first)
    (made,) = shop.store.orders[order.id].fulfillments
    assert await conn.find_fulfillment(order_gid(order), first) == f"gid://shopify/Fulfillment/{made.id}"
    twin = request("ful-b", [(line_gid(order, 0), 1)], ("1Z1",))
    assert await conn.find_fulfillment(order_gid(order), twin) is None
    twin_ref = await conn.create_fulfillment(order_gid(order), twin)
    assert twin_ref != f"gid://shopify/Fulfillment/{made.id}"
    assert await conn.find_fulfillment(order_gid(order), first) == f"gid://shopify/Fulfillment/{made.id}"
    assert await conn.find_fulfillment(order_gid(order), twin) == twin_ref


async def test_an_incomplete_mark_never_takes_a_later_twins_fulfillment(shop: Shop, conn: ShopifyConnector) -> None:
    """A create refused after its mark was written (the mark stays incomplete), then a twin of identical content
    is created and its own mark is lost: the twin's fulfillment belongs to the twin (the later mark), not to the
    refused one, whichever asks first."""
    order = shop.place(("A", 1))
    refused = request("ful-a", [(line_gid(order, 0), 1)], ("1Z1",))
    original = shop.transport.inner

    class RefusesCreate(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if b"CreateFulfillment" in request.content:
                return httpx.Response(200, json={"data": {"fulfillmentCreate": {"fulfillment": None, "userErrors": [
                    {"field": ["fulfillment"], "message": "refused by the test"}]}}}, request=request)
            return await original.handle_async_request(request)

    shop.transport.inner = RefusesCreate()
    with pytest.raises(PermanentError, match="refused by the test"):
        await conn.create_fulfillment(order_gid(order), refused)
    shop.transport.inner = original
    twin = request("ful-b", [(line_gid(order, 0), 1)], ("1Z1",))
    _lose_answers(shop, b"SetFulfillmentMark")  # the twin's intent lands, its answer is lost
    with pytest.raises(RetryableError):
        await conn.create_fulfillment(order_gid(order), twin)
    assert shop.store.orders[order.id].fulfillments == []  # so the create never ran
    _lose_answers(shop, b"SetFulfillmentMark", b"gid://shopify/Fulfillment/", applied=False)  # never completed
    created = await conn.create_fulfillment(order_gid(order), twin)  # logged only: the fulfillment exists
    marks = shop.store.orders[order.id].metafields
    assert [json.loads(field.value)["fulfillment"] for field in marks.values()] == [None, None]
    assert await conn.find_fulfillment(order_gid(order), refused) is None
    assert await conn.find_fulfillment(order_gid(order), twin) == created


async def test_a_permanent_4xx_carries_shopifys_message(shop: Shop, conn: ShopifyConnector) -> None:
    said = "[API] This action requires merchant approval for read_orders scope."
    shop.app.sandbox.faults.append(Fault(status=403, body=f'{{"errors": "{said}"}}'))
    with pytest.raises(PermanentError) as caught:
        await conn.orders_changed_since(None)
    assert caught.value.status == 403 and caught.value.platform_message == said
    assert said in str(caught.value) and "permission (scope)" in str(caught.value)


@pytest.mark.parametrize(("fault", "expected"), [
    (Fault(status=200, body="<html><body>Shopify is down for maintenance</body></html>"), "not valid JSON"),
    (Fault(truncate=True), "not valid JSON"),
    (Fault(status=200, body='{"extensions": {}}'), "no `data` object"),
    (Fault(status=200, body='{"data": {"orders": {"pageInfo": {"hasNextPage": false}, "nodes": "none"}}}'),
     "nodes is str, not list"),
    (Fault(status=200, body='{"data": {"orders": {"pageInfo": {"hasNextPage": true}, "nodes": []}}}'),
     "endCursor is missing"),
])
async def test_malformed_answers_are_malformed_response_errors(shop: Shop, conn: ShopifyConnector, fault: Fault,
                                                               expected: str) -> None:
    shop.place(("A", 1))
    shop.app.sandbox.faults.append(fault)
    with pytest.raises(MalformedResponseError, match=expected):
        await conn.orders_changed_since(None)


async def test_graphql_errors_are_permanent_with_a_hint(shop: Shop, conn: ShopifyConnector) -> None:
    body = '{"errors": [{"message": "Field \'displayStatus\' doesn\'t exist on type \'Fulfillment\'"}]}'
    shop.app.sandbox.faults.append(Fault(status=200, body=body))
    with pytest.raises(PermanentError, match="api_version may lack a field") as caught:
        await conn.orders_changed_since(None)
    assert "displayStatus" in caught.value.platform_message


async def test_a_query_too_expensive_for_shopify_is_refused_permanently(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(25):
        shop.place((f"SKU-{n}", 1))
    monkeypatch.setattr(ops, "ORDER_BATCH", 25)  # 25 full reads at about 56 points each: over Shopify's 1,000
    greedy = shop.connector()
    with pytest.raises(PermanentError, match=r"MAX_COST|exceeds the single query max cost") as caught:
        await greedy.orders_changed_since(None)
    await greedy.aclose()
    assert "lower the connector's page sizes" in str(caught.value)


async def test_wrong_credentials_are_permanent_with_a_hint_and_no_secret(
        shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "shpat_wrong_secret_0000000000"
    bad = shop.connector(token=wrong)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PermanentError) as caught:
        await bad.orders_changed_since(None)
    await bad.aclose()
    error = caught.value
    assert error.status == 401 and "check the connection's credentials" in str(error)
    assert "Invalid API key or access token" in error.platform_message
    for text in (str(error), error.platform_message, caplog.text, repr(error.args)):
        assert wrong not in text and TOKEN not in text


# -- cost throttle -----------------------------------------------------------------------------------------

async def test_the_connector_waits_for_the_bucket_before_it_runs_dry(request: pytest.FixtureRequest) -> None:
    # A slow restore, so that the wait for the third page (about 2 s) cannot be absorbed by a slow machine's own
    # pace between requests; with a fast one (1000/s) this test failed under load.
    app = make_app(sdl_path(request), bucket_max=1200, restore_rate=100)
    for n in range(30):  # 40 lines each: a full read of 10 really costs about 420 of the 560 points it asks for
        store(app).place_order([NewLine(title="x", sku=f"S{n}-{i}", quantity=1) for i in range(40)])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    polling = connector(app, sleep=sleep)
    refs, _, pages = await walk(polling, None)
    await polling.aclose()
    assert pages == 1 and len(refs) == 30  # one listing, three full reads of 10: the third waits for its share
    assert app.store.throttled == 0
    assert waits and all(wait < 2.5 for wait in waits)


async def test_a_throttled_answer_is_waited_out_and_resent(request: pytest.FixtureRequest) -> None:
    app = make_app(sdl_path(request), bucket_max=1000, restore_rate=2000)
    store(app).place_order([NewLine(title="x", sku="S", quantity=1)])
    waits: list[float] = []

    async def capped_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(min(seconds, 0.05))

    polling = connector(app, sleep=capped_sleep)
    assert app.store.bucket.take(990)  # another app of the same shop spent the bucket
    page = await polling.orders_changed_since(None)
    assert len(page.items) == 1 and app.store.throttled >= 1 and waits
    app.store.bucket.restore_rate = 0.001
    app.store.bucket.take(app.store.bucket.available())
    with pytest.raises(RetryableError, match="throttled") as caught:
        await polling.orders_changed_since(None)
    await polling.aclose()
    assert caught.value.not_applied and caught.value.retry_after_s is not None


async def test_connector_instances_of_one_shop_share_its_bucket_and_resend_throttled_queries(
        request: pytest.FixtureRequest) -> None:
    app = make_app(sdl_path(request), bucket_max=1000, restore_rate=1000)
    for n in range(12):
        store(app).place_order([NewLine(title="x", sku=f"S{n}", quantity=1)])
    transport = httpx.ASGITransport(app=app)  # one shop: the agents' connectors reach it through one transport
    one_attempt = RetryPolicy(attempts=1)  # a query that may have run is never resent
    instances = [connector(app, transport=transport, retry=one_attempt) for _ in range(2)]
    assert app.store.bucket.take(990)  # another app of the shop spent the bucket: the first sends are throttled
    first = await asyncio.gather(*(instance.orders_changed_since(None) for instance in instances * 2))
    assert all(len(page.items) == 12 for page in first)  # throttled answers ran nothing: resent all the same
    throttled = app.store.throttled
    assert throttled >= 1
    # the bucket's state is known now (shared by both instances): four polls at once (each a listing and full reads
    # of 10 and 2 orders: 2,700 points asked of a 1,000-point bucket) wait for their share instead of being throttled
    second = await asyncio.gather(*(instance.orders_changed_since(None) for instance in instances * 2))
    assert all(len(page.items) == 12 for page in second)
    assert app.store.throttled == throttled
    for instance in instances:
        await instance.aclose()

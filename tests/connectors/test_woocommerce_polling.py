"""WooCommerceConnector.orders_changed_since against the simulated store: pages, cursors, overlap."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import PermanentError
from connectors.woocommerce import WooCommerceConnector
from schemas.platform import PlatformOrder
from tests.support.woocommerce_store import Woo, place, stock, woo

pytestmark = pytest.mark.asyncio


async def walk(connector: WooCommerceConnector, cursor: str | None) -> tuple[list[PlatformOrder], str, int]:
    """Poll until `has_more` is false: every order seen, the final cursor, the number of requests."""
    seen: list[PlatformOrder] = []
    pages = 0
    while True:
        page = await connector.orders_changed_since(cursor)
        seen.extend(page.items)
        cursor = page.cursor
        pages += 1
        assert pages < 50, "the walk does not end"
        if not page.has_more:
            return seen, cursor, pages


def spread_orders(shop: Woo, count: int) -> list[int]:
    stock(shop.store, "MUG", "CAP")
    ids = []
    for _ in range(count):
        ids.append(place(shop.store, ("MUG", 2), ("CAP", 1)))
        shop.advance(1)
    return ids


async def test_a_walk_reads_every_order_across_pages_and_maps_it() -> None:
    shop = woo(utc_offset_minutes=-180)
    ids = spread_orders(shop, 25)
    connector = shop.connector(page_size=10)
    seen, _, pages = await walk(connector, None)
    assert {int(o.order_ref) for o in seen} == set(ids)
    assert pages >= 3
    first = next(o for o in seen if o.order_ref == str(ids[0]))
    stored = shop.store.order(ids[0])
    assert first.updated_at == stored.date_modified  # the GMT field, not the site's local time
    assert [(line.line_ref, line.sku, line.quantity) for line in first.lines] == [
        (str(item.id), item.sku, item.quantity) for item in stored.line_items]
    assert first.shipping_address is not None and first.shipping_address.name == "Ada Lovelace"
    assert first.shipping_address.lines == ("1 Analytical Way",) and first.shipping_address.region == "OR"
    assert first.email == "ada@example.com" and not first.cancelled and first.our_order_id is None
    await connector.aclose()


async def test_a_cursor_resumes_in_a_new_connector_and_sees_only_later_changes() -> None:
    shop = woo(utc_offset_minutes=-180)  # a bound read as site time instead of GMT would miss the changes
    ids = spread_orders(shop, 25)
    shop.advance(600)
    ids.append(place(shop.store, ("MUG", 1)))  # the newest order: the cursor's `since`
    shop.advance(10)  # settled (connectors.cursor.SETTLE): remembered as seen
    first = shop.connector(page_size=10)
    page = await first.orders_changed_since(None)
    assert page.has_more and len(page.items) == 10
    await first.aclose()
    second = shop.connector(page_size=10)  # a restart: only the cursor string survives
    rest, cursor, _ = await walk(second, page.cursor)
    assert {o.order_ref for o in page.items} | {o.order_ref for o in rest} == {str(i) for i in ids}

    shop.advance(600)
    shop.store.touch_order(ids[3])
    shop.store.cancel_order(ids[7])
    later, _, _ = await walk(second, cursor)
    # the two changes; the newest order is listed again (inside the cursor's overlap) but unchanged: not returned
    assert {o.order_ref for o in later} == {str(ids[3]), str(ids[7])}
    assert next(o for o in later if o.order_ref == str(ids[7])).cancelled
    await second.aclose()


async def test_an_order_edited_during_a_walk_never_hides_another() -> None:
    shop = woo()
    ids = spread_orders(shop, 30)
    connector = shop.connector(page_size=10)
    page = await connector.orders_changed_since(None)
    shop.advance(5)
    # Edited orders jump to the end of `orderby=modified`, shifting the rest forwards: page numbers would skip.
    for order_ref in [o.order_ref for o in page.items][:3]:
        shop.store.touch_order(int(order_ref))
    rest, _, _ = await walk(connector, page.cursor)
    assert {o.order_ref for o in page.items} | {o.order_ref for o in rest} == {str(i) for i in ids}
    await connector.aclose()


async def test_many_orders_in_one_second_are_paged_through_and_the_walk_ends() -> None:
    shop = woo()
    shop.app.sandbox.clock.set(datetime.now(UTC).replace(microsecond=0))  # the clock stands still
    stock(shop.store, "MUG")
    ids = [place(shop.store, ("MUG", 1)) for _ in range(25)]
    connector = shop.connector(page_size=10)
    seen, _, pages = await walk(connector, None)
    assert {o.order_ref for o in seen} == {str(i) for i in ids}
    # the first page moves the bound to that second; it cannot move further, so pages 1, 2, 3 under it
    assert pages == 4
    await connector.aclose()


async def test_unpaid_orders_wait_until_paid() -> None:
    shop = woo()
    stock(shop.store, "MUG")
    pending = place(shop.store, ("MUG", 1), status="pending")
    connector = shop.connector()
    page = await connector.orders_changed_since(None)
    assert page.items == ()
    shop.advance(600)
    shop.store.update_order(pending, {"status": "processing"})
    page = await connector.orders_changed_since(page.cursor)
    assert [o.order_ref for o in page.items] == [str(pending)]
    await connector.aclose()


async def test_an_unreadable_cursor_is_a_permanent_error_saying_what_to_do() -> None:
    shop = woo()
    connector = shop.connector()
    with pytest.raises(PermanentError, match="reset the connection's cursor"):
        await connector.orders_changed_since("not-a-cursor")
    await connector.aclose()

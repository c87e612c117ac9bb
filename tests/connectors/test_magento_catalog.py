"""The Magento connector as a seller's catalog: finding products by SKU, orders of real products at real prices,
and the seller's stock moved exactly once, against the simulated store; every exchange checked against the
official schema (tests/support/magento_store.py)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio

from connectors.base import PermanentError, RetryableError
from connectors.magento import MagentoConnector, seller_notes
from sandbox.common import Fault
from sandbox.merchant import Merchant
from schemas.platform import CatalogVariant, NewOrder, SellerLine
from tests.support.magento_store import Harness, make_harness

pytestmark = pytest.mark.asyncio
UNAVAILABLE = json.dumps({"message": "Service Unavailable"})


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[Harness]:
    made = make_harness()
    catalog = made.store.catalog
    catalog.add_product("MUG-1", price=12.5, qty=7, name="Mug")
    catalog.add_product("OLD-1", price=3, qty=5, status=2)
    catalog.add_product("GIFT-1", price=20, qty=0, type_id="virtual", manage_stock=False)
    catalog.add_product("A,B", price=1.25, qty=3)
    catalog.add_configurable("TEE", [{"sku": "TEE-S-RED", "price": 15, "qty": 4, "options": {"size": "S"}},
                                     {"sku": "TEE-M-RED", "price": 16, "qty": 2, "options": {"size": "M"}}])
    yield made
    await made.close()


def seller(harness: Harness) -> MagentoConnector:
    return harness.connector(role="seller")


def qty(harness: Harness, sku: str) -> float:
    return float(harness.store.catalog.stock_item(sku).qty)


def comments(harness: Harness, order_ref: str) -> list[str]:
    return [history["comment"] for history in harness.store.order(int(order_ref)).histories]


# -- catalog_variants ---------------------------------------------------------------------------------------

async def test_skus_are_found_exactly_and_only_when_an_order_line_can_be_them(harness: Harness) -> None:
    asked = ["MUG-1", "TEE", "TEE-S-RED", "OLD-1", "GIFT-1", "A,B", "mug-1", "NOPE"]
    lookup = await seller(harness).catalog_variants(asked)
    assert lookup.currency == "USD" and list(lookup.variants) == asked
    mug = harness.store.catalog.by_sku("MUG-1")
    assert lookup.variants["MUG-1"] == (CatalogVariant(
        sku="MUG-1", product_ref=str(mug.entity_id), variant_ref=str(mug.entity_id), title="Mug",
        price=Decimal("12.5"), options=(("type_id", "simple"),), inventory=None),)  # lists carry no stock_item
    assert [v.sku for v in lookup.variants["TEE-S-RED"]] == ["TEE-S-RED"]  # the configurable's child
    assert lookup.variants["TEE"] == ()  # a configurable parent is no order line
    assert lookup.variants["OLD-1"] == ()  # disabled
    assert lookup.variants["GIFT-1"][0].options == (("type_id", "virtual"),)
    assert lookup.variants["A,B"][0].price == Decimal("1.25")  # asked with eq: `in` would split it
    assert lookup.variants["mug-1"] == () and lookup.variants["NOPE"] == ()  # MySQL would match mug-1: we do not
    (search,) = [s for s in harness.transport.sent if s.path == "/V1/products"]
    query = dict(search.query)
    assert query["searchCriteria[filter_groups][0][filters][0][condition_type]"] == "in"
    assert query["searchCriteria[filter_groups][0][filters][1]" + "[value]"] == "A,B"


async def test_many_skus_are_asked_in_batches_and_the_currency_is_the_base_currency() -> None:
    made = make_harness(base_currency="EUR")
    for n in range(120):
        made.store.catalog.add_product(f"SKU-{n:03d}", price=n, qty=1)
    lookup = await made.connector(role="seller").catalog_variants([f"SKU-{n:03d}" for n in range(120)])
    await made.close()
    assert lookup.currency == "EUR"
    assert all(len(variants) == 1 for variants in lookup.variants.values())
    assert lookup.variants["SKU-119"][0].price == Decimal(119)
    assert made.requests("GET /rest/default/V1/products") == 3  # 50 + 50 + 20


async def test_a_product_list_with_stock_items_gives_inventory(harness: Harness) -> None:
    harness.transport.check_responses = False  # the injected list is not the store's own answer
    mug = harness.store.catalog.by_sku("MUG-1").to_json()
    mug["extension_attributes"]["stock_item"] = {"qty": 7, "manage_stock": True}
    harness.app.sandbox.faults.append(Fault(status=200, path=r"/V1/products$", body=json.dumps(
        {"items": [mug], "search_criteria": {"filter_groups": []}, "total_count": 1})))
    lookup = await seller(harness).catalog_variants(["MUG-1"])
    assert lookup.variants["MUG-1"][0].inventory == 7


# -- create_order -------------------------------------------------------------------------------------------

def variant(harness: Harness, sku: str, price: str = "12.5") -> CatalogVariant:
    product = harness.store.catalog.by_sku(sku)
    return CatalogVariant(sku=sku, product_ref=str(product.entity_id), variant_ref=str(product.entity_id),
                          price=Decimal(price), options=(("type_id", product.type_id),))


def new_order(harness: Harness, our_id: str = "ord-1", *, custom: bool = True) -> NewOrder:
    lines = [SellerLine(line_ref="l-mug", sku="MUG-1", quantity=2, variant=variant(harness, "MUG-1"),
                        unit_price=Decimal("9.90")),
             SellerLine(line_ref="l-tee", sku="TEE-S-RED", quantity=1, title="Tee S",
                        variant=variant(harness, "TEE-S-RED"), unit_price=Decimal("11")),
             SellerLine(line_ref="l-mug2", sku="MUG-1", quantity=1, variant=variant(harness, "MUG-1"),
                        unit_price=Decimal("9.90"))]
    if custom:
        lines.append(SellerLine(line_ref="l-x", sku="ZZ-9", quantity=3, title="Not ours", unit_price=Decimal("2.5")))
    return NewOrder(our_order_id=our_id, lines=tuple(lines), shipping_price=Decimal("4.90"), currency="USD")


async def test_an_order_of_catalog_products_at_real_prices_moves_the_stock_once(harness: Harness) -> None:
    created = await seller(harness).create_order(new_order(harness))
    order = harness.store.order(int(created.order_ref))
    items = {item.ext_order_item_id: item for item in order.items}
    mug = harness.store.catalog.by_sku("MUG-1")
    assert (items["l-mug"].product_id, items["l-mug"].sku, items["l-mug"].price) == (mug.entity_id, "MUG-1", 9.9)
    assert items["l-x"].product_id is None and items["l-x"].price == 2.5  # the custom line, priced
    assert order.subtotal == pytest.approx(2 * 9.9 + 11 + 9.9 + 3 * 2.5) and order.shipping_amount == 4.9
    assert order.grand_total == pytest.approx(order.subtotal + 4.9)
    (sent,) = harness.transport.bodies("POST", r"/V1/orders")
    assert sent["entity"]["base_grand_total"] == sent["entity"]["grand_total"]
    assert [i["row_total"] for i in sent["entity"]["items"]] == [19.8, 11, 9.9, 7.5]
    assert "ZZ-9" in sent["entity"]["customer_note"]
    assert (qty(harness, "MUG-1"), qty(harness, "TEE-S-RED")) == (4, 3)  # 7 - 2 - 1, 4 - 1
    notes = comments(harness, created.order_ref)
    assert notes[0] == "fulfillsync: custom lines, not products of this store's catalog: ZZ-9"
    assert "MUG-1: 7 -> 4" in notes[1] and "TEE-S-RED: 4 -> 3" in notes[1] and "[stock moved" in notes[2]

    again = await seller(harness).create_order(new_order(harness))
    assert again == created and len(harness.store.orders) == 1
    assert qty(harness, "MUG-1") == 4 and len(comments(harness, created.order_ref)) == 3
    assert harness.requests("POST /rest/default/V1/orders") == 1
    assert harness.requests("PUT /rest/default/V1/products/MUG-1/stockItems/1") == 1


async def test_the_order_as_the_seller_sees_it(harness: Harness) -> None:
    created = await seller(harness).create_order(new_order(harness))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app), base_url="http://m") as admin:
        merchant = Merchant("magento2", admin)
        order = await merchant.find_order("ord-1")
        assert order is not None and order.order_ref == created.order_ref
        sold = await merchant.sold(order)
        assert await merchant.inventory("MUG-1") == 4
    assert [(line.sku, line.quantity, line.unit_price, line.linked) for line in sold.lines] == [
        ("MUG-1", 2, Decimal("9.9"), True), ("TEE-S-RED", 1, Decimal(11), True), ("MUG-1", 1, Decimal("9.9"), True),
        ("ZZ-9", 3, Decimal("2.5"), False)]
    assert (sold.shipping, sold.total, sold.currency, sold.flagged) == (Decimal("4.9"), Decimal("53.1"), "USD", True)


async def test_a_crash_before_the_stock_moved_is_made_good_by_the_retry(harness: Harness) -> None:
    harness.app.sandbox.faults.append(Fault(status=503, times=5, method="GET", path=r"/V1/stockItems/",
                                            body=UNAVAILABLE))
    with pytest.raises(RetryableError):
        await seller(harness).create_order(new_order(harness))
    assert len(harness.store.orders) == 1 and qty(harness, "MUG-1") == 7  # made, stock untouched
    await seller(harness).create_order(new_order(harness))
    assert len(harness.store.orders) == 1 and qty(harness, "MUG-1") == 4


async def test_a_crash_after_the_plan_sets_what_is_still_as_planned_and_names_what_changed(
        harness: Harness) -> None:
    harness.app.sandbox.faults.append(Fault(status=503, times=5, method="PUT", path=r"/stockItems/",
                                            body=UNAVAILABLE))
    with pytest.raises(RetryableError):
        await seller(harness).create_order(new_order(harness, custom=False))
    (order_id,) = harness.store.orders
    assert qty(harness, "MUG-1") == 7 and "[stock plan fulfillsync:ord-1]" in comments(harness, str(order_id))[0]
    harness.store.place_order([{"sku": "MUG-1", "qty": 1}])  # a sale on the seller's own store meanwhile
    assert qty(harness, "MUG-1") == 6
    await seller(harness).create_order(new_order(harness, custom=False))
    # TEE-S-RED is still as planned: set, once (never a second decrement); MUG-1 changed since the plan: the
    # seller's own sale is not overwritten, and a comment names it for the seller to check
    assert qty(harness, "MUG-1") == 6 and qty(harness, "TEE-S-RED") == 3
    texts = comments(harness, str(order_id))
    assert any("MUG-1: planned 7 -> 4, now 6" in text for text in texts)
    assert sum("[stock moved fulfillsync:ord-1]" in text for text in texts) == 1
    await seller(harness).create_order(new_order(harness, custom=False))  # done: nothing more
    assert qty(harness, "MUG-1") == 6 and qty(harness, "TEE-S-RED") == 3


async def test_a_crash_after_the_quantities_were_set_writes_only_what_is_missing(harness: Harness) -> None:
    created = await seller(harness).create_order(new_order(harness, custom=False))
    order = harness.store.order(int(created.order_ref))
    order.histories = [h for h in order.histories if "[stock moved" not in h["comment"]]  # the crash
    await seller(harness).create_order(new_order(harness, custom=False))
    assert qty(harness, "MUG-1") == 4 and sum("[stock moved" in c for c in comments(harness, created.order_ref)) == 1


async def test_stock_magento_does_not_manage_is_left_alone(harness: Harness) -> None:
    line = SellerLine(line_ref="l-g", sku="GIFT-1", quantity=1, variant=variant(harness, "GIFT-1", "20"),
                      unit_price=Decimal(20))
    created = await seller(harness).create_order(NewOrder(our_order_id="ord-g", lines=(line,)))
    assert comments(harness, created.order_ref) == [] and qty(harness, "GIFT-1") == 0
    (item,) = harness.store.order(int(created.order_ref)).items
    assert item.product_type == "virtual"
    assert harness.store.order(int(created.order_ref)).currency == "USD"  # the store's, when the order names none


async def test_a_product_deleted_since_the_lookup_is_refused_by_magento(harness: Harness) -> None:
    gone = CatalogVariant(sku="MUG-1", product_ref="999", variant_ref="999")
    line = SellerLine(line_ref="l", sku="MUG-1", quantity=1, variant=gone)
    with pytest.raises(PermanentError, match="The product that was requested doesn't exist"):
        await seller(harness).create_order(NewOrder(our_order_id="ord-z", lines=(line,)))
    foreign = CatalogVariant(sku="MUG-1", product_ref="gid://x/1", variant_ref="gid://x/1")
    with pytest.raises(PermanentError, match="not a Magento product id"):
        await seller(harness).create_order(NewOrder(our_order_id="ord-y", lines=(
            SellerLine(line_ref="l", sku="MUG-1", quantity=1, variant=foreign),)))


async def test_the_plan_reads_back_skus_with_colons_and_spaces() -> None:
    moves = (seller_notes.StockMove("A: B 1", 3, -1), seller_notes.StockMove("C", 10, 8))
    text = seller_notes.plan("o-1", moves)
    assert seller_notes.read_plan(["other", text], "o-1") == moves
    assert seller_notes.read_plan([text], "o-2") is None
    assert not re.search(r"\[stock moved", text)


async def test_a_sku_with_a_slash_is_named_in_the_plan_not_sent_in_a_path(harness: Harness) -> None:
    harness.store.catalog.add_product("BOX/2", price=4, qty=6)
    line = SellerLine(line_ref="l", sku="BOX/2", quantity=1, variant=variant(harness, "BOX/2", "4"),
                      unit_price=Decimal(4))
    created = await seller(harness).create_order(NewOrder(our_order_id="ord-s", lines=(line,)))
    plan, moved = comments(harness, created.order_ref)
    assert "adjust by hand: BOX/2" in plan and "[stock moved fulfillsync:ord-s]" in moved
    assert qty(harness, "BOX/2") == 6 and not [s for s in harness.transport.sent if "stockItems" in s.path]

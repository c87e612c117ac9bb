"""The whole sync loop on the real broker with the simulated stores (README.md, "What exists today"): orders placed
on buyers' stores reach their sellers' stores, the sellers' fulfillments reach the buyers' orders, orders become
Shipped.

One marketplace (eight stores, one worker, a 3 s poll interval) runs every test of this module, in order: a worker
start costs seconds. The last test kills the worker with SIGKILL in the middle of a run."""

from __future__ import annotations

import functools
import json
import signal
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.merchant import Merchant, PlacedOrder, SoldOrder, StoreFulfillment
from sandbox.merchant_base import DEFAULT_PRICE
from sandbox.settings import SandboxPlatform
from schemas.config_file import load_config
from tests.support.marketplace import PLATFORMS, Marketplace, marketplace, seller_id, signed_delivery, sku
from tests.support.operators_tools import tool_json, wait_until_read
from tests.support.store_writes import StoreWrites

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Marketplace]:
    # WooCommerce connections default to 2 requests/s (for shared hosts); the simulated store takes more, and the
    # 3 s interval sweeps WooCommerce and Magento orders every 3 s
    with marketplace(tmp_path_factory.mktemp("marketplace"), kafka_bootstrap,
                     requests_per_s={"woocommerce": 20}, customize=wholesale_terms) as running:
        yield running


LISTED = Decimal("3.25")
FLAT = Decimal("4.90")


def wholesale_terms(document: dict[str, Any]) -> None:
    """The Shopify buyer pays the BigCommerce seller a listed price for BOX and a flat shipping charge."""
    for route in document["routes"]:
        if (route["buyer"], route["seller"]) == ("b-shop", seller_id("bigcommerce")):
            route.update({"price": {"list": {sku("bigcommerce", "BOX"): str(LISTED)}},
                          "shipping": {"flat": str(FLAT)}})


def active(fulfillments: list[StoreFulfillment]) -> list[StoreFulfillment]:
    return [item for item in fulfillments if not item.cancelled]


def numbers_on(market: Marketplace, buyer: SandboxPlatform, order: PlacedOrder) -> set[str]:
    """The tracking numbers of the buyer order's active fulfillments, as the buyer's store shows them."""
    return {number for item in active(market.buyers[buyer].fulfillments(order)) for number in item.numbers}


def published(market: Marketplace, order_id: str, kind: str) -> list[dict[str, Any]]:
    return market.topics.of(market.names.shipped_orders, order_id, kind)


def shipped_ids(market: Marketplace, order_id: str) -> set[str]:
    return {value["event_id"] for value in published(market, order_id, "order.shipped")}


def letters(market: Marketplace, order_id: str) -> list[dict[str, Any]]:
    return market.topics.of(market.names.dead_letters, order_id)


def fulfill(market: Marketplace, seller: SandboxPlatform, order: PlacedOrder, lines: dict[str, int],
           numbers: list[str], carrier: str = "UPS") -> str:
    return market.sellers[seller].act(lambda merchant: merchant.fulfill(order, lines, numbers, carrier))


def ups(serial: int) -> str:
    return f"1Z999AA1{serial:010d}"


def place(market: Marketplace, buyer: SandboxPlatform, lines: dict[str, int]) -> PlacedOrder:
    return market.buyers[buyer].act(functools.partial(Merchant.place_order, lines=lines))


def shows(market: Marketplace, buyer: SandboxPlatform, order: PlacedOrder, numbers: set[str]) -> Callable[[], bool]:
    """A condition: the buyer order's active fulfillments carry exactly `numbers`."""
    return lambda: numbers_on(market, buyer, order) == numbers


def test_every_buyer_platform_with_every_seller_platform(market: Marketplace) -> None:
    placed = {(buyer, seller): place(market, buyer, {sku(seller, "MUG"): 2})
              for buyer in PLATFORMS for seller in PLATFORMS}
    order_ids: dict[tuple[SandboxPlatform, SandboxPlatform], str] = {}
    tracking: dict[tuple[SandboxPlatform, SandboxPlatform], str] = {}
    for serial, ((buyer, seller), order) in enumerate(placed.items()):
        order_id = order_ids[buyer, seller] = market.routed(buyer, order, seller)
        on_seller = market.seller_order(seller, order_id)
        tracking[buyer, seller] = ups(serial)
        fulfill(market, seller, on_seller, {sku(seller, "MUG"): 2}, [ups(serial)])
    for (buyer, seller), order in placed.items():
        market.wait_for(shows(market, buyer, order, {tracking[buyer, seller]}),
                        f"the tracking of the {seller} seller's fulfillment on the {buyer} buyer's order")
        market.wait_for(functools.partial(shipped_ids, market, order_ids[buyer, seller]),
                        f"{buyer} -> {seller} shipped")
    market.topics.read(2.0)
    for (buyer, seller), order in placed.items():
        assert numbers_on(market, buyer, order) == {tracking[buyer, seller]}, (buyer, seller)
        assert len(active(market.buyers[buyer].fulfillments(order))) == 1, (buyer, seller)
        assert len(shipped_ids(market, order_ids[buyer, seller])) == 1, (buyer, seller)
        assert letters(market, order_ids[buyer, seller]) == []


def test_partial_fulfillments_multi_tracking_edit_and_cancel_then_refulfill_after_shipped(market: Marketplace) -> None:
    buyer: SandboxPlatform = "bigcommerce"
    seller: SandboxPlatform = "shopify"
    order = place(market, buyer, {sku(seller, "MUG"): 3, sku(seller, "CAP"): 1})
    order_id = market.routed(buyer, order, seller)
    on_seller = market.seller_order(seller, order_id)

    # 1. a partial fulfillment: on the buyer's order, not shipped
    first = fulfill(market, seller, on_seller, {sku(seller, "MUG"): 1}, [ups(101)])
    market.wait_for(lambda: numbers_on(market, buyer, order) == {ups(101)}, "the first, partial fulfillment")
    market.topics.read(1.0)
    assert shipped_ids(market, order_id) == set()

    # 2. the rest at the next poll, one fulfillment with two tracking numbers: shipped once
    second = fulfill(market, seller, on_seller, {sku(seller, "MUG"): 2, sku(seller, "CAP"): 1}, [ups(102), ups(103)])
    market.wait_for(lambda: numbers_on(market, buyer, order) == {ups(101), ups(102), ups(103)}, "both fulfillments")
    [shipped] = market.wait_for(lambda: published(market, order_id, "order.shipped"), "shipped")
    assert sorted(len(f["tracking_numbers"]) for f in shipped["fulfillments"]) == [1, 2]

    # 3. a tracking edit in place: the buyer shows the new number and not the old; tracking_updated, still shipped
    market.sellers[seller].act(lambda m: m.edit_tracking(on_seller, first, [ups(111)], "UPS"))
    market.wait_for(lambda: numbers_on(market, buyer, order) == {ups(111), ups(102), ups(103)}, "the edited number")
    market.wait_for(lambda: published(market, order_id, "order.tracking_updated"), "order.tracking_updated")

    # 4. cancel after Shipped: reopened, the buyer's copy cancelled; fulfilled again: the new tracking only, and
    #    shipped again under a new id (one id per covering)
    market.sellers[seller].act(lambda m: m.cancel_fulfillment(on_seller, second))
    market.wait_for(lambda: numbers_on(market, buyer, order) == {ups(111)}, "the cancelled fulfillment gone")
    market.wait_for(lambda: published(market, order_id, "order.reopened"), "order.reopened")
    fulfill(market, seller, on_seller, {sku(seller, "MUG"): 2, sku(seller, "CAP"): 1}, [ups(104)])
    market.wait_for(lambda: numbers_on(market, buyer, order) == {ups(111), ups(104)}, "the new fulfillment")
    market.wait_for(lambda: len(shipped_ids(market, order_id)) == 2, "shipped again")
    market.topics.read(2.0)
    assert len(shipped_ids(market, order_id)) == 2
    assert letters(market, order_id) == []


def test_the_buyers_own_products_are_left_alone(market: Marketplace) -> None:
    buyer: SandboxPlatform = "shopify"
    seller: SandboxPlatform = "magento2"
    order = place(market, buyer, {sku(seller, "BOX"): 1, "HOUSE-CANDLE": 2})
    order_id = market.routed(buyer, order, seller)
    on_seller = market.seller_order(seller, order_id)
    assert set(on_seller.line_ids) == {sku(seller, "BOX")}, "the buyer's own line reached the seller"
    fulfill(market, seller, on_seller, {sku(seller, "BOX"): 1}, [ups(201)])
    [on_buyer] = market.wait_for(lambda: active(market.buyers[buyer].fulfillments(order)), "the buyer's fulfillment")
    assert on_buyer.lines == {sku(seller, "BOX"): 1} and on_buyer.numbers == (ups(201),)
    market.wait_for(lambda: shipped_ids(market, order_id), "shipped (the routed lines are the stored order)")
    assert [value for value in market.topics.of(market.names.order_events, kind="order.placed")
            if value["buyer"]["order_ref"] == order.order_ref and value["seller"]["connection"] != seller_id(seller)
            ] == [], "the buyer's own product became a stored order"


def test_a_buyer_cancellation_reaches_the_seller_and_stops_counting(market: Marketplace) -> None:
    buyer: SandboxPlatform = "shopify"
    seller: SandboxPlatform = "shopify"
    order = place(market, buyer, {sku(seller, "BOX"): 3})
    order_id = market.routed(buyer, order, seller)
    on_seller = market.seller_order(seller, order_id)
    market.buyers[buyer].act(lambda m: m.cancel_units(order, sku(seller, "BOX"), 1))  # the customer wants 2

    def seller_quantity() -> int | None:
        lines = market.sellers[seller].act(lambda m: m.order(on_seller))["lines"]
        current = sum(line["current_quantity"] for line in lines)
        return current if current == 2 else None

    market.wait_for(lambda: market.topics.of(market.names.order_events, order_id, "order.buyer_cancelled"),
                    "order.buyer_cancelled")
    market.wait_for(seller_quantity, "the cancelled unit removed on the seller's order")
    fulfill(market, seller, on_seller, {sku(seller, "BOX"): 2}, [ups(251), ups(252)])
    [shipped] = market.wait_for(lambda: published(market, order_id, "order.shipped"),
                                "shipped with 2 of 3 units (one cancelled)")
    assert [(line["quantity"], line["cancelled_quantity"]) for line in shipped["lines"]] == [(3, 1)]
    market.wait_for(lambda: numbers_on(market, buyer, order) == {ups(251), ups(252)}, "the buyer's fulfillment")


def webhook(market: Marketplace, connection: str, body: bytes, headers: dict[str, str]) -> int:
    return httpx.post(market.webhook_url(connection), content=body, headers=headers, timeout=5).status_code


def test_webhooks_forged_are_refused_and_duplicated_change_nothing(market: Marketplace) -> None:
    buyer: SandboxPlatform = "woocommerce"
    seller: SandboxPlatform = "shopify"
    order = place(market, buyer, {sku(seller, "TEE"): 1})
    order_id = market.routed(buyer, order, seller)
    on_seller = market.seller_order(seller, order_id)
    ref = fulfill(market, seller, on_seller, {sku(seller, "TEE"): 1}, [ups(301)])
    store = market.sellers[seller]
    forged, forged_body = signed_delivery(store, on_seller, ref, secret="not-the-secret")
    assert webhook(market, seller_id(seller), forged_body, forged) == 401
    headers, body = signed_delivery(store, on_seller, ref)
    assert webhook(market, seller_id(seller), body, {"Content-Type": "application/json"}) == 401
    assert webhook(market, seller_id(seller), body, headers) < 300
    assert webhook(market, seller_id(seller), body, headers) < 300  # a duplicate delivery
    market.wait_for(lambda: numbers_on(market, buyer, order) == {ups(301)}, "the fulfillment on the buyer")
    market.wait_for(lambda: shipped_ids(market, order_id), "shipped")
    market.topics.read(2.0)
    assert len(market.buyers[buyer].fulfillments(order)) == 1 and len(shipped_ids(market, order_id)) == 1
    counts = {outcome: market.worker.metric(f'fulfillsync_webhooks_total{{connection="{seller_id(seller)}",'
                                            f'outcome="{outcome}"}}') for outcome in ("refused", "duplicate")}
    assert counts == {"refused": 2, "duplicate": 1}


def test_a_seller_failing_for_a_while_and_a_buyer_refusing_until_the_letter_is_requeued(market: Marketplace) -> None:
    # the seller's store answers 500 and 429 to reads of shipments for a while: read again at later sweeps
    seller: SandboxPlatform = "bigcommerce"
    order = place(market, "shopify", {sku(seller, "PEN"): 1})
    order_id = market.routed("shopify", order, seller)
    on_seller = market.seller_order(seller, order_id)
    market.sellers[seller].admin("POST", "/faults", {"status": 500, "times": 4, "method": "GET",
                                                     "path": "/shipments"})
    market.sellers[seller].admin("POST", "/faults", {"status": 429, "times": 2, "method": "GET", "path": "/shipments",
                                                     "headers": {"X-Rate-Limit-Time-Reset-Ms": "500"}})
    fulfill(market, seller, on_seller, {sku(seller, "PEN"): 1}, [ups(401)])
    market.wait_for(lambda: numbers_on(market, "shopify", order) == {ups(401)}, "the fulfillment after the failures",
                    timeout_s=90)
    statuses = market.sellers[seller].admin("GET", "/requests")["by_status"]
    assert statuses.get("500", 0) >= 4 and statuses.get("429", 0) >= 2

    # the buyer's platform (Magento) refuses to create the shipment: dead-lettered with its message, not retried
    refusal = "The order does not allow a shipment to be created."
    buyer: SandboxPlatform = "magento2"
    refused = place(market, buyer, {sku("shopify", "CAP"): 1})
    refused_id = market.routed(buyer, refused, "shopify")
    on_seller = market.seller_order("shopify", refused_id)
    market.buyers[buyer].admin("POST", "/faults", {"status": 400, "times": 1, "method": "POST", "path": r"/ship$",
                                                   "body": json.dumps({"message": refusal})})
    fulfill(market, "shopify", on_seller, {sku("shopify", "CAP"): 1}, [ups(402)])
    [letter] = market.wait_for(lambda: letters(market, refused_id), "the buyer's refusal dead-lettered")
    assert letter["reason"] == "platform_rejected" and refusal in letter["message"]
    assert letter["stage"] == "buyer_tracking"
    market.wait_for(lambda: shipped_ids(market, refused_id), "shipped all the same (the seller shipped it)")
    market.topics.read(4.0)  # a few more polls and pushes: not tried again
    assert market.buyers[buyer].fulfillments(refused) == [] and len(letters(market, refused_id)) == 1

    # the operator requeues the letter once the buyer's store accepts shipments again (the fault was one-off)
    done = tool_json(market.config_path, "dead-letters", "requeue", letter["event_id"], "--execute")
    assert [row["id"] for row in done["requeued"]] == [letter["event_id"]], done
    market.wait_for(lambda: numbers_on(market, buyer, refused) == {ups(402)}, "the requeued write on the buyer")


def inventory(market: Marketplace, seller: SandboxPlatform, name: str) -> int:
    return market.sellers[seller].act(lambda merchant: merchant.inventory(sku(seller, name)))


def inventory_is(market: Marketplace, seller: SandboxPlatform, units: tuple[int, int]) -> bool:
    return (inventory(market, seller, "INK"), inventory(market, seller, "BOX")) == units


def sold(market: Marketplace, seller: SandboxPlatform, order: PlacedOrder) -> SoldOrder:
    return market.sellers[seller].act(lambda merchant: merchant.sold(order))


def test_seller_orders_are_the_sellers_products_at_wholesale_prices(market: Marketplace) -> None:
    before = {seller: (inventory(market, seller, "INK"), inventory(market, seller, "BOX")) for seller in PLATFORMS}
    placed = {seller: place(market, "shopify", {sku(seller, "INK"): 3, sku(seller, "BOX"): 1})
              for seller in PLATFORMS}
    for seller, order in placed.items():
        made = sold(market, seller, market.seller_order(seller, market.routed("shopify", order, seller)))
        box = LISTED if seller == "bigcommerce" else DEFAULT_PRICE
        shipping = FLAT if seller == "bigcommerce" else Decimal(0)
        assert sorted((line.sku, line.quantity, line.unit_price, line.linked) for line in made.lines) == [
            (sku(seller, "BOX"), 1, box, True), (sku(seller, "INK"), 3, DEFAULT_PRICE, True)], seller
        assert (made.shipping, made.total, made.flagged) == (shipping, 3 * DEFAULT_PRICE + box + shipping,
                                                              False), seller
        market.wait_for(functools.partial(inventory_is, market, seller, (before[seller][0] - 3, before[seller][1] - 1)),
                        f"{seller}'s inventory down by the order")


def test_an_unknown_sku_waits_for_the_catalog_and_an_ambiguous_one_is_refused(market: Marketplace) -> None:
    seller: SandboxPlatform = "shopify"
    order = place(market, "woocommerce", {sku(seller, "NEW"): 2})
    order_id = market.routed("woocommerce", order, seller)
    [letter] = market.wait_for(lambda: letters(market, order_id), "the unknown SKU dead-lettered")
    assert (letter["reason"], letter["stage"]) == ("unknown_sku", "seller_orders")
    assert f"{seller_id(seller)}'s catalog has no sellable item with SKU '{sku(seller, 'NEW')}'" in letter["message"]
    assert market.sellers[seller].act(lambda merchant: merchant.find_order(order_id)) is None

    market.sellers[seller].act(lambda merchant: merchant.stock([sku(seller, "NEW")], inventory=10))
    done = tool_json(market.config_path, "dead-letters", "requeue", letter["event_id"], "--execute")
    assert [row["id"] for row in done["requeued"]] == [letter["event_id"]], done
    made = sold(market, seller, market.seller_order(seller, order_id))
    assert [(line.sku, line.quantity, line.linked) for line in made.lines] == [(sku(seller, "NEW"), 2, True)]
    market.wait_for(lambda: inventory(market, seller, "NEW") == 8, "the new product's inventory down by 2")

    # two variants of the seller's catalog share a SKU: refused, whatever the route says about unknown SKUs
    market.sellers[seller].act(lambda merchant: merchant.add_variant(sku(seller, "TWIN")))
    market.sellers[seller].act(lambda merchant: merchant.add_variant(sku(seller, "TWIN")))
    twin = place(market, "woocommerce", {sku(seller, "TWIN"): 1, sku(seller, "MUG"): 1})
    twin_id = market.routed("woocommerce", twin, seller)
    [ambiguous] = market.wait_for(lambda: letters(market, twin_id), "the ambiguous SKU dead-lettered")
    assert ambiguous["reason"] == "ambiguous_sku" and f"'{sku(seller, 'TWIN')}'" in ambiguous["message"]
    market.topics.read(2.0)
    assert market.sellers[seller].act(lambda merchant: merchant.find_order(twin_id)) is None


def test_a_replay_of_every_input_reaches_no_store_and_ships_nothing_twice(market: Marketplace) -> None:
    writes = StoreWrites()
    for store in (*market.buyers.values(), *market.sellers.values()):
        writes.watch(store.connection, store.platform, store.root, store.app)
    kafka = load_config(market.config_path).config.kafka
    inputs = (market.names.order_events, market.names.fulfillment_events)
    wait_until_read(kafka, inputs)
    market.topics.read(2.0)
    writes.reset()
    shipped_before = {value["event_id"] for value in market.topics.of(market.names.shipped_orders)}
    published = sum(len(market.topics.of(topic)) for topic in inputs)
    replayed = 0
    for topic in ("order-events", "fulfillment-events"):
        replayed += tool_json(market.config_path, "replay", "--topic", topic, "--last", "1d", "--execute")["total"]
    assert replayed >= published > 50
    wait_until_read(kafka, inputs)
    market.topics.read(4.0)
    assert writes.made() == []
    assert {value["event_id"] for value in market.topics.of(market.names.shipped_orders)} == shipped_before


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(market: Marketplace) -> None:
    sellers: tuple[SandboxPlatform, ...] = ("shopify", "bigcommerce", "magento2")
    pairs = [(buyer, seller) for buyer in PLATFORMS for seller in sellers]
    placed = {pair: place(market, pair[0], {sku(pair[1], "MUG"): 2}) for pair in pairs}
    on_seller = {}
    for pair, order in placed.items():
        order_id = market.routed(pair[0], order, pair[1])
        on_seller[pair] = (order_id, market.seller_order(pair[1], order_id))
    for serial, pair in enumerate(pairs):
        fulfill(market, pair[1], on_seller[pair][1], {sku(pair[1], "MUG"): 1}, [ups(500 + serial)])
    # kill as soon as the first of them reaches a buyer: the others are somewhere between the stores and Kafka
    market.wait_for(lambda: any(numbers_on(market, pair[0], placed[pair]) for pair in pairs), "a first write")
    assert market.worker.stop(signal.SIGKILL) == -signal.SIGKILL
    for serial, pair in enumerate(pairs):  # the seller ships the rest while the worker is down
        fulfill(market, pair[1], on_seller[pair][1], {sku(pair[1], "MUG"): 1}, [ups(600 + serial)])
    market.restart()
    for serial, pair in enumerate(pairs):
        market.wait_for(shows(market, pair[0], placed[pair], {ups(500 + serial), ups(600 + serial)}),
                        f"both fulfillments of {pair} after the restart", timeout_s=90)
    market.topics.read(4.0)
    for serial, pair in enumerate(pairs):
        buyer_side = market.buyers[pair[0]].fulfillments(placed[pair])
        numbers = sorted(number for item in buyer_side for number in item.numbers)
        assert numbers == sorted([ups(500 + serial), ups(600 + serial)]), (pair, buyer_side)  # none doubled
        assert len(shipped_ids(market, on_seller[pair][0])) == 1, pair

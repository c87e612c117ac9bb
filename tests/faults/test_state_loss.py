"""The worker's local state lost while it is stopped (README.md, "Operations": the RocksDB files under
`worker.state_dir` are a cache of the changelog topics; docs/architecture.md): the worker rebuilds its tables from
the changelogs, and nothing is sent again to any platform.

On the real broker with the marketplace of tests/support/marketplace.py (stores served over HTTP, `fulfillsync
worker` as a process; 2 s poll interval): a Shopify buyer and three sellers (Shopify, BigCommerce, Magento 2). Orders
are placed on the buyer's store and created on the sellers' stores; each seller fulfills one order whole, BigCommerce
also ships one unit of a two-unit order, and a Magento order waits unfulfilled. Once the buyer's store shows every
fulfillment and the whole ones are Shipped, the worker is stopped (SIGTERM), its state folder deleted, every store's
request count reset, and the worker started again. Once it is ready and has polled every store for a few intervals:
no store received a request that creates or changes anything (a REST POST, PUT, PATCH or DELETE; a Shopify GraphQL
mutation: tests/support/store_writes.py), and no `order.shipped` id is new. Then the rebuilt tables are put to work:
BigCommerce ships the rest of its order and Magento its waiting one; both reach the buyer's store once, and the first
order is Shipped with both its fulfillments (the ledger remembered the one from before the loss).
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.merchant import Merchant, PlacedOrder, StoreFulfillment
from sandbox.settings import SandboxPlatform
from tests.support.marketplace import Marketplace, marketplace, sku
from tests.support.store_writes import StoreWrites

pytestmark = pytest.mark.kafka

BUYER: SandboxPlatform = "shopify"
SELLERS: tuple[SandboxPlatform, ...] = ("shopify", "bigcommerce", "magento2")
INTERVAL_S = 2.0
POLLS_AFTER_RESTART = 3
"""Poll intervals the restarted worker runs before the stores' counts are read."""


def ups(serial: int) -> str:
    return f"1Z999AA1{serial:010d}"


@pytest.fixture
def market(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Marketplace]:
    with marketplace(tmp_path, kafka_bootstrap, interval=f"{INTERVAL_S:.0f}s", buyers=(BUYER,),
                     sellers=SELLERS) as running:
        yield running


def place(market: Marketplace, lines: dict[str, int]) -> PlacedOrder:
    return market.buyers[BUYER].act(functools.partial(Merchant.place_order, lines=lines))


def fulfill(market: Marketplace, seller: SandboxPlatform, order: PlacedOrder, lines: dict[str, int],
            numbers: list[str]) -> str:
    return market.sellers[seller].act(lambda merchant: merchant.fulfill(order, lines, numbers, "UPS"))


def on_buyer(market: Marketplace, order: PlacedOrder) -> list[StoreFulfillment]:
    """The buyer order's active fulfillments, as the buyer's store shows them."""
    return [item for item in market.buyers[BUYER].fulfillments(order) if not item.cancelled]


def numbers_on_buyer(market: Marketplace, order: PlacedOrder) -> list[str]:
    return sorted(number for item in on_buyer(market, order) for number in item.numbers)


def shows(market: Marketplace, order: PlacedOrder, numbers: list[str]) -> bool:
    """Whether the buyer order's active fulfillments carry exactly `numbers`."""
    return numbers_on_buyer(market, order) == sorted(numbers)


def shipped_ids(market: Marketplace, order_id: str | None = None) -> set[str]:
    return {value["event_id"] for value in market.topics.of(market.names.shipped_orders, order_id, "order.shipped")}


def test_state_deleted_while_stopped_is_rebuilt_and_nothing_is_sent_again(market: Marketplace) -> None:
    writes = StoreWrites()
    for store in (*market.buyers.values(), *market.sellers.values()):
        writes.watch(store.connection, store.platform, store.root, store.app)

    # before: an order per seller shipped whole, a partial one (BigCommerce), one waiting on Magento
    whole = {seller: place(market, {sku(seller, "MUG"): 1}) for seller in SELLERS}
    partial = place(market, {sku("bigcommerce", "CAP"): 2})
    waiting = place(market, {sku("magento2", "BOX"): 1})
    routed: dict[str, tuple[SandboxPlatform, PlacedOrder]] = {
        f"whole-{seller}": (seller, order) for seller, order in whole.items()}
    routed["partial"], routed["waiting"] = ("bigcommerce", partial), ("magento2", waiting)
    order_ids = {name: market.routed(BUYER, order, seller) for name, (seller, order) in routed.items()}
    on_seller = {name: market.seller_order(seller, order_ids[name]) for name, (seller, _) in routed.items()}
    tracking = {f"whole-{seller}": [ups(serial)] for serial, seller in enumerate(SELLERS)}
    for seller in SELLERS:
        fulfill(market, seller, on_seller[f"whole-{seller}"], {sku(seller, "MUG"): 1}, tracking[f"whole-{seller}"])
    tracking["partial"] = [ups(10)]
    fulfill(market, "bigcommerce", on_seller["partial"], {sku("bigcommerce", "CAP"): 1}, tracking["partial"])
    for name, numbers in tracking.items():
        market.wait_for(functools.partial(shows, market, routed[name][1], numbers),
                        f"the fulfillment of {name} on the buyer's store")
    for seller in SELLERS:
        market.wait_for(functools.partial(shipped_ids, market, order_ids[f"whole-{seller}"]), f"{seller}'s shipped")
    market.topics.read(2 * INTERVAL_S)  # let the last table writes and offset commits follow
    shipped_before = shipped_ids(market)
    assert len(shipped_before) == len(SELLERS) and not shipped_ids(market, order_ids["partial"])

    # the worker stops, loses its local state, and starts again
    assert market.worker.stop() == 0, market.worker.log_tail()
    state_dir = Path(market.worker.config.worker.state_dir)
    assert any(path.is_file() for path in state_dir.rglob("*")), f"no local state in {state_dir} to lose"
    shutil.rmtree(state_dir)
    writes.reset()
    market.restart()
    started = time.monotonic()
    market.wait_for(lambda: all(writes.requests(connection) for connection in writes.roots),
                    "the restarted worker polling every store")
    market.topics.read(max(0.0, POLLS_AFTER_RESTART * INTERVAL_S - (time.monotonic() - started)))
    market.topics.read(1.0)

    made = writes.made()
    assert not made, ("after the state loss the worker sent again what it had sent (an order created on a seller, a "
                      "fulfillment written to the buyer):\n" + "\n".join(made) + "\n" + market.worker.log_tail(80))
    assert shipped_ids(market) == shipped_before, "order.shipped published under a new id after the state loss"
    for name, numbers in tracking.items():
        assert numbers_on_buyer(market, routed[name][1]) == sorted(numbers), name  # nothing doubled
    assert market.topics.of(market.names.dead_letters) == []

    # the rebuilt tables work: the rest of the partial order, and the waiting order
    fulfill(market, "bigcommerce", on_seller["partial"], {sku("bigcommerce", "CAP"): 1}, [ups(11)])
    fulfill(market, "magento2", on_seller["waiting"], {sku("magento2", "BOX"): 1}, [ups(12)])
    market.wait_for(lambda: numbers_on_buyer(market, partial) == [ups(10), ups(11)],
                    "the partial order's second fulfillment on the buyer's store")
    market.wait_for(lambda: numbers_on_buyer(market, waiting) == [ups(12)],
                    "the waiting order's fulfillment on the buyer's store")
    [shipped] = market.wait_for(lambda: market.topics.of(market.names.shipped_orders, order_ids["partial"],
                                                         "order.shipped"), "the partial order shipped")
    assert sorted(number for item in shipped["fulfillments"] for number in item["tracking_numbers"]) == [
        ups(10), ups(11)], shipped
    market.topics.read(2 * INTERVAL_S)
    assert len(on_buyer(market, partial)) == 2 and len(on_buyer(market, waiting)) == 1
    assert shipped_ids(market) - shipped_before == shipped_ids(market, order_ids["partial"]) | shipped_ids(
        market, order_ids["waiting"])
    assert len(shipped_ids(market, order_ids["partial"])) == 1

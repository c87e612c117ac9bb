"""The whole sync loop on the real broker with the simulated stores (issue 4, point 9): orders placed on buyers'
stores reach their sellers' stores, the sellers' fulfilments reach the buyers' orders, orders become Shipped.

One marketplace (eight stores, one worker) runs every scenario: a worker start costs seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.merchant import PlacedOrder, StoreFulfillment
from sandbox.settings import SandboxPlatform
from tests.support.marketplace import PLATFORMS, Marketplace, marketplace, sku

pytestmark = pytest.mark.kafka


def active(fulfillments: list[StoreFulfillment]) -> list[StoreFulfillment]:
    return [item for item in fulfillments if not item.cancelled]


def numbers_on(market: Marketplace, buyer: SandboxPlatform, order: PlacedOrder) -> set[str]:
    return {number for item in active(market.buyers[buyer].fulfillments(order)) for number in item.numbers}


def shipped(market: Marketplace, order_id: str) -> list[dict[str, object]]:
    return market.topics.of(market.names.shipped_orders, order_id, "order.shipped")


def test_every_buyer_platform_with_every_seller_platform(tmp_path: Path, kafka_bootstrap: str) -> None:
    with marketplace(tmp_path, kafka_bootstrap) as market:
        placed: dict[tuple[SandboxPlatform, SandboxPlatform], PlacedOrder] = {}
        for buyer in PLATFORMS:
            for seller in PLATFORMS:
                placed[buyer, seller] = market.buyers[buyer].act(
                    lambda merchant, s=seller: merchant.place_order({sku(s, "MUG"): 2}))
        tracking: dict[tuple[SandboxPlatform, SandboxPlatform], str] = {}
        order_ids: dict[tuple[SandboxPlatform, SandboxPlatform], str] = {}
        for (buyer, seller), order in placed.items():
            order_id = order_ids[buyer, seller] = market.routed(buyer, order, seller)
            on_seller = market.seller_order(seller, order_id)
            number = tracking[buyer, seller] = f"1Z999AA1{abs(hash((buyer, seller))) % 10**10:010d}"
            market.sellers[seller].act(lambda merchant, o=on_seller, s=seller, n=number: merchant.fulfil(
                o, {sku(s, "MUG"): 2}, [n], "UPS"))
        for (buyer, seller), order in placed.items():
            market.wait_for(lambda b=buyer, o=order, n=tracking[buyer, seller]: n in numbers_on(market, b, o),
                            f"the tracking of {seller}'s fulfilment on the {buyer} buyer's order")
            market.wait_for(lambda i=order_ids[buyer, seller]: shipped(market, i), f"{buyer}->{seller} shipped")
        market.topics.read(2.0)
        for (buyer, seller), order in placed.items():
            assert len(active(market.buyers[buyer].fulfillments(order))) == 1, (buyer, seller)
            assert len({value["event_id"] for value in shipped(market, order_ids[buyer, seller])}) == 1
        assert market.topics.of(market.names.dead_letters) == []

"""The demo's timeline (fulfillsync.timeline.Timeline): each order's story and standing from the public topics'
records and the buyer's store, without Kafka."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fulfillsync.timeline import Timeline, summary
from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef
from schemas.factories import fulfillment_cancelled, fulfillment_recorded, order_placed

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
BUYER = PartyRef(partner="northwind", connection="northwind-shopify", platform="shopify",
                 order_ref="gid://shopify/Order/1004")
ACME = PartyRef(partner="acme", connection="acme-bigcommerce", platform="bigcommerce")
BOLT = PartyRef(partner="bolt", connection="bolt-magento", platform="magento2")
DRAY = PartyRef(partner="dray", connection="dray-manual", platform="manual")
ACME_SOURCE = SourceRef(partner="acme", connection="acme-bigcommerce", platform="bigcommerce")


@dataclass(frozen=True)
class Shown:
    """A fulfillment as the buyer's store shows it (the shape of sandbox.merchant.StoreFulfillment)."""

    ref: str
    carrier: str | None
    numbers: tuple[str, ...]
    cancelled: bool = False


def placed(seller: PartyRef, **lines: int) -> dict[str, Any]:
    event = order_placed(buyer=BUYER, seller=seller, occurred_at=T0,
                         lines=[OrderLine(line_id=f"L{i}", sku=sku.replace("_", "-"), quantity=qty)
                                for i, (sku, qty) in enumerate(lines.items(), start=1)])
    return event.model_dump(mode="json")


def recorded(order_id: str, fid: str, minute: int, numbers: list[str], **units: int) -> dict[str, Any]:
    return fulfillment_recorded(order_id=order_id, source=ACME_SOURCE, fulfillment_id=fid,
                                source_version=T0 + timedelta(minutes=minute), carrier="UPS",
                                tracking_numbers=numbers,
                                lines=[FulfilledLine(line_id=line, quantity=qty) for line, qty in units.items()]
                                ).model_dump(mode="json")


def texts(happenings: list[Any]) -> list[str]:
    return [Timeline.line(happening) for happening in happenings]


def test_an_order_is_told_from_routing_to_shipped_with_the_buyers_store_in_sync() -> None:
    timeline = Timeline({"acme-bigcommerce": "acme (bigcommerce)"})
    order = placed(ACME, ACME_MUG=3)
    assert texts(timeline.apply(order)) == [
        "northwind #1004 → acme (bigcommerce): routed to the seller: ACME-MUG×3 · now routed, not yet on the "
        "seller's store"]
    assert timeline.apply(order) == []  # the same event again changes nothing
    confirmed = {**order, "event_id": "confirmation", "seller": {**order["seller"], "order_ref": "118"}}
    assert texts(timeline.apply(confirmed))[0].endswith("created on the seller's store as 118 · now on the seller's "
                                                        "store, unfulfilled")
    story = timeline.orders[order["order_id"]]

    timeline.apply(recorded(story.order_id, "F1", 1, ["1Z 999"], L1=2))
    assert story.state == "partially fulfilled 2/3"
    assert story.standing == "partially fulfilled 2/3, buyer's store shows 0 of 1 tracking number(s)"
    assert not story.reached("partial")
    shown = texts(timeline.buyer_view(BUYER.connection, str(BUYER.order_ref), [Shown("b1", "UPS", ("1Z999",))]))
    assert shown == ["northwind #1004 → acme (bigcommerce): the buyer's store now shows: UPS 1Z999 · now partially "
                     "fulfilled 2/3, buyer's store up to date"]
    assert story.reached("partial") and not story.reached("shipped")
    assert timeline.buyer_view(BUYER.connection, str(BUYER.order_ref), [Shown("b1", "UPS", ("1Z999",))]) == []

    timeline.apply(recorded(story.order_id, "F2", 2, ["1Z777"], L1=1))
    timeline.apply({"type": "order.shipped", "event_id": "s1", "order_id": story.order_id})
    assert story.state == "SHIPPED" and not story.reached("shipped")
    timeline.buyer_view(BUYER.connection, str(BUYER.order_ref),
                        [Shown("b1", "UPS", ("1Z999",)), Shown("b2", "UPS", ("1Z777",))])
    assert story.reached("shipped")


def test_a_newer_version_replaces_the_tracking_an_older_one_is_ignored_and_a_cancellation_uncovers() -> None:
    timeline = Timeline()
    order = placed(ACME, ACME_CAP=1)
    timeline.apply(order)
    story = timeline.orders[order["order_id"]]
    timeline.apply(recorded(story.order_id, "F1", 5, ["794612345670"], L1=1))
    assert texts(timeline.apply(recorded(story.order_id, "F1", 6, ["794612345692"], L1=1)))[0].startswith(
        "northwind #1004 → acme (bigcommerce): seller changed a fulfillment: ACME-CAP×1 (UPS 794612345692)")
    assert timeline.apply(recorded(story.order_id, "F1", 4, ["111"], L1=1)) == []
    assert story.seller_numbers() == {"794612345692"}
    # the buyer's store still shows the old number: both numbers are this order's, but it is not in sync
    timeline.buyer_view(BUYER.connection, str(BUYER.order_ref), [Shown("b1", "FedEx", ("794612345670",))])
    assert story.on_buyer_text() == "FedEx 794612345670" and not story.buyer_in_sync

    timeline.apply({"type": "order.shipped", "event_id": "s1", "order_id": story.order_id})
    cancelled = fulfillment_cancelled(order_id=story.order_id, source=ACME_SOURCE, fulfillment_id="F1",
                                      source_version=T0 + timedelta(minutes=7)).model_dump(mode="json")
    assert "seller cancelled a fulfillment" in texts(timeline.apply(cancelled))[0]
    assert story.state == "SHIPPED, 0/1 still covered"
    timeline.apply({"type": "order.reopened", "event_id": "r1", "order_id": story.order_id})
    assert story.state == "routed, not yet on the seller's store" and story.seller_numbers() == set()
    assert timeline.apply(recorded(story.order_id, "F1", 8, ["222"], L1=1)) == []  # cancelled for good


def test_a_split_buyer_order_tells_each_seller_its_own_parcels_and_the_summary_says_what_was_reached() -> None:
    timeline = Timeline()
    mug, lamp = placed(ACME, ACME_MUG=1), placed(BOLT, BOLT_LAMP=1)
    timeline.apply(mug)
    timeline.apply(lamp)
    timeline.apply(recorded(mug["order_id"], "F1", 1, ["1Z1"], L1=1))
    happenings = timeline.buyer_view(BUYER.connection, str(BUYER.order_ref),
                                     [Shown("b1", "UPS", ("1Z1",)), Shown("b2", "USPS", ("9400",), cancelled=True)])
    assert [(story.order_id if story else None) for story, _ in happenings] == [mug["order_id"]]
    assert timeline.orders[lamp["order_id"]].on_buyer == ()

    timeline.apply({"type": "order.buyer_cancelled", "event_id": "c1", "order_id": lamp["order_id"],
                    "whole_order": True, "lines": [{"line_id": "L1", "cancelled_quantity": 1}]})
    assert timeline.orders[lamp["order_id"]].state == "CANCELLED by the buyer"
    assert not timeline.orders[lamp["order_id"]].reached("cancelled")
    timeline.seller_view(lamp["order_id"], cancelled=True)
    assert timeline.orders[lamp["order_id"]].reached("cancelled")

    table = summary(timeline.orders.values(), {mug["order_id"]: "shipped", lamp["order_id"]: "cancelled"})
    header, first, second = table.splitlines()
    assert header.split() == ["buyer", "order", "seller", "state", "fulfillments", "on", "the", "buyer's", "store",
                              "intended"]
    assert first.split("  ")[0] == "northwind #1004" and "acme (bigcommerce)" in first
    assert first.endswith("shipped: NOT REACHED") and "UPS 1Z1" in first
    assert second.endswith("cancelled: yes") and "CANCELLED on both stores" in second


def test_a_dead_letter_is_told_on_its_order_or_on_its_own() -> None:
    timeline = Timeline()
    order = placed(ACME, ACME_MUG=1)
    timeline.apply(order)
    [(story, text)] = timeline.apply({"type": "dead_letter", "event_id": "d1", "order_id": order["order_id"],
                                      "reason": "over_fulfillment", "message": "line L1: 2 more unit(s)"})
    assert story is timeline.orders[order["order_id"]] and text.startswith("DEAD-LETTER over_fulfillment: line L1")
    [(nobody, _)] = timeline.apply({"type": "dead_letter", "event_id": "d2", "order_id": None,
                                    "reason": "invalid_payload", "message": "not JSON"})
    assert nobody is None
    assert timeline.apply({"type": "fulfillment.cancelled", "event_id": "x", "order_id": "unknown"}) == []


def test_the_order_of_a_manual_seller_waits_in_the_web_app_until_it_is_fulfilled_there() -> None:
    timeline = Timeline()
    bowls = placed(DRAY, DRAY_BOWL=2)
    timeline.apply(bowls)
    story = timeline.orders[bowls["order_id"]]
    assert story.state == "routed, not yet in the web app" and not story.reached("web")
    assert [text for _, text in timeline.web_view(bowls["order_id"], shown=True)] == [
        "the web app shows the order to the seller"]
    assert timeline.web_view(bowls["order_id"], shown=True) == []
    assert story.state == "waiting for the seller in the web app" and story.reached("web")
    timeline.apply(recorded(bowls["order_id"], "web-1", 1, ["1Z1"], L1=1))
    assert story.state == "partially fulfilled 1/2"
    mug = placed(ACME, ACME_MUG=1)
    timeline.apply(mug)
    assert not timeline.orders[mug["order_id"]].reached("web")  # a seller with a store

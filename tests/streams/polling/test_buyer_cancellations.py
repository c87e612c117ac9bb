"""The buyer poll publishes what the buyer cancelled of an order it routed before: once per change, with ids that
make a re-publication a duplicate, and only after the order's events are delivered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from confluent_kafka import KafkaException
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from connectors.base import Skip
from schemas.config import Config, Connection, Route
from schemas.events import InputEvent, OrderBuyerCancelled, OrderPlaced
from schemas.platform import ChangedOrder, Page, PlatformLine, PlatformOrder
from streams.kit.dead_letters import DeadLetterMetrics
from streams.kit.records import EncodedRecord
from streams.polling.buyer_orders import BuyerOrderPublisher
from streams.polling.metrics import PollingMetrics
from streams.polling.rejects import RejectLetters
from streams.polling.tables import BUYER_ORDERS, POLL_CURSORS, BuyerOrderTable, CursorTable
from tests.support.connectors import UnusedStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TOKEN = {"access_token": SecretStr("t")}
BUYER = Connection(id="shop-bc", partner="shop", role="buyer", platform="bigcommerce", base_url="http://b.test",
                   credentials=TOKEN)
ACME = Connection(id="acme", partner="acme", role="seller", platform="shopify", base_url="http://s.test",
                  credentials=TOKEN)
BOLT = Connection(id="bolt", partner="bolt", role="seller", platform="magento2", base_url="http://m.test",
                  credentials=TOKEN)
CONFIG = Config(connections=[BUYER, ACME, BOLT], routes=[Route(buyer="shop-bc", seller="acme", skus=["ACME-*"]),
                                                         Route(buyer="shop-bc", seller="bolt", skus=["BOLT-*"])])


def order(*lines: tuple[str, int, int], cancelled: bool = False, mark: str | None = None) -> PlatformOrder:
    """Buyer order 7 with lines (sku, quantity, cancelled units) and cancellation mark; line refs are the SKUs."""
    return PlatformOrder(order_ref="7", updated_at=NOW, cancelled=cancelled, cancel_mark=mark, lines=tuple(
        PlatformLine(line_ref=sku, sku=sku, quantity=qty, cancelled_quantity=gone) for sku, qty, gone in lines))


class Store(UnusedStore):
    """Hands out one page per poll: the next of `pages`, less the orders `skip` says the poll needs nothing of
    (as a connector that lists light does), which go to `skipped`."""

    def __init__(self, pages: Sequence[Sequence[PlatformOrder]], skipped: list[str]) -> None:
        self.pages = list(pages)
        self.polls = 0
        self.skipped = skipped

    async def orders_changed_since(self, cursor: str | None, skip: Skip | None = None) -> Page[PlatformOrder]:
        self.polls += 1
        listed = self.pages[self.polls - 1]
        wanted = [order for order in listed if skip is None or not skip(ChangedOrder(
            order_ref=order.order_ref, updated_at=order.updated_at, cancel_mark=order.cancel_mark))]
        self.skipped += [order.order_ref for order in listed if order not in wanted]
        return Page[PlatformOrder](items=tuple(wanted), cursor=f"c{self.polls}")







@dataclass
class Sink:
    queued: list[InputEvent] = field(default_factory=list)
    delivered: list[InputEvent] = field(default_factory=list)
    fail_next_flush: bool = False

    def publish(self, topic: str, event: InputEvent, *, source: str) -> None:
        assert (topic, source) == ("order-events", "/fulfillsync/connections/shop-bc")
        self.queued.append(event)

    async def flush(self) -> None:
        if self.fail_next_flush:
            self.fail_next_flush = False
            self.queued.clear()
            raise KafkaException("1 record(s) not delivered within 30s")
        self.delivered += self.queued
        self.queued.clear()


async def _unused_send(topic: str, record: EncodedRecord, partition: int | None) -> None:
    raise AssertionError(f"no dead letter expected, got one on {topic}")


@dataclass
class Rig:
    sink: Sink = field(default_factory=Sink)
    orders: dict[bytes, bytes] = field(default_factory=dict)
    cursors: dict[bytes, bytes] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def poll(self, *pages: Sequence[PlatformOrder]) -> None:
        """One poll per page, each answering with that page."""
        publisher = BuyerOrderPublisher(
            config=CONFIG, topic="order-events", sink=self.sink,
            cursors=CursorTable(POLL_CURSORS.entries(self.cursors)),
            buyer_orders=BuyerOrderTable(BUYER_ORDERS.entries(self.orders)),
            metrics=PollingMetrics(CollectorRegistry()), clock=lambda: NOW,
            letters=RejectLetters(send=_unused_send, topic="dead-letters",
                                  metrics=DeadLetterMetrics(CollectorRegistry()), clock=lambda: NOW))
        store = Store(pages, self.skipped)
        for _ in pages:
            asyncio.run(publisher.poll(BUYER, store))

    def cancellations(self) -> list[OrderBuyerCancelled]:
        return [event for event in self.sink.delivered if isinstance(event, OrderBuyerCancelled)]

    def placed(self, seller: str) -> OrderPlaced:
        return next(e for e in self.sink.delivered if isinstance(e, OrderPlaced) and e.seller.connection == seller)


def test_units_cancelled_later_reach_only_the_seller_whose_lines_they_are() -> None:
    rig = Rig()
    rig.poll([order(("ACME-1", 3, 0), ("BOLT-1", 1, 0))], [order(("ACME-1", 3, 2), ("BOLT-1", 1, 0))])

    [cancel] = rig.cancellations()
    assert cancel.order_id == rig.placed("acme").order_id
    assert (cancel.source.connection, cancel.whole_order) == ("shop-bc", False)
    assert [(x.line_id, x.cancelled_quantity, x.remaining_quantity) for x in cancel.lines] == [("ACME-1", 2, 1)]


def test_a_cancelled_buyer_order_cancels_every_stored_order_in_full() -> None:
    rig = Rig()
    first = order(("ACME-1", 3, 0), ("BOLT-1", 1, 0))
    rig.poll([first], [first.model_copy(update={"cancelled": True})])

    cancels = rig.cancellations()
    assert {c.order_id for c in cancels} == {rig.placed("acme").order_id, rig.placed("bolt").order_id}
    assert all(c.whole_order for c in cancels)


def test_an_unchanged_cancellation_is_published_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig()
    cancelled_two = order(("ACME-1", 3, 2))
    with caplog.at_level(logging.INFO, "streams.polling.buyer_orders"):
        rig.poll([order(("ACME-1", 3, 0))], [cancelled_two], [cancelled_two], [order(("ACME-1", 3, 3))])

    assert [[x.cancelled_quantity for x in c.lines] for c in rig.cancellations()] == [[2], [3]]
    assert len([r for r in caplog.records if "order.buyer_cancelled" in r.getMessage()]) == 2


def test_an_order_seen_again_without_cancellation_publishes_nothing() -> None:
    rig = Rig()
    rig.poll([order(("ACME-1", 3, 0))], [order(("ACME-1", 3, 0), ("OWN-1", 1, 1))])
    assert rig.cancellations() == []
    assert len(rig.sink.delivered) == 1


def test_an_undelivered_cancellation_is_published_again_with_the_same_id() -> None:
    rig = Rig()
    rig.poll([order(("ACME-1", 3, 0))])
    before_cancellation = dict(rig.orders)
    rig.sink.fail_next_flush = True
    with pytest.raises(KafkaException):
        rig.poll([order(("ACME-1", 3, 1))])
    assert rig.cancellations() == [] and rig.orders == before_cancellation
    rig.poll([order(("ACME-1", 3, 1))])
    rig.orders.update(before_cancellation)  # as if the worker died after delivery, before the table write
    rig.poll([order(("ACME-1", 3, 1))])

    first, again = rig.cancellations()
    assert first == again


def test_a_known_order_is_read_again_only_when_its_cancellation_mark_changed() -> None:
    rig = Rig()
    placed = order(("ACME-1", 3, 0), mark="-|3|3")
    rig.poll([placed], [placed], [order(("ACME-1", 3, 2), mark="-|3|1")], [order(("ACME-1", 3, 2), mark="-|3|1")])

    assert rig.skipped == ["7", "7"]  # the second poll (a fulfillment we wrote, say) and the fourth
    [cancel] = rig.cancellations()
    assert [(x.cancelled_quantity, x.remaining_quantity) for x in cancel.lines] == [(2, 1)]


def test_a_new_mark_without_a_cancellation_of_ours_is_recorded_all_the_same() -> None:
    rig = Rig()
    rig.poll([order(("ACME-1", 3, 0), ("OWN-1", 1, 0), mark="a")], [order(("ACME-1", 3, 0), ("OWN-1", 1, 1), mark="b")],
             [order(("ACME-1", 3, 0), ("OWN-1", 1, 1), mark="b")])

    assert rig.cancellations() == []  # the buyer's own product was cancelled: nothing for the sellers
    assert rig.skipped == ["7"]  # but the entry took the new mark, so the third poll needed nothing


def test_orders_without_a_mark_are_always_read_and_orders_that_routed_nothing_are_not_read_again() -> None:
    rig = Rig()
    own = order(("OWN-1", 1, 0), mark="x").model_copy(update={"order_ref": "8"})
    rig.poll([order(("ACME-1", 3, 0)), own], [order(("ACME-1", 3, 0)), own])

    assert rig.skipped == ["8"]
    assert [type(event).__name__ for event in rig.sink.delivered] == ["OrderPlaced"]

"""The seller fulfillment checker (`streams.fulfillments.checker`, whose module docstring is the contract) without
Kafka: the real order, seller-orders and seller-fulfillments tables over dicts, recorders for what it publishes
and sends, and a connector to a simulated seller store in this process (tests/support/sync_stores.py). Each order
is set up as the worker sets it up: `order.placed` applied by the ledger, the order created on the seller's store
by the connector's own `create_order`, its `CreatedOrder` recorded in seller-orders; the merchant then fulfills,
edits and cancels on the store, and check records are handed to `FulfillmentChecker.process`.

Shopify (one fulfillment with every number, cancelled in place, edits move the order's time) and Magento (one
shipment with a track per number, "cancelled" by removing its tracks, edits keep the order's time) are both run
where it costs nothing.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from confluent_kafka import KafkaException
from prometheus_client import CollectorRegistry

from connectors.base import StoreConnector
from connectors.http import REDACTED
from ledger import OrderState, apply, new_state
from ledger.outputs import shipped_output
from ledger.seller_lines import SellerOrder
from sandbox.merchant import PlacedOrder
from sandbox.settings import SandboxPlatform
from schemas.config import Config, Connection, PollingSettings
from schemas.events import (
    FulfilledLine,
    FulfillmentCancelled,
    FulfillmentRecorded,
    InputEvent,
    OrderLine,
    OrderPlaced,
    PartyRef,
    ShippingAddress,
    ShippingDetails,
    SourceRef,
)
from schemas.factories import fulfillment_recorded, order_placed
from schemas.platform import SellerLine
from streams.fulfillments.checker import STAGE, CheckMetrics, CheckTopics, FulfillmentChecker
from streams.fulfillments.records import CheckReason, CheckRecord
from streams.fulfillments.tables import SELLER_FULFILLMENTS, SellerWatch
from streams.kit.dead_letters import DeadLetterMetrics
from streams.kit.failures import BUG_ATTEMPTS, InPlaceRetry
from streams.kit.records import EncodedRecord, RebuiltMessage
from streams.kit.tables import TypedTable
from streams.orders.tables import ORDERS
from streams.sellers.creator import new_order
from streams.sellers.tables import SELLER_ORDERS, SellerOrderEntry
from tests.support.sync_stores import ONCE, TOKEN, SimStore, connection_to, sim_store

pytestmark = pytest.mark.asyncio

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SHIPPED_WATCH = timedelta(hours=1)
TOPICS = CheckTopics(fulfillment_events="p.fulfillment-events", dead_letters="p.dead-letters")
CHECKS = "p.seller-checks"
PLATFORMS: tuple[SandboxPlatform, ...] = ("shopify", "magento2")
SELLER = "s-acme"
INTRUDER = "s-intruder"
BUYER = PartyRef(partner="northwind", connection="b-northwind", platform="shopify", order_ref="gid://shopify/Order/77")
SHIPPING = ShippingDetails(
    address=ShippingAddress(name="Ada Buyer", lines=["1 Main St"], city="Springfield", region="IL",
                            postal_code="62701", country_code="US"),
    email="ada@example.com", method="Ground", buyer_order_number="#1077")
LINES = [OrderLine(line_id="L1", sku="ACME-MUG", quantity=3, title="Mug"),
         OrderLine(line_id="L2", sku="ACME-CAP", quantity=1, title="Cap")]
UPS_1, UPS_2, UPS_3 = "1Z999AA10123456784", "1Z999AA10123456793", "1Z999AA10123456808"


@dataclass
class Journal(MutableMapping[bytes, bytes]):
    """A dict that notes every write and delete in `log` (shared with the event sink), so a test sees whether the
    events were flushed before the entry was stored."""

    log: list[str]
    data: dict[bytes, bytes] = field(default_factory=dict)

    def __getitem__(self, key: bytes) -> bytes:
        return self.data[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.log.append("store")
        self.data[key] = value

    def __delitem__(self, key: bytes) -> None:
        self.log.append("delete")
        del self.data[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@dataclass
class Events:
    """A recording `EventSink`: `publish` queues, `flush` delivers what was queued."""

    log: list[str]
    queued: list[tuple[str, InputEvent, str]] = field(default_factory=list)
    delivered: list[tuple[str, InputEvent, str]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    """Raised by the next flushes, in turn (a broker that does not take the records)."""

    def publish(self, topic: str, event: InputEvent, *, source: str) -> None:
        self.log.append("publish")
        self.queued.append((topic, event, source))

    async def flush(self) -> None:
        self.log.append("flush")
        if self.failures:
            self.queued.clear()  # what a failed flush queued is published again by the next attempt
            raise self.failures.pop(0)
        self.delivered += self.queued
        self.queued.clear()

    def events(self) -> list[InputEvent]:
        return [event for _, event, _ in self.delivered]


@dataclass
class Rig:
    store: SimStore
    placed: OrderPlaced
    order: PlacedOrder
    log: list[str]
    watch_raw: Journal
    events: Events
    sent: list[tuple[str, EncodedRecord, int | None]]
    made: list[str]
    checker: FulfillmentChecker
    orders: TypedTable[OrderState]  # the one the component reads: a cached table sees only its own writes
    slept: list[float]
    offsets: Iterator[int] = field(default_factory=itertools.count)

    @property
    def order_id(self) -> str:
        return self.placed.order_id

    async def check(self, connection_id: str = SELLER, reason: CheckReason = "changed",
                    seller_order_ref: str | None = None) -> list[InputEvent]:
        """Hand one check record to the checker; the events it delivered for it."""
        before = len(self.events.delivered)
        record = CheckRecord(order_id=self.order_id, connection_id=connection_id,
                             seller_order_ref=seller_order_ref or self.order.order_ref, reason=reason,
                             requested_at=NOW)
        message = RebuiltMessage(topic=CHECKS, partition=2, offset=next(self.offsets), key=self.order_id.encode(),
                                 value=record.model_dump_json().encode(), headers=[])
        await self.checker.process(message)
        return self.events.events()[before:]

    def watch(self) -> SellerWatch | None:
        return SELLER_FULFILLMENTS.entries(self.watch_raw).get(self.order_id)

    def state(self) -> OrderState:
        found = self.orders.get(self.order_id)
        assert found is not None
        return found

    def apply(self, event: InputEvent) -> OrderState:
        """Apply `event` to the stored order's state as the ledger agent does, and store the new state."""
        result = apply(self.state(), event)
        assert result.status == "applied", result.detail
        self.orders.put(self.order_id, result.state)
        return result.state

    async def fulfill(self, lines: dict[str, int], numbers: list[str], carrier: str = "UPS") -> str:
        return await self.store.merchant.fulfill(self.order, lines, numbers, carrier)


def config(seller: Connection, intruder: Connection) -> Config:
    return Config(polling=PollingSettings(interval=timedelta(minutes=5), shipped_watch=SHIPPED_WATCH),
                  connections=[seller, intruder])


@asynccontextmanager
async def rig(platform: SandboxPlatform) -> AsyncIterator[Rig]:
    """An order placed for seller `s-acme` on a simulated `platform` store, created there and recorded as the
    worker records it, and a checker for it."""
    async with sim_store(platform, connection_id=SELLER, partner="acme", role="seller") as store:
        seller = store.connection
        intruder = connection_to(platform, "", connection_id=INTRUDER, partner="intruder", role="seller")
        placed = order_placed(buyer=BUYER, seller=PartyRef(partner="acme", connection=SELLER, platform=platform),
                              lines=LINES, occurred_at=NOW - timedelta(hours=3)
                              ).model_copy(update={"shipping": SHIPPING})
        orders = ORDERS.entries({})
        placed_state = apply(new_state(placed.order_id), placed)
        assert placed_state.status == "applied"
        orders.put(placed.order_id, placed_state.state)
        unlinked = SellerOrder(lines=tuple(SellerLine(line_ref=line.line_id, sku=line.sku, quantity=line.quantity)
                                           for line in placed.lines), currency="USD", shipping_price=Decimal(0))
        created = await store.connector(retry=ONCE).create_order(new_order(placed, unlinked))
        seller_orders: dict[bytes, bytes] = {}
        SELLER_ORDERS.entries(seller_orders).put(placed.order_id, SellerOrderEntry.of(created, NOW, SELLER))
        order = await store.merchant.find_order(placed.order_id)
        assert order is not None and order.order_ref == created.order_ref
        log: list[str] = []
        watch_raw = Journal(log)
        events = Events(log)
        sent: list[tuple[str, EncodedRecord, int | None]] = []
        made: list[str] = []

        async def send(topic: str, record: EncodedRecord, partition: int | None) -> None:
            sent.append((topic, record, partition))

        def connector_for(connection: Connection) -> StoreConnector:
            made.append(connection.id)
            return store.connector(connection, retry=ONCE)

        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        async def crash(error: BaseException) -> None:
            raise AssertionError(f"the checker stopped the worker: {error!r}")

        checker = FulfillmentChecker(
            config=config(seller, intruder), topics=TOPICS, orders=orders,
            seller_orders=SELLER_ORDERS.entries(seller_orders), watch=SELLER_FULFILLMENTS.entries(watch_raw),
            events=events, send=send, dead_letters=DeadLetterMetrics(CollectorRegistry()), connector_for=connector_for,
            metrics=CheckMetrics(CollectorRegistry()), clock=lambda: NOW, retry=InPlaceRetry(crash, sleep=sleep))
        try:
            yield Rig(store, placed, order, log, watch_raw, events, sent, made, checker, orders, slept)
        finally:
            await checker.aclose()


def recorded(events: list[InputEvent]) -> FulfillmentRecorded:
    [event] = events
    assert isinstance(event, FulfillmentRecorded), event
    return event


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_merchant_fulfillment_with_two_numbers_is_one_recorded_event_flushed_before_its_entry(
        platform: SandboxPlatform) -> None:
    """A merchant's fulfillment of 2 mugs with UPS and two tracking numbers becomes one `fulfillment.recorded` on
    fulfillment-events: our line id and units, the carrier, both numbers with their URLs, the seller connection as
    its source; the events are flushed before the seller-fulfillments entry records what was published."""
    async with rig(platform) as r:
        ref = await r.fulfill({"ACME-MUG": 2}, [UPS_1, UPS_2])
        r.log.clear()
        event = recorded(await r.check())
        assert (event.order_id, event.fulfillment_id) == (r.order_id, ref)
        assert [(line.line_id, line.quantity) for line in event.lines] == [("L1", 2)]
        assert (event.carrier, event.tracking_numbers) == ("UPS", [UPS_1, UPS_2])
        assert all(url and number in url for url, number in zip(event.tracking_urls, [UPS_1, UPS_2], strict=True))
        assert event.source == SourceRef(partner="acme", connection=SELLER, platform=platform)
        [(topic, _, source)] = r.events.delivered
        assert (topic, source) == (TOPICS.fulfillment_events, f"/fulfillsync/connections/{SELLER}")
        assert r.log == ["publish", "flush", "store"], "the entry must be stored only after the flush"
        watch = r.watch()
        assert watch is not None and set(watch.published) == {ref}
        assert watch.published[ref].source_version == event.source_version
        assert (watch.last_read_at, watch.read_failed_at, watch.shipped_at) == (NOW, None, None)
        assert r.sent == []
        # the event applies: the ledger takes what the checker read
        assert r.apply(event).fulfillments[ref].tracking_numbers == [UPS_1, UPS_2]


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_the_same_check_again_publishes_nothing(platform: SandboxPlatform) -> None:
    """Nothing changed on the store since the last check: the next check (a sweep's, or another poll's) reads the
    fulfillment again and publishes nothing."""
    async with rig(platform) as r:
        await r.fulfill({"ACME-MUG": 3, "ACME-CAP": 1}, [UPS_1])
        recorded(await r.check())
        assert await r.check(reason="sweep") == []
        assert await r.check() == []
        assert r.events.queued == [] and len(r.events.delivered) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_an_edited_tracking_number_is_published_as_an_update_with_a_newer_version(
        platform: SandboxPlatform) -> None:
    """The merchant corrects a tracking number in place (Magento keeps the order's modified time): the next check
    publishes the same fulfillment again with the new number and a newer `source_version`, which the ledger
    applies as a replacement."""
    async with rig(platform) as r:
        ref = await r.fulfill({"ACME-MUG": 2}, [UPS_1, UPS_2])
        first = recorded(await r.check())
        r.apply(first)
        await r.store.merchant.edit_tracking(r.order, ref, [UPS_1, UPS_3])
        update = recorded(await r.check(reason="sweep"))
        assert update.fulfillment_id == ref and update.event_id != first.event_id
        assert update.tracking_numbers == [UPS_1, UPS_3]
        assert update.source_version > first.source_version
        assert [(line.line_id, line.quantity) for line in update.lines] == [("L1", 2)]
        assert r.apply(update).fulfillments[ref].tracking_numbers == [UPS_1, UPS_3]
        assert await r.check() == []


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_cancelled_fulfillment_publishes_fulfillment_cancelled_once(platform: SandboxPlatform) -> None:
    """The merchant cancels a fulfillment that was published: the next check publishes `fulfillment.cancelled`
    for it (newer than what was published), and the one after nothing."""
    async with rig(platform) as r:
        ref = await r.fulfill({"ACME-MUG": 2}, [UPS_1])
        first = recorded(await r.check())
        await r.store.merchant.cancel_fulfillment(r.order, ref)
        [cancelled] = await r.check()
        assert isinstance(cancelled, FulfillmentCancelled)
        assert (cancelled.order_id, cancelled.fulfillment_id) == (r.order_id, ref)
        assert cancelled.source_version > first.source_version
        watch = r.watch()
        assert watch is not None and watch.published[ref].cancelled
        assert await r.check() == []


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_read_failure_marks_the_entry_and_publishes_nothing(platform: SandboxPlatform,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """The seller's store answers 503 (no in-call retry left): nothing is published, the entry keeps what was
    published before and gets `read_failed_at` (the sweep asks again), the platform's failure is logged; once
    the store answers again, the retry check publishes what was missed and clears the mark."""
    async with rig(platform) as r:
        ref = await r.fulfill({"ACME-MUG": 1}, [UPS_1])
        recorded(await r.check())
        await r.store.merchant.edit_tracking(r.order, ref, [UPS_2])
        await r.store.fault(503, times=5)
        with caplog.at_level(logging.WARNING, logger="streams.fulfillments.checker"):
            assert await r.check() == []
        assert r.events.queued == []
        watch = r.watch()
        assert watch is not None and watch.read_failed_at == NOW and set(watch.published) == {ref}
        assert any("failed" in record.getMessage() and "503" in record.getMessage() for record in caplog.records)
        await r.store.clear_faults()
        assert recorded(await r.check(reason="retry")).tracking_numbers == [UPS_2]
        watch = r.watch()
        assert watch is not None and watch.read_failed_at is None


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_check_from_another_seller_connection_is_dead_lettered_and_nothing_is_read(
        platform: SandboxPlatform) -> None:
    """A check naming this order from another seller connection (its store carries our reference) is
    dead-lettered `tenant_mismatch` by stage `seller_fulfillments`, keyed by the order, with the check record as
    its original; neither store is asked anything, nothing is published and no entry is written."""
    async with rig(platform) as r:
        await r.fulfill({"ACME-MUG": 2}, [UPS_1])
        requests = r.store.requests()
        assert await r.check(connection_id=INTRUDER, seller_order_ref="999") == []
        assert r.store.requests() == requests and r.made == []
        assert r.events.delivered == [] and r.events.queued == [] and r.watch() is None
        [(topic, record, partition)] = r.sent
        assert (topic, record.key, partition) == (TOPICS.dead_letters, r.order_id.encode(), None)
        letter = json.loads(record.value)
        assert (letter["reason"], letter["stage"], letter["order_id"]) == ("tenant_mismatch", STAGE, r.order_id)
        assert STAGE == "seller_fulfillments"
        assert letter["original"]["topic"] == CHECKS
        assert json.loads(letter["original"]["value"])["connection_id"] == INTRUDER


@pytest.mark.parametrize(("platform", "shipped_ago", "read"), [
    ("shopify", timedelta(hours=2), False), ("magento2", timedelta(hours=2), False),
    ("magento2", timedelta(minutes=30), True)])
async def test_an_order_shipped_longer_ago_than_the_watch_is_not_read_and_forgotten(
        platform: SandboxPlatform, shipped_ago: timedelta, read: bool) -> None:
    """An order the ledger shipped longer ago than `polling.shipped_watch` is not read (no request reaches the
    store) and its seller-fulfillments entry is removed; one shipped within the window is still read."""
    async with rig(platform) as r:
        ref = await r.fulfill({"ACME-MUG": 3, "ACME-CAP": 1}, [UPS_1])
        SELLER_FULFILLMENTS.entries(r.watch_raw).put(r.order_id, SellerWatch(connection_id=SELLER,
                                                                             seller_order_ref=r.order.order_ref))
        shipped_at = NOW - shipped_ago
        state = r.apply(fulfillment_recorded(
            order_id=r.order_id, source=SourceRef(partner="acme", connection=SELLER, platform=platform),
            fulfillment_id=ref, source_version=shipped_at, carrier="UPS", tracking_numbers=[UPS_1],
            lines=[FulfilledLine(line_id="L1", quantity=3), FulfilledLine(line_id="L2", quantity=1)]))
        shipped = shipped_output(state)
        assert shipped is not None and shipped.shipped_at == shipped_at
        requests = r.store.requests()
        await r.check(reason="sweep")
        assert r.events.queued == []
        if read:
            assert r.store.requests() > requests
            watch = r.watch()
            assert watch is not None and watch.shipped_at == shipped_at and watch.last_read_at == NOW
        else:
            assert r.store.requests() == requests, "an order outside its watch window was read"
            assert r.watch() is None and r.events.delivered == []


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_the_store_token_never_appears_in_what_is_published_stored_or_logged(
        platform: SandboxPlatform, caplog: pytest.LogCaptureFixture) -> None:
    """Through a fulfillment, an edit, a cancellation, a failed read whose error body repeats the token, and a
    tenant mismatch, the store's credentials appear in no published event, sent record, table entry or log line
    (DEBUG included)."""
    async with rig(platform) as r:
        with caplog.at_level(logging.DEBUG):
            ref = await r.fulfill({"ACME-MUG": 2}, [UPS_1, UPS_2])
            await r.check()
            await r.store.fault(401, times=5, body=json.dumps({"message": f"token {TOKEN} is not valid here"}))
            await r.check()
            await r.store.fault(503, times=5, body=json.dumps({"message": f"upstream refused {TOKEN}"}))
            await r.check()
            await r.store.clear_faults()
            await r.store.merchant.cancel_fulfillment(r.order, ref)
            await r.check()
            await r.check(connection_id=INTRUDER)
        assert len(r.events.delivered) == 2 and len(r.sent) == 1
        assert any(REDACTED in record.getMessage() for record in caplog.records), "the failure was not logged"
        published = [event.model_dump_json() for event in r.events.events()]
        sent = [record.value.decode() + repr(record.headers) for _, record, _ in r.sent]
        stored = [value.decode() for value in r.watch_raw.values()]
        logged = [record.getMessage() for record in caplog.records]
        for secret in r.store.secrets():
            for text in [*published, *sent, *stored, *logged, caplog.text]:
                assert secret not in text


async def test_a_transient_producer_failure_is_retried_in_place_and_publishes_once() -> None:
    """The producer failing to deliver (the broker away) is not a failed read: the check runs again in place and
    its event is published once, the entry stored after it."""
    async with rig("shopify") as r:
        await r.fulfill({"ACME-MUG": 2}, [UPS_1])
        r.events.failures.append(KafkaException("1 record(s) failed: Local: Message timed out"))
        assert len(await r.check()) == 1 and r.slept == [0.2]
        watch = r.watch()
        assert watch is not None and watch.read_failed_at is None and watch.last_read_at == NOW


async def test_a_check_failing_the_same_way_again_is_marked_so_the_sweep_asks_again() -> None:
    """An error that repeats (a bug) must not leave the order unread for good: the entry is marked failed, which
    the sweep asks again for next interval (streams/fulfillments/sweep.py), and that check publishes."""
    async with rig("shopify") as r:
        await r.fulfill({"ACME-MUG": 2}, [UPS_1])
        r.events.failures += [RuntimeError("a bug")] * BUG_ATTEMPTS
        assert await r.check() == []
        watch = r.watch()
        assert watch is not None and watch.read_failed_at == NOW, "nothing would ever ask for this order again"
        assert len(await r.check(reason="retry")) == 1
        watch = r.watch()
        assert watch is not None and watch.read_failed_at is None

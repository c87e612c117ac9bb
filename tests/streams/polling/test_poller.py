"""The poller's rules without Kafka: at most one poll per connection and slot, cursors stored only after the
events are delivered, connector failures kept inside the agent, ticks for unknown connections ignored."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import KafkaException
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from connectors.base import ConnectorError, PermanentError, RetryableError, Skip, StoreConnector
from schemas.config import Config, Connection, Route
from schemas.events import DeadLetter, InputEvent, OrderPlaced
from schemas.platform import (
    Page,
    PlatformLine,
    PlatformOrder,
    RejectedOrder,
)
from streams.fulfillments.records import CheckRecord
from streams.kit.dead_letters import DeadLetterMetrics
from streams.kit.records import EncodedRecord
from streams.polling.buyer_orders import BuyerOrderPublisher
from streams.polling.metrics import PollingMetrics
from streams.polling.poller import FAILING_AFTER, Poller
from streams.polling.rejects import MAX_EVENT_BYTES, RejectLetters
from streams.polling.seller_orders import SellerOrderScanner
from streams.polling.tables import BUYER_ORDERS, POLL_CURSORS, BuyerOrderTable, CursorTable
from streams.polling.ticks import PollTick, Ticker, encode_tick, interval_ms, phases, pollable, slot_of
from tests.support.connectors import UnusedStore

NOW = datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)
TOKEN = {"access_token": SecretStr("t")}
BUYER = Connection(id="shop-bc", partner="shop", role="buyer", platform="bigcommerce", base_url="http://b.test",
                   credentials=TOKEN)
SELLER = Connection(id="acme", partner="acme", role="seller", platform="shopify", base_url="http://s.test",
                    credentials=TOKEN)
MANUAL = Connection(id="hand", partner="hand", role="seller", platform="manual")
CONFIG = Config(connections=[BUYER, SELLER, MANUAL], routes=[Route(buyer="shop-bc", seller="acme", skus=["ACME-*"])])


def order(ref: str, **skus: int) -> PlatformOrder:
    return PlatformOrder(order_ref=ref, updated_at=NOW, lines=tuple(
        PlatformLine(line_ref=f"{ref}-{sku}", sku=sku, quantity=qty) for sku, qty in skus.items()))


class ScriptedStore(UnusedStore):
    """Answers `orders_changed_since` from a script: cursor -> a page, or an exception to raise."""

    def __init__(self) -> None:
        self.script: dict[str | None, Page[PlatformOrder] | Exception] = {}
        self.asked: list[str | None] = []

    async def orders_changed_since(self, cursor: str | None, skip: Skip | None = None) -> Page[PlatformOrder]:
        self.asked.append(cursor)
        answer = self.script.get(cursor, Page[PlatformOrder](items=(), cursor=cursor or "c0"))
        if isinstance(answer, Exception):
            raise answer
        return answer











def cursor_table(raw: dict[bytes, bytes]) -> CursorTable:
    return CursorTable(POLL_CURSORS.entries(raw))


def buyer_order_table(raw: dict[bytes, bytes]) -> BuyerOrderTable:
    return BuyerOrderTable(BUYER_ORDERS.entries(raw))


@dataclass
class FakeSink:
    queued: list[InputEvent | CheckRecord] = field(default_factory=list)
    delivered: list[InputEvent | CheckRecord] = field(default_factory=list)
    fail_flush: bool = False

    def publish(self, topic: str, event: InputEvent, *, source: str) -> None:
        assert topic == "order-events" and source == "/fulfillsync/connections/shop-bc"
        self.queued.append(event)

    def publish_record(self, topic: str, key: bytes, value: bytes) -> None:
        assert topic == "seller-checks"
        check = CheckRecord.model_validate_json(value)
        assert key == check.order_id.encode()
        self.queued.append(check)

    async def flush(self) -> None:
        if self.fail_flush:
            self.queued.clear()
            raise KafkaException("1 record(s) not delivered within 30s")
        self.delivered.extend(self.queued)
        self.queued.clear()


@dataclass
class FakeSend:
    """The worker's Faust `Send`: records what was sent, or raises when `fail` is set."""

    sent: list[tuple[str, EncodedRecord]] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, topic: str, record: EncodedRecord, partition: int | None) -> None:
        if self.fail:
            raise KafkaException("producer refused the record")
        self.sent.append((topic, record))

    def letters(self) -> list[DeadLetter]:
        assert {topic for topic, _ in self.sent} <= {"dead-letters"}
        return [DeadLetter.model_validate_json(record.value) for _, record in self.sent]


@dataclass
class Message:
    value: bytes | None
    key: bytes | None = None
    topic: str = "poll-ticks"
    partition: int = 0
    offset: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Rig:
    """A poller over dict tables, a scripted store and a fake sink; `now` is its clock."""

    store: ScriptedStore = field(default_factory=ScriptedStore)
    sink: FakeSink = field(default_factory=FakeSink)
    send: FakeSend = field(default_factory=FakeSend)
    cursor_table: dict[bytes, bytes] = field(default_factory=dict)
    order_table: dict[bytes, bytes] = field(default_factory=dict)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    now: datetime = NOW
    built: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.metrics = PollingMetrics(self.registry)
        self.dead_letters = DeadLetterMetrics(self.registry)

    def poller(self) -> Poller:
        metrics = self.metrics
        cursors = CursorTable(POLL_CURSORS.entries(self.cursor_table))
        letters = RejectLetters(send=self.send, topic="dead-letters", metrics=self.dead_letters,
                                clock=lambda: self.now)
        buyer = BuyerOrderPublisher(config=CONFIG, topic="order-events", sink=self.sink, cursors=cursors,
                                    buyer_orders=buyer_order_table(self.order_table), metrics=metrics,
                                    clock=lambda: self.now, letters=letters)

        def connector_for(connection: Connection) -> StoreConnector:
            self.built.append(connection.id)
            return self.store

        seller = SellerOrderScanner(topic="seller-checks", sink=self.sink, cursors=cursors, clock=lambda: self.now,
                                    letters=letters)
        return Poller(config=CONFIG, cursors=cursors, buyer=buyer, seller=seller, metrics=metrics,
                      connector_for=connector_for, clock=lambda: self.now)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def tick(connection_id: str, at: datetime = NOW, interval: timedelta = INTERVAL) -> Message:
    length = interval_ms(interval)
    key, value = encode_tick(PollTick(connection_id=connection_id, slot=slot_of(at, length), interval_ms=length,
                                      published_at=at))
    return Message(value=value, key=key)


def run(poller: Poller, *messages: Message) -> None:
    async def go() -> None:
        for message in messages:
            await poller.process(message)

    asyncio.run(go())


def test_a_connection_is_polled_once_per_slot_whatever_ticks_arrive() -> None:
    rig = Rig()
    first, second = rig.poller(), rig.poller()  # two workers in turn owning the same table partition
    run(first, tick("shop-bc"), tick("shop-bc", NOW + timedelta(seconds=30)))
    run(second, tick("shop-bc", NOW + timedelta(minutes=1)))
    assert len(rig.store.asked) == 1
    assert rig.metric("fulfillsync_poll_ticks_total", outcome="duplicate") == 2
    rig.now = NOW + INTERVAL
    run(second, tick("shop-bc", rig.now))
    assert len(rig.store.asked) == 2


def test_new_orders_become_order_placed_and_the_cursor_moves_after_delivery() -> None:
    rig = Rig()
    rig.store.script[None] = Page(items=(order("100", **{"ACME-MUG": 2, "OWN-TEE": 1}), order("101", OWN=1)),
                                  cursor="c1", has_more=True)
    rig.store.script["c1"] = Page(items=(order("102", **{"ACME-CAP": 1}),), cursor="c2")
    run(rig.poller(), tick("shop-bc"))
    placed = [e for e in rig.sink.delivered if isinstance(e, OrderPlaced)]
    assert [(e.buyer.order_ref, [line.sku for line in e.lines]) for e in placed] == [
        ("100", ["ACME-MUG"]), ("102", ["ACME-CAP"])]
    assert cursor_table(rig.cursor_table).get("shop-bc").cursor == "c2"
    assert rig.metric("fulfillsync_unrouted_lines_total", connection="shop-bc", reason="no_route") == 2
    assert rig.metric("fulfillsync_poll_orders_placed_total", connection="shop-bc") == 2


def test_a_known_order_is_not_routed_again_and_one_without_routed_lines_is_not_recorded() -> None:
    rig = Rig()
    rig.store.script[None] = Page(items=(order("100", **{"ACME-MUG": 2}), order("101", OWN=1)), cursor="c1")
    changed = order("100", **{"ACME-MUG": 1})  # the buyer later cancelled a unit: a cancellation, not a new order
    rig.store.script["c1"] = Page(items=(changed, order("101", OWN=1)), cursor="c2")
    poller = rig.poller()
    run(poller, tick("shop-bc"))
    rig.now = NOW + INTERVAL
    run(poller, tick("shop-bc", rig.now))
    assert [getattr(event, "type", None) for event in rig.sink.delivered] == ["order.placed", "order.buyer_cancelled"]
    assert buyer_order_table(rig.order_table).known("shop-bc", "100")
    assert not buyer_order_table(rig.order_table).known("shop-bc", "101")
    entry = buyer_order_table(rig.order_table).get("shop-bc", "100")
    assert entry is not None and entry.placed == tuple(rig.sink.delivered[:1])


def test_a_failed_delivery_keeps_the_cursor_and_the_next_poll_republishes_the_same_ids(
        caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(sink=FakeSink(fail_flush=True))
    rig.store.script[None] = Page(items=(order("100", **{"ACME-MUG": 2}),), cursor="c1")
    poller = rig.poller()
    run(poller, tick("shop-bc"))
    assert rig.sink.delivered == []
    assert cursor_table(rig.cursor_table).get("shop-bc").cursor is None
    assert not buyer_order_table(rig.order_table).known("shop-bc", "100")
    assert rig.metric("fulfillsync_polls_total", connection="shop-bc", outcome="internal_error") == 1
    rig.sink.fail_flush = False
    rig.now = NOW + INTERVAL
    run(poller, tick("shop-bc", rig.now))
    assert rig.store.asked == [None, None]
    assert [e.order_id for e in rig.sink.delivered] and cursor_table(rig.cursor_table).get("shop-bc").cursor == "c1"


@pytest.mark.parametrize("error, outcome", [
    (RetryableError("HTTP 503", connection="shop-bc", platform_message="try later", status=503), "retryable_error"),
    (PermanentError("HTTP 401", connection="shop-bc", platform_message="invalid token", status=401),
     "permanent_error"),
])
def test_connector_errors_keep_the_last_delivered_cursor_and_the_next_tick_resumes_from_it(
        error: ConnectorError, outcome: str, caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig()
    rig.store.script[None] = Page(items=(order("100", **{"ACME-MUG": 2}),), cursor="c1", has_more=True)
    rig.store.script["c1"] = error
    poller = rig.poller()
    with caplog.at_level(logging.DEBUG, logger="streams.polling"):
        run(poller, tick("shop-bc"))
    assert len(rig.sink.delivered) == 1
    assert cursor_table(rig.cursor_table).get("shop-bc").cursor == "c1"
    assert rig.metric("fulfillsync_polls_total", connection="shop-bc", outcome=outcome) == 1
    [record] = [r for r in caplog.records if "failed" in r.getMessage()]
    assert record.levelno == logging.DEBUG and error.platform_message in record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    rig.store.script["c1"] = Page(items=(), cursor="c2")
    rig.now = NOW + INTERVAL
    run(poller, tick("shop-bc", rig.now))
    assert rig.store.asked == [None, "c1", "c1"]
    assert cursor_table(rig.cursor_table).get("shop-bc").cursor == "c2"


def test_ticks_for_unknown_or_manual_connections_and_garbage_are_ignored_with_a_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig()
    with caplog.at_level(logging.WARNING, logger="streams.polling"):
        run(rig.poller(), tick("gone-shop"), tick("hand"), Message(value=b"{not json"), Message(value=None))
    assert rig.built == [] and rig.cursor_table == {}
    assert rig.metric("fulfillsync_poll_ticks_total", outcome="unknown_connection") == 2
    assert rig.metric("fulfillsync_poll_ticks_total", outcome="invalid") == 2
    assert any("'gone-shop'" in r.getMessage() and "not in the configuration" in r.getMessage()
               for r in caplog.records)


def test_a_stale_tick_from_a_backlog_is_skipped() -> None:
    rig = Rig()
    run(rig.poller(), tick("shop-bc", NOW - 2 * INTERVAL))
    assert rig.store.asked == [] and rig.built == []
    assert rig.metric("fulfillsync_poll_ticks_total", outcome="stale") == 1


def test_a_seller_poll_asks_for_the_fulfillments_of_its_changed_orders_of_ours_only() -> None:
    rig = Rig()
    ours = order("S-1", **{"ACME-1": 2}).model_copy(update={"our_order_id": "order-1"})
    rig.store.script[None] = Page[PlatformOrder](items=(ours, order("S-2", OWN=1)), cursor="c1", has_more=True)
    rig.store.script["c1"] = Page[PlatformOrder](items=(), cursor="c2")
    run(rig.poller(), tick("acme"))
    assert rig.store.asked == [None, "c1"]
    assert [(c.order_id, c.connection_id, c.seller_order_ref, c.reason) for c in rig.sink.delivered
            if isinstance(c, CheckRecord)] == [("order-1", "acme", "S-1", "changed")]
    assert cursor_table(rig.cursor_table).get("acme").cursor == "c2"
    assert rig.metric("fulfillsync_polls_total", connection="acme", outcome="ok") == 1


def test_a_seller_poll_whose_checks_are_not_delivered_keeps_its_cursor() -> None:
    rig = Rig()
    rig.sink.fail_flush = True
    ours = order("S-1", **{"ACME-1": 2}).model_copy(update={"our_order_id": "order-1"})
    rig.store.script[None] = Page[PlatformOrder](items=(ours,), cursor="c1")
    run(rig.poller(), tick("acme"))
    assert rig.sink.delivered == [] and cursor_table(rig.cursor_table).get("acme").cursor is None
    assert rig.metric("fulfillsync_polls_total", connection="acme", outcome="internal_error") == 1


def test_an_unexpected_failure_never_escapes_the_agent() -> None:
    rig = Rig()
    rig.store.script[None] = ZeroDivisionError("bug")
    poller = rig.poller()
    run(poller, tick("shop-bc"))  # does not raise
    assert rig.metric("fulfillsync_polls_total", connection="shop-bc", outcome="internal_error") == 1


def test_the_ticker_publishes_each_slot_once_per_pollable_connection_at_its_phase() -> None:
    ticker = Ticker(connections=pollable(CONFIG.connections), interval=INTERVAL)
    first = ticker.due(NOW)  # a new leader: every connection's current slot
    assert sorted(t.connection_id for t in first) == ["acme", "shop-bc"]
    assert ticker.due(NOW) == []
    start = {t.connection_id: t.slot_start_ms for t in first}
    # acme (first in id order) starts its slots on the interval's boundaries, shop-bc half an interval later
    assert start["acme"] % interval_ms(INTERVAL) == 0
    assert (start["shop-bc"] - start["acme"]) % interval_ms(INTERVAL) == interval_ms(INTERVAL) // 2
    published: list[tuple[str, int]] = []
    moment = NOW
    while moment < NOW + 2 * INTERVAL:  # the timer's period over two intervals
        moment += timedelta(seconds=1)
        for tick_ in ticker.due(moment):
            published.append((tick_.connection_id, tick_.slot_start_ms))
            # published within one timer period of the slot's start
            assert 0 <= moment.timestamp() * 1000 - tick_.slot_start_ms < 1000
    assert sorted(published) == sorted(
        (connection_id, start[connection_id] + n * interval_ms(INTERVAL)) for connection_id in start for n in (1, 2))
    assert Ticker(connections=pollable([MANUAL]), interval=INTERVAL).due(NOW) == []


def test_phases_spread_connections_evenly_and_agree_across_workers() -> None:
    many = [Connection(id=f"c{n:02d}", partner="p", role="seller", platform="manual") for n in range(20)]
    spread = phases(many, 20_000)
    assert sorted(spread.values()) == [n * 1000 for n in range(20)]
    assert phases(list(reversed(many)), 20_000) == spread
    assert phases([], 20_000) == {}


def webhook(connection_id: str, at: datetime) -> Message:
    key, value = encode_tick(Ticker(connections=pollable(CONFIG.connections), interval=INTERVAL)
                             .webhook_tick(connection_id, at))
    return Message(value=value, key=key)


def test_a_webhook_polls_at_once_and_a_burst_of_them_costs_one_poll() -> None:
    rig = Rig()
    poller = rig.poller()
    run(poller, tick("shop-bc"))  # the scheduled poll of this slot
    assert len(rig.store.asked) == 1
    arrived = NOW + timedelta(minutes=3)
    rig.now = arrived + timedelta(seconds=1)
    run(poller, webhook("shop-bc", arrived), webhook("shop-bc", arrived), webhook("shop-bc", arrived))
    assert len(rig.store.asked) == 2  # one poll for the burst: the next two arrived before it began
    assert rig.metric("fulfillsync_poll_ticks_total", outcome="duplicate") == 2


def test_a_webhook_poll_leaves_the_schedule_alone() -> None:
    rig = Rig()
    poller = rig.poller()
    rig.now = NOW + timedelta(seconds=1)
    run(poller, webhook("shop-bc", NOW))  # a webhook before the slot's scheduled tick
    run(poller, tick("shop-bc"))  # the scheduled tick of the same slot still polls
    assert len(rig.store.asked) == 2
    state = cursor_table(rig.cursor_table).get("shop-bc")
    assert state.slot_start_ms == slot_of(NOW, interval_ms(INTERVAL)) * interval_ms(INTERVAL)


def test_phased_ticks_poll_once_per_phased_slot() -> None:
    rig = Rig()
    poller = rig.poller()
    ticker = Ticker(connections=pollable(CONFIG.connections), interval=INTERVAL)
    scheduled = [t for t in ticker.due(NOW) if t.connection_id == "shop-bc"]
    assert scheduled and scheduled[0].phase_ms == interval_ms(INTERVAL) // 2
    key, value = encode_tick(scheduled[0])
    rig.now = NOW + INTERVAL / 3  # still inside the phased slot (or the next one): not stale
    run(poller, Message(value=value, key=key), Message(value=value, key=key))
    assert len(rig.store.asked) == 1
    assert cursor_table(rig.cursor_table).get("shop-bc").slot_start_ms == scheduled[0].slot_start_ms


def rejected(ref: str | None, message: str, raw: bytes = b'{"id": 1}') -> RejectedOrder:
    return RejectedOrder(order_ref=ref, reason="invalid_order", message=message, raw=raw, updated_at=NOW)


def test_rejected_orders_are_dead_lettered_once_and_the_rest_of_the_page_syncs() -> None:
    rig = Rig()
    bad_utf8 = RejectedOrder(order_ref="201", reason="invalid_payload", message="order 201.note: not valid UTF-8",
                             raw=b'{"id": 201, "note": "\xff\xfe"}')
    page = Page[PlatformOrder](items=(order("100", **{"ACME-MUG": 2}),), cursor="c1",
                rejected=(rejected("200", "order 200.items[0].qty_ordered: quantity 1.5"), bad_utf8,
                          rejected(None, "order at position 3 of the page: order.entity_id missing")))
    rig.store.script[None] = page
    rig.store.script["c1"] = page.model_copy(update={"cursor": "c2"})  # the same orders read again
    poller = rig.poller()
    run(poller, tick("shop-bc"))
    letters = rig.send.letters()
    assert [(letter.stage, letter.reason) for letter in letters] == [
        ("polling", "invalid_order"), ("polling", "invalid_payload"), ("polling", "invalid_order")]
    assert "quantity 1.5" in letters[0].message and "bigcommerce connection 'shop-bc'" in letters[0].message
    assert [record.key for _, record in rig.send.sent] == [b"200", b"201", b"shop-bc"]
    assert letters[0].original.value == '{"id": 1}' and letters[0].original.key == "200"
    assert letters[1].original.value is None and letters[1].original.value_base64 is not None
    assert [e.buyer.order_ref for e in rig.sink.delivered if isinstance(e, OrderPlaced)] == ["100"]
    assert cursor_table(rig.cursor_table).get("shop-bc").cursor == "c1"
    assert rig.metric("fulfillsync_dead_letters_total", stage="polling", reason="invalid_order") == 2
    rig.now = NOW + INTERVAL
    run(poller, tick("shop-bc", rig.now))
    assert len(rig.send.sent) == 3  # the same page again: no second letter
    assert cursor_table(rig.cursor_table).get("shop-bc").cursor == "c2"
    again = RejectLetters(send=FakeSend(), topic="dead-letters", metrics=DeadLetterMetrics(CollectorRegistry()),
                          clock=lambda: NOW + 2 * INTERVAL)
    asyncio.run(again.rejected(BUYER, page.rejected[0]))  # another worker, after a restart: the same id
    assert again._send.letters()[0].event_id == letters[0].event_id  # type: ignore[attr-defined]
    changed = rejected("200", "order 200.items[0].qty_ordered: quantity 2.5", raw=b'{"id": 2}')
    asyncio.run(again.rejected(BUYER, changed))
    assert again._send.letters()[1].event_id != letters[0].event_id  # type: ignore[attr-defined]


def test_a_seller_page_dead_letters_its_rejected_orders_and_still_asks_for_the_good_ones() -> None:
    rig = Rig()
    ours = order("S-1", **{"ACME-1": 2}).model_copy(update={"our_order_id": "order-1"})
    rig.store.script[None] = Page[PlatformOrder](items=(ours,), cursor="c1",
                                                 rejected=(rejected("S-2", "order S-2: no updated_at"),))
    run(rig.poller(), tick("acme"))
    assert [(letter.reason, letter.original.key) for letter in rig.send.letters()] == [("invalid_order", "S-2")]
    assert [c.order_id for c in rig.sink.delivered if isinstance(c, CheckRecord)] == ["order-1"]
    assert cursor_table(rig.cursor_table).get("acme").cursor == "c1"


def test_a_dead_letter_that_cannot_be_sent_keeps_the_cursor() -> None:
    rig = Rig(send=FakeSend(fail=True))
    rig.store.script[None] = Page(items=(order("100", **{"ACME-MUG": 2}),), cursor="c1",
                                  rejected=(rejected("200", "bad"),))
    run(rig.poller(), tick("shop-bc"))
    assert cursor_table(rig.cursor_table).get("shop-bc").cursor is None
    assert rig.metric("fulfillsync_polls_total", connection="shop-bc", outcome="internal_error") == 1


def test_an_order_placed_too_large_for_the_broker_is_dead_lettered_and_the_others_published() -> None:
    rig = Rig()
    lines = {f"ACME-{'X' * 400}-{index}": 1 for index in range(MAX_EVENT_BYTES // 800)}
    rig.store.script[None] = Page(items=(order("100", **lines), order("101", **{"ACME-CAP": 1})), cursor="c1")
    run(rig.poller(), tick("shop-bc"))
    [letter] = rig.send.letters()
    assert letter.reason == "invalid_order" and "over the" in letter.message and letter.original.key == "100"
    assert [e.buyer.order_ref for e in rig.sink.delivered if isinstance(e, OrderPlaced)] == ["101"]
    assert not buyer_order_table(rig.order_table).known("shop-bc", "100")
    assert cursor_table(rig.cursor_table).get("shop-bc").cursor == "c1"


def test_a_connection_failing_polls_in_a_row_is_logged_once_and_its_recovery_once(
        caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig()
    rig.store.script[None] = RetryableError("HTTP 503", connection="shop-bc", platform_message="down", status=503)
    poller = rig.poller()
    with caplog.at_level(logging.INFO, logger="streams.polling"):
        for slot in range(FAILING_AFTER + 3):
            rig.now = NOW + slot * INTERVAL
            run(poller, tick("shop-bc", rig.now))
            expected = 1.0 if slot + 1 >= FAILING_AFTER else 0.0
            assert rig.metric("fulfillsync_poll_failing", connection="shop-bc") == expected
        rig.store.script[None] = Page(items=(), cursor="c1")
        for slot in range(FAILING_AFTER + 3, FAILING_AFTER + 5):
            rig.now = NOW + slot * INTERVAL
            run(poller, tick("shop-bc", rig.now))
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in loud] == [logging.ERROR, logging.WARNING]
    assert "failing" in loud[0].getMessage() and "down" in loud[0].getMessage()
    assert "recovered" in loud[1].getMessage()
    assert rig.metric("fulfillsync_poll_failing", connection="shop-bc") == 0

"""`TopicReadModel` on the real broker, fed the records the worker writes (ledger states on the order table's
changelog, buyer writes on the buyer-fulfillment changelog, dead letters) without running a worker: catching up
before `ready`, the index by connection, newest first, live updates, tombstones and unreadable records."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger import OrderState, apply, new_state
from ledger.fulfillment_sync import BuyerWritten, Create, buyer_action
from schemas.config import Config, KafkaSettings, WebSettings
from schemas.events import FulfilledLine, OrderLine, OrderPlaced, PartyRef, SourceRef
from schemas.factories import fulfillment_recorded, order_placed
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.buyers.sink import ledger_view
from streams.buyers.tables import BUYER_FULFILLMENTS, BuyerWrites
from streams.kit.dead_letters import dead_letter
from streams.kit.producer import EventProducer
from streams.kit.records import RebuiltMessage
from streams.orders.tables import ORDERS, encode_state
from webapp import readmodel
from webapp.outlines import Decoded
from webapp.readmodel import DECODE_AHEAD_MIN, TopicReadModel
from webapp.readstore import Batch, OrderStore

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACME = PartyRef(partner="acme", connection="acme-web", platform="manual")
BOLT = PartyRef(partner="bolt", connection="bolt-web", platform="manual")
SOURCE = SourceRef(partner="acme", connection="acme-web", platform="manual")


def placed(buyer: str, ref: str, seller: PartyRef, minute: int) -> OrderPlaced:
    return order_placed(buyer=PartyRef(partner=buyer, connection=f"{buyer}-shop", platform="shopify", order_ref=ref),
                        seller=seller, occurred_at=T0 + timedelta(minutes=minute),
                        lines=[OrderLine(line_id="L1", sku="MUG", quantity=2)])


def with_fulfillment(state: OrderState, fulfillment_id: str, minute: int) -> OrderState:
    event = fulfillment_recorded(order_id=state.order_id, source=SOURCE, fulfillment_id=fulfillment_id,
                                 source_version=T0 + timedelta(minutes=minute), carrier="UPS",
                                 tracking_numbers=["1Z999AA10123456784"],
                                 lines=[FulfilledLine(line_id="L1", quantity=2)])
    return apply(state, event).state


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.parametrize("decode_ahead_min", [DECODE_AHEAD_MIN, 0], ids=["decoding-inline", "decoding-ahead"])
def test_the_read_model_catches_up_then_follows_the_changelogs(kafka_bootstrap: str, decode_ahead_min: int) -> None:
    config = Config(kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}",
                                       partitions=2))
    ensure_topics(config.kafka)
    names = TopicNames(config.kafka.topic_prefix)
    producer = EventProducer(kafka_bootstrap, source="/tests")
    older, newer, other = placed("northwind", "#1", ACME, 1), placed("northwind", "#2", ACME, 2), \
        placed("corner", "#9", BOLT, 3)
    states = {event.order_id: apply(new_state(event.order_id), event).state for event in (older, newer, other)}
    for state in states.values():
        producer.publish_raw(ORDERS.changelog(names.app_id), state.order_id.encode(), encode_state(state))
    producer.publish_raw(ORDERS.changelog(names.app_id), b"broken", b"not zlib")  # skipped, logged
    held = with_fulfillment(new_state("held-only"), "F0", 1)  # only held inputs: no order to show
    producer.publish_raw(ORDERS.changelog(names.app_id), b"held-only", encode_state(held))
    producer.flush()

    # views are built again from the stored bytes; the backlog is decoded in a second process when at least
    # decode_ahead_min
    model = TopicReadModel(config, view_cache=1, decode_ahead_min=decode_ahead_min).start()
    try:
        assert model.wait_ready(30), "the read model did not catch up"
        assert (model.decoded_ahead > 0) == (decode_ahead_min == 0)
        # ready means every record that existed at start is in: no waiting here
        assert [view.order_id for view in model.orders_of("acme-web")] == [newer.order_id, older.order_id]
        assert [view.order_id for view in model.orders_of("northwind-shop")] == [newer.order_id, older.order_id]
        assert [view.order_id for view in model.orders_of("bolt-web")] == [other.order_id]
        assert model.orders_of("corner-shop")[0].seller == BOLT
        assert model.orders_of("nobody") == [] and model.order("held-only") is None
        assert model.order("broken") is None

        # a fulfillment sent by the app: pending, then applied, then pushed, then dead letters in the timeline
        model.note_sent(older.order_id, "web-1", T0 + timedelta(minutes=5))
        assert [(f.fulfillment_id, f.status) for f in model.order(older.order_id).fulfillments] == [  # type: ignore[union-attr]
            ("web-1", "pending")]
        state = with_fulfillment(states[older.order_id], "web-1", 5)
        producer.publish_raw(ORDERS.changelog(names.app_id), older.order_id.encode(), encode_state(state))
        producer.flush()
        wait_until(lambda: _status(model, older.order_id) == "applied", "the fulfillment applied")
        view = model.order(older.order_id)
        assert view is not None and view.shipped and view.lines[0].remaining == 0

        assert state.order is not None
        action = buyer_action(ledger_view(state.order, state.fulfillments["web-1"]), None)
        assert isinstance(action, Create)
        writes = BuyerWrites()
        writes.record("web-1", BuyerWritten(action.request, "gid://buyer/1", action.request.tracking))
        producer.publish_raw(BUYER_FULFILLMENTS.changelog(names.app_id), older.order_id.encode(),
                             writes.model_dump_json().encode())
        letter = dead_letter(RebuiltMessage(topic=names.fulfillment_events, partition=0, offset=7,
                                            key=older.order_id.encode(), value=b"{}", headers=[]),
                             reason="invalid_payload", text="not a valid input event", order_id=older.order_id,
                             rejected_event_id=None, at=T0 + timedelta(minutes=6))
        producer.publish_raw(names.dead_letters, older.order_id.encode(), letter.model_dump_json().encode())
        producer.flush()
        wait_until(lambda: _status(model, older.order_id) == "pushed", "the fulfillment pushed")
        wait_until(lambda: any("dead-lettered" in entry for entry in _timeline(model, older.order_id)),
                   "the dead letter")

        # a tombstone removes the order from every index
        producer.publish_raw(ORDERS.changelog(names.app_id), older.order_id.encode(), None)
        producer.flush()
        wait_until(lambda: model.order(older.order_id) is None, "the tombstone")
        assert [view.order_id for view in model.orders_of("acme-web")] == [newer.order_id]
        assert [view.order_id for view in model.orders_of("northwind-shop")] == [newer.order_id]
    finally:
        model.close()


def _status(model: TopicReadModel, order_id: str) -> str | None:
    view = model.order(order_id)
    return view.fulfillments[0].status if view is not None and view.fulfillments else None


def _timeline(model: TopicReadModel, order_id: str) -> list[str]:
    view = model.order(order_id)
    return [entry.what for entry in view.timeline] if view is not None else []


def produce_placed(kafka_bootstrap: str, count: int) -> tuple[Config, list[OrderPlaced]]:
    """`count` placed orders of ACME on the order table's changelog of fresh topics."""
    config = Config(kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}",
                                       partitions=2))
    ensure_topics(config.kafka)
    names = TopicNames(config.kafka.topic_prefix)
    producer = EventProducer(kafka_bootstrap, source="/tests")
    events = [placed("northwind", f"#{n}", ACME, n) for n in range(count)]
    for event in events:
        producer.publish_raw(ORDERS.changelog(names.app_id), event.order_id.encode(),
                             encode_state(apply(new_state(event.order_id), event).state))
    producer.flush()
    return config, events


def test_when_the_decoding_process_dies_every_batch_is_decoded_by_the_reader_in_order_and_none_is_lost(
        kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    class DyingDecoder:
        """Dies with its first batch; the pool then refuses every later one at once, as a broken pool does."""

        def __init__(self) -> None:
            self.died = False

        def submit(self, values: list[bytes | None]) -> Future[list[Decoded]]:
            if self.died:
                raise BrokenProcessPool("A child process terminated abruptly")
            self.died = True
            died: Future[list[Decoded]] = Future()
            died.set_exception(BrokenProcessPool("A child process terminated abruptly"))
            return died

        def close(self) -> None:
            return None

    monkeypatch.setattr(readmodel, "OutlineDecoder", DyingDecoder)
    monkeypatch.setattr(readmodel, "BATCH", 2)  # many batches: some handed over, some refused
    config, events = produce_placed(kafka_bootstrap, 9)
    model = TopicReadModel(config, decode_ahead_min=0).start()
    try:
        assert model.wait_ready(30), "the read model did not catch up"
        assert {view.order_id for view in model.orders_of("acme-web")} == {event.order_id for event in events}
        assert model.decoded_ahead == 0
        assert caplog.text.count("the decoding process failed (BrokenProcessPool") == 1
    finally:
        model.close()


def test_a_backlog_is_written_several_batches_a_transaction_and_then_batch_by_batch(
        kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[int] = []
    write = OrderStore.write

    def counting(self: OrderStore, batch: Batch) -> None:
        write(self, batch)
        written.append(len(batch.rows))

    monkeypatch.setattr(OrderStore, "write", counting)
    monkeypatch.setattr(readmodel, "BATCH", 2)
    monkeypatch.setattr(readmodel, "LOAD_BATCH_RECORDS", 6)
    config, events = produce_placed(kafka_bootstrap, 15)
    model = TopicReadModel(config, decode_ahead_min=0).start()
    try:
        assert model.wait_ready(30), "the read model did not catch up"
        assert {view.order_id for view in model.orders_of("acme-web")} == {event.order_id for event in events}
        assert sum(written) == 15
        assert 2 < max(written) <= 6 + 2 - 1  # batches of 2 written together, from 6 records on
        loaded = len(written)
        later = placed("northwind", "#later", ACME, 99)
        producer = EventProducer(kafka_bootstrap, source="/tests")
        producer.publish_raw(ORDERS.changelog(TopicNames(config.kafka.topic_prefix).app_id),
                             later.order_id.encode(), encode_state(apply(new_state(later.order_id), later).state))
        producer.flush()
        wait_until(lambda: model.order(later.order_id) is not None, "the order placed once ready")
        assert [size for size in written[loaded:] if size] == [1]  # once ready, each batch as it comes
    finally:
        model.close()


@pytest.mark.parametrize("decode_ahead_min", [DECODE_AHEAD_MIN, 0], ids=["batch-by-batch", "loading-a-backlog"])
def test_a_batch_the_store_failed_to_write_is_written_again_before_anything_newer(
        kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        decode_ahead_min: int) -> None:
    failures = iter([sqlite3.OperationalError("disk I/O error")] * 3)
    failed: list[set[str]] = []  # the rows of each write that failed
    write = OrderStore.write

    def failing_three_times(self: OrderStore, batch: Batch) -> None:
        if batch.rows:
            failure = next(failures, None)
            if failure is not None:
                failed.append(set(batch.rows))
                raise failure
        write(self, batch)

    monkeypatch.setattr(OrderStore, "write", failing_three_times)
    monkeypatch.setattr(readmodel, "BATCH", 2)
    monkeypatch.setattr(readmodel, "LOAD_BATCH_RECORDS", 4)
    config, events = produce_placed(kafka_bootstrap, 7)
    model = TopicReadModel(config, decode_ahead_min=decode_ahead_min).start()
    try:
        assert model.wait_ready(30), "the read model did not catch up"
        assert {view.order_id for view in model.orders_of("acme-web")} == {event.order_id for event in events}
        assert "the store failed" in caplog.text
        assert len(failed) == 3 and failed[0] == failed[1] == failed[2]  # nothing more read until it went in
    finally:
        model.close()


def test_the_id_filter_is_made_only_while_the_store_holds_nothing_and_nothing_is_on_its_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NoDecoder:
        def close(self) -> None:
            return None

    monkeypatch.setattr(readmodel, "OutlineDecoder", NoDecoder)
    config = Config(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1", topic_prefix="p"),
                    web=WebSettings(store_dir=str(tmp_path)))
    model = TopicReadModel(config, decode_ahead_min=0)  # not started: no broker needed
    try:
        model._unwritten.records = 1  # read, not written: the store will hold rows the filter never saw
        model._start_loading(10)
        assert model._loading and model._seen is None
        model._stop_decoder()
        model._unwritten.records = 0
        model._start_loading(10)
        seen = model._seen
        assert seen is not None
        model._stop_decoder()  # the decoding process died; a later partition starts one again
        model._start_loading(10)
        assert model._seen is seen  # the same filter: it knows every id read since the load began
    finally:
        model.close()

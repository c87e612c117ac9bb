"""The read model's store on local disk (`webapp.readstore`, docs/webapp.md "Read model"): batches with their
offsets, tombstones, the index of the list pages, one process per store (a second one gets a temporary store), a
file that is not a store of this format replaced by an empty one; and `TopicReadModel` on the real broker going on
after a restart from the offsets it stored (reading nothing before them), emptying its store and reading from
offset 0 when the topic was recreated or the store was read from another cluster, and pages read from several
threads while the reader writes."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Message
from confluent_kafka.admin import AdminClient

from ledger import OrderState, apply, new_state
from schemas.config import Config, KafkaSettings, WebSettings
from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef
from schemas.factories import fulfillment_cancelled, fulfillment_recorded, order_placed
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from streams.orders.tables import ORDERS, encode_state
from webapp import readmodel
from webapp.outlines import Decoded
from webapp.readmodel import TopicReadModel
from webapp.readstore import PAGE_SIZE, WRITER_CACHE_KIB, Batch, OrderRow, OrderStore, open_store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SELLER = PartyRef(partner="acme", connection="acme-web", platform="manual")
SOURCE = SourceRef(partner="acme", connection="acme-web", platform="manual")
TOPICS = ("p-ledger-orders-changelog", "p-ledger-buyer-fulfillments-changelog", "p.dead-letters")


# -- the store alone ----------------------------------------------------------------------------------------------


def row(order_id: str, seller: str | None, buyer: str | None, minute: int) -> OrderRow:
    return OrderRow(order_id, state=b"state of " + order_id.encode(), placed_at=minute * 60_000_000,
                    seller=seller, buyer=buyer, cancelled=frozenset({"F1"}), cancelled_at={"F1": T0})


def test_a_batch_is_stored_with_its_offsets_and_read_back_after_a_reopen(tmp_path: Path) -> None:
    store = open_store(tmp_path, "p", TOPICS)
    assert not store.temporary and store.path == tmp_path / "p.sqlite3" and store.offsets() == {}
    batch = Batch(offsets={(TOPICS[0], 0): 3, (TOPICS[2], 1): 1})
    batch.rows = {"o1": row("o1", "acme-web", "shop", 1), "o2": row("o2", "acme-web", "shop", 2),
                  "held": row("held", None, None, 0), "gone": row("gone", "acme-web", "shop", 3)}
    batch.letters = {("o1", "letter-1"): b"{letter}", ("gone", "letter-2"): b"{letter}"}
    store.write(batch)
    later = Batch(offsets={(TOPICS[0], 0): 5})
    later.delete("gone")  # a tombstone: the row and its letters
    store.write(later)
    assert store.ids_of("acme-web") == ["o2", "o1"] and store.ids_of("shop") == ["o2", "o1"]
    assert store.ids_of("nobody") == [] and store.count() == 2
    assert store.view_row("held") is None and store.view_row("gone") is None  # not placed; deleted
    view = store.view_row("o1")
    assert view is not None and view.state == b"state of o1" and view.letters == (b"{letter}",)
    assert view.cancelled_at == {"F1": T0} and view.pushed_at == {} and view.writes is None
    store.close()
    assert store.view_row("o1") is None and store.ids_of("acme-web") == []  # closed: answers nothing

    again = open_store(tmp_path, "p", TOPICS)
    try:
        assert again.offsets() == {(TOPICS[0], 0): 5, (TOPICS[2], 1): 1}
        stored = again.row("o1")
        assert stored is not None and stored.cancelled == frozenset({"F1"}) and stored.seller == "acme-web"
        assert again.count() == 2 and again.size_bytes() > 0
        again.reset()
        assert again.offsets() == {} and again.count() == 0
    finally:
        again.close()


def indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                               "name NOT LIKE 'sqlite_%'")}


def test_deferred_list_indexes_leave_the_pages_right_and_come_back_when_built_or_at_the_next_open(
        tmp_path: Path) -> None:
    store = open_store(tmp_path, "p", TOPICS)
    assert indexes(store.path) == {"orders_by_seller", "orders_by_buyer"}
    store.defer_indexes()
    assert indexes(store.path) == set()
    batch = Batch(offsets={(TOPICS[0], 0): 2})
    batch.rows = {"o1": row("o1", "acme-web", "shop", 1), "o2": row("o2", "acme-web", "mall", 2)}
    store.write(batch)
    assert store.ids_of("acme-web") == ["o2", "o1"] and store.ids_of("mall") == ["o2"]  # a scan, same answer
    store.build_indexes()
    assert indexes(store.path) == {"orders_by_seller", "orders_by_buyer"}
    assert store.ids_of("acme-web") == ["o2", "o1"] and store.ids_of("shop") == ["o1"]
    store.defer_indexes()
    store.close()  # stopped during a load: the next open builds them
    again = open_store(tmp_path, "p", TOPICS)
    try:
        assert indexes(again.path) == {"orders_by_seller", "orders_by_buyer"}
        assert again.ids_of("acme-web") == ["o2", "o1"]
    finally:
        again.close()


def pragma(store: OrderStore, name: str) -> int:
    return int(store._writer.execute(f"PRAGMA {name}").fetchone()[0])


def test_a_new_store_has_large_pages_and_an_older_one_keeps_its_own(tmp_path: Path) -> None:
    store = open_store(tmp_path / "new", "p", TOPICS)
    try:
        assert pragma(store, "page_size") == PAGE_SIZE
        assert pragma(store, "wal_autocheckpoint") * PAGE_SIZE == 32 * 2**20
        assert pragma(store, "cache_size") == -WRITER_CACHE_KIB  # in KiB, whatever the page size
    finally:
        store.close()
    older = tmp_path / "older"
    older.mkdir()
    with sqlite3.connect(older / "p.sqlite3") as db:  # made with SQLite's default pages, as earlier versions did
        db.execute("PRAGMA page_size=4096")
        db.execute("CREATE TABLE t (x)")
    store = open_store(older, "p", TOPICS)
    try:
        batch = Batch(offsets={(TOPICS[0], 0): 1})
        batch.rows = {"o1": row("o1", "acme-web", "shop", 1)}
        store.write(batch)
        assert pragma(store, "page_size") == 4096 and pragma(store, "wal_autocheckpoint") * 4096 == 32 * 2**20
        assert store.ids_of("acme-web") == ["o1"]
    finally:
        store.close()


def test_a_store_in_use_gives_the_second_reader_a_temporary_store(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    first = open_store(tmp_path, "p", TOPICS)
    try:
        with caplog.at_level(logging.WARNING, logger="webapp.readstore"):
            second = open_store(tmp_path, "p", TOPICS)
        assert second.temporary and second.path.parent != tmp_path
        assert "is in use by another web process" in caplog.text
        second.write(Batch(offsets={(TOPICS[0], 0): 1}))
        assert first.offsets() == {}  # the two are apart
        second.close()
        assert not second.path.parent.exists()  # a temporary store is removed
        other_prefix = open_store(tmp_path, "q", TOPICS)  # another prefix: its own file
        assert not other_prefix.temporary
        other_prefix.close()
    finally:
        first.close()
    reopened = open_store(tmp_path, "p", TOPICS)  # the lock went with close()
    assert not reopened.temporary
    reopened.close()


def test_a_file_that_is_not_a_store_of_these_topics_is_replaced_by_an_empty_one(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "p.sqlite3").write_bytes(b"this is not a database" * 500)
    with caplog.at_level(logging.WARNING, logger="webapp.readstore"):
        store = open_store(tmp_path, "p", TOPICS)
    assert "cannot be read" in caplog.text and not store.temporary
    store.write(Batch(offsets={(TOPICS[0], 0): 7}))
    store.close()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="webapp.readstore"):
        other = open_store(tmp_path, "p", ("another-changelog", *TOPICS[1:]))
    try:
        assert "of another format or other topics" in caplog.text and other.offsets() == {}
    finally:
        other.close()


# -- the read model on the broker -----------------------------------------------------------------------------------


class Recording(TopicReadModel):
    """Remembers the position of every record it read."""

    def __init__(self, config: Config) -> None:
        super().__init__(config, view_cache=2)
        self.read: list[tuple[str, int, int]] = []

    def _handle(self, messages: list[Message], decoded: Sequence[Decoded] | None = None) -> None:
        self.read.extend((str(m.topic()), m.partition() or 0, m.offset() or 0) for m in messages if m.error() is None)
        super()._handle(messages, decoded)


def config_for(kafka_bootstrap: str, store_dir: Path, prefix: str | None = None) -> Config:
    return Config(kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap,
                                      topic_prefix=prefix or f"t{uuid.uuid4().hex[:10]}", partitions=2),
                  web=WebSettings(store_dir=str(store_dir)))


def placed_state(minute: int, buyer: str = "northwind-shop") -> OrderState:
    event = order_placed(buyer=PartyRef(partner="northwind", connection=buyer, platform="shopify",
                                        order_ref=f"#{minute}"),
                         seller=SELLER, occurred_at=T0 + timedelta(minutes=minute),
                         lines=[OrderLine(line_id="L1", sku="MUG", quantity=2)])
    return apply(new_state(event.order_id), event).state


def fulfilled(state: OrderState, fulfillment_id: str, minute: int) -> OrderState:
    return apply(state, fulfillment_recorded(
        order_id=state.order_id, source=SOURCE, fulfillment_id=fulfillment_id,
        source_version=T0 + timedelta(minutes=minute), carrier="UPS", tracking_numbers=["1Z999AA10123456784"],
        lines=[FulfilledLine(line_id="L1", quantity=1)])).state


def publish(producer: EventProducer, config: Config, *states: OrderState) -> None:
    topic = ORDERS.changelog(TopicNames(config.kafka.topic_prefix).app_id)
    for state in states:
        producer.publish_raw(topic, state.order_id.encode(), encode_state(state))
    producer.flush()


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def listed(model: TopicReadModel, connection_id: str = "acme-web") -> list[str]:
    return [view.order_id for view in model.orders_of(connection_id)]


@pytest.mark.kafka
def test_a_load_into_an_empty_store_asks_the_store_only_for_orders_read_before_and_merges_them(
        tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    rows = OrderStore.rows

    def recording(self: OrderStore, order_ids: Sequence[str]) -> dict[str, OrderRow]:
        looked_up.extend(order_ids)
        return rows(self, order_ids)

    monkeypatch.setattr(OrderStore, "rows", recording)
    monkeypatch.setattr(readmodel, "BATCH", 2)
    monkeypatch.setattr(readmodel, "LOAD_BATCH_RECORDS", 4)  # the order's two records in different transactions
    config = config_for(kafka_bootstrap, tmp_path).model_copy(update={"kafka": KafkaSettings(
        bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}", partitions=1)})
    ensure_topics(config.kafka)
    producer = EventProducer(kafka_bootstrap, source="/tests")
    first = placed_state(1)
    cancelled = apply(fulfilled(first, "F1", 3), fulfillment_cancelled(
        order_id=first.order_id, source=SOURCE, fulfillment_id="F1", source_version=T0 + timedelta(minutes=4))).state
    publish(producer, config, cancelled)
    time.sleep(1.0)
    read_again_from = datetime.now(UTC)
    publish(producer, config, *[placed_state(minute) for minute in range(10, 22)], fulfilled(cancelled, "F2", 5))

    model = TopicReadModel(config, decode_ahead_min=0).start()
    try:
        assert model.wait_ready(20), "the read model did not catch up"
        row = model.store.row(first.order_id)
        assert row is not None and row.cancelled == frozenset({"F1"})
        # the cancellation kept the time of the record that first showed it: the row written before was read
        assert row.cancelled_at["F1"] < read_again_from - timedelta(seconds=0.5)
        assert first.order_id in looked_up and len(looked_up) < 6  # not the 13 orders read for the first time
    finally:
        model.close()


@pytest.mark.kafka
def test_a_restarted_read_model_goes_on_from_the_offsets_it_stored(tmp_path: Path, kafka_bootstrap: str) -> None:
    config = config_for(kafka_bootstrap, tmp_path / "web")
    ensure_topics(config.kafka)
    producer = EventProducer(kafka_bootstrap, source="/tests")
    first, second = placed_state(1), placed_state(2)
    cancelled = apply(fulfilled(first, "F1", 3), fulfillment_cancelled(
        order_id=first.order_id, source=SOURCE, fulfillment_id="F1", source_version=T0 + timedelta(minutes=4))).state
    publish(producer, config, first, second, cancelled)

    model = Recording(config).start()
    try:
        assert model.wait_ready(20), "the read model did not catch up"
        assert listed(model) == [second.order_id, first.order_id]
        before = model.order(first.order_id)
        assert before is not None and [f.status for f in before.fulfillments] == ["cancelled"]
        assert model.store.path == tmp_path / "web" / f"{config.kafka.topic_prefix}.sqlite3"
    finally:
        model.close()
    stored = open_store(tmp_path / "web", config.kafka.topic_prefix, model._topics).offsets()
    assert sum(stored.values()) == 3, stored

    third = placed_state(5)
    publish(producer, config, third, fulfilled(second, "F2", 6))
    restarted = Recording(config).start()
    try:
        assert restarted.wait_ready(20), "the restarted read model did not catch up"
        assert not restarted.store.temporary
        # nothing before the stored offsets was read again, and what was stored shows as it did
        assert restarted.read and all(offset >= stored.get((topic, partition), 0)
                                      for topic, partition, offset in restarted.read), restarted.read
        assert len(restarted.read) == 2
        assert listed(restarted) == [third.order_id, second.order_id, first.order_id]
        assert restarted.order(first.order_id) == before  # the cancellation's observed time too
        view = restarted.order(second.order_id)
        assert view is not None and [f.fulfillment_id for f in view.fulfillments] == ["F2"]
    finally:
        restarted.close()


def recreate(config: Config, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": config.kafka.bootstrap_servers})
    admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
    deadline = time.monotonic() + 60
    while ensure_topics(config.kafka).get(topic) != "created":  # the broker finishes deleting it first
        assert time.monotonic() < deadline, f"{topic} was not created again"
        time.sleep(0.5)


@pytest.mark.kafka
def test_a_recreated_topic_or_another_cluster_empties_the_store_and_reads_from_offset_0(
        tmp_path: Path, kafka_bootstrap: str, caplog: pytest.LogCaptureFixture) -> None:
    config = config_for(kafka_bootstrap, tmp_path / "web")
    ensure_topics(config.kafka)
    producer = EventProducer(kafka_bootstrap, source="/tests")
    old = [placed_state(minute) for minute in range(1, 5)]
    publish(producer, config, *old)
    model = TopicReadModel(config).start()
    try:
        assert model.wait_ready(20) and len(listed(model)) == 4
    finally:
        model.close()

    # the store says it was read from another cluster: emptied, and read again from offset 0
    with sqlite3.connect(model.store.path) as db:
        db.execute("UPDATE meta SET value = 'another-cluster' WHERE key = 'cluster_id'")
    db.close()
    with caplog.at_level(logging.WARNING, logger="webapp.readmodel"):
        again = Recording(config).start()
        try:
            assert again.wait_ready(20)
            assert "from another Kafka cluster (another-cluster" in caplog.text
            assert sorted(listed(again)) == sorted(state.order_id for state in old)
            assert min(offset for _topic, _partition, offset in again.read) == 0
        finally:
            again.close()

    # the store holds another topic id for the changelog (it was recreated with as many records or more)
    caplog.clear()
    changelog = ORDERS.changelog(TopicNames(config.kafka.topic_prefix).app_id)
    with sqlite3.connect(model.store.path) as db:
        assert db.execute("UPDATE meta SET value = 'AAAAAAAAAAAAAAAAAAAAAA' WHERE key = ?",
                          (f"topic_id:{changelog}",)).rowcount == 1
    db.close()
    with caplog.at_level(logging.WARNING, logger="webapp.readmodel"):
        again = Recording(config).start()
        try:
            assert again.wait_ready(20)
            assert f"{changelog} has another topic id than the store's (AAAAAAAAAAAAAAAAAAAAAA" in caplog.text
            assert sorted(listed(again)) == sorted(state.order_id for state in old)
            assert min(offset for _topic, _partition, offset in again.read) == 0
        finally:
            again.close()

    # the order table's changelog is deleted and created again, with one order: the others are gone
    caplog.clear()
    recreate(config, changelog)
    newer = placed_state(9)
    publish(producer, config, newer)
    with caplog.at_level(logging.WARNING, logger="webapp.readmodel"):
        rebuilt = TopicReadModel(config).start()
        try:
            assert rebuilt.wait_ready(20)
            assert "was recreated" in caplog.text and "reading every partition from offset 0" in caplog.text
            assert listed(rebuilt) == [newer.order_id]
            assert rebuilt.order(old[0].order_id) is None
        finally:
            rebuilt.close()


@pytest.mark.kafka
def test_pages_read_from_many_threads_while_the_reader_writes(tmp_path: Path, kafka_bootstrap: str) -> None:
    config = config_for(kafka_bootstrap, tmp_path / "web")
    ensure_topics(config.kafka)
    producer = EventProducer(kafka_bootstrap, source="/tests")
    states = [placed_state(minute, buyer=f"shop-{minute % 3}") for minute in range(60)]
    publish(producer, config, *states[:10])
    model = TopicReadModel(config, view_cache=5).start()  # views dropped and built again all the time
    problems: list[BaseException] = []
    done = threading.Event()

    def pages(number: int) -> None:
        try:
            while not done.is_set():
                for state in states[number::4]:
                    model.order(state.order_id)
                    model.note_sent(state.order_id, f"web-{number}", T0)
                listed(model)
                listed(model, f"shop-{number % 3}")
        except BaseException as problem:
            problems.append(problem)

    readers = [threading.Thread(target=pages, args=(number,)) for number in range(4)]
    try:
        assert model.wait_ready(20)
        for reader in readers:
            reader.start()
        for start in range(10, 60, 10):
            publish(producer, config, *states[start:start + 10])
        wait_until(lambda: len(listed(model)) == 60, "every order listed")
        done.set()
        for reader in readers:
            reader.join(10)
        assert problems == []
        newest = max(states, key=lambda state: state.order.occurred_at if state.order else T0)
        assert listed(model)[0] == newest.order_id
        view = model.order(states[0].order_id)
        assert view is not None and [(f.fulfillment_id, f.status) for f in view.fulfillments] == [("web-0", "pending")]
        assert sorted(set(listed(model, "shop-0")) | set(listed(model, "shop-1")) | set(listed(model, "shop-2"))) \
            == sorted(listed(model))
    finally:
        done.set()
        model.close()

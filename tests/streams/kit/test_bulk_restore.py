"""Rebuilding table partitions from their changelogs in bulk (`streams.kit.bulk_restore`), against a real broker and
real RocksDB stores: the reader on its own, then a worker on an empty volume."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest
from confluent_kafka import KafkaError, Message
from confluent_kafka.cimpl import NewTopic
from faust.types import TP

from ledger import apply, new_state
from schemas.config import KafkaSettings
from schemas.config_file import load_config
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.bulk_restore import BULK_MIN_RECORDS, BulkRestore, Gap
from streams.kit.kafka_clients import new_admin
from streams.kit.producer import EventProducer
from streams.orders.tables import ORDERS, encode_state
from tests.support.kafka_harness import OutputReader, WorkerProcess, write_config
from tests.support.ledger_builders import order_placed, recorded

RESTORED = re.compile(r"restored (\d+) changelog record\(s\) in bulk")


@pytest.fixture
def changelog(kafka_bootstrap: str) -> str:
    """A fresh two-partition topic standing for a table's changelog."""
    topic = f"bulk-{uuid.uuid4().hex[:10]}"
    admin = new_admin(kafka_bootstrap)  # kept until the answer came: the future fails once its client is gone
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    return topic


@pytest.fixture
def table(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Any]:
    """A Faust table kept in RocksDB (the app is never started: the store is written and read directly)."""
    app = faust.App(f"bulk-{uuid.uuid4().hex[:8]}", broker=f"kafka://{kafka_bootstrap}", store="rocksdb://",
                    datadir=str(tmp_path / "state"), autodiscover=False)
    yield app.Table("t", partitions=2, default=None, key_type=bytes, value_type=bytes)


def produce(bootstrap: str, topic: str, partition: int, records: list[tuple[bytes, bytes | None]]) -> None:
    producer = EventProducer(bootstrap, source="/tests")
    for key, value in records:
        producer.publish_raw(topic, key, value, partition=partition)
    producer.flush()


def stored(table: Any, key: bytes) -> bytes | None:
    value: bytes | None = table.data.get(key)
    return value


def restore(bootstrap: str, gaps: list[Gap], budget_s: float = 60.0, min_records: int = 1) -> dict[TP, int]:
    bulk = BulkRestore(KafkaSettings(bootstrap_servers=bootstrap), group="bulk-test", min_records=min_records)
    return asyncio.run(bulk.restore(gaps, budget_s=budget_s))


def test_each_partition_is_written_up_to_its_last_offset_and_remembers_the_offset_reached(
        kafka_bootstrap: str, changelog: str, table: Any) -> None:
    # partition 0: k0..k9, then k3 rewritten, k4 deleted (a tombstone), then two records past the last offset
    produce(kafka_bootstrap, changelog, 0, [(f"k{i}".encode(), f"v{i}".encode()) for i in range(10)]
            + [(b"k3", b"v3-again"), (b"k4", None), (b"late", b"after-the-last-offset"), (b"k0", b"late")])
    produce(kafka_bootstrap, changelog, 1, [(f"p1-{i}".encode(), b"x") for i in range(3)])
    first, second = TP(changelog, 0), TP(changelog, 1)

    reached = restore(kafka_bootstrap, [Gap(table, first, -1, 11), Gap(table, second, -1, 2)])

    assert reached == {first: 11, second: 2}
    assert table.data.persisted_offset(first) == 11
    assert table.data.persisted_offset(second) == 2
    assert stored(table, b"k3") == b"v3-again"
    assert stored(table, b"k4") is None
    assert stored(table, b"k0") == b"v0"  # its rewrite at offset 13 is past the last offset
    assert stored(table, b"late") is None
    assert stored(table, b"k9") == b"v9"
    assert [stored(table, f"p1-{i}".encode()) for i in range(3)] == [b"x", b"x", b"x"]


def test_a_partition_partly_stored_is_read_from_the_record_after_its_offset(
        kafka_bootstrap: str, changelog: str, table: Any) -> None:
    produce(kafka_bootstrap, changelog, 0, [(f"k{i}".encode(), b"v") for i in range(8)])
    tp = TP(changelog, 0)

    reached = restore(kafka_bootstrap, [Gap(table, tp, 4, 7)])

    assert reached == {tp: 7}
    assert [stored(table, f"k{i}".encode()) for i in range(8)] == [None] * 5 + [b"v"] * 3


def test_with_its_time_spent_it_writes_nothing_more_and_leaves_the_rest_to_fausts_recovery(
        kafka_bootstrap: str, changelog: str, table: Any) -> None:
    produce(kafka_bootstrap, changelog, 0, [(b"k", b"v")])
    tp = TP(changelog, 0)

    assert restore(kafka_bootstrap, [Gap(table, tp, -1, 0)], budget_s=0) == {}
    assert table.data.persisted_offset(tp) is None
    assert stored(table, b"k") is None


def test_once_a_rebalance_began_nothing_more_is_written(kafka_bootstrap: str, changelog: str, table: Any) -> None:
    produce(kafka_bootstrap, changelog, 0, [(b"k", b"v")])
    tp = TP(changelog, 0)
    bulk = BulkRestore(KafkaSettings(bootstrap_servers=kafka_bootstrap), group="bulk-test", min_records=1)

    assert asyncio.run(bulk.restore([Gap(table, tp, -1, 0)], budget_s=60, current=lambda: False)) == {}
    assert table.data.persisted_offset(tp) is None and stored(table, b"k") is None


def test_a_read_error_amid_a_batch_keeps_the_records_before_it_and_notes_only_their_offsets(table: Any) -> None:
    tp = TP("c", 0)
    gap = Gap(table, tp, -1, 10)
    pending: dict[TP, Gap] = {tp: gap}
    reached: dict[TP, int] = {}
    batch = [Message(topic="c", partition=0, offset=0, key=b"a", value=b"1"),
             Message(topic="c", partition=0, offset=1, key=b"b", value=b"2"),
             Message(topic="c", partition=0, error=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)),
             Message(topic="c", partition=0, offset=2, key=b"c", value=b"3")]
    bulk = BulkRestore(KafkaSettings(bootstrap_servers="127.0.0.1:1"), group="g")

    written, failed = bulk._write(batch, pending, reached)

    assert written == 2 and failed is not None and failed.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert reached == {tp: 1} and table.data.persisted_offset(tp) == 1
    assert (stored(table, b"a"), stored(table, b"b"), stored(table, b"c")) == (b"1", b"2", None)


def test_cancelled_while_its_thread_reads_it_stops_and_closes_the_consumer_after_the_read(
        kafka_bootstrap: str, changelog: str, table: Any) -> None:
    produce(kafka_bootstrap, changelog, 0, [(b"k", b"v")])
    tp = TP(changelog, 0)
    bulk = BulkRestore(KafkaSettings(bootstrap_servers=kafka_bootstrap), group="bulk-test", min_records=1)

    async def cancelled_mid_read() -> None:
        # the last offset lies ahead of the topic's end: the reader waits for records that never come
        task = asyncio.create_task(bulk.restore([Gap(table, tp, 0, 1_000)], budget_s=60))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(1.5)  # the read in the thread returns within a second; the consumer closes then

    asyncio.run(cancelled_mid_read())
    assert table.data.persisted_offset(tp) is None


def test_only_rocksdb_partitions_far_enough_behind_are_read_in_bulk(table: Any, tmp_path: Path) -> None:
    in_memory = faust.App("bulk-memory", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False,
                          datadir=str(tmp_path / "memory")).Table("m", partitions=1)
    bulk = BulkRestore(KafkaSettings(bootstrap_servers="127.0.0.1:1"), group="g", min_records=100)
    far, near, fresh, empty, memory = (TP("c", n) for n in range(5))

    gaps = bulk.gaps({far: table, near: table, fresh: table, empty: table, memory: in_memory},
                     stored={far: 10, near: 10, fresh: None, empty: None, memory: None},
                     last={far: 110, near: 109, fresh: 98, empty: None, memory: 1000})

    assert [(gap.tp, gap.stored, gap.behind) for gap in gaps] == [(far, 10, 100)]
    assert BulkRestore(KafkaSettings(bootstrap_servers="127.0.0.1:1"), group="g", min_records=99).gaps(
        {fresh: table}, stored={fresh: None}, last={fresh: 98})[0].behind == 99


def placed_state(order_id: str) -> bytes:
    return encode_state(apply(new_state(order_id), order_placed(order_id=order_id, event_id=f"placed-{order_id}"),
                              "order-events:0:0").state)


def test_a_worker_on_an_empty_volume_rebuilds_its_order_table_in_bulk_and_the_ledger_goes_on_from_it(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    config_path = write_config(tmp_path, kafka_bootstrap)
    config = load_config(config_path).config
    ensure_topics(config.kafka)
    names = TopicNames(config.kafka.topic_prefix)
    # enough open orders that each of the two partitions is read in bulk, keyed as the ledger's inputs are
    orders = [f"bulk-{index:05d}" for index in range(2 * BULK_MIN_RECORDS + 500)]
    producer = EventProducer(kafka_bootstrap, source="/tests")
    changelog = ORDERS.changelog(names.app_id)
    for order_id in orders:
        producer.publish_raw(changelog, order_id.encode(), placed_state(order_id))
    producer.flush()
    log_path = tmp_path / "worker.log"
    reader = OutputReader(kafka_bootstrap, names)
    worker = WorkerProcess(config_path, log_path).start()
    try:
        assert [int(count) for count in RESTORED.findall(log_path.read_text())] == [len(orders)], worker.log_tail()
        # the first, middle and last orders loaded: each ships on one fulfillment only if its order.placed state
        # was read back from the store (without it the fulfillment would wait for its order)
        sample = [orders[0], orders[1], orders[len(orders) // 2], orders[-2], orders[-1]]
        for order_id in sample:
            producer.publish(names.fulfillment_events, recorded(order_id=order_id))
        producer.flush()
        reader.wait_for(lambda _: {r.value.get("order_id") for r in reader.of("order.shipped")} >= set(sample),
                        timeout_s=60, what=f"order.shipped for {sample}")
        worker.stop()
        worker.start()  # on its own state: nothing to read in bulk
        assert len(RESTORED.findall(log_path.read_text())) == 1, worker.log_tail()
    finally:
        worker.stop()
        reader.close()

"""examples/shipped_orders_consumer.py: its handling on its own, and the script itself against the real broker,
reading records encoded exactly as fulfillsync writes them (`streams.kit.records.encode_event`)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from examples.shipped_orders_consumer import NewerSchemaVersion, SeenIds, ShippedOrders
from schemas.cloudevents import header_map
from schemas.events import OrderReopened, OrderShipped, OrderTrackingUpdated
from schemas.topics import TopicNames
from streams.kit.records import EncodedRecord, encode_event
from tests.schemas.samples import reopened, shipped, tracking_updated

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "shipped_orders_consumer.py"


def encoded(record: OrderShipped | OrderReopened | OrderTrackingUpdated) -> EncodedRecord:
    if isinstance(record, OrderShipped):
        time = record.shipped_at
    elif isinstance(record, OrderReopened):
        time = record.reopened_at
    else:
        time = record.updated_at
    return encode_event(record, order_id=record.order_id, record_id=record.event_id, record_type=record.type,
                        time=time)


# -- the handling, without Kafka ----------------------------------------------------------------------------------


def test_each_event_is_handled_once_in_the_order_given() -> None:
    handler = ShippedOrders()
    first = shipped()
    lines = []
    notes = []
    for record in (first, first, reopened(first), tracking_updated(first)):
        out = encoded(record)
        outcome = handler.handle(out.key, header_map(out.headers), out.value)
        lines.append(outcome.line)
        notes.append(outcome.note)
    assert lines[0] is not None and lines[0].startswith(f"order.shipped {first.order_id} event={first.event_id} ")
    assert "buyer=shop-bc/1001" in lines[0] and "tracking=1Z999AA10123456784" in lines[0]
    assert lines[1] is None and notes[1] == f"duplicate order.shipped {first.event_id} dropped"
    assert lines[2] == (f"order.reopened {first.order_id} event={reopened(first).event_id} "
                        f"reopens={first.event_id} cause=fulfillment_cancelled")
    assert lines[3] is not None and lines[3].startswith("order.tracking_updated ")
    assert "tracking=1Z999AA10123456785" in lines[3]


def test_unknown_types_and_bad_values_are_skipped_and_newer_versions_stop_it() -> None:
    handler = ShippedOrders()
    assert handler.handle(b"o", {}, b"{not json").note == "skipped a record that is not JSON (key b'o')"
    unknown = handler.handle(b"o", {"ce_type": "io.fulfillsync.order.delivered"},
                             json.dumps({"type": "order.delivered", "event_id": "e"}).encode())
    assert unknown.line is None and unknown.note is not None and "not a type this consumer knows" in unknown.note
    newer = json.loads(shipped().model_dump_json()) | {"schema_version": 2}
    with pytest.raises(NewerSchemaVersion, match="schema_version 2"):
        handler.handle(b"o", {}, json.dumps(newer).encode())


def test_the_remembered_ids_are_bounded() -> None:
    seen = SeenIds(limit=2)
    for event_id in ("a", "b", "c"):
        seen.add(event_id)
    assert "a" not in seen and "b" in seen and "c" in seen


# -- the script against the broker -------------------------------------------------------------------------------


def run_example(bootstrap: str, prefix: str, group: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--bootstrap-servers", bootstrap, "--topic-prefix", prefix, "--group-id", group,
         "--exit-when-idle", "6"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False)


@pytest.mark.kafka
def test_the_example_prints_a_shipped_order_once_and_its_reopening(kafka_bootstrap: str) -> None:
    prefix = f"consumer-example-{uuid.uuid4().hex[:10]}"
    topic = TopicNames(prefix).shipped_orders
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)]).values():
        future.result(timeout=30)
    order = shipped()
    reopening = reopened(order)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "acks": "all"})
    for record in (encoded(order), encoded(order), encoded(reopening)):  # the same order.shipped twice: one event_id
        producer.produce(topic, key=record.key, value=record.value, headers=list(record.headers))
    assert producer.flush(30) == 0
    try:
        group = f"{prefix}-service"
        first = run_example(kafka_bootstrap, prefix, group)
        assert first.returncode == 0, first.stderr
        lines = first.stdout.splitlines()
        assert [line.split(" ")[:2] for line in lines] == [["order.shipped", order.order_id],
                                                          ["order.reopened", order.order_id]], first.stdout
        assert f"event={order.event_id}" in lines[0]
        assert f"reopens={order.event_id}" in lines[1]
        assert f"duplicate order.shipped {order.event_id} dropped" in first.stderr
        again = run_example(kafka_bootstrap, prefix, group)  # the group committed its offsets: nothing new
        assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr
    finally:
        for future in admin.delete_topics([topic]).values():
            future.result(timeout=30)

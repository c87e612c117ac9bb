"""A record the worker fails to deliver is never committed past (streams/kit/worker_app.py), on the real broker.

The shipped-orders topic is set to refuse records over 200 bytes, so the ledger's `order.shipped` is rejected by
the broker (a delivery failure aiokafka's flush does not raise). The worker must stop with a non-zero exit before
committing the fulfillment that produced it, saying what failed; once the topic accepts the record again, a
restarted worker reads the fulfillment again and publishes the order's `order.shipped` once, with the id it had."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.admin._resource import ResourceType

from schemas.config_file import load_config
from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef
from schemas.factories import fulfillment_recorded, order_placed
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from tests.support.kafka_harness import OutputReader, WorkerProcess, write_config

pytestmark = pytest.mark.kafka

BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce", order_ref="D-1")
SELLER = PartyRef(partner="acme", connection="acme-shopify", platform="shopify")
SOURCE = SourceRef(partner="acme", connection="acme-shopify", platform="shopify")
T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def set_max_message_bytes(bootstrap: str, topic: str, value: str | None) -> None:
    """Set (or, with None, remove) the topic's `max.message.bytes`."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    entry = ConfigEntry("max.message.bytes", value or "",
                        incremental_operation=AlterConfigOpType.SET if value else AlterConfigOpType.DELETE)
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        [position] = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return int(position.offset)
    finally:
        consumer.close()


def test_a_failed_delivery_stops_the_worker_before_its_commit_and_is_sent_again_after_the_restart(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    config_path = write_config(tmp_path, kafka_bootstrap, partitions=1)
    config = load_config(config_path).config
    ensure_topics(config.kafka)
    names = TopicNames(config.kafka.topic_prefix)
    set_max_message_bytes(kafka_bootstrap, names.shipped_orders, "200")
    order = order_placed(buyer=BUYER, seller=SELLER, occurred_at=T0,
                         lines=[OrderLine(line_id="L1", sku="ACME-MUG", quantity=1)])
    covering = fulfillment_recorded(order_id=order.order_id, source=SOURCE, fulfillment_id="F1",
                                    source_version=T0 + timedelta(minutes=5), carrier="UPS",
                                    tracking_numbers=["1Z999"], lines=[FulfilledLine(line_id="L1", quantity=1)])
    worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
    reader = OutputReader(kafka_bootstrap, names)
    try:
        with EventProducer(kafka_bootstrap, source="/tests") as producer:
            producer.publish(names.order_events, order)
            producer.publish(names.fulfillment_events, covering)
        assert worker.process is not None
        deadline = time.monotonic() + 90
        while worker.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert worker.process.poll() is not None, "the worker kept running after a failed delivery:\n" + \
            worker.log_tail()
        assert worker.process.returncode != 0
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert "not delivered" in log, log[-3000:]
        assert committed(kafka_bootstrap, names.app_id, names.fulfillment_events) < 1, \
            "the fulfillment whose order.shipped was lost was committed"
        reader.settle(1.0)
        assert not reader.of("order.shipped")

        set_max_message_bytes(kafka_bootstrap, names.shipped_orders, None)
        worker = WorkerProcess(config_path, tmp_path / "worker-2.log").start()
        shipped = reader.wait_for(lambda records: bool(reader.of("order.shipped", order.order_id)), 90,
                                  "the order.shipped after the restart")
        reader.settle(3.0)
        ids = {record.value["event_id"] for record in reader.of("order.shipped", order.order_id)}
        assert len(ids) == 1 and shipped
        assert not reader.of("dead_letter")
        deadline = time.monotonic() + 30
        while committed(kafka_bootstrap, names.app_id, names.fulfillment_events) < 1:
            assert time.monotonic() < deadline, "the fulfillment was not committed after its delivery"
            time.sleep(0.5)
    finally:
        reader.close()
        if worker.process is not None and worker.process.poll() is None:
            worker.stop()

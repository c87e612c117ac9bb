"""`KafkaPublisher` gives up on a record before the page stops waiting, so "nothing was recorded" is true when said."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, KafkaException

from schemas.config import Config, KafkaSettings
from schemas.events import FulfilledLine, FulfillmentRecorded, SourceRef
from schemas.factories import fulfillment_recorded
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from webapp.publisher import PAGE_WAIT_S, KafkaPublisher, producer_config


def test_the_delivery_timeout_ends_before_the_page_stops_waiting() -> None:
    publisher = KafkaPublisher("127.0.0.1:1", TopicNames("t"))
    config = publisher.config
    assert publisher._timeout_s == PAGE_WAIT_S == 15.0
    assert config["message.timeout.ms"] < PAGE_WAIT_S * 1000  # librdkafka's default is 300 s
    assert config["request.timeout.ms"] <= config["message.timeout.ms"]
    assert (config["enable.idempotence"], config["acks"]) == (True, "all")
    assert producer_config("h:1", timeout_s=60.0)["message.timeout.ms"] < 60_000
    with pytest.raises(ValueError, match="timeout_s"):
        producer_config("h:1", timeout_s=2.5)


def test_a_record_the_broker_did_not_take_in_time_is_given_up_not_left_queued() -> None:
    # Nothing listens on port 1: the record can only time out.
    publisher = KafkaPublisher("127.0.0.1:1", TopicNames("t"), timeout_s=4.0)
    event = fulfillment_recorded(
        order_id="o-1", source=SourceRef(partner="p", connection="c", platform="manual"), fulfillment_id="web-1",
        source_version=datetime(2026, 11, 2, tzinfo=UTC), lines=[FulfilledLine(line_id="l-1", quantity=1)])
    started = time.monotonic()
    with pytest.raises(KafkaException, match="timed out"):
        publisher.publish(event)
    assert time.monotonic() - started < 4.0 + 1.0
    # nothing left that librdkafka could still deliver later. Its queue length also counts events not served yet
    # (the "all brokers down" errors of its reconnection attempts): serve them until only messages could remain.
    deadline = time.monotonic() + 3.0
    while (remaining := publisher._producer.wait(0.2)) and time.monotonic() < deadline:
        pass
    assert remaining == 0


@pytest.mark.kafka
def test_a_published_event_is_on_fulfillment_events_with_its_headers(kafka_bootstrap: str) -> None:
    config = Config(kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}",
                                       partitions=1))
    ensure_topics(config.kafka)
    names = TopicNames(config.kafka.topic_prefix)
    event = fulfillment_recorded(
        order_id="o-1", source=SourceRef(partner="p", connection="c", platform="manual"), fulfillment_id="web-1",
        source_version=datetime(2026, 11, 2, tzinfo=UTC), lines=[FulfilledLine(line_id="l-1", quantity=1)])
    KafkaPublisher(kafka_bootstrap, names).publish(event)
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        consumer.subscribe([names.fulfillment_events])
        deadline, message = time.monotonic() + 30, None
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
        assert message is not None and message.error() is None, "the event did not arrive"
        headers = dict(message.headers() or [])
        assert (message.key(), headers["ce_id"]) == (b"o-1", event.event_id.encode())
        assert FulfillmentRecorded.model_validate_json(message.value() or b"") == event
    finally:
        consumer.close()

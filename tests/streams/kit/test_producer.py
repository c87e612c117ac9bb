"""streams.kit.producer.KafkaEventSink on the real broker: tasks sharing one sink (the agents' lanes) each learn
about their own failed records, whichever task's flush delivered them; and a record no broker takes fails after
the delivery timeout."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from sandbox.server import free_port
from streams.kit.producer import KafkaEventSink


@pytest.fixture()
def topics(kafka_bootstrap: str) -> Iterator[tuple[str, str]]:
    """(a topic whose broker-side limit refuses batches over 200 bytes: a delivery error, not a local one;
    a topic with the default limits)."""
    names = (f"sink-small-{uuid.uuid4().hex[:10]}", f"sink-plain-{uuid.uuid4().hex[:10]}")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    created = admin.create_topics([NewTopic(names[0], 1, 1, config={"max.message.bytes": "200"}),
                                   NewTopic(names[1], 1, 1)])
    for future in created.values():
        future.result(30)
    yield names
    for future in admin.delete_topics(list(names)).values():
        future.result(30)


def test_a_flush_raises_for_its_own_failed_record_only(kafka_bootstrap: str, topics: tuple[str, str]) -> None:
    small_topic, plain_topic = topics
    sink = KafkaEventSink(kafka_bootstrap)
    outcomes: dict[str, str] = {}

    async def scenario() -> None:
        published = asyncio.Event()

        async def too_large() -> None:
            sink.publish_record(small_topic, b"order-1", b"x" * 2000)
            published.set()
            await asyncio.sleep(0.5)  # the other task's flush delivers (and fails) this record meanwhile
            try:
                await sink.flush()
                outcomes["too_large"] = "flushed"
            except KafkaException as error:
                outcomes["too_large"] = str(error)

        async def small() -> None:
            await published.wait()
            sink.publish_record(plain_topic, b"order-2", b"fine")
            await sink.flush()
            outcomes["small"] = "flushed"

        await asyncio.gather(too_large(), small())

    asyncio.run(scenario())
    assert outcomes["small"] == "flushed"
    assert "1 record(s) failed" in outcomes["too_large"]
    assert "too large" in outcomes["too_large"].lower() or "size" in outcomes["too_large"].lower()


def test_a_failure_is_reported_once(kafka_bootstrap: str, topics: tuple[str, str]) -> None:
    small_topic = topics[0]
    sink = KafkaEventSink(kafka_bootstrap)

    async def scenario() -> list[str]:
        results = []
        sink.publish_record(small_topic, b"order-1", b"x" * 2000)
        for _ in range(2):
            try:
                await sink.flush()
                results.append("flushed")
            except KafkaException:
                results.append("raised")
        return results

    assert asyncio.run(scenario()) == ["raised", "flushed"]


def test_a_record_the_broker_never_takes_fails_after_the_delivery_timeout_and_is_given_up() -> None:
    """No broker answers (an outage): the flush raises once librdkafka has given up on the record, and a second
    flush has nothing left to wait for (the record will not land later, after the caller retried)."""
    sink = KafkaEventSink(f"127.0.0.1:{free_port()}", delivery_timeout_s=1.0)

    async def scenario() -> tuple[str, str]:
        sink.publish_record("anywhere", b"order-1", b"{}")
        try:
            await sink.flush()
            first = "flushed"
        except KafkaException as error:
            first = str(error)
        await sink.flush()
        return first, "flushed"

    first, second = asyncio.run(scenario())
    # the record's own delivery report (librdkafka gave up), not the flush running out of time
    assert "1 record(s) failed" in first and "timed out" in first.lower(), first
    assert second == "flushed"

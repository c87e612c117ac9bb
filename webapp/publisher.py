"""Sending the web app's events: a `Publisher` takes one input event and returns once Kafka has it."""

from __future__ import annotations

from typing import Protocol

from schemas.events import FulfillmentCancelled, FulfillmentRecorded
from schemas.topics import TopicNames
from streams.kit.producer import EventProducer

WebEvent = FulfillmentRecorded | FulfillmentCancelled


class Publisher(Protocol):
    def publish(self, event: WebEvent) -> None:
        """Send `event`; return once it is stored, raise (any exception) when it could not be."""
        ...


class KafkaPublisher:
    """Publishes on fulfillment-events through the idempotent `EventProducer` (the path polled fulfillments take)
    and flushes before returning, so the page redirects only once the event is stored. Blocking: call it from a
    worker thread. Raises confluent_kafka.KafkaException when the broker did not take the record in `timeout_s`."""

    def __init__(self, bootstrap_servers: str, topics: TopicNames, *, timeout_s: float = 15.0) -> None:
        self._producer = EventProducer(bootstrap_servers, source="fulfillsync/web", linger_ms=0)
        self._topic = topics.fulfillment_events
        self._timeout_s = timeout_s

    def publish(self, event: WebEvent) -> None:
        self._producer.publish(self._topic, event)
        self._producer.flush(self._timeout_s)

"""Sending the web app's events: a `Publisher` takes one input event and returns once Kafka has it."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException

from schemas.config import KafkaSettings
from schemas.events import FulfillmentCancelled, FulfillmentRecorded
from schemas.topics import TopicNames
from streams.kit.kafka_clients import as_kafka_settings
from streams.kit.producer import EventProducer, idempotent_config

WebEvent = FulfillmentRecorded | FulfillmentCancelled

SOURCE = "fulfillsync/web"
PAGE_WAIT_S = 15.0
"""How long a form waits for Kafka to take its event before it says "nothing was recorded"."""
DELIVERY_MARGIN_S = 2.0
"""librdkafka gives up on a record this long before the page stops waiting, so the page hears the outcome."""


class Publisher(Protocol):
    def publish(self, event: WebEvent) -> None:
        """Send `event`; return once it is stored, raise (any exception) when it could not be."""
        ...


def producer_config(bootstrap_servers: str, *, timeout_s: float = PAGE_WAIT_S) -> dict[str, Any]:
    """The confluent-kafka producer configuration of `KafkaPublisher`: idempotent, `acks=all`, no lingering
    (`streams.kit.producer.idempotent_config`, the path polled fulfillments take); and a delivery timeout
    (`message.timeout.ms`, with `request.timeout.ms` within it) `DELIVERY_MARGIN_S` shorter than `timeout_s`, the
    page's wait: librdkafka's default would keep retrying a record for 300 s after the page said "nothing was
    recorded". ValueError when `timeout_s` leaves no time to deliver (at most `DELIVERY_MARGIN_S` + 1 s)."""
    delivery_ms = int((timeout_s - DELIVERY_MARGIN_S) * 1000)
    if delivery_ms < 1000:
        raise ValueError(f"timeout_s must be more than {DELIVERY_MARGIN_S + 1:.0f} s, got {timeout_s}")
    return {**idempotent_config(bootstrap_servers, linger_ms=0), "message.timeout.ms": delivery_ms,
            "request.timeout.ms": min(delivery_ms, 30_000)}


class KafkaPublisher:
    """Publishes on fulfillment-events through an `EventProducer` configured by `producer_config` and connected with
    `kafka` (the configuration's `kafka:` settings, security included; a bare bootstrap string is a PLAINTEXT
    broker), and waits for this record's delivery report before returning, so the page redirects only once the
    event is stored.

    Blocking: call it from a worker thread; several threads may publish at once (each waits for its own record).
    Raises confluent_kafka.KafkaException when the broker refused the record or did not take it in time. Since the
    producer gives up on a record (`message.timeout.ms`) before `timeout_s` ends, a raise means librdkafka will not
    deliver it later: "nothing was recorded" holds. (One case stays open: a broker that stored the record but whose
    acknowledgement was lost. The form's key makes the seller's retry the same event, which the ledger drops.)"""

    def __init__(self, kafka: KafkaSettings | str, topics: TopicNames, *, timeout_s: float = PAGE_WAIT_S) -> None:
        self._fatal: str | None = None
        settings = as_kafka_settings(kafka)
        self._producer = EventProducer(settings, source=SOURCE,
                                       settings={**producer_config(settings.bootstrap_servers, timeout_s=timeout_s),
                                                 "error_cb": self._on_error})
        self.config = self._producer.config
        self._topic = topics.fulfillment_events
        self._timeout_s = timeout_s

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's error callback (served while `publish` waits): remembers the first fatal error."""
        if error.fatal() and self._fatal is None:
            self._fatal = str(error)

    def failure(self) -> str | None:
        """The fatal error that made the producer unusable (an idempotent producer's sequence broken, say), for
        the rest of this process's life; None while it can publish. A broker that is merely unreachable is not
        fatal: librdkafka keeps reconnecting."""
        return self._fatal or self._producer.fatal

    def publish(self, event: WebEvent) -> None:
        done = threading.Event()
        errors: list[str] = []
        self._producer.publish(self._topic, event, on_error=errors.append, on_done=done.set)
        self._producer.wait(self._timeout_s)  # serves delivery reports, this one's or another thread's
        if not done.wait(timeout=1.0):
            raise KafkaException(self._producer.fatal or f"the event was not delivered within {self._timeout_s:.0f}s")
        if errors:
            raise KafkaException(self._producer.fatal or errors[0])

"""Producing input events directly (pollers, the demo, tools, tests) with an idempotent confluent-kafka producer
(`enable.idempotence=true`, `acks=all`): Faust's own producer is not idempotent (DESIGN.md §5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType

from confluent_kafka import KafkaException, Producer

from streams.records import InputEvent, encode_event


class EventProducer:
    """Publishes input events keyed by order id with CloudEvents headers.

    `publish` only queues; `flush` waits for every queued record and raises KafkaException if any failed.
    """

    def __init__(self, bootstrap_servers: str, *, source: str, linger_ms: int = 5) -> None:
        self._source = source
        self._errors: list[str] = []
        self._producer = Producer({
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
        })

    def publish(self, topic: str, event: InputEvent) -> None:
        record = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                              time=event.occurred_at, source=self._source)
        self.publish_raw(topic, record.key, record.value, record.headers)

    def publish_raw(self, topic: str, key: bytes | None, value: bytes | None,
                    headers: Sequence[tuple[str, bytes]] = (), *,
                    on_error: Callable[[str], None] | None = None) -> None:
        """Queue any record as it is (for tools and tests that need malformed ones too). A delivery error goes to
        `on_error` when given (the caller checks it after `flush`), else `flush` raises it."""
        report = self._errors.append if on_error is None else on_error

        def delivered(error: object, message: object) -> None:
            if error is not None:
                report(str(error))

        while True:
            try:
                self._producer.produce(topic, key=key, value=value, headers=list(headers), on_delivery=delivered)
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every queued record; raises KafkaException if some are still undelivered after `timeout_s`,
        or if a record queued without `on_error` failed."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise KafkaException(f"{remaining} record(s) not delivered within {timeout_s:.0f}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise KafkaException(f"{len(errors)} record(s) failed: {errors[0]}")

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.flush()

"""Producing input events directly with an idempotent confluent-kafka producer (`enable.idempotence=true`,
`acks=all`): Faust's own producer is not idempotent, and an input event published twice with a new id would be
applied twice.

- `EventProducer`: the producer as tools, the demo and tests use it (blocking `flush`);
- `KafkaEventSink`: the worker's one idempotent producer, shared by every agent that publishes input events or
  records whose partition must follow confluent-kafka's partitioner (pollers, the seller order sink, the seller
  fulfillment checker, the sweep); `flush` waits in a thread so the event loop keeps running.
Everything else an agent publishes goes through Faust's producer (`streams.kit.records.Send`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from confluent_kafka import KafkaException, Producer

from schemas.events import InputEvent
from streams.kit.records import encode_event


def idempotent_config(bootstrap_servers: str, *, linger_ms: int = 5) -> dict[str, Any]:
    """The confluent-kafka settings of an idempotent producer (`enable.idempotence`, `acks=all`)."""
    return {"bootstrap.servers": bootstrap_servers, "enable.idempotence": True, "acks": "all", "linger.ms": linger_ms}


class EventProducer:
    """Publishes input events keyed by order id with CloudEvents headers, on an idempotent producer
    (`idempotent_config`, plus `settings`, e.g. delivery timeouts).

    `publish` only queues; `flush` waits for every queued record and raises KafkaException if any failed.
    """

    def __init__(self, bootstrap_servers: str, *, source: str, linger_ms: int = 5,
                 settings: Mapping[str, Any] | None = None) -> None:
        self._source = source
        self._errors: list[str] = []
        self.config = {**idempotent_config(bootstrap_servers, linger_ms=linger_ms), **(settings or {})}
        self._producer = Producer(self.config)

    def publish(self, topic: str, event: InputEvent, *, on_error: Callable[[str], None] | None = None,
                on_done: Callable[[], None] | None = None) -> None:
        """Queue `event` (see `publish_raw` for the callbacks)."""
        record = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                              time=event.occurred_at, source=self._source)
        self.publish_raw(topic, record.key, record.value, record.headers, on_error=on_error, on_done=on_done)

    def publish_raw(self, topic: str, key: bytes | None, value: bytes | None,
                    headers: Sequence[tuple[str, bytes]] = (), *,
                    on_error: Callable[[str], None] | None = None,
                    on_done: Callable[[], None] | None = None) -> None:
        """Queue any record as it is (for tools and tests that need malformed ones too). A delivery error goes to
        `on_error` when given (the caller checks it after `flush`), else `flush` raises it; `on_done` is called
        once the record's delivery report came, whatever it says (after `on_error`)."""
        report = self._errors.append if on_error is None else on_error

        def delivered(error: object, message: object) -> None:
            if error is not None:
                report(str(error))
            if on_done is not None:
                on_done()

        while True:
            try:
                self._producer.produce(topic, key=key, value=value, headers=list(headers), on_delivery=delivered)
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def __len__(self) -> int:
        """Records queued and not reported yet."""
        return len(self._producer)

    def wait(self, timeout_s: float) -> int:
        """Serve delivery reports until every queued record has its report or `timeout_s` passed; how many
        records are still queued (never raises)."""
        return int(self._producer.flush(timeout_s))

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every queued record; raises KafkaException if some are still undelivered after `timeout_s`,
        or if a record queued without `on_error` failed."""
        remaining = self.wait(timeout_s)
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


DEFAULT_DELIVERY_TIMEOUT_S = 120.0
FLUSH_MARGIN_S = 5.0
"""`flush` waits this much longer than the delivery timeout, so that every record it waits for has its report."""


class EventSink(Protocol):
    """Where a poller hands its events. `publish` queues; `flush` returns once every queued event is delivered
    and raises (KafkaException) if any was not, so a caller stores its cursor only after `flush` returned."""

    def publish(self, topic: str, event: InputEvent, *, source: str) -> None: ...

    async def flush(self) -> None: ...


class RecordSink(Protocol):
    """Where a poller hands internal records (already encoded, keyed by order id): same contract as `EventSink`."""

    def publish_record(self, topic: str, key: bytes, value: bytes) -> None: ...

    async def flush(self) -> None: ...


class KafkaEventSink:
    """An `EventSink` on one `EventProducer`, created on first use (a worker with nothing to poll opens no
    producer). `flush` waits in a thread, so the event loop (the ledger agent, the web views) keeps running.

    Several asyncio tasks may share one sink (agents with `streams.kit.lanes.Lanes`): delivery errors are kept per
    task, so a task's `flush` raises for the records that task published, never for another task's, and never
    returns quietly after one of its own records failed.

    A record not delivered within `delivery_timeout_s` (librdkafka's `message.timeout.ms`: the broker down, say)
    fails. `flush` waits that long plus `FLUSH_MARGIN_S`, so when it raises, librdkafka has given up on those
    records: none of them lands later, after the caller retried."""

    def __init__(self, bootstrap_servers: str, *, delivery_timeout_s: float = DEFAULT_DELIVERY_TIMEOUT_S) -> None:
        self._bootstrap = bootstrap_servers
        self._delivery_timeout_s = delivery_timeout_s
        self._producer: EventProducer | None = None
        self._task_errors: weakref.WeakKeyDictionary[asyncio.Task[Any], list[str]] = weakref.WeakKeyDictionary()

    def _errors(self) -> list[str]:
        """The current task's delivery errors since its last flush."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("KafkaEventSink is used from asyncio tasks only")
        return self._task_errors.setdefault(task, [])

    def _open(self, source: str) -> EventProducer:
        if self._producer is None:
            delivery_ms = int(self._delivery_timeout_s * 1000)
            self._producer = EventProducer(self._bootstrap, source=source, settings={
                "message.timeout.ms": delivery_ms, "request.timeout.ms": min(delivery_ms, 30_000)})
        return self._producer

    def publish(self, topic: str, event: InputEvent, *, source: str) -> None:
        producer = self._open(source)
        record = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                              time=event.occurred_at, source=source)
        producer.publish_raw(topic, record.key, record.value, record.headers, on_error=self._errors().append)

    def publish_record(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue an internal record. Same producer and partitioner as the events, so a record keyed by an order id
        lands in the partition of that order's events (confluent-kafka's partitioner, not Faust's)."""
        self._open("/fulfillsync").publish_raw(topic, key, value, on_error=self._errors().append)

    async def flush(self) -> None:
        errors = self._errors()
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, self._delivery_timeout_s + FLUSH_MARGIN_S)
        if errors:
            failed = list(errors)
            errors.clear()
            raise KafkaException(f"{len(failed)} record(s) failed: {failed[0]}")

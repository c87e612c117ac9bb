"""Publishing the pollers' events with the idempotent confluent-kafka producer (`enable.idempotence=true`,
`acks=all`; Faust's own producer is not idempotent, DESIGN.md §5), keyed by order id with CloudEvents headers."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Protocol

from confluent_kafka import KafkaException

from streams.producer import EventProducer
from streams.records import InputEvent, encode_event

FLUSH_TIMEOUT_S = 30.0


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

    Several asyncio tasks may share one sink (agents with `streams.lanes.Lanes`): delivery errors are kept per
    task, so a task's `flush` raises for the records that task published, never for another task's, and never
    returns quietly after one of its own records failed."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers
        self._producer: EventProducer | None = None
        self._task_errors: weakref.WeakKeyDictionary[asyncio.Task[Any], list[str]] = weakref.WeakKeyDictionary()

    def _errors(self) -> list[str]:
        """The current task's delivery errors since its last flush."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("KafkaEventSink is used from asyncio tasks only")
        return self._task_errors.setdefault(task, [])

    def publish(self, topic: str, event: InputEvent, *, source: str) -> None:
        if self._producer is None:
            self._producer = EventProducer(self._bootstrap, source=source)
        record = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                              time=event.occurred_at, source=source)
        self._producer.publish_raw(topic, record.key, record.value, record.headers, on_error=self._errors().append)

    def publish_record(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue an internal record. Same producer and partitioner as the events, so a record keyed by an order id
        lands in the partition of that order's events (confluent-kafka's partitioner, not Faust's)."""
        if self._producer is None:
            self._producer = EventProducer(self._bootstrap, source="/fulfillsync")
        self._producer.publish_raw(topic, key, value, on_error=self._errors().append)

    async def flush(self) -> None:
        errors = self._errors()
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, FLUSH_TIMEOUT_S)
        if errors:
            failed = list(errors)
            errors.clear()
            raise KafkaException(f"{len(failed)} record(s) failed: {failed[0]}")

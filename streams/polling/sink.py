"""Publishing the pollers' events with the idempotent confluent-kafka producer (`enable.idempotence=true`,
`acks=all`; Faust's own producer is not idempotent, DESIGN.md §5), keyed by order id with CloudEvents headers."""

from __future__ import annotations

import asyncio
from typing import Protocol

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
    producer). `flush` waits in a thread, so the event loop (the ledger agent, the web views) keeps running."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers
        self._producer: EventProducer | None = None

    def publish(self, topic: str, event: InputEvent, *, source: str) -> None:
        if self._producer is None:
            self._producer = EventProducer(self._bootstrap, source=source)
        record = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                              time=event.occurred_at, source=source)
        self._producer.publish_raw(topic, record.key, record.value, record.headers)

    def publish_record(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue an internal record. Same producer and partitioner as the events, so a record keyed by an order id
        lands in the partition of that order's events (confluent-kafka's partitioner, not Faust's)."""
        if self._producer is None:
            self._producer = EventProducer(self._bootstrap, source="/fulfillsync")
        self._producer.publish_raw(topic, key, value)

    async def flush(self) -> None:
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, FLUSH_TIMEOUT_S)

"""Producing input events directly with an idempotent confluent-kafka producer (`enable.idempotence=true`,
`acks=all`): Faust's own producer is not idempotent, and an input event published twice with a new id would be
applied twice.

- `EventProducer`: the producer as tools, the demo and tests use it (blocking `flush`);
- `KafkaEventSink`: the worker's one idempotent producer, shared by every agent that publishes input events or
  records whose partition must follow confluent-kafka's partitioner (pollers, the seller order sink, the seller
  fulfillment checker, the sweep); `flush` waits in a thread so the event loop keeps running.
Everything else an agent publishes goes through Faust's producer (`streams.kit.records.Send`).

Both connect with the configuration's `kafka:` settings (security included) through `streams.kit.kafka_clients`; a
delivery refused for want of an ACL is reported naming the principal and the ACL (`describe_kafka_error`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException

from schemas.config import KafkaSettings
from schemas.events import InputEvent
from streams.kit.kafka_clients import (
    DEPLOY_DOCS,
    REFUSED,
    as_kafka_settings,
    describe_kafka_error,
    new_producer,
    principal,
)
from streams.kit.records import encode_event, outgoing_trace_headers


def idempotent_config(bootstrap_servers: str, *, linger_ms: int = 5) -> dict[str, Any]:
    """The confluent-kafka settings of an idempotent producer (`enable.idempotence`, `acks=all`). The connection
    and security settings come from `streams.kit.kafka_clients` (`bootstrap_servers` must be the configured ones)."""
    return {"bootstrap.servers": bootstrap_servers, "enable.idempotence": True, "acks": "all", "linger.ms": linger_ms}


class EventProducer:
    """Publishes input events keyed by order id with CloudEvents headers, on an idempotent producer
    (`idempotent_config`, plus `settings`, e.g. delivery timeouts) connected with `kafka` (the configuration's
    `kafka:` settings; a bare bootstrap string is a PLAINTEXT broker, see `kafka_clients.as_kafka_settings`).

    `publish` only queues; `flush` waits for every queued record and raises KafkaException if any failed.
    Raises ValueError when `settings` would change a connection or security setting.

    A fatal error ends the producer for good (librdkafka purges what is queued): the brokers refusing an
    idempotent producer id, i.e. the principal may write to no topic. confluent-kafka raises it from `flush` or
    `poll`, sometimes wrapped in a SystemError; it is kept in `fatal`, described (`describe_kafka_error`), and
    every later `flush` or `publish` raises KafkaException with it.
    """

    def __init__(self, kafka: KafkaSettings | str, *, source: str, linger_ms: int = 5,
                 settings: Mapping[str, Any] | None = None) -> None:
        self._source = source
        self._errors: list[str] = []
        self._kafka = as_kafka_settings(kafka)
        self.fatal: str | None = None
        """The fatal error that ended this producer, described; None while it works."""
        own = {**idempotent_config(self._kafka.bootstrap_servers, linger_ms=linger_ms), **(settings or {})}
        self._producer = new_producer(self._kafka, own)
        self.config = dict(own)
        """The producer's own settings (no secrets: the security settings are not repeated here)."""

    def publish(self, topic: str, event: InputEvent, *, on_error: Callable[[str], None] | None = None,
                on_done: Callable[[], None] | None = None) -> None:
        """Queue `event` (see `publish_raw` for the callbacks)."""
        record = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                              time=event.occurred_at, source=self._source)
        self.publish_raw(topic, record.key, record.value, record.headers, on_error=on_error, on_done=on_done)

    def publish_raw(self, topic: str, key: bytes | None, value: bytes | None,
                    headers: Sequence[tuple[str, bytes]] = (), *,
                    on_error: Callable[[str], None] | None = None,
                    on_done: Callable[[], None] | None = None, partition: int | None = None) -> None:
        """Queue any record as it is (for tools and tests that need malformed ones too), in `partition` (None: by
        key). A delivery error goes to `on_error` when given (the caller checks it after `flush`), else `flush`
        raises it; `on_done` is called once the record's delivery report came, whatever it says (after
        `on_error`)."""
        report = self._errors.append if on_error is None else on_error
        what = f"write to topic {topic}"

        def delivered(error: KafkaError | None, message: object) -> None:
            # Kept short and free of try/except: after a fatal error confluent-kafka calls this with its exception
            # still pending, and code that handles exceptions here would lose it.
            if error is not None:
                report(describe_kafka_error(self._kafka, error, what=what) if error.code() in REFUSED
                       else f"could not {what}: {error.str()}")
            if on_done is not None:
                on_done()

        if self.fatal is not None:
            raise KafkaException(self.fatal)
        while True:
            try:
                if partition is None:
                    self._producer.produce(topic, key=key, value=value, headers=list(headers),
                                           on_delivery=delivered)
                else:
                    self._producer.produce(topic, key=key, value=value, headers=list(headers),
                                           on_delivery=delivered, partition=partition)
                break
            except BufferError:
                self._serve(0.1)
            except KafkaException:
                if self.fatal is not None:
                    raise KafkaException(self.fatal) from None
                raise
        self._serve(0)

    def _serve(self, timeout_s: float) -> None:
        """`poll`, a fatal error kept in `fatal` instead of raised."""
        try:
            self._producer.poll(timeout_s)
        except (SystemError, KafkaException) as error:
            self._keep_fatal(error)

    def _keep_fatal(self, error: Exception) -> None:
        """Note the fatal error confluent-kafka raised (a KafkaException, or a SystemError caused by one); re-raise
        a KafkaException that is not fatal (from a delivery callback of the caller's)."""
        if isinstance(error, KafkaException) and not _fatal(error):
            raise error
        cause = error if isinstance(error, KafkaException) else error.__cause__
        if isinstance(cause, KafkaException):
            self.fatal = describe_kafka_error(self._kafka, cause, what="publish with an idempotent producer")
        else:
            self.fatal = (f"the idempotent producer stopped on a fatal error (librdkafka's FATAL log line says "
                          f"which): most often the brokers refused {principal(self._kafka)} a producer id because it "
                          f"may write to no topic; grant it Write on the topics prefixed "
                          f"{self._kafka.topic_prefix!r} ({DEPLOY_DOCS})")
        # confluent-kafka keeps the exception in the producer; its traceback holds the frames that hold this
        # producer: a cycle through the C object that the garbage collector cannot break (the producer, and its
        # connections, would outlive every reference to it).
        for raised in (error, error.__cause__, error.__context__):
            if raised is not None:
                raised.__traceback__ = None

    def __len__(self) -> int:
        """Records queued and not reported yet."""
        return len(self._producer)

    def wait(self, timeout_s: float) -> int:
        """Serve delivery reports until every queued record has its report or `timeout_s` passed; how many
        records are still queued (a fatal error is kept in `fatal`, its records reported failed, not raised)."""
        try:
            return int(self._producer.flush(timeout_s))
        except (SystemError, KafkaException) as error:
            self._keep_fatal(error)
            return len(self._producer)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every queued record; raises KafkaException if some are still undelivered after `timeout_s`,
        if a record queued without `on_error` failed, or once the producer ended on a fatal error (`fatal`)."""
        remaining = self.wait(timeout_s)
        if self.fatal is not None:
            self._errors = []
            raise KafkaException(self.fatal)
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


def _fatal(error: KafkaException) -> bool:
    found = error.args[0] if error.args else None
    return isinstance(found, KafkaError) and bool(found.fatal())


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

    def __init__(self, kafka: KafkaSettings | str, *, delivery_timeout_s: float = DEFAULT_DELIVERY_TIMEOUT_S) -> None:
        self._kafka = as_kafka_settings(kafka)
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
            self._producer = EventProducer(self._kafka, source=source, settings={
                "message.timeout.ms": delivery_ms, "request.timeout.ms": min(delivery_ms, 30_000)})
        return self._producer

    def publish(self, topic: str, event: InputEvent, *, source: str) -> None:
        producer = self._open(source)
        record = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                              time=event.occurred_at, source=source)
        producer.publish_raw(topic, record.key, record.value, record.headers, on_error=self._errors().append)

    def publish_record(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue an internal record, carrying the current trace in its headers. Same producer and partitioner as the
        events, so a record keyed by an order id lands in the partition of that order's events (confluent-kafka's
        partitioner, not Faust's)."""
        headers = outgoing_trace_headers(topic, subject=key.decode("utf-8", "replace"))
        self._open("/fulfillsync").publish_raw(topic, key, value, headers, on_error=self._errors().append)

    async def flush(self) -> None:
        errors = self._errors()
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, self._delivery_timeout_s + FLUSH_MARGIN_S)
        if errors:
            failed = list(errors)
            errors.clear()
            raise KafkaException(f"{len(failed)} record(s) failed: {failed[0]}")

"""The wiring context: what every domain's `wiring.py` is handed to register its topics, tables and agents on the
worker's one Faust app, so that each of these exists once per worker:

- `send`: the one `Send` through Faust's producer (retry records, dead letters, outputs, internal records);
- `producer`: the one idempotent confluent-kafka producer (`KafkaEventSink`) for input events and the records whose
  partition follows confluent-kafka's partitioner;
- `table(spec)`: the Faust table of a `TableSpec`, made once per name with the worker's RocksDB options;
- `topic(name)`: a raw-bytes Faust topic, made once per name;
- `on_stop(hook)`: the worker's stop hook (closing connectors' HTTP clients after every agent has stopped;
  `streams.kit.worker_app`); the context also installs the span exporter when OpenTelemetry exporting is configured
  (`streams.kit.tracing`) and flushes it there;
- `outbox(...)`: a sink's `RetryOutbox`;
- `registry`, `dead_letters`, `clock`: the metrics registry (prometheus_client's default one unless a test hands
  another; `streams.kit.metrics` says why), the dead-letter counter, the clock. The context also publishes
  `fulfillsync_build_info` and adds the timer sampling consumer lag and retry backlog (`streams.kit.lag`; each
  `outbox` names its retry topic's stage there).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry
from pydantic import BaseModel

from schemas.config import Config
from schemas.topics import TopicNames
from streams.kit.dead_letters import DeadLetterMetrics
from streams.kit.lag import register_lag_sampler
from streams.kit.logs import LoggedStream
from streams.kit.metrics import publish_build_info
from streams.kit.producer import KafkaEventSink
from streams.kit.records import RAW_TOPIC, EncodedRecord, traced, utc_now
from streams.kit.retries import RetryOutbox
from streams.kit.tables import TableSpec, TypedTable
from streams.kit.tracing import install_from_environment
from streams.kit.worker_app import StopHook, WorkerApp

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


@dataclass
class WiringContext:
    """See the module docstring. Nothing connects to Kafka until the app starts."""

    app: WorkerApp
    config: Config
    table_options: dict[str, Any]
    registry: CollectorRegistry = REGISTRY
    clock: Callable[[], datetime] = utc_now
    names: TopicNames = field(init=False)
    producer: KafkaEventSink = field(init=False)
    dead_letters: DeadLetterMetrics = field(init=False)
    retry_stages: dict[str, str] = field(init=False, default_factory=dict)
    _tables: dict[str, Any] = field(init=False, default_factory=dict)
    _typed: dict[tuple[str, str], Any] = field(init=False, default_factory=dict)
    _topics: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.names = TopicNames(self.config.kafka.topic_prefix)
        self.producer = KafkaEventSink(self.config.kafka,
                                       delivery_timeout_s=self.config.worker.delivery_timeout.total_seconds())
        self.dead_letters = DeadLetterMetrics(self.registry)
        publish_build_info(self.registry)
        register_lag_sampler(self.app, registry=self.registry,
                             retry_stages=self.retry_stages)
        stop_tracing = install_from_environment()
        if stop_tracing is not None:
            self.on_stop(stop_tracing)

    @property
    def partitions(self) -> int:
        return self.config.kafka.partitions

    def topic(self, name: str) -> Any:
        """The Faust topic `name`, read and written as bytes, with the configured partitions."""
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = self.app.topic(name, partitions=self.partitions, **RAW_TOPIC)
        return topic

    def table(self, spec: TableSpec[M], *, suffix: str = "") -> TypedTable[M]:
        """Typed access to the table of `spec` (its Faust table made on first use of its name). For a spec with a
        cache, every caller gets the same object, whose cache is dropped whenever partitions are revoked or
        assigned, so it only ever holds what this worker read or wrote since it has had the partition."""
        if not spec.cached:
            return spec.entries(self.faust_table(spec.name), suffix=suffix)
        typed: TypedTable[M] | None = self._typed.get((spec.name, suffix))
        if typed is None:
            typed = self._typed[(spec.name, suffix)] = spec.entries(self.faust_table(spec.name), suffix=suffix)
            forget = typed.forget

            async def forget_on_change(*_: Any, **__: Any) -> None:
                forget()

            self.app.on_partitions_revoked.connect(forget_on_change)
            self.app.on_partitions_assigned.connect(forget_on_change)
        return typed

    def faust_table(self, name: str) -> Any:
        """The Faust table `name`: bytes keys and values, on RocksDB with the worker's options."""
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = self.app.Table(
                name, default=None, partitions=self.partitions,
                key_type=bytes, value_type=bytes,  # bytes in, bytes out: Faust picks its raw codec for the changelog
                options=self.table_options)
        return table

    async def send(self, topic: str, record: EncodedRecord, partition: int | None) -> None:
        """The worker's `Send` (`streams.kit.records.Send`). A record without a `ce_traceparent` header (an
        internal record built by hand) is given the current trace's (`streams.kit.records.traced`)."""
        record = traced(record, topic)
        await self.topic(topic).send(key=record.key, value=record.value, headers=record.headers, partition=partition)

    def on_stop(self, hook: StopHook) -> None:
        """Run `hook` when the worker stops, after its agents (see `WorkerApp`)."""
        self.app.stop_hooks.append(hook)

    def outbox(self, *, retries: str, stage: str, source: str) -> RetryOutbox:
        """A sink's retry outbox on retry topic `retries`, dead-lettering as `stage` from `source`; the topic's lag
        is the stage's `fulfillsync_retry_backlog`."""
        self.retry_stages[retries] = stage
        return RetryOutbox(send=self.send, retries=retries, dead_letters=self.names.dead_letters, stage=stage,
                           source=source, clock=self.clock, metrics=self.dead_letters)

    def agent(self, topic: Any, name: str, body: Callable[[Any], Awaitable[None]]) -> None:
        """Register `body` as agent `name` on `topic`, at Faust concurrency 1 (docs/architecture.md, "Known traps":
        Faust must never commit past a record in flight; work runs concurrently in `streams.kit.lanes`). `body`
        reads a `LoggedStream`: while it handles a record, its log lines carry the record's topic, partition,
        offset, event id and order id (a poll tick's: its connection), and the record's trace is current (what it
        publishes continues it; docs/architecture.md, "Tracing")."""
        connection_keyed = frozenset({self.names.poll_ticks})

        @functools.wraps(body)
        async def logged(stream: Any) -> None:
            await body(LoggedStream(stream, connection_keyed=connection_keyed, agent=name))

        self.app.agent(topic, name=name, concurrency=1)(logged)

"""Reading a bounded range of a topic: the records between a start (a time, offsets, or the beginning) and the
end of each partition as it was when the read began (or an end time), then stop. Operators' tools read this way;
the worker never does.

A topic that does not exist, or a broker that does not answer, raises `ReadError` with a message naming the topic
and the brokers. Records are read with a consumer group of their own that never commits (`<prefix>-tools-<uuid>`),
so the worker's offsets are never touched and ACLs on the topic prefix cover it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas.cloudevents import TYPE_PREFIX, header_map
from schemas.config import KafkaSettings
from streams.kit.kafka_clients import new_admin, new_consumer

TIMEOUT_S = 15.0
"""How long a metadata or offsets request may take before the read fails."""


class ReadError(RuntimeError):
    """A topic could not be read: the message says which and what to check."""


@dataclass(frozen=True)
class Record:
    """One record as read: where it was, its timestamp (ms since the epoch) and its parts."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def position(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def key_text(self) -> str | None:
        return None if self.key is None else self.key.decode("utf-8", "replace")

    def parsed(self) -> dict[str, Any] | None:
        """The value as a JSON object, or None when it is not one."""
        try:
            value = json.loads(self.value or b"null")
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @property
    def type(self) -> str:
        """The record's type: the CloudEvents `ce_type` header without our prefix, else the value's `type`, else
        `unknown`."""
        ce_type = header_map(self.headers).get("ce_type")
        if ce_type:
            return ce_type.removeprefix(TYPE_PREFIX)
        value = self.parsed()
        kind = value.get("type") if value is not None else None
        return kind if isinstance(kind, str) else "unknown"


@dataclass(frozen=True)
class Start:
    """Where a read begins in each partition: at `time` (the first record at or after it), at the `offsets` given
    per partition (partitions not named are not read), or at the beginning."""

    time: datetime | None = None
    offsets: dict[int, int] | None = None


@dataclass(frozen=True)
class Span:
    """One partition's range: offsets `start` (inclusive) to `end` (exclusive)."""

    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


def _header_list(headers: object) -> list[tuple[str, bytes]]:
    """confluent-kafka's headers (a list of pairs, or None) with every value as bytes."""
    pairs = headers if isinstance(headers, list) else []
    return [(str(name), value.encode() if isinstance(value, str) else (value or b"")) for name, value in pairs]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _partitions(client: Consumer | AdminClient, kafka: KafkaSettings, topic: str) -> list[int] | None:
    """The partitions of `topic` from one metadata request (None: no such topic). Raises `ReadError` when no broker
    answers."""
    try:
        metadata = client.list_topics(topic, timeout=TIMEOUT_S)
    except KafkaException as error:
        raise ReadError(f"cannot read topic {topic}: no answer from {kafka.bootstrap_servers} "
                        f"({error.args[0].str() if error.args else error}); is the broker up?") from None
    described = metadata.topics.get(topic)
    return None if described is None or described.error is not None else sorted(described.partitions)


def partition_count(kafka: KafkaSettings, topic: str) -> int | None:
    """How many partitions `topic` has, None when it does not exist (metadata only: no offsets are read). Raises
    `ReadError` when no broker answers."""
    found = _partitions(new_admin(kafka), kafka, topic)
    return None if found is None else len(found)


class TopicRange:
    """The spans of `topic` from `start` to `end` (the end of each partition now, or the first record at or after
    `end`), computed once when made. Raises `ReadError` for a missing topic or a broker that does not answer."""

    def __init__(self, kafka: KafkaSettings, topic: str, start: Start | None = None, end: datetime | None = None,
                 partitions: Iterable[int] | None = None) -> None:
        self.kafka = kafka
        self.topic = topic
        self._consumer: Consumer = new_consumer(kafka, {
            "group.id": f"{kafka.topic_prefix}-tools-{uuid.uuid4()}", "enable.auto.commit": False,
            "enable.partition.eof": True, "auto.offset.reset": "earliest"})
        try:
            self.spans = self._spans(start or Start(), end, None if partitions is None else set(partitions))
        except BaseException:
            self._consumer.close()
            raise

    def _spans(self, start: Start, end: datetime | None, only: set[int] | None) -> list[Span]:
        partitions = _partitions(self._consumer, self.kafka, self.topic)
        if partitions is None:
            raise ReadError(f"topic {self.topic} does not exist on {self.kafka.bootstrap_servers}: check the name "
                            f"and the configuration's kafka.topic_prefix ({self.kafka.topic_prefix!r})")
        if start.offsets is not None:
            unknown = sorted(set(start.offsets) - set(partitions))
            if unknown:
                raise ReadError(f"topic {self.topic} has partitions {partitions[0]}-{partitions[-1]}, not {unknown}")
            partitions = sorted(start.offsets)
        if only is not None:
            partitions = [partition for partition in partitions if partition in only]
        spans = []
        for partition in partitions:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, partition),
                                                             timeout=TIMEOUT_S)
            first = low
            if start.offsets is not None:
                first = max(low, min(start.offsets[partition], high))
            elif start.time is not None:
                first = self._offset_at(partition, start.time, high)
            last = high if end is None else min(high, self._offset_at(partition, end, high))
            spans.append(Span(partition, first, max(first, last)))
        return spans

    def _offset_at(self, partition: int, moment: datetime, high: int) -> int:
        """The offset of the first record at or after `moment` in `partition` (`high` when there is none)."""
        [found] = self._consumer.offsets_for_times([TopicPartition(self.topic, partition, _ms(moment))],
                                                   timeout=TIMEOUT_S)
        return high if found.offset < 0 else found.offset

    @property
    def total(self) -> int:
        """Offsets in the range: the records in it, or more (compaction and transaction markers leave gaps)."""
        return sum(span.size for span in self.spans)

    def records(self, advanced: Callable[[int], None] = lambda _: None) -> Iterator[Record]:
        """Every record of the range, partition by partition in offset order; `advanced(n)` is called with the
        offsets passed since its last call (for a progress bar). May be called once."""
        pending = {span.partition: span for span in self.spans if span.size > 0}
        if not pending:
            return
        self._consumer.assign([TopicPartition(self.topic, span.partition, span.start) for span in pending.values()])
        reached = {partition: span.start for partition, span in pending.items()}
        while pending:
            message = self._consumer.poll(1.0)
            if message is None:
                continue
            partition, offset = message.partition() or 0, message.offset() or 0
            span = pending.get(partition)
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF and span is not None:
                    advanced(span.end - reached[partition])
                    del pending[partition]
                    continue
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise ReadError(f"reading {self.topic}[{partition}] failed: {error.str()}")
            if span is None:  # finished, its last records still arriving
                continue
            if offset >= span.end:
                advanced(span.end - reached[partition])
                del pending[partition]
                continue
            advanced(offset + 1 - reached[partition])
            reached[partition] = offset + 1
            _, timestamp = message.timestamp()
            yield Record(self.topic, partition, offset, timestamp, message.key(), message.value(),
                         _header_list(message.headers()))
            if offset + 1 >= span.end:
                del pending[partition]

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicRange:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

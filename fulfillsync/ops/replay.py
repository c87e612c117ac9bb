"""`fulfillsync replay`: re-publish a range of a topic's records with their original keys, values and headers,
plus the header `fulfillsync_replayed_from` (`topic:partition:offset` of the original).

Into the topic itself (order-events, fulfillment-events, shipped-orders), each record goes back to the partition
it was read from, so the order of each order's records is kept. The ledger recognises a replayed input by its
`event_id` (a duplicate: no output, nothing written to any store), and consumers of shipped-orders drop what they
already have by `event_id`: a replay is idempotent. With `target`, the records are re-delivered to another topic
(a consuming service's own), which must exist with at least as many partitions.

Refused (`Refused`, nothing published): dead-letters or an internal topic into itself (letters would be doubled;
`fulfillsync dead-letters requeue` is the way to apply a letter again), a target that does not exist or has fewer
partitions, and a target among fulfillsync's own topics other than the source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from aiolimiter import AsyncLimiter

from fulfillsync.ops.output import Counts
from fulfillsync.ops.reading import Record, Start, TopicRange
from schemas.config import KafkaSettings
from schemas.topics import TopicNames
from streams.kit.producer import EventProducer

REPLAYED_FROM = "fulfillsync_replayed_from"
"""The header a replayed record carries: where its original was (`topic:partition:offset`)."""
REPLAYABLE_IN_PLACE = ("order-events", "fulfillment-events", "shipped-orders")
"""The topics a replay may write back into: their readers recognise a record they already have by its id."""


class Refused(ValueError):
    """The replay would be unsafe or cannot be done: the message says why and what to do instead."""


@dataclass(frozen=True)
class ReplayRequest:
    """What to replay: `topic` (a short name such as `order-events`, or a full one) from `start` to `end`, only
    the records of `order_ids` and of `types` when given, into `target` (None: the topic itself), at most `rate`
    records per second."""

    topic: str
    start: Start
    end: datetime | None = None
    order_ids: frozenset[str] = field(default_factory=frozenset)
    types: frozenset[str] = field(default_factory=frozenset)
    target: str | None = None
    rate: float | None = None

    def wants(self, record: Record) -> bool:
        return ((not self.order_ids or record.key_text in self.order_ids)
                and (not self.types or record.type in self.types))


def full_topic_name(names: TopicNames, name: str) -> str:
    """`name` with the topic prefix when it is a short name (`order-events`), else `name` itself."""
    return name if name.startswith(f"{names.prefix}.") or name.startswith(f"{names.prefix}-") else (
        f"{names.prefix}.{name}")


def replayed_headers(record: Record) -> list[tuple[str, bytes]]:
    """The record's headers, with `REPLAYED_FROM` naming where this copy came from (an earlier one replaced)."""
    return [(name, value) for name, value in record.headers if name != REPLAYED_FROM] + [
        (REPLAYED_FROM, record.position.encode())]


class Replay:
    """One replay: `check` refuses what is unsafe, `plan` counts what `execute` would publish of the records of
    `range`, `execute` publishes them.
    Raises `Refused` or `fulfillsync.ops.reading.ReadError` with a message for the operator."""

    def __init__(self, kafka: KafkaSettings, request: ReplayRequest) -> None:
        self.kafka = kafka
        self.names = TopicNames(kafka.topic_prefix)
        self.topic = full_topic_name(self.names, request.topic)
        self.target = self._target_name(request.target) if request.target else self.topic
        self.request = request

    def _target_name(self, name: str) -> str:
        """A target is taken as named (a topic of the consumer's own), except the short name of one of our topics,
        which is made whole so that `check` recognises it."""
        ours = {topic.removeprefix(f"{self.names.prefix}.") for topic in self.names.public}
        return full_topic_name(self.names, name) if name in ours else name

    def check(self, existing: Callable[[str], int | None]) -> None:
        """Refuse an unsafe replay. `existing(topic)`: the topic's partition count, None when it does not exist."""
        short = self.topic.removeprefix(f"{self.names.prefix}.")
        source_partitions = existing(self.topic)
        if source_partitions is None:
            raise Refused(f"topic {self.topic} does not exist; the topics of this configuration are "
                          f"{', '.join(self.names.public)}")
        if self.target == self.topic:
            if short not in REPLAYABLE_IN_PLACE:
                raise Refused(f"{self.topic} cannot be replayed into itself: its readers would take the copies for "
                              f"new records (dead letters would be doubled). Replay into your own topic with "
                              f"--target, or use `fulfillsync dead-letters requeue` to apply a dead letter again")
            return
        partitions = existing(self.target)
        if partitions is None:
            raise Refused(f"target topic {self.target} does not exist: create it first, with at least "
                          f"{source_partitions} partitions, so each order's records stay in order")
        if self.target in self.names.public or self.target.startswith(f"{self.names.app_id}-"):
            raise Refused(f"target {self.target} is one of fulfillsync's own topics; replay a topic into itself "
                          "or into a topic of your own")
        if partitions < source_partitions:
            raise Refused(f"target topic {self.target} has {partitions} partitions, fewer than the "
                          f"{source_partitions} of {self.topic}: each record goes to the partition it came from, so "
                          f"the order of each order's records is kept; add partitions to the target")

    def range(self) -> TopicRange:
        """The range to replay (a new read each time: planning and publishing each read it once)."""
        return TopicRange(self.kafka, self.topic, self.request.start, self.request.end)

    def plan(self, records: Iterable[Record]) -> Counts:
        """What `execute` would publish of `records` (those of `range`), counted by topic, partition and type."""
        counts = Counts()
        for record in records:
            if self.request.wants(record):
                counts.add(self.target, record.partition, record.type)
        return counts

    def execute(self, records: Iterable[Record]) -> Counts:
        """Publish the selected ones of `records` (those of `range`) and wait until the brokers have them all; what
        was published, counted. Raises KafkaException when a record could not be delivered (those before it may
        have been)."""
        return asyncio.run(self._publish(records))

    async def _publish(self, records: Iterable[Record]) -> Counts:
        counts = Counts()
        # one record per 1/rate seconds: also right for rates below one per second
        limiter = AsyncLimiter(1, 1 / self.request.rate) if self.request.rate else None
        producer = EventProducer(self.kafka, source="/fulfillsync/replay")
        for record in records:
            if not self.request.wants(record):
                continue
            if limiter is not None:
                await limiter.acquire()
            producer.publish_raw(self.target, record.key, record.value, replayed_headers(record),
                                 partition=record.partition)
            counts.add(self.target, record.partition, record.type)
        producer.flush()
        return counts

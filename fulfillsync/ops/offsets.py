"""`fulfillsync offsets reset`: move the worker's consumer group (`<prefix>-ledger`, the Faust application id) on
one topic, so the worker reads again from a time, from the beginning, or skips to the end.

Refused while any worker is a member of the group (Kafka would refuse the change of a live group anyway, and a
running worker would commit its own offsets over it): stop every worker first. Moving back is safe (the ledger
and the sinks drop what they already applied, by event id); moving forward skips records for good (`--to-latest`:
the skipped inputs are never applied), which the plan shows as negative lag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from fulfillsync.ops.reading import TIMEOUT_S, Start, TopicRange
from fulfillsync.ops.replay import Refused, full_topic_name
from schemas.config import KafkaSettings
from schemas.topics import TopicNames
from streams.kit.kafka_clients import new_admin


def committed_offsets(admin: AdminClient, group: str, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    """The committed offset of `group` on each of `partitions` of `topic` that has one. Raises KafkaException when
    the brokers refuse or do not answer within `TIMEOUT_S`."""
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions])
    [future] = admin.list_consumer_group_offsets([request], request_timeout=TIMEOUT_S).values()
    return {item.partition: item.offset for item in future.result(timeout=TIMEOUT_S).topic_partitions
            if item.offset >= 0}


@dataclass(frozen=True)
class Move:
    """One partition's move: from the group's committed offset (None: none committed) to `new`; `end` is the
    partition's end, so `lag_after` records are left to read."""

    partition: int
    committed: int | None
    new: int
    end: int

    @property
    def lag_after(self) -> int:
        return self.end - self.new

    @property
    def rereads(self) -> int:
        """Records read again (positive) or skipped (negative) compared with the committed offset."""
        return 0 if self.committed is None else self.committed - self.new


@dataclass(frozen=True)
class ResetTo:
    """Exactly one of: a time, the beginning (`earliest`), the end (`latest`)."""

    time: datetime | None = None
    earliest: bool = False
    latest: bool = False


class OffsetsReset:
    """Plan and execute one reset of the worker's group on `topic` (a short or full name). Raises `Refused` with a
    message for the operator, `fulfillsync.ops.reading.ReadError` when the topic cannot be read."""

    def __init__(self, kafka: KafkaSettings, topic: str, to: ResetTo) -> None:
        self.kafka = kafka
        names = TopicNames(kafka.topic_prefix)
        self.group = names.app_id
        self.topic = full_topic_name(names, topic)
        self.to = to
        self._admin = new_admin(kafka)

    def members(self) -> list[str]:
        """The group's members now, as `client id on host`."""
        [future] = self._admin.describe_consumer_groups([self.group], request_timeout=TIMEOUT_S).values()
        described = future.result()
        return [f"{member.client_id} on {member.host}" for member in described.members]

    def plan(self) -> list[Move]:
        """Each partition's move. Raises `Refused` while a worker is a member of the group."""
        members = self.members()
        if members:
            raise Refused(f"{len(members)} member(s) of consumer group {self.group} are running "
                          f"({'; '.join(members)}): stop every worker first (in Kubernetes: scale the worker "
                          "deployment to 0), then reset, then start them again")
        start = Start(time=self.to.time) if self.to.time is not None else Start()
        with TopicRange(self.kafka, self.topic, start) as span:
            spans = span.spans
        committed = self._committed([item.partition for item in spans])
        return [Move(item.partition, committed.get(item.partition),
                     item.end if self.to.latest else item.start, item.end) for item in spans]

    def _committed(self, partitions: list[int]) -> dict[int, int]:
        return committed_offsets(self._admin, self.group, self.topic, partitions)

    def execute(self, moves: list[Move]) -> None:
        """Commit `moves` for the group. Raises `Refused` when a worker joined since the plan, KafkaException
        when the brokers refuse the change."""
        if self.members():
            raise Refused(f"a worker joined consumer group {self.group} since the plan: stop it and run again")
        request = ConsumerGroupTopicPartitions(self.group, [TopicPartition(self.topic, move.partition, move.new)
                                                            for move in moves])
        [future] = self._admin.alter_consumer_group_offsets([request], request_timeout=TIMEOUT_S).values()
        for item in future.result().topic_partitions:
            if item.error is not None:
                raise KafkaException(item.error)

"""Consumer lag and retry backlog of one worker, from its own partitions: `fulfillsync_consumer_lag{topic,partition}`
and `fulfillsync_retry_backlog{stage}`.

Every `SAMPLE_PERIOD_S` a timer on every worker (not only the leader: each reports its own partitions, so sums over
workers are the group's) reads the input partitions assigned to the worker's consumer (its agents' topics; the
tables' changelogs are left out), and for each the committed offset and the high watermark the worker's own consumer
knows (`ConsumerOffsets`: in memory, no request to the brokers). A
partition's lag is `high watermark - committed offset` (`lag_of`): the records the worker has not finished yet,
those fetched and not yet acked included. With nothing committed yet, the lag counts from the partition's first
record still kept.

The retry backlog of a sink's stage is the lag of its retry topic (`WiringContext.outbox` says which topic belongs
to which stage): retry records published and not yet attempted again. Each stage is reported, 0 when the worker
holds none of its partitions.

Series of partitions the worker no longer holds are removed at the next sample. A sample that fails (the broker
away, a rebalance) is logged at debug level and leaves the previous values; the timer never raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.kit.metrics import gauge

log = logging.getLogger(__name__)

SAMPLE_PERIOD_S: Final = 15.0
REQUEST_TIMEOUT_S: Final = 10.0

Partition = tuple[str, int]


class LagMetrics:
    """`fulfillsync_consumer_lag{topic,partition}` and `fulfillsync_retry_backlog{stage}` (module docstring)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = gauge("fulfillsync_consumer_lag", "Records of an input partition this worker holds that its "
                         "consumer group has not committed yet", ["topic", "partition"], registry=registry)
        self.retry_backlog = gauge("fulfillsync_retry_backlog", "Retry records of a sink's stage waiting on its retry "
                                   "topic (the lag of the partitions this worker holds)", ["stage"],
                                   registry=registry)


class Offsets(Protocol):
    """What the sampler asks the brokers; blocking calls (the sampler runs them in a thread)."""

    def committed(self, group: str, partitions: list[Partition]) -> dict[Partition, int]:
        """The group's committed offset of each partition (negative: none)."""

    def ends(self, partitions: list[Partition], *, earliest: bool) -> dict[Partition, int]:
        """Each partition's high watermark, or with `earliest` its first offset still kept."""


def lag_of(high_watermark: int, committed: int, first_kept: int | None) -> int:
    """The records of a partition not committed: `high_watermark - committed`; when nothing is committed
    (`committed` negative), `high_watermark - first_kept` (0 when that is unknown). Never negative."""
    if committed < 0:
        return max(high_watermark - (first_kept if first_kept is not None else high_watermark), 0)
    return max(high_watermark - committed, 0)


@dataclass
class ConsumerOffsets:
    """`Offsets` from the worker's own Faust consumer, in memory: the offsets it committed (or found committed when
    it was assigned the partition) and the high watermarks its fetches saw. No request to the brokers: the
    coordinator requests of confluent-kafka's admin client abort the whole process when a connection drops during
    one (librdkafka's `rd_kafka_enq_once_del_source_return` assertion), which a worker must survive.

    A partition whose committed offset the consumer does not know counts from offset 0 (the log start is not known
    in memory; with retention it overstates); one whose high watermark no fetch has seen yet is left out."""

    app: Any
    """The Faust app: its consumer is read at each sample (it is made when the worker starts)."""

    def committed(self, group: str, partitions: list[Partition]) -> dict[Partition, int]:
        known: Mapping[Any, int | None] = getattr(self.app.consumer, "_committed_offset", {})
        found = {(tp.topic, tp.partition): offset for tp, offset in list(known.items()) if offset is not None}
        return {tp: found.get(tp, -1) for tp in partitions}

    def ends(self, partitions: list[Partition], *, earliest: bool) -> dict[Partition, int]:
        if earliest:
            return dict.fromkeys(partitions, 0)
        highs = {}
        for topic, number in partitions:
            try:
                high = self.app.consumer.highwater(TP(topic, number))
            except Exception as error:  # noqa: BLE001 (not fetched yet, or the consumer is stopping)
                log.debug("no high watermark of %s[%d] yet: %s", topic, number, error)
                continue
            if isinstance(high, int) and high >= 0:
                highs[topic, number] = high
        return highs


class LagSampler:
    """Samples the lag of the worker's input partitions into `metrics` (module docstring).

    `retry_stages` maps each retry topic to its sink's stage; it is read at every sample, so stages registered
    after the sampler count too."""

    def __init__(self, *, app: Any, group: str, offsets: Offsets, metrics: LagMetrics,
                 retry_stages: Mapping[str, str]) -> None:
        self._app = app
        self._group = group
        self._offsets = offsets
        self._metrics = metrics
        self._retry_stages = retry_stages
        self._reported: set[Partition] = set()

    async def sample(self) -> None:
        """One sample. Never raises."""
        try:
            partitions = self._input_partitions()
            if partitions is None:
                return
            lags = await asyncio.to_thread(self._lags, sorted(partitions)) if partitions else {}
        except Exception as error:  # noqa: BLE001 (the next sample tries again)
            log.debug("consumer lag not sampled: %s: %s", type(error).__name__, error)
            return
        self._report(lags)

    def _input_partitions(self) -> set[Partition] | None:
        """The worker's input partitions now; None while it rebalances or its consumer has not started."""
        if self._app.rebalancing:
            return None
        changelogs = set(self._app.tables.changelog_topics)
        return {(tp.topic, tp.partition) for tp in self._app.consumer.assignment() if tp.topic not in changelogs}

    def _lags(self, partitions: list[Partition]) -> dict[Partition, int]:
        committed = self._offsets.committed(self._group, partitions)
        highs = self._offsets.ends(partitions, earliest=False)
        unset = [tp for tp in partitions if committed.get(tp, -1) < 0]
        firsts = self._offsets.ends(unset, earliest=True) if unset else {}
        return {tp: lag_of(highs[tp], committed.get(tp, -1), firsts.get(tp)) for tp in partitions if tp in highs}

    def _report(self, lags: Mapping[Partition, int]) -> None:
        backlog = dict.fromkeys(self._retry_stages.values(), 0)
        for (topic, number), lag in lags.items():
            self._metrics.lag.labels(topic, str(number)).set(lag)
            stage = self._retry_stages.get(topic)
            if stage is not None:
                backlog[stage] += lag
        for topic, number in self._reported - set(lags):
            self._metrics.lag.remove(topic, str(number))
        self._reported = set(lags)
        for stage, waiting in backlog.items():
            self._metrics.retry_backlog.labels(stage).set(waiting)


def register_lag_sampler(app: Any, *, registry: CollectorRegistry, retry_stages: Mapping[str, str]) -> LagSampler:
    """Add the sampling timer to `app` (every worker, every `SAMPLE_PERIOD_S`); the group is the app's id."""
    sampler = LagSampler(app=app, group=app.conf.id, offsets=ConsumerOffsets(app), metrics=LagMetrics(registry),
                         retry_stages=retry_stages)
    app.timer(SAMPLE_PERIOD_S, name="consumer-lag")(sampler.sample)
    return sampler

"""`streams.kit.lag`: consumer lag per input partition and retry backlog per stage, from the worker's assignment, the
group's committed offsets and the high watermarks; revoked partitions disappear, a failed sample keeps the last
values. (The real broker's answers: tests/helm/fulfillsync/test_monitoring_worker.py.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from faust.types import TP as FaustTP
from prometheus_client import CollectorRegistry

from streams.kit.lag import ConsumerOffsets, LagMetrics, LagSampler, Partition, lag_of


def test_lag_of() -> None:
    assert lag_of(100, 90, None) == 10
    assert lag_of(100, 100, None) == 0
    assert lag_of(100, 120, None) == 0  # a committed offset past the watermark (read before the commit) is 0
    assert lag_of(100, -1001, 40) == 60  # nothing committed: from the first record kept
    assert lag_of(100, -1001, None) == 0


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class Tables:
    changelog_topics: set[str]


@dataclass
class Consumer:
    assigned: set[TP]

    def assignment(self) -> set[TP]:
        return self.assigned


@dataclass
class App:
    consumer: Consumer
    tables: Tables = field(default_factory=lambda: Tables({"g-orders-changelog"}))
    rebalancing: bool = False


@dataclass
class Offsets:
    committed_at: dict[Partition, int]
    highs: dict[Partition, int]
    firsts: dict[Partition, int] = field(default_factory=dict)
    fail: bool = False
    asked: list[str] = field(default_factory=list)

    def committed(self, group: str, partitions: list[Partition]) -> dict[Partition, int]:
        if self.fail:
            raise RuntimeError("broker away")
        self.asked.append(group)
        return {tp: self.committed_at.get(tp, -1001) for tp in partitions}

    def ends(self, partitions: list[Partition], *, earliest: bool) -> dict[Partition, int]:
        source = self.firsts if earliest else self.highs
        return {tp: source[tp] for tp in partitions}


def sampler(app: App, offsets: Offsets, registry: CollectorRegistry) -> LagSampler:
    return LagSampler(app=app, group="g", offsets=offsets, metrics=LagMetrics(registry),
                      retry_stages={"p.buyer-push-retries": "buyer_tracking",
                                    "p.seller-order-retries": "seller_orders"})


def lag(registry: CollectorRegistry, topic: str, partition: int) -> float | None:
    return registry.get_sample_value("fulfillsync_consumer_lag", {"topic": topic, "partition": str(partition)})


def backlog(registry: CollectorRegistry, stage: str) -> float | None:
    return registry.get_sample_value("fulfillsync_retry_backlog", {"stage": stage})


def test_a_sample_reports_each_input_partition_and_each_stage() -> None:
    registry = CollectorRegistry()
    app = App(Consumer({TP("p.order-events", 0), TP("p.order-events", 1), TP("p.buyer-push-retries", 1),
                        TP("g-orders-changelog", 0)}))
    offsets = Offsets(committed_at={("p.order-events", 0): 7, ("p.buyer-push-retries", 1): 2},
                      highs={("p.order-events", 0): 10, ("p.order-events", 1): 5, ("p.buyer-push-retries", 1): 6},
                      firsts={("p.order-events", 1): 1})
    asyncio.run(sampler(app, offsets, registry).sample())
    assert offsets.asked == ["g"]
    assert (lag(registry, "p.order-events", 0), lag(registry, "p.order-events", 1)) == (3.0, 4.0)
    assert lag(registry, "p.buyer-push-retries", 1) == 4.0
    assert lag(registry, "g-orders-changelog", 0) is None, "changelogs are not inputs"
    assert (backlog(registry, "buyer_tracking"), backlog(registry, "seller_orders")) == (4.0, 0.0)


def test_revoked_partitions_disappear_and_a_failed_sample_keeps_the_values() -> None:
    registry = CollectorRegistry()
    consumer = Consumer({TP("p.order-events", 0), TP("p.order-events", 1)})
    offsets = Offsets(committed_at={("p.order-events", 0): 1, ("p.order-events", 1): 1},
                      highs={("p.order-events", 0): 3, ("p.order-events", 1): 4})
    app = App(consumer)
    lags = sampler(app, offsets, registry)
    asyncio.run(lags.sample())
    consumer.assigned = {TP("p.order-events", 1)}
    asyncio.run(lags.sample())
    assert lag(registry, "p.order-events", 0) is None
    assert lag(registry, "p.order-events", 1) == 3.0
    offsets.fail = True
    offsets.highs[("p.order-events", 1)] = 9
    asyncio.run(lags.sample())
    assert lag(registry, "p.order-events", 1) == 3.0
    app.rebalancing = True
    offsets.fail = False
    asyncio.run(lags.sample())
    assert lag(registry, "p.order-events", 1) == 3.0, "not sampled during a rebalance"
    app.rebalancing = False
    consumer.assigned = set()
    asyncio.run(lags.sample())
    assert lag(registry, "p.order-events", 1) is None
    assert backlog(registry, "buyer_tracking") == 0.0


def test_a_consumer_not_started_is_not_sampled() -> None:
    class NotStarted:
        def assignment(self) -> Any:
            raise RuntimeError("Consumer thread not yet started")

    registry = CollectorRegistry()
    app = App(Consumer(set()))
    app.consumer = NotStarted()  # type: ignore[assignment]
    asyncio.run(sampler(app, Offsets({}, {}), registry).sample())
    assert backlog(registry, "buyer_tracking") is None


class _Consumer:
    """What `ConsumerOffsets` reads of Faust's consumer: `_committed_offset` and `highwater`."""

    def __init__(self) -> None:
        self._committed_offset: dict[FaustTP, int | None] = {FaustTP("in", 0): 40, FaustTP("in", 1): None}

    def highwater(self, tp: FaustTP) -> int:
        if tp.partition == 2:
            raise AssertionError("not fetched yet")  # aiokafka raises for a partition it has not fetched
        return {0: 50, 1: 7}[tp.partition]


def test_consumer_offsets_are_read_in_memory_from_the_workers_own_consumer() -> None:
    offsets = ConsumerOffsets(SimpleNamespace(consumer=_Consumer()))
    partitions = [("in", 0), ("in", 1), ("in", 2)]
    assert offsets.committed("g", partitions) == {("in", 0): 40, ("in", 1): -1, ("in", 2): -1}
    assert offsets.ends(partitions, earliest=False) == {("in", 0): 50, ("in", 1): 7}
    assert offsets.ends(partitions, earliest=True) == {("in", 0): 0, ("in", 1): 0, ("in", 2): 0}

"""`streams.kit.metrics`: every metric in prometheus_client's default registry with the process and Python
collectors, each metric made once per registry (several apps in one process share them), the build info, and the
lanes' backlog read at scrape time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from schemas.config import Config
from streams.app import create_app
from streams.kit.lanes import Lanes, run_agent
from streams.kit.metrics import counter, gauge, histogram, publish_build_info, version


def config(tmp_path: Path, name: str) -> Config:
    return Config.model_validate({"kafka": {"topic_prefix": name}, "worker": {"state_dir": str(tmp_path / name)}})


def test_a_metric_is_made_once_per_registry() -> None:
    registry = CollectorRegistry()
    first = counter("t_things", "Things", ["kind"], registry=registry)
    assert counter("t_things", "Things", ["kind"], registry=registry) is first
    assert counter("t_things", "Things", ["kind"], registry=CollectorRegistry()) is not first
    with pytest.raises(ValueError, match="already defined"):
        counter("t_things", "Things", ["other"], registry=registry)
    with pytest.raises(ValueError, match="already defined"):
        gauge("t_things", "Things", ["kind"], registry=registry)
    seconds = histogram("t_seconds", "Seconds", buckets=(1, 2), registry=registry)
    assert histogram("t_seconds", "Seconds", buckets=(1, 2), registry=registry) is seconds
    with pytest.raises(ValueError, match="already defined"):
        histogram("t_seconds", "Seconds", buckets=(1, 5), registry=registry)


def test_apps_built_in_one_process_share_the_default_registry(tmp_path: Path) -> None:
    first = create_app(config(tmp_path, "one"))
    second = create_app(config(tmp_path, "two"))  # no "Duplicated timeseries"
    assert first.registry is REGISTRY and second.registry is REGISTRY
    text = generate_latest(REGISTRY).decode()
    for family in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info",
                   "python_gc_collections_total", "fulfillsync_ledger_processing_seconds",
                   "fulfillsync_platform_request_seconds", "fulfillsync_consumer_lag", "fulfillsync_orders_stuck"):
        assert f"# TYPE {family}" in text or f"# TYPE {family.removesuffix('_total')}" in text, family
    assert REGISTRY.get_sample_value("fulfillsync_build_info", {"version": version()}) == 1.0


def test_build_info_names_the_installed_version() -> None:
    registry = CollectorRegistry()
    publish_build_info(registry)
    publish_build_info(registry)
    [family] = [f for f in registry.collect() if f.name == "fulfillsync_build_info"]
    assert [(sample.labels, sample.value) for sample in family.samples] == [({"version": version()}, 1.0)]
    assert version() != "unknown"  # installed (pip install -e .)


@dataclass
class Message:
    topic: str = "t-topic"
    tp: tuple[str, int] = ("t-topic", 0)


@dataclass
class Event:
    message: Message = field(default_factory=Message)
    acked: bool = False

    def ack(self) -> None:
        self.acked = True


class Stream:
    """What `run_agent` needs of a faust stream: its agent's name (`prefix`), `noack()` and `events()`: one event,
    then the end of the stream once `done` is set."""

    prefix = "t-agent"

    def __init__(self, event: Event, done: asyncio.Event) -> None:
        self._event = event
        self._done = done

    def noack(self) -> Stream:
        return self

    async def events(self) -> AsyncIterator[Event]:
        yield self._event
        await self._done.wait()


@pytest.mark.timeout(20)
def test_the_lanes_backlog_is_read_when_scraped() -> None:
    def backlog() -> float | None:
        return REGISTRY.get_sample_value("fulfillsync_lanes_backlog", {"agent": "t-agent"})

    async def run() -> None:
        lanes = Lanes(per_group=1, in_flight=4)
        release, done = asyncio.Event(), asyncio.Event()
        event = Event()

        async def handle(message: Any) -> None:
            await release.wait()

        agent = asyncio.create_task(run_agent(Stream(event, done), lanes, route=lambda m: ("k", "g", None),
                                              handle=handle))
        for _ in range(20):
            await asyncio.sleep(0)
        assert backlog() == 1.0  # the record runs
        release.set()
        await asyncio.wait_for(lanes.drain(), 5)
        assert backlog() == 0.0 and event.acked
        done.set()
        await asyncio.wait_for(agent, 5)

    asyncio.run(run())

"""The worker's probes (streams/web/health.py): `/readyz` is 503 until the first table recovery, then 200 through
rebalances and with no partition at all, 503 once stopping; on fakes of the app, and with two real workers on one
partition (the second holds nothing, and is ready; it takes over when the first stops)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import faust
import pytest
import yaml

from sandbox.server import free_port
from streams.web.health import Readiness, ReadinessProbe
from tests.support.kafka_harness import WorkerProcess, write_config


@dataclass
class FakeEvent:
    set_: bool = False

    def is_set(self) -> bool:
        return self.set_


@dataclass
class FakeApp:
    """What `ReadinessProbe` reads of a Faust app."""

    rebalancing: bool = True
    completed: FakeEvent = field(default_factory=FakeEvent)
    assigned: set[tuple[str, int]] = field(default_factory=set)
    stopping: bool = False

    @property
    def tables(self) -> Any:
        return type("Tables", (), {"recovery": type("Recovery", (), {"completed": self.completed})()})()

    @property
    def consumer(self) -> Any:
        assigned = self.assigned
        return type("Consumer", (), {"assignment": staticmethod(lambda: set(assigned))})()


def probe_of(app: FakeApp) -> ReadinessProbe:
    return ReadinessProbe(cast(faust.App, app))


def test_not_ready_until_the_first_recovery_ended() -> None:
    app = FakeApp()
    probe = probe_of(app)
    assert probe.check() == Readiness(False, "rebalancing", False, 0)
    app.rebalancing = False
    assert probe.check() == Readiness(False, "recovering tables", False, 0)
    app.completed.set_, app.assigned = True, {("t.order-events", 0)}
    assert probe.check() == Readiness(True, "processing", True, 1)


def test_later_rebalances_and_recoveries_keep_it_ready_but_not_processing() -> None:
    app = FakeApp(rebalancing=False, completed=FakeEvent(True), assigned={("t.order-events", 0)})
    probe = probe_of(app)
    assert probe.check().ready
    app.rebalancing = True  # a worker joined: Faust revokes and assigns again, recovering what moved
    answer = probe.check()
    assert (answer.ready, answer.processing, answer.reason) == (True, False, "rebalancing")


def test_a_worker_without_partitions_is_ready_for_webhooks() -> None:
    answer = probe_of(FakeApp(rebalancing=False, completed=FakeEvent(True))).check()
    assert (answer.ready, answer.processing, answer.assigned) == (True, False, 0)
    assert answer.reason.startswith("no partitions assigned (more workers than partitions)")


def test_a_stopping_worker_is_not_ready() -> None:
    app = FakeApp(rebalancing=False, completed=FakeEvent(True), assigned={("t.order-events", 0)})
    probe = probe_of(app)
    assert probe.check().ready
    app.stopping = True
    assert probe.check() == Readiness(False, "stopping", True, 1)


def test_the_body_says_what_the_worker_does() -> None:
    assert Readiness(True, "rebalancing", False, 3).body() == {
        "status": "ready", "reason": "rebalancing", "processing": False, "assigned": 3}
    assert Readiness(False, "stopping", False, 0).body()["status"] == "not ready"


# -- two real workers, one partition ------------------------------------------------------------------------------


def readyz(worker: WorkerProcess) -> tuple[int, dict[str, Any]]:
    status, body = worker.http("/readyz")
    return status, (json.loads(body) if body else {})


def second_worker(first_config: Path, folder: Path) -> WorkerProcess:
    """A worker of the same app (same topics and group) with its own web port and state directory."""
    document = yaml.safe_load(first_config.read_text())
    document["worker"] |= {"web_port": free_port(), "state_dir": str(folder / "state")}
    folder.mkdir()
    path = folder / "fulfillsync.yaml"
    path.write_text(yaml.safe_dump(document))
    return WorkerProcess(path, folder / "worker.log")


@pytest.mark.kafka
def test_with_more_workers_than_partitions_every_worker_is_ready_and_the_spare_takes_over(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    first = WorkerProcess(write_config(tmp_path, kafka_bootstrap, partitions=1), tmp_path / "worker.log").start()
    second = second_worker(first.config_path, tmp_path / "second")
    seen: list[int] = []
    watching = threading.Event()

    def watch_first() -> None:
        while not watching.is_set():
            seen.append(readyz(first)[0])
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_first)
    try:
        status, body = readyz(first)
        assert (status, body["processing"]) == (200, True), body
        watcher.start()
        second.start()  # returns once its /readyz answers 200: the rebalance it caused is over
        deadline = time.monotonic() + 30
        while readyz(first)[1].get("reason") != "processing":
            assert time.monotonic() < deadline, first.log_tail()
            time.sleep(0.2)
        watching.set()
        watcher.join()
        assert set(seen) == {200}, f"the first worker left readiness during the rebalance: {sorted(set(seen))}"
        status, body = readyz(second)
        assert status == 200 and body["processing"] is False and body["assigned"] == 0, body

        assert first.stop() == 0, first.log_tail()
        deadline = time.monotonic() + 60
        while not readyz(second)[1].get("processing"):
            assert time.monotonic() < deadline, "the spare worker never took the partition over:\n" + \
                second.log_tail()
            time.sleep(0.3)
    finally:
        watching.set()
        if watcher.is_alive():
            watcher.join()
        for worker in (first, second):
            if worker.process is not None and worker.process.poll() is None:
                worker.stop()

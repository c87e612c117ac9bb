"""The worker's group settings (`worker.standby_replicas`, `worker.group_instance_id`) reach Faust, and static
membership works on the real broker: a worker restarted within the session timeout gets its partitions back while
the other worker never stops processing (no rebalance)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import yaml

from sandbox.server import free_port
from schemas.config import Config
from streams.app import create_app
from tests.support.kafka_harness import WorkerProcess, write_config


def test_standby_replicas_and_the_group_instance_id_reach_faust(tmp_path: Path) -> None:
    config = Config.model_validate({"worker": {"state_dir": str(tmp_path), "standby_replicas": 1,
                                               "group_instance_id": "shop-fulfillsync-worker-2"}})
    conf = create_app(config).app.conf
    assert (conf.table_standby_replicas, conf.consumer_group_instance_id) == (1, "shop-fulfillsync-worker-2")
    defaults = create_app(Config.model_validate({"worker": {"state_dir": str(tmp_path)}})).app.conf
    assert defaults.table_standby_replicas == 0 and not defaults.consumer_group_instance_id  # dynamic membership


def static_member(base: Path, folder: Path, instance: str) -> WorkerProcess:
    """A worker of the app configured in `base`, as static member `instance`, with its own port and state."""
    document = yaml.safe_load(base.read_text())
    document["worker"] |= {"web_port": free_port(), "state_dir": str(folder / "state"), "group_instance_id": instance,
                           "broker_session_timeout": "30s"}
    folder.mkdir()
    (folder / "fulfillsync.yaml").write_text(yaml.safe_dump(document))
    return WorkerProcess(folder / "fulfillsync.yaml", folder / "worker.log")


@pytest.mark.kafka
def test_a_static_member_restarted_in_time_takes_its_partitions_back_without_a_rebalance(
        tmp_path: Path, kafka_bootstrap: str) -> None:
    base = write_config(tmp_path, kafka_bootstrap, partitions=2)
    first = static_member(base, tmp_path / "w-0", "w-0").start()
    second = static_member(base, tmp_path / "w-1", "w-1").start()
    reasons: list[str] = []
    done = threading.Event()

    def watch_second() -> None:
        while not done.is_set():
            body = second.http("/readyz")[1]
            reasons.append(json.loads(body)["reason"] if body else "no answer")
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_second)
    try:
        deadline = time.monotonic() + 60
        while not all(json.loads(worker.http("/readyz")[1])["processing"] for worker in (first, second)):
            assert time.monotonic() < deadline, first.log_tail() + second.log_tail()
            time.sleep(0.3)
        assigned = json.loads(first.http("/readyz")[1])["assigned"]
        watcher.start()
        started = time.monotonic()
        assert first.stop() == 0
        first = WorkerProcess(first.config_path, tmp_path / "w-0" / "worker-2.log").start()
        assert time.monotonic() - started < 30, "not back within the session timeout: the test proves nothing"
        time.sleep(3.0)
        done.set()
        watcher.join()
        assert set(reasons) == {"processing"}, f"the other worker rebalanced: {sorted(set(reasons))}"
        answer = json.loads(first.http("/readyz")[1])
        assert answer["processing"] and answer["assigned"] == assigned
    finally:
        done.set()
        if watcher.is_alive():
            watcher.join()
        for worker in (first, second):
            if worker.process is not None and worker.process.poll() is None:
                worker.stop()

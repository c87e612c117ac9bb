"""SIGTERM while the worker is busy (streams/kit/worker_app.py), on the real broker: a buyer's store that takes a
minute to answer its order listing holds a poll in flight; the worker exits within a stated bound, logging what it
did not wait for, and after the restart the tick it had taken is polled again and the order is published once."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from sandbox.merchant import Merchant
from sandbox.server import free_port
from sandbox.settings import StoreSettings
from schemas.config_file import load_config
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.worker_app import SHUTDOWN_WAIT_S
from tests.support.kafka_harness import WorkerProcess, drain, reader_from_start
from tests.support.stores import served_store

pytestmark = pytest.mark.kafka

TOKEN = "sandbox-token"
EXIT_BOUND_S = SHUTDOWN_WAIT_S + 15
"""The wait for in-flight records, plus stopping the agents, the consumer and the producer."""
STORE_DELAY_S = 60.0


@contextmanager
def slow_buyer_store() -> Iterator[tuple[str, str]]:
    """A BigCommerce buyer store served over HTTP: (its root, the connection's base URL)."""
    with served_store(StoreSettings(platform="bigcommerce", name="slow", credentials={"access_token": TOKEN})) as urls:
        yield urls


def write_config(folder: Path, bootstrap: str, base_url: str) -> Path:
    document = {
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": f"t{uuid.uuid4().hex[:10]}", "partitions": 2},
        "polling": {"interval": "2s"},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(folder / "state"),
                   "broker_session_timeout": "6s"},
        "connections": [
            {"id": "shop-bc", "partner": "shop", "role": "buyer", "platform": "bigcommerce", "base_url": base_url,
             "credentials": {"access_token": "${SHUTDOWN_TEST_TOKEN}"}},
            {"id": "hand", "partner": "hand", "role": "seller", "platform": "manual"},
        ],
        "routes": [{"buyer": "shop-bc", "seller": "hand", "skus": ["HAND-*"]}],
    }
    path = folder / "fulfillsync.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def listing_requests(root: str) -> int:
    counts = httpx.get(f"{root}/_sandbox/requests", timeout=5).json()
    return sum(count for request, count in counts["by_route"].items()
               if request.startswith("GET ") and request.endswith("/v2/orders"))


def test_sigterm_during_a_slow_poll_exits_within_the_bound_and_the_poll_happens_once_after_the_restart(
        tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUTDOWN_TEST_TOKEN", TOKEN)
    with slow_buyer_store() as (root, base_url):
        config_path = write_config(tmp_path, kafka_bootstrap, base_url)
        config = load_config(config_path).config
        ensure_topics(config.kafka)
        names = TopicNames(config.kafka.topic_prefix)

        async def place() -> str:
            async with httpx.AsyncClient(base_url=root) as http:
                return (await Merchant("bigcommerce", http).place_order({"HAND-MUG": 1})).order_ref


        order_ref = asyncio.run(place())
        httpx.post(f"{root}/_sandbox/faults", timeout=5, json={
            "status": 0, "delay_s": STORE_DELAY_S, "times": 1000, "method": "GET", "path": "/v2/orders$"})
        worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
        reader = reader_from_start(kafka_bootstrap, (names.order_events,))
        try:
            deadline = time.monotonic() + 60
            while listing_requests(root) == 0:
                assert time.monotonic() < deadline, "the worker never polled the store:\n" + worker.log_tail()
                time.sleep(0.3)
            time.sleep(1.0)  # the poll is in flight, waiting for the store
            assert worker.process is not None
            started = time.monotonic()
            code = worker.stop(signal.SIGTERM, timeout_s=STORE_DELAY_S + 30)
            took = time.monotonic() - started
            assert took < EXIT_BOUND_S, f"the worker took {took:.1f}s to stop after SIGTERM:\n{worker.log_tail()}"
            assert code == 0, worker.log_tail()
            log = (tmp_path / "worker.log").read_text(errors="replace")
            assert "still in flight" in log and "read again after the restart" in log
            assert [m for m in drain(reader, 1.0)] == [], "nothing was published by the slow poll"

            httpx.delete(f"{root}/_sandbox/faults", timeout=5)
            worker = WorkerProcess(config_path, tmp_path / "worker-2.log").start()
            published: list[dict[str, object]] = []
            deadline = time.monotonic() + 60
            while not published:
                assert time.monotonic() < deadline, "the order was not published after the restart:\n" + \
                    worker.log_tail()
                published += [json.loads(m.value() or b"null") for m in drain(reader, 0.5)]
            published += [json.loads(m.value() or b"null") for m in drain(reader, 6.0)]  # three more polls
            placed = [value for value in published if isinstance(value, dict) and value.get("type") == "order.placed"]
            assert len(placed) == 1, placed
            assert json.dumps(placed[0]).count(order_ref) >= 1
        finally:
            reader.close()
            if worker.process is not None and worker.process.poll() is None:
                worker.stop()

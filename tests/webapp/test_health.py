"""The web app's probes (`webapp.app.health_views`): `/healthz` while the process serves, `/readyz` once the read
model caught up and while the publisher can publish; and `fulfillsync web` answering both on the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from confluent_kafka import KafkaError

from sandbox.server import free_port
from schemas.config import Config
from schemas.topics import TopicNames
from tests.support.kafka_harness import http_get
from tests.support.webapp_fakes import FakePublisher, FakeReadModel
from webapp.app import create_app
from webapp.publisher import KafkaPublisher

SECRET = "s" * 40


def site(ready: list[bool], failure: list[str | None]) -> httpx.AsyncClient:
    """A client of the app whose readiness and publisher failure the test switches through the two lists."""
    app = create_app(Config.model_validate({"web": {"session_secret": SECRET}}), FakeReadModel(), FakePublisher(),
                     ready=lambda: ready[0], publisher_failure=lambda: failure[0])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.asyncio
async def test_healthz_answers_whatever_the_read_model_and_the_publisher_do() -> None:
    async with site([False], ["fatal"]) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"  # the security headers of every response


@pytest.mark.asyncio
async def test_readyz_is_503_until_the_read_model_caught_up_then_200() -> None:
    ready: list[bool] = [False]
    async with site(ready, [None]) as client:
        waiting = await client.get("/readyz")
        ready[0] = True
        caught_up = await client.get("/readyz")
    assert waiting.status_code == 503 and waiting.json() == {"status": "not ready", "reason": "catching up"}
    assert caught_up.status_code == 200 and caught_up.json() == {"status": "ready", "reason": "caught up"}


@pytest.mark.asyncio
async def test_readyz_is_503_once_the_publisher_failed_for_good() -> None:
    failure: list[str | None] = [None]
    async with site([True], failure) as client:
        assert (await client.get("/readyz")).status_code == 200
        failure[0] = "KafkaError{code=OUT_OF_ORDER_SEQUENCE_NUMBER}"
        refused = await client.get("/readyz")
    assert refused.status_code == 503
    assert refused.json()["reason"] == "cannot publish: KafkaError{code=OUT_OF_ORDER_SEQUENCE_NUMBER}"


@pytest.mark.asyncio
async def test_probes_need_no_sign_in_and_take_only_get() -> None:
    async with site([True], [None]) as client:
        assert (await client.get("/readyz")).status_code == 200  # no redirect to /signin
        assert (await client.post("/readyz")).status_code == 405
        assert (await client.post("/healthz")).status_code == 405


def test_the_publisher_remembers_a_fatal_error_and_ignores_the_others() -> None:
    publisher = KafkaPublisher("127.0.0.1:1", TopicNames("t"))
    assert publisher.failure() is None
    publisher._on_error(KafkaError(KafkaError._TRANSPORT, "broker down"))
    assert publisher.failure() is None, "an unreachable broker is not fatal: librdkafka reconnects"
    publisher._on_error(KafkaError(KafkaError._FENCED, "producer fenced", fatal=True))
    publisher._on_error(KafkaError(KafkaError._FATAL, "a later one", fatal=True))
    assert publisher.failure() is not None and "producer fenced" in str(publisher.failure())




@pytest.mark.kafka
def test_fulfillsync_web_answers_its_probes_on_the_real_broker(tmp_path: Path, kafka_bootstrap: str) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": kafka_bootstrap, "topic_prefix": f"t{uuid.uuid4().hex[:10]}"},
        "web": {"host": "127.0.0.1", "port": port, "session_secret": "${HEALTH_TEST_SECRET}"}}))
    log = (tmp_path / "web.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "fulfillsync.cli", "--config", str(config), "web"],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env={**os.environ, "HEALTH_TEST_SECRET": SECRET})
    try:
        deadline = time.monotonic() + 60
        while http_get(f"http://127.0.0.1:{port}/readyz")[0] != 200:
            assert process.poll() is None, (tmp_path / "web.log").read_text()
            assert time.monotonic() < deadline, "not ready within 60 s:\n" + (tmp_path / "web.log").read_text()
            time.sleep(0.3)
        assert http_get(f"http://127.0.0.1:{port}/healthz") == (200, '{"status":"ok"}')
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()

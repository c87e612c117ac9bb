"""On the real broker: `fulfillsync worker` with `worker.log_format: json` writes nothing but JSON lines (Faust's,
aiokafka's, librdkafka's and ours), a line about an order carries its order id, event id and the record's topic,
partition and offset, and the connection's secrets appear nowhere in the log."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.server import free_port
from schemas.config_file import load_config
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from tests.support.kafka_harness import WorkerProcess, write_config
from tests.support.ledger_builders import recorded

pytestmark = pytest.mark.kafka

TOKEN_ENV = "FULFILLSYNC_LOGS_TEST_TOKEN"


def json_config(folder: Path, bootstrap: str) -> Path:
    """The harness's configuration with JSON logs and a seller whose store does not answer (its token is a secret
    from the environment; the worker's polls and order creations fail against it)."""
    path = write_config(folder, bootstrap)
    document = yaml.safe_load(path.read_text())
    document["worker"]["log_format"] = "json"
    document["connections"] = [{"id": "acme-shopify", "partner": "acme", "role": "seller", "platform": "shopify",
                                "base_url": f"http://127.0.0.1:{free_port()}",
                                "credentials": {"access_token": f"${{{TOKEN_ENV}}}"},
                                "webhook_secret": f"${{{TOKEN_ENV}}}"}]
    document["polling"] = {"interval": "2s"}
    path.write_text(yaml.safe_dump(document))
    return path


def parsed(log: Path) -> list[dict[str, Any]]:
    """Every line of the worker's standard output and error, as JSON (fails on the first that is not)."""
    lines = []
    for number, text in enumerate(log.read_text(errors="replace").splitlines(), 1):
        try:
            line = json.loads(text)
        except ValueError:
            pytest.fail(f"{log}:{number} is not JSON: {text[:300]!r}")
        assert isinstance(line, dict) and {"time", "level", "logger", "message"} <= set(line), text[:300]
        lines.append(line)
    return lines


def test_a_json_worker_logs_only_json_lines_with_each_records_context_and_no_secret(
        tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    token = f"shpat_{secrets.token_hex(12)}"
    monkeypatch.setenv(TOKEN_ENV, token)  # the worker process inherits it
    config_path = json_config(tmp_path, kafka_bootstrap)
    config = load_config(config_path).config
    ensure_topics(config.kafka)
    names = TopicNames(config.kafka.topic_prefix)
    log = tmp_path / "worker.log"
    worker = WorkerProcess(config_path, log).start()
    producer = EventProducer(kafka_bootstrap, source="/tests")
    order_id = f"ORD-LOGS-{secrets.token_hex(4)}"
    try:
        # a fulfillment of an order the ledger does not know yet: held, and logged as such
        producer.publish(names.fulfillment_events, recorded(order_id=order_id, event_id=f"{order_id}-F1"))
        producer.flush()
        deadline = time.monotonic() + 60
        while not any(line.get("order_id") == order_id for line in parsed(log)):
            assert time.monotonic() < deadline, f"no line about {order_id}:\n{worker.log_tail()}"
            time.sleep(0.5)
        time.sleep(3)  # a poll slot or two of the seller that does not answer
    finally:
        assert worker.stop() == 0, worker.log_tail()
    lines = parsed(log)
    [about] = [line for line in lines if line.get("order_id") == order_id and line["logger"].startswith("streams.")]
    assert about["event_id"] == f"{order_id}-F1" and about["topic"] == names.fulfillment_events
    assert isinstance(about["partition"], int) and isinstance(about["offset"], int)
    assert order_id in about["message"] and about["level"] == "INFO"
    assert {"faust.worker", "aiokafka.consumer.group_coordinator"} <= {line["logger"] for line in lines}
    assert any(line["message"] == "[^_Worker]: Ready" for line in lines)
    assert token not in log.read_text(errors="replace")

"""Running the operators' tools as an operator does (`python -m fulfillsync.cli --config FILE ...`), and waiting
for the worker to have read everything published so far."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from fulfillsync.ops.offsets import committed_offsets
from fulfillsync.ops.reading import TopicRange
from schemas.config import KafkaSettings
from schemas.topics import TopicNames
from streams.kit.kafka_clients import new_admin
from tests.support.cli import run_cli


def tool(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`fulfillsync --config CONFIG_PATH ARGS...` as a separate process, its output captured."""
    return run_cli("--config", str(config_path), *args)


def tool_json(config_path: Path, *args: str) -> Any:
    """The JSON a tool prints with `--json`; fails the test with its stderr when it exits with an error."""
    result = tool(config_path, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def committed(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    """The worker's committed offsets on `topic`, by partition (absent: none)."""
    with TopicRange(kafka, topic) as span:
        partitions = [item.partition for item in span.spans]
    return committed_offsets(new_admin(kafka), TopicNames(kafka.topic_prefix).app_id, topic, partitions)


def wait_until_read(kafka: KafkaSettings, topics: tuple[str, ...], timeout_s: float = 90) -> None:
    """Wait until the worker's consumer group has committed the end (now) of every partition of `topics`: every
    record published so far was handled by every agent reading it."""
    ends: dict[tuple[str, int], int] = {}
    for topic in topics:
        with TopicRange(kafka, topic) as span:
            ends.update({(topic, item.partition): item.end for item in span.spans})
    deadline = time.monotonic() + timeout_s
    while True:
        behind = {key: end for key, end in ends.items() if committed(kafka, key[0]).get(key[1], -1) < end}
        if not behind:
            return
        assert time.monotonic() < deadline, f"the worker did not read up to {behind} within {timeout_s:.0f}s"
        time.sleep(1.0)

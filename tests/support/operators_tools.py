"""Running the operators' tools as an operator does (`python -m fulfillsync.cli --config FILE ...`), and waiting
for the worker to have read everything published so far."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from fulfillsync.ops.reading import TopicRange
from schemas.config import KafkaSettings
from schemas.topics import TopicNames
from streams.kit.kafka_clients import new_admin


def tool(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`fulfillsync --config CONFIG_PATH ARGS...` as a separate process, its output captured."""
    return subprocess.run([sys.executable, "-m", "fulfillsync.cli", "--config", str(config_path), *args],
                          capture_output=True, text=True, timeout=180, check=False)


def tool_json(config_path: Path, *args: str) -> Any:
    """The JSON a tool prints with `--json`; fails the test with its stderr when it exits with an error."""
    result = tool(config_path, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def committed(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    """The worker's committed offsets on `topic`, by partition (-1: none)."""
    names = TopicNames(kafka.topic_prefix)
    with TopicRange(kafka, topic) as span:
        partitions = [item.partition for item in span.spans]
    admin = new_admin(kafka)  # kept until the future completes: a collected client never completes it
    request = ConsumerGroupTopicPartitions(names.app_id, [TopicPartition(topic, p) for p in partitions])
    [future] = admin.list_consumer_group_offsets([request]).values()
    return {item.partition: item.offset for item in future.result(timeout=30).topic_partitions}


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

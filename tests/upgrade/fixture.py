"""The format of an upgrade fixture (`tests/fixtures/upgrade/<release>/`), shared by `tests/upgrade/capture.py`,
which writes one, and the tests that read one back.

- `records.jsonl`: every record of every topic of the scenario's prefix, one JSON object per line:
  `{"topic", "partition", "offset", "timestamp", "key", "value", "headers"}`, with key and value base64 (null
  when absent), `timestamp` in epoch milliseconds (the record's CreateTime) and headers as `[[name, base64]]`
  (a header without a value: `[name, null]`). Lines are in topic, partition, offset order.
- `meta.json`: the release and commit that wrote them, the topic prefix and partition count, each topic's partition
  count and configuration (`cleanup.policy`, `retention.ms`), the worker consumer group's committed offsets, the
  connections and the orders of the scenario (see `tests/upgrade/capture.py`).
- `config.yaml`: the worker's configuration with placeholder base URLs (`http://<connection id>.store.invalid`
  followed by the platform's API base path) and credentials as `${ENV}` references.

This module only reads and writes that format: it imports nothing of fulfillsync's, so it keeps working whatever
`streams/` becomes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDS = "records.jsonl"
META = "meta.json"
CONFIG = "config.yaml"
PLACEHOLDER_HOST = "store.invalid"
"""`base_url`s in `config.yaml` are `http://<connection id>.store.invalid<API base path>`."""


@dataclass(frozen=True)
class FixtureRecord:
    """One Kafka record as it was stored."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]

    @property
    def where(self) -> str:
        """`topic:partition:offset`, to name the record in a failure."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                "timestamp": self.timestamp, "key": _b64(self.key), "value": _b64(self.value),
                "headers": [[name, _b64(value)] for name, value in self.headers]}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> FixtureRecord:
        return cls(topic=str(document["topic"]), partition=int(document["partition"]),
                   offset=int(document["offset"]), timestamp=int(document["timestamp"]),
                   key=_unb64(document["key"]), value=_unb64(document["value"]),
                   headers=tuple((str(name), _unb64(value)) for name, value in document["headers"]))


@dataclass(frozen=True)
class Fixture:
    """A loaded fixture folder."""

    folder: Path
    meta: dict[str, Any]
    records: tuple[FixtureRecord, ...]

    @property
    def prefix(self) -> str:
        return str(self.meta["topic_prefix"])

    @property
    def topics(self) -> dict[str, dict[str, Any]]:
        """Topic name -> `{"partitions": n, "config": {...}, "records": n}`."""
        return dict(self.meta["topics"])

    def of(self, topic: str) -> list[FixtureRecord]:
        return [record for record in self.records if record.topic == topic]

    def end_offsets(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the offset after the last record (0 for an empty partition)."""
        ends = {(topic, partition): 0 for topic, info in self.topics.items() for partition in range(info["partitions"])}
        for record in self.records:
            ends[record.topic, record.partition] = max(ends[record.topic, record.partition], record.offset + 1)
        return ends


def load(folder: Path) -> Fixture:
    """Read a fixture folder; raises OSError or ValueError when a file is missing or malformed."""
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    lines = (folder / RECORDS).read_text(encoding="utf-8").splitlines()
    return Fixture(folder, meta, tuple(FixtureRecord.from_json(json.loads(line)) for line in lines if line.strip()))


def write_records(path: Path, records: list[FixtureRecord]) -> None:
    ordered = sorted(records, key=lambda record: (record.topic, record.partition, record.offset))
    path.write_text("".join(json.dumps(record.to_json(), separators=(",", ":")) + "\n" for record in ordered),
                    encoding="utf-8")


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text, validate=True)

"""Running real workers against a real broker in tests: a config per test (own topic prefix, state dir and web
port), the worker as its own process, an idempotent producer, and a reader of everything the worker published."""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, KafkaError, TopicPartition

from sandbox.server import free_port
from schemas.cloudevents import header_map
from schemas.config import Config, KafkaSettings
from schemas.config_file import load_config
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.kafka_clients import librdkafka_settings
from streams.kit.producer import EventProducer

WORKER_READY_TIMEOUT_S = 120.0


def port_below_ephemeral_range(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on, below the kernel's range of ephemeral ports: for a broker a test stops and starts
    again. While it is down its clients keep reconnecting, each attempt from a new ephemeral port, and one attempt
    from the broker's own port connects to itself (a TCP self-connect) and holds the port: the broker could not
    start again. Raises RuntimeError when no such port is free."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default; elsewhere the range differs, and this is a best effort
    chooser = random.Random()
    for _ in range(200):
        port = chooser.randrange(20_000, low)
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between 20000 and {low} on {host}")


def write_config(folder: Path, bootstrap: str, *, partitions: int = 2) -> Path:
    """A config file for one test: unique topic prefix, its own state dir and web port."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    document = {
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": prefix, "partitions": partitions},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(folder / "state"),
                   "broker_session_timeout": "6s"},
    }
    path = folder / "fulfillsync.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def http_get(url: str) -> tuple[int, str]:
    """(status, body) of a GET of `url`; (0, "") when nothing answers within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()
    except OSError:
        return 0, ""


@dataclass
class WorkerProcess:
    """`fulfillsync worker` as a child process, with its output in a log file."""

    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Config:
        return load_config(self.config_path).config

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fulfillsync.cli", "--config", str(self.config_path), "worker"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.http("/readyz")[0] == 200:
                return self
            time.sleep(0.3)
        raise AssertionError(f"worker not ready within {WORKER_READY_TIMEOUT_S:.0f}s:\n{self.log_tail()}")

    def http(self, path: str) -> tuple[int, str]:
        return http_get(f"http://127.0.0.1:{self.config.worker.web_port}{path}")

    def metric(self, sample: str) -> float:
        """The value of one sample (`name{labels}`, exactly as /metrics prints it) on the worker, 0 when absent."""
        status, text = self.http("/metrics")
        assert status == 200, f"/metrics answered {status}"
        values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(sample + " ")]
        return values[0] if values else 0.0

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 60.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"worker ignored {sig.name} for {timeout_s:.0f}s:\n{self.log_tail()}") from None
        return int(self.process.returncode)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Published:
    """A record the worker published, parsed, with its headers."""

    topic: str
    key: str | None
    value: dict[str, Any]
    headers: dict[str, str]


def reader_settings(kafka: KafkaSettings) -> dict[str, Any]:
    """Client settings for `reader_from_start` (and `OutputReader`, `marketplace.Topics`) to read a configuration's
    topics as its own principal: its connection and security settings, and a consumer group under its topic
    prefix, which the ACLs on that prefix cover."""
    return {**librdkafka_settings(kafka), "group.id": f"{kafka.topic_prefix}-test-reader-{uuid.uuid4()}"}


def reader_from_start(bootstrap: str, topics: tuple[str, ...], settings: Mapping[str, Any] | None = None) -> Consumer:
    """A consumer assigned to offset 0 of every partition of `topics` (no group offsets, no commits). Waits up to
    10 s for topics created moments ago to show in the broker's metadata. `settings` (e.g. `reader_settings`) are
    added to (and override) the consumer's own: a secured broker's security settings, another group id."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest", **(settings or {})})
    deadline = time.monotonic() + 10
    metadata = consumer.list_topics(timeout=10)
    while not all(metadata.topics.get(topic) and metadata.topics[topic].partitions for topic in topics):
        assert time.monotonic() < deadline, f"topics {topics} not in the broker's metadata after 10 s"
        time.sleep(0.2)
        metadata = consumer.list_topics(timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for topic in topics for p in metadata.topics[topic].partitions])
    return consumer


def drain(consumer: Consumer, seconds: float) -> list[Any]:
    """Every record `consumer` receives within `seconds` (end-of-partition notices skipped, other errors fail)."""
    received: list[Any] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = consumer.poll(0.1)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            assert error.code() == KafkaError._PARTITION_EOF, error
            continue
        received.append(message)
    return received


@dataclass
class OutputReader:
    """Reads shipped-orders and dead-letters from the beginning, accumulating every record seen."""

    bootstrap: str
    names: TopicNames
    records: list[Published] = field(default_factory=list)
    settings: Mapping[str, Any] | None = None
    """Added to the consumer's settings (`reader_from_start`)."""

    def __post_init__(self) -> None:
        self._consumer = reader_from_start(self.bootstrap, (self.names.shipped_orders, self.names.dead_letters),
                                           self.settings)

    def poll(self, seconds: float = 0.5) -> None:
        for message in drain(self._consumer, seconds):
            key = message.key()
            self.records.append(Published(
                topic=str(message.topic()), key=key.decode() if key else None,
                value=json.loads(message.value() or b"null"), headers=header_map(message.headers())))

    def wait_for(self, condition: Callable[[list[Published]], bool], timeout_s: float = 60.0,
                 what: str = "the expected records") -> list[Published]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll(0.3)
            if condition(self.records):
                return self.records
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; saw:\n" +
                             "\n".join(f"{r.value.get('type')} {r.value.get('order_id')} {r.value.get('reason', '')}"
                                       for r in self.records))

    def settle(self, seconds: float = 3.0) -> list[Published]:
        """Keep reading for `seconds` more, so that a record that should not appear has had time to."""
        self.poll(seconds)
        return self.records

    def of(self, kind: str, order_id: str | None = None) -> list[Published]:
        return [r for r in self.records
                if r.value.get("type") == kind and (order_id is None or r.value.get("order_id") == order_id)]

    def close(self) -> None:
        self._consumer.close()


@dataclass
class Pipeline:
    """One test's topics, producer, worker and output reader."""

    config_path: Path
    worker: WorkerProcess
    producer: EventProducer
    reader: OutputReader
    names: TopicNames


@contextmanager
def pipeline(folder: Path, bootstrap: str) -> Iterator[Pipeline]:
    """Set up topics and a started worker; tear everything down afterwards (the worker with SIGTERM)."""
    config_path = write_config(folder, bootstrap)
    config = load_config(config_path).config
    ensure_topics(config.kafka)
    names = TopicNames(config.kafka.topic_prefix)
    worker = WorkerProcess(config_path, folder / "worker.log").start()
    producer = EventProducer(bootstrap, source="/tests")
    reader = OutputReader(bootstrap, names)
    try:
        yield Pipeline(config_path, worker, producer, reader, names)
    finally:
        reader.close()
        if worker.process is not None and worker.process.poll() is None:
            worker.stop(signal.SIGTERM)

"""Throughput of the ledger worker on a real broker, against a raw confluent-kafka pass-through baseline.

    python bench/ledger_throughput.py [--orders 20000] [--fulfillments-per-order 10] [--partitions 4]
                                      [--bootstrap 127.0.0.1:9092] [--timeout 1800]
                                      [--worker-loglevel warning] [--worker-env NAME=VALUE ...] [--no-baseline]

`--worker-env` passes extra environment to the worker (e.g. a Faust setting such as PRODUCER_MAX_BATCH_SIZE), for
A/B experiments without editing the project; `--no-baseline` skips phase 2.

Method
------
Every run uses a fresh topic prefix (`bench-<timestamp>-<pid>`), a temporary config file, state folder and web
port, and deletes its topics, consumer groups and state at the end, even on failure.

Workload (built and encoded before anything is timed, with the project's own factories and `encode_event`):
N orders of K lines of quantity 1, and K `fulfillment.recorded` events per order, each covering one line with
one tracking number. The fulfillment events are interleaved across orders (the first fulfillment of every order,
then the second of every order, ...), so every order ships exactly once, on its last fulfillment, and the
ledger's state of every order is live for the whole run.

1. Ledger. The worker is started as a subprocess (`python -m fulfillsync.cli --config <tmp> worker`) and awaited
   on /readyz. The N `order.placed` events are produced and awaited (the worker's /metrics counts them): this
   phase is timed and reported separately but is NOT part of the headline figure. Then a counting consumer is
   assigned to shipped-orders from the beginning, and the N*K fulfillment events are produced as fast as the
   idempotent producer (`EventProducer`) takes them. Measured: from the first fulfillment produced to the moment
   the counting consumer has seen `order.shipped` for N distinct order ids. Events/s = N*K / that time.
   Correctness: N distinct shipped orders, no other shipped-orders records, an empty dead-letters topic, and the
   worker's own input counters.
2. Baseline. On the same broker, the same pre-encoded fulfillment records are produced (same producer) to a
   baseline input topic with the same partitions; a pass-through process (confluent-kafka consumer in a group,
   `earliest`, and an idempotent producer with `acks=all`) copies each record unchanged to a baseline output
   topic. The pass-through runs in its own process, subscribed and assigned before the first produce, like the
   worker. Measured the same way: first produce to the moment the counting consumer has seen every record's
   `ce_id` on the output topic.

Both figures include producing the inputs (the producer runs concurrently with the consumer side) and the
consumer's view of the outputs; they measure end-to-end throughput on this machine, not the ledger's CPU cost
alone. The worker's peak RSS (VmHWM) and CPU seconds during the fulfillment phase are read from /proc.
Results are printed and written as JSON to bench/results/ledger_throughput-<timestamp>.json, with the commit
measured, the tracked files changed since, and whether the project's sources changed during the run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import OFFSET_BEGINNING, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.cimpl import NewTopic  # confluent_kafka.admin re-exports it, but not for mypy

from sandbox.server import free_port
from schemas.cloudevents import ce_type
from schemas.config import Config
from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef
from schemas.factories import fulfillment_recorded, order_placed
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.kafka_clients import new_admin, new_consumer, new_producer
from streams.kit.producer import EventProducer
from streams.kit.records import EncodedRecord, encode_event

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCH_SOURCE = "/fulfillsync/bench"
SHIPPED_TYPE = ce_type("order.shipped").encode()
BUYER = PartyRef(partner="bench-shop", connection="bench-shop-store", platform="bigcommerce")
SELLER = PartyRef(partner="bench-acme", connection="bench-acme-store", platform="shopify")
SELLER_SOURCE = SourceRef(partner="bench-acme", connection="bench-acme-store", platform="shopify")


# -- arguments and environment -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Args:
    orders: int
    fulfillments_per_order: int
    partitions: int
    bootstrap: str
    timeout: float
    worker_loglevel: str = "warning"
    worker_env: dict[str, str] = field(default_factory=dict)
    baseline: bool = True


def parse_args(argv: Sequence[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=20000, help="orders placed (default 20000)")
    parser.add_argument("--fulfillments-per-order", type=int, default=10,
                        help="lines per order, one fulfillment event each (default 10)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per waiting phase")
    parser.add_argument("--worker-loglevel", default="warning", help="the worker's --loglevel (default warning)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the worker, e.g. a Faust setting (PRODUCER_LINGER=0.01); "
                             "repeatable")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the pass-through baseline")
    ns = parser.parse_args(argv)
    if ns.orders < 1 or ns.fulfillments_per_order < 1 or ns.partitions < 1:
        parser.error("--orders, --fulfillments-per-order and --partitions must be positive")
    if any("=" not in item for item in ns.worker_env):
        parser.error("--worker-env takes NAME=VALUE")
    return Args(orders=ns.orders, fulfillments_per_order=ns.fulfillments_per_order, partitions=ns.partitions,
                bootstrap=ns.bootstrap, timeout=ns.timeout, worker_loglevel=ns.worker_loglevel,
                worker_env=dict(item.split("=", 1) for item in ns.worker_env), baseline=ns.baseline)


def write_config(path: Path, *, args: Args, prefix: str, state_dir: Path, web_port: int) -> Config:
    """Write the worker's config file; returns it parsed by the project's model (which validates it)."""
    document = {
        "kafka": {"bootstrap_servers": args.bootstrap, "topic_prefix": prefix, "partitions": args.partitions,
                  "replication_factor": 1},
        "worker": {"web_host": "127.0.0.1", "web_port": web_port, "state_dir": str(state_dir),
                   "broker_session_timeout": "10s"},
        "connections": [],
        "routes": [],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return Config.model_validate(document)


def machine_summary() -> dict[str, Any]:
    model = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": list(os.getloadavg())}


def code_version() -> dict[str, Any]:
    """The commit measured and the tracked files changed since (read-only git; no index refresh)."""
    environment = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], cwd=ROOT, env=environment, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.rstrip("\n")
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown", "changed_files": changed,
            "source_fingerprint": source_fingerprint()}


def source_fingerprint() -> str:
    """A digest of the paths and modification times of the worker's source files: compared at the start and the
    end of a run, it tells whether the code measured changed while the run was going on."""
    digest = hashlib.sha256()
    for package in ("schemas", "ledger", "streams", "fulfillsync"):
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(f"{path.relative_to(ROOT)}:{path.stat().st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


# -- workload ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    orders: list[EncodedRecord]
    fulfillments: list[EncodedRecord]
    order_ids: frozenset[str]


def build_workload(orders: int, per_order: int, tag: str) -> Workload:
    """N orders of K single-unit lines, and K one-line fulfillments per order, interleaved across orders."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    placed = [order_placed(buyer=BUYER.model_copy(update={"order_ref": f"{tag}-{i}"}), seller=SELLER,
                           lines=[OrderLine(line_id=f"L{j}", sku=f"SKU-{j}", quantity=1) for j in range(per_order)],
                           occurred_at=start + timedelta(milliseconds=i))
              for i in range(orders)]
    fulfillments = [
        fulfillment_recorded(order_id=order.order_id, source=SELLER_SOURCE, fulfillment_id=f"{tag}-{i}-F{j}",
                             source_version=start + timedelta(hours=1, seconds=j, milliseconds=i), carrier="UPS",
                             tracking_numbers=[f"1ZBENCH{i:08d}{j:03d}"], lines=[FulfilledLine(line_id=f"L{j}",
                                                                                               quantity=1)])
        for j in range(per_order) for i, order in enumerate(placed)
    ]

    def encoded(event: Any) -> EncodedRecord:
        return encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                            time=event.occurred_at, source=BENCH_SOURCE)

    return Workload(orders=[encoded(e) for e in placed], fulfillments=[encoded(e) for e in fulfillments],
                    order_ids=frozenset(order.order_id for order in placed))


# -- Kafka helpers -----------------------------------------------------------------------------------------------


def produce_all(bootstrap: str, topic: str, records: Sequence[EncodedRecord]) -> tuple[float, float]:
    """Produce `records` as fast as the idempotent producer takes them; returns (first produce, all acked)."""
    with EventProducer(bootstrap, source=BENCH_SOURCE) as producer:
        started = time.perf_counter()
        for record in records:
            producer.publish_raw(topic, record.key, record.value, record.headers)
        producer.flush(timeout_s=600)
    return started, time.perf_counter()


def create_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    admin = new_admin(bootstrap)
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names])
    for future in futures.values():
        future.result(timeout=30)


def record_count(bootstrap: str, topic: str, partitions: int) -> int:
    """Records on `topic` (sum of high - low watermarks); cheap, no reading."""
    consumer = new_consumer(bootstrap, {"group.id": "bench-watermarks", "enable.auto.commit": False})
    try:
        total = 0
        for partition in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def delete_bench_leftovers(bootstrap: str, prefix: str, groups: Sequence[str]) -> list[str]:
    """Delete every topic whose name starts with the run's prefix, and the run's consumer groups."""
    admin = new_admin(bootstrap)
    topics = [name for name in admin.list_topics(timeout=10).topics if name.startswith((f"{prefix}.", f"{prefix}-"))]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            with suppress(KafkaException):
                future.result(timeout=30)
    if groups:
        for future in admin.delete_consumer_groups(list(groups), request_timeout=10).values():
            with suppress(KafkaException):
                future.result(timeout=10)
    return topics


def header(message: Message, name: str) -> bytes | None:
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    for key, value in pairs:
        if key == name:
            return value.encode() if isinstance(value, str) else value
    return None


class OutputCounter:
    """Counts distinct identities (`identify(message)`, None = not counted) of the records on one topic, read from
    the beginning by an assigned (not subscribed) consumer in a background thread; notes when `target` is reached.
    """

    def __init__(self, bootstrap: str, topic: str, partitions: int, *, target: int,
                 identify: Callable[[Message], str | None]) -> None:
        self.target = target
        self.identities: set[str] = set()
        self.records = 0
        self.uncounted = 0
        self.reached_at: float | None = None
        self._identify = identify
        self._stop = threading.Event()
        self._reached = threading.Event()
        self._consumer = new_consumer(bootstrap, {"group.id": f"{topic}-bench-counter", "enable.auto.commit": False,
                                                  "enable.partition.eof": False})
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        self._thread = threading.Thread(target=self._run, name=f"count-{topic}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(num_messages=1000, timeout=0.1):
                if message.error() is not None:
                    continue
                self.records += 1
                identity = self._identify(message)
                if identity is None:
                    self.uncounted += 1
                    continue
                self.identities.add(identity)
                if self.reached_at is None and len(self.identities) >= self.target:
                    self.reached_at = time.perf_counter()
                    self._reached.set()

    def wait(self, timeout_s: float) -> bool:
        return self._reached.wait(timeout_s)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()


def shipped_order_id(message: Message) -> str | None:
    key = message.key()
    return key.decode() if key is not None and header(message, "ce_type") == SHIPPED_TYPE else None


def event_id_of(message: Message) -> str | None:
    value = header(message, "ce_id")
    return value.decode() if value is not None else None


# -- the worker --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStats:
    vm_hwm_kib: int | None
    vm_rss_kib: int | None
    cpu_seconds: float | None


def proc_stats(pid: int) -> ProcStats:
    """Peak and current RSS and user+system CPU seconds of a live process, from /proc (None where unreadable)."""
    memory: dict[str, int] = {}
    cpu: float | None = None
    with suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                memory[name] = int(rest.split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return ProcStats(memory.get("VmHWM"), memory.get("VmRSS"), cpu)


def start_worker(args: Args, config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "fulfillsync.cli", "--config", str(config_path), "worker",
            "--loglevel", args.worker_loglevel]
    with log_path.open("ab") as log:
        return subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **args.worker_env})


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""
    except OSError:
        return 0, b""


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str, worker: subprocess.Popen[bytes]) -> float:
    """Poll until `predicate()`; returns the seconds waited. Raises if the worker exits or time runs out."""
    started = time.perf_counter()
    while not predicate():
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with code {worker.returncode} while waiting for {what}")
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"{what}: not reached within {timeout_s:.0f}s")
        time.sleep(0.2)
    return time.perf_counter() - started


_SAMPLE = re.compile(r'^fulfillsync_ledger_inputs_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def ledger_inputs(port: int) -> dict[str, int]:
    """The worker's input counters, as `type/status` -> count (empty when /metrics does not answer)."""
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    counts: dict[str, int] = {}
    if status != 200:
        return counts
    for line in body.decode().splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = dict(_LABEL.findall(match["labels"]))
            counts[f"{labels.get('type')}/{labels.get('status')}"] = int(float(match["value"]))
    return counts


def inputs_of_type(counts: dict[str, int], event_type: str) -> int:
    return sum(value for key, value in counts.items() if key.startswith(f"{event_type}/"))


def stop_process(worker: subprocess.Popen[bytes], timeout_s: float = 60) -> int | None:
    """SIGTERM, wait; SIGKILL if it does not stop in time. Returns the exit code."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
    return worker.returncode


def log_tail(path: Path, lines: int = 30) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


# -- phase 1: the ledger -----------------------------------------------------------------------------------------


@dataclass
class LedgerResult:
    events: int
    complete: bool = False
    orders_phase_s: float | None = None
    orders_phase_events_per_s: float | None = None
    produce_s: float | None = None
    elapsed_s: float | None = None
    events_per_s: float | None = None
    shipped_distinct: int = 0
    shipped_records: int = 0
    shipped_not_order_shipped: int = 0
    shipped_unknown_orders: int = 0
    dead_letters: int = 0
    worker_inputs: dict[str, int] = field(default_factory=dict)
    worker_vm_hwm_mib: float | None = None
    worker_vm_rss_mib: float | None = None
    worker_cpu_s_fulfillment_phase: float | None = None
    worker_cpu_utilisation: float | None = None
    worker_exit_code: int | None = None
    correct: bool = False


def _mib(kib: int | None) -> float | None:
    return round(kib / 1024, 1) if kib is not None else None


def run_ledger(args: Args, config: Config, config_path: Path, workload: Workload, log_path: Path) -> LedgerResult:
    names = TopicNames(config.kafka.topic_prefix)
    port = config.worker.web_port
    result = LedgerResult(events=len(workload.fulfillments))
    worker = start_worker(args, config_path, log_path)
    try:
        waited = wait_for(lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200, 120, "/readyz 200", worker)
        say(f"worker ready after {waited:.1f}s (pid {worker.pid}, log {log_path})")
        _orders_phase(args, names, port, workload, worker, result)
        _fulfillment_phase(args, names, port, workload, worker, result)
    finally:
        stats = proc_stats(worker.pid)
        result.worker_vm_hwm_mib, result.worker_vm_rss_mib = _mib(stats.vm_hwm_kib), _mib(stats.vm_rss_kib)
        result.worker_exit_code = stop_process(worker)
    if result.worker_exit_code not in (0, -signal.SIGTERM):
        say(f"worker exit code {result.worker_exit_code}; log tail:\n{log_tail(log_path)}")
    return result


def _orders_phase(args: Args, names: TopicNames, port: int, workload: Workload, worker: subprocess.Popen[bytes],
                  result: LedgerResult) -> None:
    """Produce the order.placed events and wait until the worker has read them all (timed, not in the headline)."""
    started, _ = produce_all(args.bootstrap, names.order_events, workload.orders)
    wanted = len(workload.orders)
    wait_for(lambda: inputs_of_type(ledger_inputs(port), "order.placed") >= wanted, args.timeout,
             f"{wanted} order.placed read by the worker", worker)
    result.orders_phase_s = time.perf_counter() - started
    result.orders_phase_events_per_s = wanted / result.orders_phase_s
    say(f"order.placed phase: {wanted} events applied in {result.orders_phase_s:.1f}s "
        f"({result.orders_phase_events_per_s:,.0f} events/s; not part of the headline figure)")


def _fulfillment_phase(args: Args, names: TopicNames, port: int, workload: Workload,
                      worker: subprocess.Popen[bytes], result: LedgerResult) -> None:
    counter = OutputCounter(args.bootstrap, names.shipped_orders, args.partitions, target=len(workload.order_ids),
                            identify=shipped_order_id)
    try:
        cpu_before = proc_stats(worker.pid).cpu_seconds
        say(f"producing {len(workload.fulfillments):,} fulfillment.recorded events ...")
        started, acked = produce_all(args.bootstrap, names.fulfillment_events, workload.fulfillments)
        result.produce_s = acked - started
        say(f"  produced and acknowledged in {result.produce_s:.1f}s; waiting for {counter.target:,} shipped orders")
        with progress(lambda: f"{len(counter.identities):,} shipped, worker read "
                      f"{inputs_of_type(ledger_inputs(port), 'fulfillment.recorded'):,} fulfillments"):
            result.complete = _wait_counter(counter, args.timeout, worker)
        cpu_after = proc_stats(worker.pid).cpu_seconds
        if result.complete and counter.reached_at is not None:
            result.elapsed_s = counter.reached_at - started
            result.events_per_s = result.events / result.elapsed_s
            if cpu_before is not None and cpu_after is not None:
                result.worker_cpu_s_fulfillment_phase = round(cpu_after - cpu_before, 2)
                result.worker_cpu_utilisation = round((cpu_after - cpu_before) / result.elapsed_s, 2)
        time.sleep(2.0)  # let any straggling output (a duplicate, a dead letter) arrive before checking
        result.worker_inputs = ledger_inputs(port)
    finally:
        counter.close()
    result.shipped_distinct = len(counter.identities)
    result.shipped_records = record_count(args.bootstrap, names.shipped_orders, args.partitions)
    result.shipped_not_order_shipped = counter.uncounted
    result.shipped_unknown_orders = len(counter.identities - workload.order_ids)
    result.dead_letters = record_count(args.bootstrap, names.dead_letters, args.partitions)
    result.correct = (result.complete and result.shipped_distinct == len(workload.order_ids)
                      and result.shipped_records == len(workload.order_ids) and result.shipped_unknown_orders == 0
                      and result.dead_letters == 0)


def _wait_counter(counter: OutputCounter, timeout_s: float, worker: subprocess.Popen[bytes] | None) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if counter.wait(1.0):
            return True
        if worker is not None and worker.poll() is not None:
            say(f"the worker exited with code {worker.returncode}")
            return False
    return False


@contextmanager
def progress(describe: Callable[[], str], every_s: float = 15.0) -> Iterator[None]:
    """Print `describe()` every `every_s` seconds while the block runs."""
    done = threading.Event()

    def report() -> None:
        while not done.wait(every_s):
            say(f"  ... {describe()}")

    thread = threading.Thread(target=report, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


# -- phase 2: the raw pass-through baseline ----------------------------------------------------------------------


@dataclass
class BaselineResult:
    events: int
    complete: bool = False
    produce_s: float | None = None
    elapsed_s: float | None = None
    events_per_s: float | None = None
    distinct_out: int = 0
    records_out: int = 0
    passthrough_vm_hwm_mib: float | None = None


def passthrough(bootstrap: str, source: str, sink: str, group: str, ready: EventType, stop: EventType) -> None:
    """Copy every record of `source` to `sink` unchanged (runs in its own process)."""
    consumer = new_consumer(bootstrap, {"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": True})
    producer = new_producer(bootstrap, {"enable.idempotence": True, "acks": "all", "linger.ms": 5})
    consumer.subscribe([source], on_assign=lambda _consumer, _partitions: ready.set())
    try:
        while not stop.is_set():
            for message in consumer.consume(num_messages=1000, timeout=0.1):
                if message.error() is None:
                    _produce(producer, sink, message)
            producer.poll(0)
    finally:
        producer.flush(30)
        consumer.close()


def _produce(producer: Producer, topic: str, message: Message) -> None:
    while True:
        try:
            producer.produce(topic, key=message.key(), value=message.value(), headers=message.headers())
            return
        except BufferError:
            producer.poll(0.05)


def run_baseline(args: Args, prefix: str, workload: Workload) -> BaselineResult:
    source, sink, group = f"{prefix}.baseline-in", f"{prefix}.baseline-out", f"{prefix}-baseline"
    create_topics(args.bootstrap, [source, sink], args.partitions)
    result = BaselineResult(events=len(workload.fulfillments))
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    child = context.Process(target=passthrough, args=(args.bootstrap, source, sink, group, ready, stop),
                            name="bench-passthrough")
    child.start()
    counter = OutputCounter(args.bootstrap, sink, args.partitions, target=result.events, identify=event_id_of)
    try:
        if not ready.wait(60):
            raise TimeoutError("the pass-through process got no partitions within 60s")
        say(f"pass-through ready (pid {child.pid}); producing {result.events:,} records ...")
        started, acked = produce_all(args.bootstrap, source, workload.fulfillments)
        result.produce_s = acked - started
        result.complete = _wait_counter(counter, args.timeout, None)
        if result.complete and counter.reached_at is not None:
            result.elapsed_s = counter.reached_at - started
            result.events_per_s = result.events / result.elapsed_s
        time.sleep(1.0)
    finally:
        counter.close()
        if child.pid is not None:
            result.passthrough_vm_hwm_mib = _mib(proc_stats(child.pid).vm_hwm_kib)
        stop.set()
        child.join(60)
        if child.is_alive():
            child.kill()
    result.distinct_out = len(counter.identities)
    result.records_out = record_count(args.bootstrap, sink, args.partitions)
    return result


# -- reporting ---------------------------------------------------------------------------------------------------


def say(text: str) -> None:
    print(f"{datetime.now():%H:%M:%S}  {text}", flush=True)


def _rate(value: float | None) -> str:
    return f"{value:>10,.0f} events/s" if value is not None else "       n/a"


def print_report(report: dict[str, Any]) -> None:
    ledger: LedgerResult = report["ledger_result"]
    baseline: BaselineResult | None = report["baseline_result"]
    machine = report["machine"]
    ratio = report["ratio_ledger_to_baseline"]
    lines = [
        "",
        "=" * 78,
        f"ledger throughput  {report['orders']:,} orders x {report['fulfillments_per_order']} fulfillments = "
        f"{ledger.events:,} fulfillment events, {report['partitions']} partitions",
        f"worker --loglevel {report['worker_loglevel']}"
        + (f", environment {report['worker_env']}" if report["worker_env"] else ""),
        "-" * 78,
        f"ledger    {_rate(ledger.events_per_s)}   ({_secs(ledger.elapsed_s)} first produce -> last order.shipped;"
        f" produce {_secs(ledger.produce_s)})",
        f"baseline  {_rate(baseline.events_per_s if baseline else None)}   "
        f"({_secs(baseline.elapsed_s if baseline else None)} raw consume->produce pass-through)",
        f"ratio     {ratio:>10.3f}   (ledger / baseline)" if ratio is not None else "ratio            n/a",
        f"order.placed phase (excluded): {_secs(ledger.orders_phase_s)}, {_rate(ledger.orders_phase_events_per_s)}",
        f"worker    peak RSS (VmHWM) {ledger.worker_vm_hwm_mib} MiB, RSS at end {ledger.worker_vm_rss_mib} MiB, "
        f"CPU {ledger.worker_cpu_s_fulfillment_phase}s in the fulfillment phase "
        f"({ledger.worker_cpu_utilisation} cores)",
        f"correct   {'YES' if ledger.correct else 'NO'}: shipped orders "
        f"{ledger.shipped_distinct:,}/{report['orders']:,} distinct, "
        f"{ledger.shipped_records:,} shipped-orders records, "
        f"{ledger.shipped_not_order_shipped} not order.shipped, dead letters {ledger.dead_letters}",
        f"worker    inputs {ledger.worker_inputs}",
    ]
    if baseline:
        lines.append(f"baseline  {baseline.distinct_out:,}/{baseline.events:,} distinct records out, "
                     f"{baseline.records_out:,} on the output topic, pass-through peak RSS "
                     f"{baseline.passthrough_vm_hwm_mib} MiB")
    lines += [
        f"machine   {machine['cores']} cores, {machine['cpu_model']}, Python {machine['python']}, "
        f"load average at start {', '.join(f'{x:.2f}' for x in machine['load_average_at_start'])}",
        f"code      {report['code']['commit']}"
        + (f" + uncommitted changes to {', '.join(report['code']['changed_files'])}"
           if report["code"]["changed_files"] else "")
        + (" (source CHANGED during the run)" if report["code"]["changed_during_run"] else ""),
        "=" * 78,
    ]
    print("\n".join(lines), flush=True)


def _secs(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else "n/a"


def write_results(report: dict[str, Any], stamp: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"ledger_throughput-{stamp}.json"
    serialisable = {key: (asdict(value) if hasattr(value, "__dataclass_fields__") else value)
                    for key, value in report.items()}
    path.write_text(json.dumps(serialisable, indent=2) + "\n")
    return path


# -- main --------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    prefix = f"bench-{stamp.lower()}-{os.getpid()}"
    machine = machine_summary()
    version = code_version()
    say(f"code {version['commit']}" + (f" with changes to {', '.join(version['changed_files'])}"
                                       if version["changed_files"] else " (clean)"))
    say(f"run {prefix}: {args.orders:,} orders x {args.fulfillments_per_order} fulfillments, "
        f"{args.partitions} partitions, broker {args.bootstrap}, {machine['cores']} cores")
    temp = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    config_path = temp / "config.yaml"
    config = write_config(config_path, args=args, prefix=prefix, state_dir=temp / "state", web_port=free_port())
    ledger: LedgerResult | None = None
    baseline: BaselineResult | None = None
    try:
        built = time.perf_counter()
        workload = build_workload(args.orders, args.fulfillments_per_order, prefix)
        say(f"built and encoded {len(workload.orders):,} orders and {len(workload.fulfillments):,} fulfillments "
            f"in {time.perf_counter() - built:.1f}s")
        ensure_topics(config.kafka)
        ledger = run_ledger(args, config, config_path, workload, temp / "worker.log")
        baseline = run_baseline(args, prefix, workload) if args.baseline else None
    finally:
        deleted = delete_bench_leftovers(args.bootstrap, prefix,
                                         [TopicNames(prefix).app_id, f"{prefix}-baseline"])
        shutil.rmtree(temp, ignore_errors=True)
        say(f"cleaned up: {len(deleted)} topics deleted, {temp} removed")
    version["changed_during_run"] = source_fingerprint() != version["source_fingerprint"]
    if version["changed_during_run"]:
        say("WARNING: the project's source files changed during this run; the figures may mix two versions")
    ratio = (ledger.events_per_s / baseline.events_per_s
             if ledger.events_per_s and baseline and baseline.events_per_s else None)
    report = {"run": prefix, "timestamp": stamp, "orders": args.orders,
              "fulfillments_per_order": args.fulfillments_per_order, "partitions": args.partitions,
              "bootstrap": args.bootstrap, "worker_loglevel": args.worker_loglevel,
              "worker_env": args.worker_env, "headline": "fulfillment events only; order.placed applied beforehand",
              "ledger_result": ledger, "baseline_result": baseline, "ratio_ledger_to_baseline": ratio,
              "machine": machine, "code": version}
    print_report(report)
    say(f"results written to {write_results(report, stamp)}")
    return 0 if ledger.correct and (baseline is None or baseline.complete) else 1


if __name__ == "__main__":
    sys.exit(main())

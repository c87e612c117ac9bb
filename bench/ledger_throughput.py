"""Throughput of the ledger worker on a real broker, beside the Faust floor and a raw confluent-kafka pass-through.

    python bench/ledger_throughput.py [--orders 20000] [--fulfillments-per-order 10] [--partitions 4]
                                      [--workers 1 [2]] [--bootstrap 127.0.0.1:9092] [--timeout 1800]
                                      [--worker-loglevel warning] [--worker-env NAME=VALUE ...]
                                      [--no-floor] [--no-baseline]

One invocation measures, on the same broker and with the same pre-encoded fulfillment records: the ledger worker
(once per `--workers` count), the Faust floor (`bench/faust_floor.py`'s agents) and the raw pass-through, and prints
the three headline figures (ledger, Faust agent writing one table entry per event, raw pass-through) and the ratios
ledger / floor and ledger / raw. `--no-floor` and `--no-baseline` skip those parts. `--worker-env` passes extra
environment to the workers (e.g. a Faust setting such as PRODUCER_MAX_BATCH_SIZE), for A/B experiments without
editing the project. Rebalancing under load (a worker added, then one killed, mid-run) is `bench/rebalance.py`.

Method
------
Every run uses a fresh topic prefix (`bench-<timestamp>-<pid>`, plus `-w<N>` per worker count), temporary config
files, state folders and web ports, and deletes its topics, consumer groups and state at the end, even on failure.

Workload (built and encoded before anything is timed, with the project's own factories and `encode_event`):
N orders of K lines of quantity 1, and K `fulfillment.recorded` events per order, each covering one line with
one tracking number. The fulfillment events are interleaved across orders (the first fulfillment of every order,
then the second of every order, ...), so every order ships exactly once, on its last fulfillment, and the
ledger's state of every order is live for the whole run.

1. Ledger, once per `--workers` count W (1 or 2; at most the partition count), each on fresh topics. W worker
   processes of the same app (`python -m fulfillsync.cli --config <tmp> worker`) share the topics and the consumer
   group (the app id); each has its own config file, state folder and web port. They are started together and
   awaited until every one answers /readyz with `processing` true and the assignments have stayed the same for
   3 seconds (the group has settled). The N `order.placed` events are produced and awaited (the workers' /metrics
   count them): this phase is timed and reported separately but is NOT part of the headline figure. Then a
   counting consumer is assigned to shipped-orders from the beginning, and the N*K fulfillment events are produced
   as fast as the idempotent producer (`EventProducer`) takes them. Measured: from the first fulfillment produced
   to the moment the counting consumer has seen `order.shipped` for N distinct order ids. Events/s = N*K / that
   time. Correctness: N distinct shipped orders, no other shipped-orders records, an empty dead-letters topic, and
   the workers' own input counters (summed). With 2 workers on a 2-core machine, the workers, the producer, the
   counting consumer and the broker share those 2 cores: the 2-worker figure shows what the machine gives, not
   what a second core per worker would.
2. Faust floor (`bench/faust_floor.py`, `faust_pass`): a Faust agent with the worker's transport, store and
   producer settings, in its own process on a fresh input topic of the same partitions, first writing one RocksDB
   table entry per event (key: the order id, value: the record; one changelog record per event: the least the
   ledger does per event), then only iterating. It reads the same N*K fulfillment records, produced by the same
   producer once the agent's first rebalance is complete. Measured from the first record produced to the agent's
   N*K-th record.
3. Raw pass-through. On the same broker, the same records are produced (same producer) to a baseline input topic
   with the same partitions; a pass-through process (confluent-kafka consumer in a group, `earliest`, and an
   idempotent producer with `acks=all`) copies each record unchanged to a baseline output topic. The pass-through
   runs in its own process, subscribed and assigned before the first produce, like the worker. Measured the same
   way: first produce to the moment the counting consumer has seen every record's `ce_id` on the output topic.

All figures include producing the inputs (the producer runs concurrently with the consumer side); the ledger's
and the pass-through's also include the consumer's view of the outputs. They measure end-to-end throughput on this
machine, not the ledger's CPU cost alone. The workers' peak RSS (VmHWM) and CPU seconds during the fulfillment
phase are read from /proc. Results are printed and written as JSON to
bench/results/ledger_throughput-<timestamp>.json, with the machine, the commit measured, the tracked files changed
since, and whether the project's sources changed during the run.
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
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.cimpl import NewTopic  # confluent_kafka.admin re-exports it, but not for mypy

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `bench.faust_floor` when run as a script

from bench.faust_floor import faust_pass  # noqa: E402
from sandbox.server import free_port  # noqa: E402
from schemas.cloudevents import ce_type  # noqa: E402
from schemas.config import Config  # noqa: E402
from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef  # noqa: E402
from schemas.factories import fulfillment_recorded, order_placed  # noqa: E402
from schemas.topics import TopicNames  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.kit.kafka_clients import new_admin, new_consumer, new_producer  # noqa: E402
from streams.kit.producer import EventProducer  # noqa: E402
from streams.kit.records import EncodedRecord, encode_event  # noqa: E402

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
    floor: bool = True
    workers: tuple[int, ...] = (1,)


def parse_args(argv: Sequence[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=20000, help="orders placed (default 20000)")
    parser.add_argument("--fulfillments-per-order", type=int, default=10,
                        help="lines per order, one fulfillment event each (default 10)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], metavar="N",
                        help="worker processes of the ledger app; several counts (e.g. 1 2) measure each in turn, "
                             "on fresh topics (default 1)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per waiting phase")
    parser.add_argument("--worker-loglevel", default="warning", help="the worker's --loglevel (default warning)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the worker, e.g. a Faust setting (PRODUCER_LINGER=0.01); "
                             "repeatable")
    parser.add_argument("--no-floor", dest="floor", action="store_false", help="skip the Faust floor passes")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the pass-through baseline")
    ns = parser.parse_args(argv)
    if ns.orders < 1 or ns.fulfillments_per_order < 1 or ns.partitions < 1:
        parser.error("--orders, --fulfillments-per-order and --partitions must be positive")
    if any(not 1 <= count <= ns.partitions for count in ns.workers):
        parser.error("--workers: each count must be between 1 and --partitions (a worker beyond the partition "
                     "count holds nothing)")
    if any("=" not in item for item in ns.worker_env):
        parser.error("--worker-env takes NAME=VALUE")
    return Args(orders=ns.orders, fulfillments_per_order=ns.fulfillments_per_order, partitions=ns.partitions,
                bootstrap=ns.bootstrap, timeout=ns.timeout, worker_loglevel=ns.worker_loglevel,
                worker_env=dict(item.split("=", 1) for item in ns.worker_env), baseline=ns.baseline,
                floor=ns.floor, workers=tuple(dict.fromkeys(ns.workers)))


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


def reader_from_start(bootstrap: str, topic: str, partitions: int, *, group: str) -> Consumer:
    """A consumer assigned (not subscribed) to every partition of `topic` from the beginning, committing nothing."""
    consumer = new_consumer(bootstrap, {"group.id": group, "enable.auto.commit": False,
                                        "enable.partition.eof": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    return consumer


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
        self._consumer = reader_from_start(bootstrap, topic, partitions, group=f"{topic}-bench-counter")
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


def log_tail(path: Path | None, lines: int = 30) -> str:
    if path is None:
        return ""
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@dataclass
class WorkerHandle:
    """One worker process of the ledger app: its name, config file, web port, log file and process."""

    name: str
    config_path: Path | None
    port: int
    log_path: Path | None
    process: subprocess.Popen[bytes]


def worker_config(args: Args, folder: Path, prefix: str, name: str) -> tuple[Path, Config]:
    """A config file for one worker of the app under `prefix`: the same topics and consumer group as its siblings,
    its own state folder (`folder/<name>-state`) and a free web port; written to `folder/<name>.yaml`."""
    path = folder / f"{name}.yaml"
    return path, write_config(path, args=args, prefix=prefix, state_dir=folder / f"{name}-state",
                              web_port=free_port())


def launch_worker(args: Args, folder: Path, prefix: str, name: str) -> WorkerHandle:
    config_path, config = worker_config(args, folder, prefix, name)
    log_path = folder / f"{name}.log"
    return WorkerHandle(name=name, config_path=config_path, port=config.worker.web_port, log_path=log_path,
                        process=start_worker(args, config_path, log_path))


def readiness(port: int) -> dict[str, Any] | None:
    """The body of the worker's /readyz (`status`, `reason`, `processing`, `assigned`), None when it does not
    answer."""
    status, body = http_get(f"http://127.0.0.1:{port}/readyz")
    if status not in (200, 503):
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def wait_group_settled(workers: Sequence[WorkerHandle], timeout_s: float, settle_s: float = 3.0) -> float:
    """Wait until every worker answers /readyz with `processing` true and the assignments (each worker's
    `assigned`) have not changed for `settle_s` seconds: the group's rebalances are over. Returns the seconds
    waited; raises if a worker exits or time runs out."""
    started = time.perf_counter()
    last: tuple[Any, ...] | None = None
    since = started
    while True:
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"{worker.name} exited with code {worker.process.returncode} before the group "
                                   f"settled; log tail:\n{log_tail(worker.log_path)}")
        answers = [readiness(worker.port) for worker in workers]
        now = time.perf_counter()
        if all(answer is not None and answer.get("processing") for answer in answers):
            view = tuple(answer.get("assigned") if answer else None for answer in answers)
            if view != last:
                last, since = view, now
            elif now - since >= settle_s:
                return now - started
        else:
            last, since = None, now
        if now - started > timeout_s:
            raise TimeoutError(f"the group did not settle within {timeout_s:.0f}s: {answers}")
        time.sleep(0.5)


def inputs_of_workers(workers: Sequence[WorkerHandle]) -> dict[str, int]:
    """The workers' input counters (`ledger_inputs`) summed; a worker that does not answer counts nothing."""
    total: dict[str, int] = {}
    for worker in workers:
        for key, value in ledger_inputs(worker.port).items():
            total[key] = total.get(key, 0) + value
    return total


def wait_workers(predicate: Callable[[], bool], timeout_s: float, what: str,
                 workers: Sequence[WorkerHandle]) -> float:
    """`wait_for` over several workers: raises as soon as any of them exits."""
    started = time.perf_counter()
    while not predicate():
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"{worker.name} exited with code {worker.process.returncode} while waiting for "
                                   f"{what}")
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"{what}: not reached within {timeout_s:.0f}s")
        time.sleep(0.2)
    return time.perf_counter() - started


def stop_workers(workers: Sequence[WorkerHandle]) -> list[int | None]:
    """SIGTERM every worker at once, then wait for each (SIGKILL when one does not stop in time)."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    return [stop_process(worker.process) for worker in workers]


# -- phase 1: the ledger -----------------------------------------------------------------------------------------


@dataclass
class LedgerResult:
    events: int
    workers: int = 1
    prefix: str = ""
    complete: bool = False
    group_settled_s: float | None = None
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
    """Summed over the workers."""
    worker_inputs_by_worker: list[dict[str, int]] = field(default_factory=list)
    worker_vm_hwm_mib: list[float | None] = field(default_factory=list)
    worker_vm_rss_mib: list[float | None] = field(default_factory=list)
    worker_cpu_s_fulfillment_phase: list[float | None] = field(default_factory=list)
    worker_cpu_utilisation: float | None = None
    """CPU seconds of all the workers in the fulfillment phase / its elapsed time (cores in use)."""
    worker_exit_codes: list[int | None] = field(default_factory=list)
    correct: bool = False


def _mib(kib: int | None) -> float | None:
    return round(kib / 1024, 1) if kib is not None else None


def run_ledger(args: Args, prefix: str, workers_count: int, folder: Path, workload: Workload) -> LedgerResult:
    """The ledger phase with `workers_count` workers on fresh topics under `prefix`."""
    ensure_topics(write_config(folder / "topics.yaml", args=args, prefix=prefix, state_dir=folder / "unused",
                               web_port=1).kafka)
    names = TopicNames(prefix)
    result = LedgerResult(events=len(workload.fulfillments), workers=workers_count, prefix=prefix)
    workers: list[WorkerHandle] = []
    try:
        for number in range(1, workers_count + 1):
            workers.append(launch_worker(args, folder, prefix, f"worker-{number}"))
        result.group_settled_s = wait_group_settled(workers, 180)
        say(f"{workers_count} worker(s) processing after {result.group_settled_s:.1f}s (pids "
            f"{', '.join(str(w.process.pid) for w in workers)}, logs in {folder})")
        _orders_phase(args, names, workers, workload, result)
        _fulfillment_phase(args, names, workers, workload, result)
    finally:
        stats = [proc_stats(worker.process.pid) for worker in workers]
        result.worker_vm_hwm_mib = [_mib(stat.vm_hwm_kib) for stat in stats]
        result.worker_vm_rss_mib = [_mib(stat.vm_rss_kib) for stat in stats]
        result.worker_exit_codes = stop_workers(workers)
    for worker, code in zip(workers, result.worker_exit_codes, strict=True):
        if code not in (0, -signal.SIGTERM):
            say(f"{worker.name} exit code {code}; log tail:\n{log_tail(worker.log_path)}")
    return result


def _orders_phase(args: Args, names: TopicNames, workers: Sequence[WorkerHandle], workload: Workload,
                  result: LedgerResult) -> None:
    """Produce the order.placed events and wait until the workers have read them all (timed, not in the
    headline)."""
    started, _ = produce_all(args.bootstrap, names.order_events, workload.orders)
    wanted = len(workload.orders)
    wait_workers(lambda: inputs_of_type(inputs_of_workers(workers), "order.placed") >= wanted, args.timeout,
                 f"{wanted} order.placed read by the workers", workers)
    result.orders_phase_s = time.perf_counter() - started
    result.orders_phase_events_per_s = wanted / result.orders_phase_s
    say(f"order.placed phase: {wanted} events applied in {result.orders_phase_s:.1f}s "
        f"({result.orders_phase_events_per_s:,.0f} events/s; not part of the headline figure)")


def _fulfillment_phase(args: Args, names: TopicNames, workers: Sequence[WorkerHandle], workload: Workload,
                       result: LedgerResult) -> None:
    """Produce the fulfillments and time them through `workers` (already processing); fills `result`."""
    counter = OutputCounter(args.bootstrap, names.shipped_orders, args.partitions, target=len(workload.order_ids),
                            identify=shipped_order_id)
    try:
        cpu_before = [proc_stats(worker.process.pid).cpu_seconds for worker in workers]
        say(f"producing {len(workload.fulfillments):,} fulfillment.recorded events ...")
        started, acked = produce_all(args.bootstrap, names.fulfillment_events, workload.fulfillments)
        result.produce_s = acked - started
        say(f"  produced and acknowledged in {result.produce_s:.1f}s; waiting for {counter.target:,} shipped orders")
        with progress(lambda: f"{len(counter.identities):,} shipped, workers read "
                      f"{inputs_of_type(inputs_of_workers(workers), 'fulfillment.recorded'):,} fulfillments"):
            result.complete = _wait_counter(counter, args.timeout, workers)
        cpu_after = [proc_stats(worker.process.pid).cpu_seconds for worker in workers]
        if result.complete and counter.reached_at is not None:
            result.elapsed_s = counter.reached_at - started
            result.events_per_s = result.events / result.elapsed_s
            used = [after - before if after is not None and before is not None else None
                    for before, after in zip(cpu_before, cpu_after, strict=True)]
            result.worker_cpu_s_fulfillment_phase = [round(value, 2) if value is not None else None
                                                     for value in used]
            if all(value is not None for value in used):
                result.worker_cpu_utilisation = round(sum(v for v in used if v is not None) / result.elapsed_s, 2)
        time.sleep(2.0)  # let any straggling output (a duplicate, a dead letter) arrive before checking
        result.worker_inputs_by_worker = [ledger_inputs(worker.port) for worker in workers]
        result.worker_inputs = inputs_of_workers(workers)
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


def _wait_counter(counter: OutputCounter, timeout_s: float, workers: Sequence[WorkerHandle] = ()) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if counter.wait(1.0):
            return True
        for worker in workers:
            if worker.process.poll() is not None:
                say(f"{worker.name} exited with code {worker.process.returncode}")
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


# -- phase 2: the Faust floor ------------------------------------------------------------------------------------


@dataclass
class FloorPass:
    mode: str
    events: int
    events_per_s: float | None = None
    elapsed_s: float | None = None
    error: str | None = None


def run_floor(args: Args, workload: Workload) -> list[FloorPass]:
    """`bench/faust_floor.py`'s `table` and `iterate` agents over the run's own fulfillment records (same count,
    keys and values, same producer); a pass that fails is reported with its error, not raised."""
    passes: list[FloorPass] = []
    for mode in ("table", "iterate"):
        outcome = FloorPass(mode=mode, events=len(workload.fulfillments))
        say(f"Faust floor, {mode} agent: {outcome.events:,} records ...")
        try:
            measured = faust_pass(mode, args.bootstrap, args.partitions, outcome.events,
                                  produce_into=lambda topic: produce_all(args.bootstrap, topic, workload.fulfillments),
                                  timeout_s=args.timeout)
        except (RuntimeError, TimeoutError, KafkaException) as error:
            outcome.error = f"{type(error).__name__}: {error}"
            say(f"  the {mode} pass failed: {outcome.error}")
        else:
            outcome.events_per_s, outcome.elapsed_s = measured.events_per_s, measured.elapsed_s
            say(f"  {outcome.events_per_s:,.0f} events/s ({outcome.elapsed_s:.1f}s; agent ready after "
                f"{measured.ready_s:.1f}s)")
        passes.append(outcome)
    return passes


# -- phase 3: the raw pass-through baseline ----------------------------------------------------------------------


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
        result.complete = _wait_counter(counter, args.timeout)
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
    return f"{value:>8,.0f} events/s" if value is not None else "     n/a         "


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator and denominator else None


def _workers_label(what: str, workers: int) -> str:
    return f"{what}, {workers} worker{'s' if workers > 1 else ''}"


def _fmt_ratio(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "n/a"


def print_report(report: dict[str, Any]) -> None:
    ledgers: list[LedgerResult] = report["ledger_results"]
    floor: list[FloorPass] = report["floor_results"]
    baseline: BaselineResult | None = report["baseline_result"]
    machine = report["machine"]
    events = ledgers[0].events if ledgers else 0
    table = next((item for item in floor if item.mode == "table"), None)
    iterate = next((item for item in floor if item.mode == "iterate"), None)
    lines = [
        "",
        "=" * 100,
        f"ledger throughput  {report['orders']:,} orders x {report['fulfillments_per_order']} fulfillments = "
        f"{events:,} fulfillment events, {report['partitions']} partitions",
        f"worker --loglevel {report['worker_loglevel']}"
        + (f", environment {report['worker_env']}" if report["worker_env"] else ""),
        "-" * 100,
    ]
    for ledger in ledgers:
        lines.append(f"{_workers_label('ledger', ledger.workers):<26}{_rate(ledger.events_per_s)}   "
                     f"({_secs(ledger.elapsed_s)} first produce -> last order.shipped; produce "
                     f"{_secs(ledger.produce_s)})")
    lines += [
        f"{'Faust floor, table write':<26}{_rate(table.events_per_s if table else None)}   (an agent writing one "
        "table entry per event, the same records)" + (f"  FAILED: {table.error}" if table and table.error else ""),
        f"{'Faust floor, iterate':<26}{_rate(iterate.events_per_s if iterate else None)}   (an agent that only "
        "iterates, the same records)" + (f"  FAILED: {iterate.error}" if iterate and iterate.error else ""),
        f"{'raw pass-through':<26}{_rate(baseline.events_per_s if baseline else None)}   "
        f"({_secs(baseline.elapsed_s if baseline else None)} confluent-kafka consume -> produce, the same records)",
        "-" * 100,
    ]
    for ledger in ledgers:
        ratios = report["ratios"][str(ledger.workers)]
        lines.append(f"{_workers_label('ratio', ledger.workers):<26}ledger / floor "
                     f"{_fmt_ratio(ratios['ledger_to_floor'])}   ledger / raw {_fmt_ratio(ratios['ledger_to_raw'])}"
                     f"   ledger / iterate-only agent {_fmt_ratio(ratios['ledger_to_iterate'])}")
    if len(ledgers) > 1:
        first = ledgers[0]
        side = "   ".join(f"{ledger.workers} worker(s): {_rate(ledger.events_per_s).strip()}" for ledger in ledgers)
        scale = ", ".join(f"{ledger.workers} workers x{_fmt_ratio(_ratio(ledger.events_per_s, first.events_per_s))}"
                          for ledger in ledgers[1:])
        lines += [
            f"scale-out {side}   ({scale} of {first.workers} worker(s))",
            f"          caveat: this machine has {machine['cores']} cores; the workers, the producer, the counting "
            "consumer and the broker all share them",
        ]
    lines.append("-" * 100)
    for ledger in ledgers:
        lines += [
            f"{ledger.workers} worker(s): group settled in {_secs(ledger.group_settled_s)}; order.placed phase "
            f"(excluded) {_secs(ledger.orders_phase_s)}, {_rate(ledger.orders_phase_events_per_s).strip()}",
            f"    peak RSS (VmHWM) {ledger.worker_vm_hwm_mib} MiB, CPU {ledger.worker_cpu_s_fulfillment_phase}s in the "
            f"fulfillment phase ({ledger.worker_cpu_utilisation} cores in all)",
            f"    correct {'YES' if ledger.correct else 'NO'}: shipped orders "
            f"{ledger.shipped_distinct:,}/{report['orders']:,} distinct, {ledger.shipped_records:,} shipped-orders "
            f"records, {ledger.shipped_not_order_shipped} not order.shipped, dead letters {ledger.dead_letters}",
            f"    inputs {ledger.worker_inputs}",
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
        "=" * 100,
    ]
    print("\n".join(lines), flush=True)


def _secs(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else "n/a"


def write_results(report: dict[str, Any], stamp: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"ledger_throughput-{stamp}.json"
    path.write_text(json.dumps(_plain(report), indent=2) + "\n")
    return path


def _plain(value: Any) -> Any:
    """`value` with every dataclass (also inside lists and dicts) turned into a dict, for JSON."""
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


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
        f"{args.partitions} partitions, workers {' then '.join(map(str, args.workers))}, broker {args.bootstrap}, "
        f"{machine['cores']} cores")
    temp = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    ledgers: list[LedgerResult] = []
    floor: list[FloorPass] = []
    baseline: BaselineResult | None = None
    try:
        built = time.perf_counter()
        workload = build_workload(args.orders, args.fulfillments_per_order, prefix)
        say(f"built and encoded {len(workload.orders):,} orders and {len(workload.fulfillments):,} fulfillments "
            f"in {time.perf_counter() - built:.1f}s")
        for count in args.workers:
            folder = temp / f"workers-{count}"
            folder.mkdir()
            say(f"-- ledger with {count} worker(s)")
            ledgers.append(run_ledger(args, f"{prefix}-w{count}", count, folder, workload))
        if args.floor:
            say("-- Faust floor")
            floor = run_floor(args, workload)
        if args.baseline:
            say("-- raw pass-through")
            baseline = run_baseline(args, prefix, workload)
    finally:
        deleted = delete_bench_leftovers(args.bootstrap, prefix,
                                         [TopicNames(f"{prefix}-w{count}").app_id for count in args.workers]
                                         + [f"{prefix}-baseline"])
        shutil.rmtree(temp, ignore_errors=True)
        say(f"cleaned up: {len(deleted)} topics deleted, {temp} removed")
    version["changed_during_run"] = source_fingerprint() != version["source_fingerprint"]
    if version["changed_during_run"]:
        say("WARNING: the project's source files changed during this run; the figures may mix two versions")
    table = next((item.events_per_s for item in floor if item.mode == "table"), None)
    iterate = next((item.events_per_s for item in floor if item.mode == "iterate"), None)
    raw = baseline.events_per_s if baseline else None
    ratios = {str(ledger.workers): {"ledger_to_floor": _ratio(ledger.events_per_s, table),
                                    "ledger_to_raw": _ratio(ledger.events_per_s, raw),
                                    "ledger_to_iterate": _ratio(ledger.events_per_s, iterate)}
              for ledger in ledgers}
    headline = ledgers[0]
    report = {"run": prefix, "timestamp": stamp, "orders": args.orders,
              "fulfillments_per_order": args.fulfillments_per_order, "partitions": args.partitions,
              "workers": list(args.workers), "bootstrap": args.bootstrap, "worker_loglevel": args.worker_loglevel,
              "worker_env": args.worker_env,
              "headline": {"note": "fulfillment events only; order.placed applied beforehand; ledger figure with "
                                   f"{headline.workers} worker(s)",
                           "ledger_events_per_s": headline.events_per_s, "floor_table_events_per_s": table,
                           "raw_passthrough_events_per_s": raw,
                           "ratio_ledger_to_floor": ratios[str(headline.workers)]["ledger_to_floor"],
                           "ratio_ledger_to_raw": ratios[str(headline.workers)]["ledger_to_raw"]},
              "ledger_results": ledgers, "floor_results": floor, "baseline_result": baseline, "ratios": ratios,
              "machine": machine, "code": version}
    print_report(report)
    say(f"results written to {write_results(report, stamp)}")
    ok = (all(ledger.correct for ledger in ledgers) and all(item.error is None for item in floor)
          and (baseline is None or baseline.complete))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

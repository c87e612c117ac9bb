"""The two timings a Kubernetes deployment is sized by (docs/deploy.md): how long a worker under load takes to stop
after SIGTERM (its termination grace period), and how long a worker that lost its state directory takes to rebuild
its tables from the changelogs (its startup probe's budget, and what losing a volume costs).

    python bench/deploy_timings.py [--bootstrap 127.0.0.1:9092] [--orders 5000] [--lines 5] [--partitions 6]
                                   [--rounds 3] [--only shutdown|recovery]

Every run uses fresh topic prefixes, a temporary folder for configs, state and logs, and deletes its topics and
consumer groups at the end. Figures are printed and written to bench/results/deploy_timings-<timestamp>.json.

Shutdown (under load). One worker (`python -m fulfillsync.cli worker`, a real process) with new events arriving all
the time: orders of `--lines` lines and one fulfillment per line, produced at `LOAD_RATE` events/s while it runs, so
its ledger agent always has records in hand. It also polls a simulated BigCommerce buyer store every 20 s.
Measured: from SIGTERM to the process's exit, `--rounds` times in each of two cases, restarting the worker in
between:
  1. load: the ledger busy, the store answering at once;
  2. load + a stuck poll: the store's order listing also takes 60 s to answer, so the poll the worker took stays
     in flight and the worker waits its whole `SHUTDOWN_WAIT_S` for it before stopping (the slowest clean
     shutdown there is: tests/faults/test_shutdown.py).

Recovery (state lost). `--orders` orders of `--lines` lines, each line fulfilled and the order shipped, applied by a
worker until its counters show every input applied; the worker is stopped (SIGTERM) and its state directory
deleted, then started again: measured from the process start to `/readyz` 200 (the startup probe passing: every
table partition recovered from its changelog), `--rounds` times; then once more with the state directory kept (a
restart on the same volume). Meanwhile `/healthz` is requested every 0.25 s, and its slowest answer reported (the
liveness probe must keep answering through a recovery). The changelog's records and the state folder's size are
reported with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.ledger_throughput import (  # noqa: E402
    build_workload,
    code_version,
    delete_bench_leftovers,
    inputs_of_type,
    ledger_inputs,
    machine_summary,
    produce_all,
    record_count,
    say,
)
from sandbox.server import free_port  # noqa: E402
from sandbox.settings import StoreSettings  # noqa: E402
from schemas.config_file import load_config  # noqa: E402
from schemas.topics import TopicNames  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.kit.producer import EventProducer  # noqa: E402
from streams.kit.records import EncodedRecord  # noqa: E402
from streams.kit.worker_app import SHUTDOWN_WAIT_S  # noqa: E402
from streams.orders.tables import ORDERS  # noqa: E402
from tests.support.stores import served_store  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"
TOKEN = "sandbox-token"
STORE_DELAY_S = 60.0
READY_TIMEOUT_S = 1800.0
POLL_INTERVAL = "20s"
"""A poll tick read more than one interval after it was published is skipped as stale: under load the ticks wait
behind the events, so an interval of a few seconds would skip every poll; 20 s keeps them (and the first poll of a
restarted worker comes within one interval)."""


@dataclass(frozen=True)
class Args:
    bootstrap: str
    orders: int
    lines: int
    partitions: int
    rounds: int
    only: str | None


def parse_args(argv: Sequence[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--orders", type=int, default=5000, help="orders of the workload (default 5000)")
    parser.add_argument("--lines", type=int, default=5, help="lines per order, one fulfillment each (default 5)")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of every topic (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per case (default 3)")
    parser.add_argument("--only", choices=["shutdown", "recovery"], help="run one of the two measurements")
    parsed = parser.parse_args(argv)
    return Args(bootstrap=parsed.bootstrap, orders=parsed.orders, lines=parsed.lines, partitions=parsed.partitions,
                rounds=parsed.rounds, only=parsed.only)


# -- a worker process -------------------------------------------------------------------------------------------


def http_get(url: str, timeout_s: float = 2.0) -> int:
    """The status code of a GET (0 when nothing answered within `timeout_s`)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


@dataclass
class Worker:
    """`fulfillsync worker` as a child process with its log in `log_path`."""

    config_path: Path
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    def start(self) -> Worker:
        with self.log_path.open("ab") as log:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fulfillsync.cli", "--config", str(self.config_path), "worker",
                 "--loglevel", "warning", "--no-create-topics"],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Seconds from the process start to `/readyz` 200; raises if it exits or time runs out."""
        self.until(lambda: http_get(f"http://127.0.0.1:{self.port}/readyz") == 200, timeout_s, "/readyz 200")
        return time.monotonic() - self.started_at

    def until(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited ({self.process.returncode}) before {what}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout_s:.0f}s:\n{self.tail()}")
            time.sleep(0.1)

    def stop(self, timeout_s: float = 120.0) -> tuple[float, int]:
        """SIGTERM; (seconds until the process exited, its exit code). SIGKILL after `timeout_s` (code -9)."""
        assert self.process is not None
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=30)
        return time.monotonic() - sent, int(code)

    def ensure_stopped(self) -> None:
        """Stop the process if it still runs (after a failed measurement): SIGTERM, then SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            self.stop(timeout_s=60)

    def tail(self, lines: int = 40) -> str:
        with suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_since(self, offset: int) -> str:
        with suppress(OSError):
            return self.log_path.read_bytes()[offset:].decode(errors="replace")
        return ""


def write_config(folder: Path, args: Args, prefix: str, *, connections: list[dict[str, Any]] | None = None,
                 routes: list[dict[str, Any]] | None = None) -> tuple[Path, int]:
    """A worker configuration in `folder`; (its path, the worker's web port). Polls every `POLL_INTERVAL`."""
    port = free_port()
    document = {
        "kafka": {"bootstrap_servers": args.bootstrap, "topic_prefix": prefix, "partitions": args.partitions},
        "polling": {"interval": POLL_INTERVAL},
        "worker": {"web_host": "127.0.0.1", "web_port": port, "state_dir": str(folder / "state")},
        "connections": connections or [],
        "routes": routes or [],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path, port


def applied(port: int) -> int:
    """Inputs the worker's ledger counted, whatever their outcome (0 when /metrics does not answer)."""
    counts = ledger_inputs(port)
    return inputs_of_type(counts, "order.placed") + inputs_of_type(counts, "fulfillment.recorded")


# -- shutdown -----------------------------------------------------------------------------------------------------


@dataclass
class Stop:
    case: str
    seconds: float
    exit_code: int
    waited_for_in_flight: bool  # the worker logged records still in flight after SHUTDOWN_WAIT_S
    applied_before: int


@contextmanager
def buyer_store() -> Iterator[tuple[str, str]]:
    """A simulated BigCommerce buyer store over HTTP: (its root URL, the connection's base URL)."""
    with served_store(StoreSettings(platform="bigcommerce", name="deploy-timings",
                                    credentials={"access_token": TOKEN})) as urls:
        yield urls


def listing_requests(root: str) -> int:
    counts = httpx.get(f"{root}/_sandbox/requests", timeout=5).json()
    return sum(count for request, count in counts["by_route"].items()
               if request.startswith("GET ") and request.endswith("/v2/orders"))


LOAD_RATE = 400
"""Events per second produced during the shutdown measurement: about what one worker applies on this 2-core machine
beside the broker (its whole capacity alone is some 900/s), so its ledger is always busy, yet the poll ticks, which
queue behind a deep backlog, still get through."""


class SteadyLoad:
    """Produces `records` ((topic, record), in order, from the start again when all were sent) at `rate` per second
    in a thread, through the project's idempotent producer, between `start()` and `stop()`."""

    def __init__(self, bootstrap: str, records: Sequence[tuple[str, EncodedRecord]], rate: int) -> None:
        self.bootstrap, self.records, self.rate = bootstrap, records, rate
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with EventProducer(self.bootstrap, source="/fulfillsync/bench") as producer:
            started = time.monotonic()
            while not self._stop.is_set():
                due = int((time.monotonic() - started) * self.rate)
                while self.sent < due:
                    topic, record = self.records[self.sent % len(self.records)]
                    producer.publish_raw(topic, record.key, record.value, record.headers)
                    self.sent += 1
                producer.wait(0.05)

    def start(self) -> SteadyLoad:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def more_listings(root: str, than: int) -> Callable[[], bool]:
    """Whether the store was asked for its order listing more than `than` times."""
    return lambda: listing_requests(root) > than


def measure_shutdown(args: Args, folder: Path, prefixes: list[str]) -> list[Stop]:
    prefix = f"deploy-stop-{uuid.uuid4().hex[:8]}"
    prefixes.append(prefix)
    os.environ["DEPLOY_TIMINGS_TOKEN"] = TOKEN
    with buyer_store() as (root, base_url):
        config_path, port = write_config(folder, args, prefix, connections=[
            {"id": "shop-bc", "partner": "shop", "role": "buyer", "platform": "bigcommerce", "base_url": base_url,
             "credentials": {"access_token": "${DEPLOY_TIMINGS_TOKEN}"}},
            {"id": "hand", "partner": "hand", "role": "seller", "platform": "manual"}],
            routes=[{"buyer": "shop-bc", "seller": "hand", "skus": ["HAND-*"]}])
        config = load_config(config_path).config
        ensure_topics(config.kafka)
        names = TopicNames(prefix)
        workload = build_workload(args.orders * 4, args.lines, prefix)
        records = [(names.order_events, record) for record in workload.orders] + [
            (names.fulfillment_events, record) for record in workload.fulfillments]
        say(f"shutdown: producing {LOAD_RATE} events/s while the worker runs (of {len(records):,} prepared)")
        load = SteadyLoad(args.bootstrap, records, LOAD_RATE).start()
        worker = Worker(config_path, folder / "worker.log", port)
        try:
            stops = shutdown_rounds(args, worker, root)
        finally:
            worker.ensure_stopped()
            load.stop()
        httpx.delete(f"{root}/_sandbox/faults", timeout=5)
    return stops


def shutdown_rounds(args: Args, worker: Worker, root: str) -> list[Stop]:
    """The measurements of `measure_shutdown`, on a worker whose load is running."""
    stops: list[Stop] = []
    port = worker.port
    for case in ("load", "load + a poll stuck on a slow store"):
        if case != "load":
            httpx.post(f"{root}/_sandbox/faults", timeout=5, json={
                "status": 0, "delay_s": STORE_DELAY_S, "times": 10_000, "method": "GET", "path": "/v2/orders$"})
        for round_ in range(args.rounds):
            worker.start().wait_ready()
            before_listings = listing_requests(root)
            worker.until(lambda: applied(port) > 2000, 300, "2,000 inputs applied")
            if case != "load":
                worker.until(more_listings(root, before_listings), 120, "a poll of the slow store")
                time.sleep(1.0)  # the poll is in flight, waiting for the store
            done = applied(port)
            log_offset = worker.log_path.stat().st_size
            seconds, code = worker.stop()
            waited = "still in flight" in worker.log_since(log_offset)
            stops.append(Stop(case, seconds, code, waited, done))
            say(f"shutdown [{case}] round {round_ + 1}: {seconds:.2f}s, exit {code}, "
                f"{'waited for records in flight' if waited else 'nothing left in flight'}, "
                f"{done:,} inputs applied by then")
    return stops


# -- recovery -----------------------------------------------------------------------------------------------------


@dataclass
class Recovery:
    case: str
    seconds_to_ready: float
    healthz_slowest_s: float
    healthz_failures: int


@dataclass
class RecoveryRun:
    orders: int
    inputs: int
    apply_seconds: float
    stop_seconds: float
    changelog_records: int
    state_bytes: int
    recoveries: list[Recovery] = field(default_factory=list)


class HealthWatch:
    """Requests `/healthz` every 0.25 s in a thread, remembering the slowest answer and the failures, between
    `start()` and `stop()`; requests before the web server first answered are not counted."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.slowest = 0.0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        answered_once = False
        while not self._stop.is_set():
            started = time.monotonic()
            status = http_get(self.url, timeout_s=5.0)
            took = time.monotonic() - started
            if status == 200:
                answered_once = True
                self.slowest = max(self.slowest, took)
            elif answered_once:
                self.failures += 1
            self._stop.wait(0.25)

    def start(self) -> HealthWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def measure_recovery(args: Args, folder: Path, prefixes: list[str]) -> RecoveryRun:
    prefix = f"deploy-rec-{uuid.uuid4().hex[:8]}"
    prefixes.append(prefix)
    config_path, port = write_config(folder, args, prefix)
    config = load_config(config_path).config
    ensure_topics(config.kafka)
    names = TopicNames(prefix)
    workload = build_workload(args.orders, args.lines, prefix)
    inputs = len(workload.orders) + len(workload.fulfillments)
    say(f"recovery: {args.orders:,} orders of {args.lines} lines: {inputs:,} events")
    produce_all(args.bootstrap, names.order_events, workload.orders)
    produce_all(args.bootstrap, names.fulfillment_events, workload.fulfillments)
    worker = Worker(config_path, folder / "worker.log", port)
    try:
        return recovery_rounds(args, worker, names, inputs)
    finally:
        worker.ensure_stopped()


def recovery_rounds(args: Args, worker: Worker, names: TopicNames, inputs: int) -> RecoveryRun:
    """The measurements of `measure_recovery`, once the workload was produced."""
    port = worker.port
    folder = worker.config_path.parent
    worker.start().wait_ready()
    started = time.monotonic()
    worker.until(lambda: applied(port) >= inputs, READY_TIMEOUT_S, f"{inputs:,} inputs applied")
    apply_seconds = time.monotonic() - started
    time.sleep(5.0)  # the last commits and changelog writes
    stop_seconds, _ = worker.stop()
    state_dir = folder / "state"
    run = RecoveryRun(orders=args.orders, inputs=inputs, apply_seconds=apply_seconds, stop_seconds=stop_seconds,
                      changelog_records=record_count(args.bootstrap, ORDERS.changelog(names.app_id),
                                                     args.partitions),
                      state_bytes=folder_bytes(state_dir))
    say(f"recovery: applied in {apply_seconds:.0f}s; orders changelog {run.changelog_records:,} records, state "
        f"folder {run.state_bytes / 2**20:.1f} MiB")
    cases = [*(["state directory deleted"] * args.rounds), "state directory kept"]
    for case in cases:
        if case == "state directory deleted":
            shutil.rmtree(state_dir)
        watch = HealthWatch(port).start()
        worker.start()
        try:
            seconds = worker.wait_ready()
        finally:
            watch.stop()
        run.recoveries.append(Recovery(case, seconds, watch.slowest, watch.failures))
        say(f"recovery [{case}]: /readyz 200 after {seconds:.1f}s; /healthz slowest {watch.slowest:.2f}s, "
            f"{watch.failures} failed")
        worker.stop()
    return run


# -- main -----------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results: dict[str, Any] = {"args": asdict(args), "machine": machine_summary(), "code": code_version(),
                               "shutdown_wait_s": SHUTDOWN_WAIT_S}
    prefixes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="deploy-timings-") as scratch:
        try:
            if args.only in (None, "shutdown"):
                stops = measure_shutdown(args, Path(scratch) / "shutdown", prefixes)
                results["shutdown"] = [asdict(stop) for stop in stops]
            if args.only in (None, "recovery"):
                results["recovery"] = asdict(measure_recovery(args, Path(scratch) / "recovery", prefixes))
        finally:
            for prefix in prefixes:
                delete_bench_leftovers(args.bootstrap, prefix, [TopicNames(prefix).app_id])
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"deploy_timings-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    for stop_case in {stop["case"] for stop in results.get("shutdown", [])}:
        seconds = [stop["seconds"] for stop in results["shutdown"] if stop["case"] == stop_case]
        say(f"shutdown [{stop_case}]: slowest {max(seconds):.2f}s of {len(seconds)}")
    if "recovery" in results:
        for recovery in results["recovery"]["recoveries"]:
            say(f"recovery [{recovery['case']}]: {recovery['seconds_to_ready']:.1f}s")
    say(f"results: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

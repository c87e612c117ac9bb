"""The ledger under a rebalance: a worker added, then one killed (SIGKILL), while a fulfillment workload runs.

    python bench/rebalance.py [--orders 2000] [--fulfillments-per-order 10] [--partitions 4]
                              [--add-at 0.2] [--kill-after 0.3] [--kill first|second] [--rate 0]
                              [--bootstrap 127.0.0.1:9092] [--timeout 900] [--worker-loglevel warning]

Checks that the ledger stays correct when partitions move between workers under load; it times the phases but
asserts nothing about time. Exit status 0: correct; 1: a correctness check failed; 2: the scenario could not be
run as planned (a worker did not start or settle, the workload ended before the kill, ...).

Method
------
A fresh topic prefix (`bench-<timestamp>-<pid>`), a temporary folder with one config file, state folder, web port
and log per worker; topics, consumer group and state are deleted at the end, even on failure (the worker logs are
kept, and their folder printed, when a check fails). The workload is `bench/ledger_throughput.py`'s
(`build_workload`): N orders of K single-unit lines and K one-line `fulfillment.recorded` events per order,
interleaved across orders, so every order ships exactly once, on its last fulfillment. The workers are the
project's own (`python -m fulfillsync.cli --config <tmp> worker`), two processes of the same app: the same topics
and consumer group, dynamic membership, a 10 s broker session timeout.

1. worker-1 is started and awaited until it is processing (its /readyz); the N `order.placed` events are produced
   and awaited (its /metrics). A reader is assigned to shipped-orders from the beginning, and the N*K fulfillment
   events are produced (as fast as the idempotent producer takes them, or at `--rate` events/s) from a
   background thread.
2. When the workers have read `--add-at` of the fulfillments (their `fulfillsync_ledger_inputs_total`, summed),
   worker-2 is started; the phase "worker-2 joining" lasts until both workers answer /readyz with `processing`
   true and unchanged assignments for 3 s.
3. When the two workers have read a further `--kill-after` of the fulfillments after the group settled (the
   first worker goes on reading while the second starts, so a threshold counted from the start could fall
   before the two ever ran together), one of them (`--kill`, default the first) is killed with SIGKILL, right
   after its counters are read one last time. Without a leave request, the group notices at the
   session timeout; "takeover" lasts until the survivor holds more partitions than before and is processing.
4. The survivor alone until the reader has seen `order.shipped` for all N orders; then a few seconds more until
   the survivor's counters stop moving and the reader has every record up to the topic's end.

Checks (any failure exits 1):
- every order shipped: `order.shipped` seen for all N order ids and for no other;
- exactly once: per order exactly one distinct `order.shipped` event id. A record redelivered to the ledger after
  the kill republishes the SAME event id; such repeats are counted and reported as "republished, same id" (at least
  once delivery, harmless to an idempotent reader), never as a failure;
- nothing else on shipped-orders (the workload produces only `order.shipped`);
- no dead letters;
- the ledger's input counters (the survivor's, plus the killed worker's last reading): only `applied` and
  `duplicate` outcomes (a `duplicate` is a record read again after the kill), and, as a report, how many
  fulfillments were read in all against N*K (the killed worker's reads after its last reading are not counted).
Results are printed and written as JSON to bench/results/rebalance-<timestamp>.json with the machine and commit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.ledger_throughput import (  # noqa: E402
    RESULTS_DIR,
    Args,
    WorkerHandle,
    Workload,
    build_workload,
    code_version,
    delete_bench_leftovers,
    header,
    inputs_of_type,
    inputs_of_workers,
    launch_worker,
    ledger_inputs,
    log_tail,
    machine_summary,
    reader_from_start,
    readiness,
    record_count,
    say,
    source_fingerprint,
    stop_workers,
    wait_group_settled,
    wait_workers,
    write_config,
)
from schemas.topics import TopicNames  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.kit.producer import EventProducer  # noqa: E402
from streams.kit.records import EncodedRecord  # noqa: E402

BENCH_SOURCE = "/fulfillsync/bench"
EXPECTED_STATUSES = frozenset({"applied", "duplicate"})
SETTLE_S = 5.0
NO_BUYER = "is not a configured buyer"
"""The buyer tracking sink's error for every shipped order here: the benchmark configures no connections."""


class ScenarioError(Exception):
    """The scenario could not be run as planned (not a correctness failure)."""


@dataclass(frozen=True)
class RebalanceArgs:
    orders: int
    fulfillments_per_order: int
    partitions: int
    bootstrap: str
    timeout: float
    add_at: float
    kill_after: float
    kill: str
    rate: float
    worker_loglevel: str

    def worker_args(self) -> Args:
        """The settings `bench/ledger_throughput.py` writes worker configs and starts workers from."""
        return Args(orders=self.orders, fulfillments_per_order=self.fulfillments_per_order,
                    partitions=self.partitions, bootstrap=self.bootstrap, timeout=self.timeout,
                    worker_loglevel=self.worker_loglevel)


def parse_args(argv: Sequence[str] | None = None) -> RebalanceArgs:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=2000, help="orders placed (default 2000)")
    parser.add_argument("--fulfillments-per-order", type=int, default=10,
                        help="lines per order, one fulfillment event each (default 10)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument("--add-at", type=float, default=0.2,
                        help="start worker-2 when this share of the fulfillments has been read (default 0.2)")
    parser.add_argument("--kill-after", type=float, default=0.3,
                        help="SIGKILL a worker when the two workers have read this further share of the "
                             "fulfillments after the group settled (default 0.3)")
    parser.add_argument("--kill", choices=["first", "second"], default="first",
                        help="which worker is killed: the first (it held every partition before the add; default) "
                             "or the one added")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="produce the fulfillments at this many events/s (default 0: as fast as possible)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per waiting phase")
    parser.add_argument("--worker-loglevel", default="warning", help="the workers' --loglevel (default warning)")
    ns = parser.parse_args(argv)
    if ns.orders < 1 or ns.fulfillments_per_order < 1 or ns.partitions < 2:
        parser.error("--orders and --fulfillments-per-order must be positive, --partitions at least 2")
    if not (0 < ns.add_at < 1 and 0 < ns.kill_after < 1 and ns.add_at + ns.kill_after < 1):
        parser.error("expected --add-at and --kill-after between 0 and 1, adding up to less than 1")
    if ns.rate < 0:
        parser.error("--rate must not be negative")
    return RebalanceArgs(orders=ns.orders, fulfillments_per_order=ns.fulfillments_per_order,
                         partitions=ns.partitions, bootstrap=ns.bootstrap, timeout=ns.timeout, add_at=ns.add_at,
                         kill_after=ns.kill_after, kill=ns.kill, rate=ns.rate, worker_loglevel=ns.worker_loglevel)


# -- reading shipped-orders --------------------------------------------------------------------------------------


class ShippedReader:
    """Every record of shipped-orders from the beginning, read by an assigned consumer in a background thread:
    per order id the `ce_id`s of its `order.shipped` records (with repeats), and the count of every `ce_type`."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.records = 0
        self.types: Counter[str] = Counter()
        self.shipped: dict[str, Counter[str]] = defaultdict(Counter)
        self.first_shipped_at: float | None = None
        self.last_new_order_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = reader_from_start(bootstrap, topic, partitions, group=f"{topic}-rebalance-reader")
        self._thread = threading.Thread(target=self._run, name="shipped-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(num_messages=1000, timeout=0.1):
                if message.error() is not None:
                    continue
                kind = (header(message, "ce_type") or b"").decode()
                event_id = (header(message, "ce_id") or b"").decode()
                key = (message.key() or b"").decode()
                with self._lock:
                    self.records += 1
                    self.types[kind] += 1
                    if kind.endswith("order.shipped"):
                        now = time.perf_counter()
                        if self.first_shipped_at is None:
                            self.first_shipped_at = now
                        if key not in self.shipped:
                            self.last_new_order_at = now
                        self.shipped[key][event_id] += 1

    def shipped_orders(self) -> int:
        with self._lock:
            return len(self.shipped)

    def read(self) -> int:
        with self._lock:
            return self.records

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()


# -- the run -----------------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    seconds: float
    fulfillments_read: int | None = None
    """Fulfillment reads counted by the live workers during the phase (None: not comparable, a worker died)."""
    note: str = ""


@dataclass
class Outcome:
    orders: int
    fulfillments: int
    killed: str = ""
    survivor: str = ""
    phases: list[Phase] = field(default_factory=list)
    total_s: float | None = None
    shipped_orders: int = 0
    unknown_shipped_orders: int = 0
    orders_with_several_ids: int = 0
    several_ids_examples: dict[str, dict[str, int]] = field(default_factory=dict)
    republished_same_id: int = 0
    orders_republished: int = 0
    shipped_records_read: int = 0
    shipped_records_on_topic: int = 0
    record_types: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    killed_inputs_last_read: dict[str, int] = field(default_factory=dict)
    survivor_inputs: dict[str, int] = field(default_factory=dict)
    fulfillments_read_all_workers: int = 0
    unexpected_statuses: dict[str, int] = field(default_factory=dict)
    survivor_log_errors: list[str] = field(default_factory=list)
    """ERROR, CRITICAL and Traceback lines of the survivor's log, but the expected ones (`NO_BUYER`)."""
    survivor_log_no_buyer: int = 0
    failures: list[str] = field(default_factory=list)
    scenario_error: str | None = None

    @property
    def correct(self) -> bool:
        return not self.failures and self.scenario_error is None


def producer_thread(bootstrap: str, topic: str, records: Sequence[EncodedRecord], rate: float,
                    done: threading.Event, errors: list[str]) -> threading.Thread:
    """Produce `records` (paced at `rate` events/s when positive) in a background thread; `done` is set once
    every record is acknowledged."""

    def run() -> None:
        try:
            with EventProducer(bootstrap, source=BENCH_SOURCE) as producer:
                started = time.perf_counter()
                for index, record in enumerate(records):
                    if rate > 0 and index % 100 == 0:
                        ahead = started + index / rate - time.perf_counter()
                        if ahead > 0:
                            time.sleep(ahead)
                    producer.publish_raw(topic, record.key, record.value, record.headers)
                producer.flush(timeout_s=600)
        except Exception as error:  # noqa: BLE001 (reported by the main thread)
            errors.append(f"{type(error).__name__}: {error}")
        finally:
            done.set()

    thread = threading.Thread(target=run, name="fulfillment-producer", daemon=True)
    thread.start()
    return thread


def fulfillments_read(workers: Sequence[WorkerHandle]) -> int:
    return inputs_of_type(inputs_of_workers(workers), "fulfillment.recorded")


def wait_reads(workers: Sequence[WorkerHandle], target: int, reader: ShippedReader, orders: int,
               timeout_s: float, what: str) -> None:
    """Wait until the live workers have read `target` fulfillments; ScenarioError when the whole workload shipped
    first (the step would come too late to be mid-run)."""

    def reached() -> bool:
        if reader.shipped_orders() >= orders:
            raise ScenarioError(f"every order shipped before {what}; use more --orders or an earlier threshold")
        return fulfillments_read(workers) >= target

    wait_workers(reached, timeout_s, what, workers)


def wait_takeover(survivor: WorkerHandle, assigned_before: int, timeout_s: float) -> float:
    """Wait until the survivor holds more partitions than `assigned_before` and is processing; seconds waited."""
    started = time.perf_counter()

    def taken_over() -> bool:
        answer = readiness(survivor.port)
        return bool(answer and answer.get("processing") and int(answer.get("assigned") or 0) > assigned_before)

    wait_workers(taken_over, timeout_s, f"{survivor.name} taking the killed worker's partitions over", [survivor])
    return time.perf_counter() - started


def run(args: RebalanceArgs, prefix: str, folder: Path, workload: Workload, outcome: Outcome) -> None:
    worker_args = args.worker_args()
    names = TopicNames(prefix)
    ensure_topics(write_config(folder / "topics.yaml", args=worker_args, prefix=prefix, state_dir=folder / "unused",
                               web_port=1).kafka)
    total = len(workload.fulfillments)
    workers: list[WorkerHandle] = []
    reader: ShippedReader | None = None
    try:
        workers.append(launch_worker(worker_args, folder, prefix, "worker-1"))
        settled = wait_group_settled(workers, 180)
        say(f"worker-1 processing after {settled:.1f}s (pid {workers[0].process.pid}, logs in {folder})")
        with EventProducer(args.bootstrap, source=BENCH_SOURCE) as producer:
            for record in workload.orders:
                producer.publish_raw(names.order_events, record.key, record.value, record.headers)
            producer.flush(timeout_s=600)
        waited = wait_workers(lambda: inputs_of_type(inputs_of_workers(workers), "order.placed") >= args.orders,
                              args.timeout, f"{args.orders} order.placed read", workers)
        say(f"{args.orders:,} order.placed applied ({waited:.1f}s after the last was acknowledged)")

        reader = ShippedReader(args.bootstrap, names.shipped_orders, args.partitions)
        done = threading.Event()
        errors: list[str] = []
        started = time.perf_counter()
        producer_thread(args.bootstrap, names.fulfillment_events, workload.fulfillments, args.rate, done, errors)
        say(f"producing {total:,} fulfillment.recorded events"
            + (f" at {args.rate:,.0f} events/s" if args.rate else " as fast as the producer takes them"))

        # phase 1: one worker
        wait_reads(workers, int(total * args.add_at), reader, args.orders, args.timeout,
                   f"{args.add_at:.0%} of the fulfillments read")
        mark, read_mark = time.perf_counter(), fulfillments_read(workers)
        outcome.phases.append(Phase("worker-1 alone", mark - started, read_mark))
        say(f"{read_mark:,} fulfillments read by worker-1: starting worker-2")

        # phase 2: worker-2 joins
        workers.append(launch_worker(worker_args, folder, prefix, "worker-2"))
        settled = wait_group_settled(workers, args.timeout)
        now, reads = time.perf_counter(), fulfillments_read(workers)
        outcome.phases.append(Phase("worker-2 joining (start to group settled)", now - mark, reads - read_mark))
        say(f"both workers processing after {settled:.1f}s; {reads:,} fulfillments read "
            f"(assigned: {[(readiness(w.port) or {}).get('assigned') for w in workers]})")
        mark, read_mark = now, reads

        # phase 3: two workers
        wait_reads(workers, read_mark + int(total * args.kill_after), reader, args.orders, args.timeout,
                   f"{args.kill_after:.0%} more of the fulfillments read by the two workers")
        victim, survivor = (workers[0], workers[1]) if args.kill == "first" else (workers[1], workers[0])
        outcome.killed, outcome.survivor = victim.name, survivor.name
        assigned_before = int((readiness(survivor.port) or {}).get("assigned") or 0)
        reads = fulfillments_read([survivor])
        outcome.killed_inputs_last_read = ledger_inputs(victim.port)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=30)
        now = time.perf_counter()
        reads += inputs_of_type(outcome.killed_inputs_last_read, "fulfillment.recorded")
        outcome.phases.append(Phase("two workers", now - mark, reads - read_mark))
        say(f"SIGKILL {victim.name} (pid {victim.process.pid}) at {reads:,} fulfillments read; {survivor.name} "
            f"held {assigned_before} partitions")
        mark = now

        # phase 4: the survivor takes over
        took = wait_takeover(survivor, assigned_before, args.timeout)
        now = time.perf_counter()
        outcome.phases.append(Phase(f"takeover ({victim.name} killed to {survivor.name} processing its partitions)",
                                    took, None, f"{survivor.name} assigned "
                                    f"{(readiness(survivor.port) or {}).get('assigned')} partitions"))
        say(f"{survivor.name} took over after {took:.1f}s")
        mark, read_mark = now, fulfillments_read([survivor])

        # phase 5: the survivor alone, to the last order.shipped
        wait_workers(lambda: reader is not None and reader.shipped_orders() >= args.orders, args.timeout,
                     f"order.shipped for all {args.orders:,} orders", [survivor])
        now = time.perf_counter()
        outcome.phases.append(Phase(f"{survivor.name} alone, to the last order.shipped", now - mark,
                                    fulfillments_read([survivor]) - read_mark))
        outcome.total_s = now - started
        say(f"all {args.orders:,} orders shipped, {outcome.total_s:.1f}s after the first fulfillment was produced")
        if not done.wait(60) or errors:
            raise ScenarioError(f"the producer did not finish cleanly: {errors or 'still running'}")

        # settle: the survivor's counters still and the reader at the topic's end
        _settle(survivor, reader, names, args)
        outcome.survivor_inputs = ledger_inputs(survivor.port)
        log_errors = [line for line in log_tail(survivor.log_path, 100_000).splitlines()
                      if "ERROR" in line or "CRITICAL" in line or "Traceback" in line]
        outcome.survivor_log_no_buyer = sum(1 for line in log_errors if NO_BUYER in line)
        outcome.survivor_log_errors = [line for line in log_errors if NO_BUYER not in line][:50]
    finally:
        if reader is not None:
            reader.close()
        stop_workers(workers)
    check(args, names, workload, reader, outcome)


def _settle(survivor: WorkerHandle, reader: ShippedReader, names: TopicNames, args: RebalanceArgs) -> None:
    """Until the survivor's counters have not moved for SETTLE_S seconds and the reader has read as many records
    as shipped-orders holds (or the timeout)."""
    deadline = time.perf_counter() + args.timeout
    last: dict[str, int] | None = None
    since = time.perf_counter()
    while time.perf_counter() < deadline:
        counts = ledger_inputs(survivor.port)
        now = time.perf_counter()
        if counts != last:
            last, since = counts, now
        elif now - since >= SETTLE_S and reader.read() >= record_count(args.bootstrap, names.shipped_orders,
                                                                        args.partitions):
            return
        time.sleep(0.5)


def check(args: RebalanceArgs, names: TopicNames, workload: Workload, reader: ShippedReader | None,
          outcome: Outcome) -> None:
    """Fill in the outcome's counts and failures."""
    if reader is not None:
        ids_per_order = dict(reader.shipped)
        outcome.shipped_orders = len(ids_per_order.keys() & workload.order_ids)
        outcome.unknown_shipped_orders = len(ids_per_order.keys() - workload.order_ids)
        several = {order: dict(ids) for order, ids in ids_per_order.items() if len(ids) > 1}
        outcome.orders_with_several_ids = len(several)
        outcome.several_ids_examples = dict(sorted(several.items())[:5])
        outcome.republished_same_id = sum(count - 1 for ids in ids_per_order.values() for count in ids.values())
        outcome.orders_republished = sum(1 for ids in ids_per_order.values() if any(c > 1 for c in ids.values()))
        outcome.shipped_records_read = reader.read()
        outcome.record_types = dict(reader.types)
    outcome.shipped_records_on_topic = record_count(args.bootstrap, names.shipped_orders, args.partitions)
    outcome.dead_letters = record_count(args.bootstrap, names.dead_letters, args.partitions)
    combined: Counter[str] = Counter(outcome.survivor_inputs)
    combined.update(outcome.killed_inputs_last_read)
    outcome.fulfillments_read_all_workers = inputs_of_type(dict(combined), "fulfillment.recorded")
    outcome.unexpected_statuses = {key: value for key, value in combined.items()
                                   if key.rsplit("/", 1)[-1] not in EXPECTED_STATUSES}
    if outcome.scenario_error is not None:
        return
    failures = outcome.failures
    if outcome.shipped_orders != args.orders:
        failures.append(f"{outcome.shipped_orders:,} of {args.orders:,} orders shipped")
    if outcome.unknown_shipped_orders:
        failures.append(f"order.shipped for {outcome.unknown_shipped_orders} orders not in the workload")
    if outcome.orders_with_several_ids:
        failures.append(f"{outcome.orders_with_several_ids} orders shipped under several event ids "
                        f"(e.g. {outcome.several_ids_examples})")
    others = {kind: count for kind, count in outcome.record_types.items() if not kind.endswith("order.shipped")}
    if others:
        failures.append(f"other records on shipped-orders: {others}")
    if outcome.shipped_records_read != outcome.shipped_records_on_topic:
        failures.append(f"the reader saw {outcome.shipped_records_read:,} records, the topic holds "
                        f"{outcome.shipped_records_on_topic:,}")
    if outcome.dead_letters:
        failures.append(f"{outcome.dead_letters} dead letters")
    if outcome.unexpected_statuses:
        failures.append(f"ledger inputs with unexpected outcomes: {outcome.unexpected_statuses}")
    if not outcome.survivor_inputs:
        failures.append("the survivor's /metrics did not answer")


# -- reporting and main ------------------------------------------------------------------------------------------


def print_report(args: RebalanceArgs, outcome: Outcome, machine: dict[str, Any], version: dict[str, Any]) -> None:
    lines = ["", "=" * 100,
             f"rebalance under load  {args.orders:,} orders x {args.fulfillments_per_order} fulfillments = "
             f"{outcome.fulfillments:,} fulfillment events, {args.partitions} partitions; worker-2 added at "
             f"{args.add_at:.0%} read, {outcome.killed or args.kill} SIGKILLed after {args.kill_after:.0%} more",
             "-" * 100,
             f"{'phase':<70}{'seconds':>9}{'fulfillments read':>20}"]
    for phase in outcome.phases:
        reads = f"{phase.fulfillments_read:,}" if phase.fulfillments_read is not None else "-"
        lines.append(f"{phase.name:<70}{phase.seconds:>9.1f}{reads:>20}" + (f"   {phase.note}" if phase.note else ""))
    if outcome.total_s is not None:
        lines.append(f"{'total: first fulfillment produced to the last order.shipped':<70}{outcome.total_s:>9.1f}"
                     f"{outcome.fulfillments:>20,}   ({outcome.fulfillments / outcome.total_s:,.0f} events/s)")
    duplicates = inputs_of_type({k: v for k, v in outcome.survivor_inputs.items() if k.endswith("/duplicate")},
                                "fulfillment.recorded")
    lines += [
        "-" * 100,
        f"shipped       {outcome.shipped_orders:,}/{args.orders:,} orders, {outcome.unknown_shipped_orders} unknown; "
        f"orders with more than one order.shipped event id: {outcome.orders_with_several_ids}",
        f"republished, same id: {outcome.republished_same_id} records over {outcome.orders_republished} orders "
        f"(a record read again after the kill republishes its order.shipped under the same event id)",
        f"shipped-orders {outcome.shipped_records_on_topic:,} records on the topic, {outcome.shipped_records_read:,} "
        f"read, by type {outcome.record_types}",
        f"dead letters  {outcome.dead_letters}",
        f"inputs        {outcome.survivor} (survivor) {outcome.survivor_inputs}",
        f"              {outcome.killed} (killed; last reading before SIGKILL) {outcome.killed_inputs_last_read}",
        f"              fulfillments read in all {outcome.fulfillments_read_all_workers:,} for {outcome.fulfillments:,}"
        f" produced ({duplicates:,} read again as duplicates by the survivor); unexpected outcomes "
        f"{outcome.unexpected_statuses or 'none'}",
        f"survivor log  {len(outcome.survivor_log_errors)} ERROR/CRITICAL/Traceback lines (besides "
        f"{outcome.survivor_log_no_buyer} expected '{NO_BUYER}': no connections configured)"
        + "".join(f"\n                {line[:200]}" for line in outcome.survivor_log_errors[:5]),
        f"machine       {machine['cores']} cores, {machine['cpu_model']}, Python {machine['python']}, load average "
        f"at start {', '.join(f'{x:.2f}' for x in machine['load_average_at_start'])}",
        f"code          {version['commit']}"
        + (f" + uncommitted changes to {', '.join(version['changed_files'])}" if version["changed_files"] else "")
        + (" (source CHANGED during the run)" if version.get("changed_during_run") else ""),
        "-" * 100,
    ]
    if outcome.scenario_error:
        lines.append(f"NOT RUN AS PLANNED: {outcome.scenario_error}")
    elif outcome.failures:
        lines += ["INCORRECT:"] + [f"  - {failure}" for failure in outcome.failures]
    else:
        lines.append("CORRECT: every order shipped exactly once (one event id each), no dead letters")
    lines.append("=" * 100)
    print("\n".join(lines), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    prefix = f"bench-{stamp.lower()}-rebalance"
    machine = machine_summary()
    version = code_version()
    say(f"run {prefix}: {args.orders:,} orders x {args.fulfillments_per_order} fulfillments, {args.partitions} "
        f"partitions, broker {args.bootstrap}, {machine['cores']} cores")
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    workload = build_workload(args.orders, args.fulfillments_per_order, prefix)
    outcome = Outcome(orders=args.orders, fulfillments=len(workload.fulfillments))
    try:
        run(args, prefix, folder, workload, outcome)
    except (ScenarioError, RuntimeError, TimeoutError) as error:
        outcome.scenario_error = f"{type(error).__name__}: {error}"
        say(f"the scenario stopped: {outcome.scenario_error}")
    finally:
        deleted = delete_bench_leftovers(args.bootstrap, prefix, [TopicNames(prefix).app_id])
        for state in folder.glob("*-state"):
            shutil.rmtree(state, ignore_errors=True)
        keep_logs = not outcome.correct
        if not keep_logs:
            shutil.rmtree(folder, ignore_errors=True)
        say(f"cleaned up: {len(deleted)} topics deleted" + (f"; worker logs kept in {folder}" if keep_logs else ""))
    version["changed_during_run"] = source_fingerprint() != version["source_fingerprint"]
    print_report(args, outcome, machine, version)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"rebalance-{stamp}.json"
    path.write_text(json.dumps({"run": prefix, "timestamp": stamp, "args": asdict(args), "outcome": asdict(outcome),
                                "correct": outcome.correct, "machine": machine, "code": version}, indent=2) + "\n")
    say(f"results written to {path}")
    if outcome.scenario_error:
        return 2
    return 0 if outcome.correct else 1


if __name__ == "__main__":
    sys.exit(main())

"""The ledger worker at a large order table: how long it takes to become ready, how much memory and disk it uses,
and whether its throughput holds, with N orders in the `orders` table (1,000,000 by default).

    python bench/scale.py [--orders 1000000] [--partitions 4] [--bootstrap 127.0.0.1:9092]
                          [--workload-orders 4000] [--workload-lines 3] [--build-processes 2] [--timeout 1800]
                          [--worker-loglevel warning] [--skip-worker] [--skip-webapp]

Every run uses fresh topic prefixes (`bench-<timestamp>-<pid>` for the full table, the same with `-empty` for the
comparison), a temporary folder for configs, state and logs, and deletes its topics, consumer groups and state at the
end, even on failure. Figures are printed and written as JSON to bench/results/scale-<timestamp>.json with the
machine, the commit and whether the tree had uncommitted changes; nothing is asserted.

Method
------
1. The table. Producing the inputs of a million orders through the ledger would take hours on this machine (about
   1,000 events/s, README.md "Performance"), so the `orders` table's changelog is loaded directly, one record per
   order (the changelog as compaction leaves it): key the order id, value exactly what the worker stores
   (`streams.orders.tables.ORDERS.encode`), partitioned by key with confluent-kafka's default partitioner, as the
   project's producers place the order's inputs (so every state lands in the partition its events go to).
   The states are made by the ledger itself (`ledger.apply` from `new_state`) on realistic inputs
   (`bench/state_size.py`'s `inputs`: titled lines, a shipping address, UPS tracking numbers and URLs), one
   template per kind of order (`KINDS`: about 70% shipped and 30% open; mostly 1-3 lines, some 10, a few 100;
   open ones partly fulfilled; a few with tracking corrections). Each record is its kind's template with a new
   buyer order reference and the order id derived from it (`schemas.ids.order_id`), replaced wherever the
   template's JSON holds them (the state's own id, the order.placed event inside, the outputs it remembers), then
   read back as the table's model and encoded with `ORDERS.encode`, so the stored value follows whatever the
   state's format is. Event ids inside the states stay the template's (unique per order only in a real table; no
   reader of the table relies on them being unique across orders). The records are built in `--build-processes`
   processes while the main process produces them in large batches.
   The first `--workload-orders` orders are instead open orders of `--workload-lines` single-unit lines (the
   orders of `bench/ledger_throughput.py`'s `build_workload`), each made by applying its own `order.placed`: step
   3 ships them.
2. The worker (`python -m fulfillsync.cli --config <tmp> worker`, the same start as `bench/ledger_throughput.py`,
   RocksDB options at the project's defaults). Started on an empty state folder, it rebuilds every partition of
   its tables from the changelogs: measured from the process start to `/readyz` 200 (goal 120 s). Then stopped
   (SIGTERM, its stop time measured) and started again on the state it wrote: process start to `/readyz` 200
   (goal 10 s). Per start: peak RSS (VmHWM from /proc, read just before it is stopped; goal 1 GiB), CPU seconds
   until ready, and the state folder's disk use (blocks allocated, as `du`).
3. Throughput at this table against an empty one. On the restarted worker, once its first stuck-order scan has
   finished (the timer that reads every entry of the table, `streams.orders.stuck`; its first run comes about
   30 s after ready; the time from ready to its end is reported), the workload's fulfillments (one
   `fulfillment.recorded` per line, interleaved across orders, so each order ships on its last) are produced and
   timed to the last `order.shipped`, exactly as `bench/ledger_throughput.py` times them (its `_fulfillment_phase`,
   with its correctness checks).
   The same steps 2 and 3 then run against a second set of topics whose table holds only the workload's orders,
   loaded the same way (rebuilt, restarted, then the same workload). Printed: both events/s, the worker's CPU time
   per event (the steadier figure on a shared machine: a worker given less than a core is slower, not costlier),
   the load average before each, and the ratios full / empty.
4. The web app's read model at the same table, when `bench/scale_webapp.py` is present and `--skip-webapp` is not
   given: its `measure_webapp(config, orders, timeout)` is called with the full table's topics still in place
   (`run_webapp` passes the arguments it declares by name), and its figures are printed and kept in the JSON under
   `webapp`. Without that module the part is reported as not available.

`--skip-worker` runs only step 1 (and step 4). The figures measure this machine with whatever else runs on it; the
load average at the start is reported.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import ledger_throughput as lt  # noqa: E402
from bench.state_size import BUYER, SELLER, inputs  # noqa: E402
from ledger import apply, new_state  # noqa: E402
from sandbox.server import free_port  # noqa: E402
from schemas.config import Config  # noqa: E402
from schemas.events import INPUT_EVENT_ADAPTER  # noqa: E402
from schemas.ids import order_id  # noqa: E402
from schemas.topics import TopicNames  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.kit.kafka_clients import new_producer  # noqa: E402
from streams.orders.tables import ORDERS  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
GIB = 1024 ** 3
GOALS = {"rebuild_ready_s": 120.0, "restart_ready_s": 10.0, "peak_rss_mib": 1024.0}
CHUNK = 5_000
"""Records built per task of a build process."""
_STUCK_SAMPLE = re.compile(r"^fulfillsync_orders_stuck\{", re.MULTILINE)


# -- the kinds of orders in the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of stored order: `lines` single-unit lines of which `fulfilled` are fulfilled (all of them: shipped),
    the last fulfillment's tracking corrected `corrections` times; `weight` in thousandths of the table."""

    name: str
    lines: int
    fulfilled: int
    corrections: int
    weight: int

    @property
    def shipped(self) -> bool:
        return self.fulfilled == self.lines


KINDS: tuple[Kind, ...] = (
    Kind("shipped 1 line", 1, 1, 0, 300),
    Kind("shipped 2 lines", 2, 2, 0, 180),
    Kind("shipped 3 lines", 3, 3, 0, 120),
    Kind("shipped 10 lines", 10, 10, 0, 60),
    Kind("shipped 10 lines, 3 corrections", 10, 10, 3, 28),
    Kind("shipped 100 lines", 100, 100, 0, 2),
    Kind("open 1 line, none fulfilled", 1, 0, 0, 120),
    Kind("open 2 lines, 1 fulfilled", 2, 1, 0, 80),
    Kind("open 3 lines, 1 fulfilled", 3, 1, 0, 70),
    Kind("open 10 lines, 5 fulfilled", 10, 5, 0, 38),
    Kind("open 100 lines, 50 fulfilled", 100, 50, 0, 2),
)
assert sum(kind.weight for kind in KINDS) == 1000


@dataclass(frozen=True)
class Template:
    """A kind's state made by the ledger, as JSON, and the strings that make it one order: its order id and its
    buyer order reference (quoted as in the JSON)."""

    kind: Kind
    json: str
    order_id: str
    quoted_ref: str


def make_template(kind: Kind, names: TopicNames) -> Template:
    """The state after the kind's inputs, each applied once at its own position (a placed order, its first
    `fulfilled` fulfillments, then the corrections when the order is shipped)."""
    events = inputs(kind.lines, kind.corrections)
    if not kind.shipped:
        events = events[: 1 + kind.fulfilled]
    state = new_state(events[0].order_id)
    for offset, event in enumerate(events):
        topic = names.order_events if event.type.startswith("order.") else names.fulfillment_events
        state = apply(state, event, f"{topic}:0:{offset}").state
    if state.is_shipped != kind.shipped:
        raise RuntimeError(f"template {kind.name!r}: the ledger says shipped={state.is_shipped}")
    assert BUYER.order_ref is not None
    return Template(kind=kind, json=state.model_dump_json(), order_id=state.order_id,
                    quoted_ref=f'"{BUYER.order_ref}"')


def order_ref(index: int) -> str:
    return f"gid://shopify/Order/{6_000_000_000_000 + index}"


def order_id_of(index: int) -> str:
    assert BUYER.connection is not None and SELLER.connection is not None
    return order_id(BUYER.connection, order_ref(index), SELLER.connection)


def stored_record(template: Template, index: int) -> tuple[bytes, bytes]:
    """The changelog record of order `index`: the template made that order (its id and reference replaced wherever
    they occur), read back as the table's model and encoded by the table's own spec."""
    key = order_id_of(index)
    text = template.json.replace(template.order_id, key).replace(template.quoted_ref, f'"{order_ref(index)}"')
    return key.encode(), ORDERS.encode(ORDERS.model.model_validate_json(text))


def check_template(template: Template) -> None:
    """The record a template makes is one order throughout: raises if the old id or reference is left anywhere, or
    the stored value does not decode to the key's order."""
    key, value = stored_record(template, 0)
    state = ORDERS.decode(value)
    text = state.model_dump_json()
    placed = getattr(state, "order", None)
    if (state.order_id != key.decode() or template.order_id in text or template.quoted_ref in text
            or (placed is not None and getattr(placed, "order_id", key.decode()) != key.decode())):
        raise RuntimeError(f"template {template.kind.name!r}: the order id is not replaced consistently")


_TEMPLATES: list[Template] = []


def _init_builder(templates: list[Template]) -> None:
    _TEMPLATES[:] = templates


def build_chunk(task: tuple[int, int]) -> list[tuple[bytes, bytes, str]]:
    """Records `start` to `start + count` as (key, value, kind name), kinds drawn with their weights (seeded by
    `start`, so a run is reproducible); runs in a build process."""
    start, count = task
    rng = random.Random(start)
    chosen = rng.choices(_TEMPLATES, weights=[t.kind.weight for t in _TEMPLATES], k=count)
    return [(*stored_record(template, start + n), template.kind.name) for n, template in enumerate(chosen)]


# -- loading the changelog ---------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    topic: str
    records: int = 0
    key_bytes: int = 0
    value_bytes: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    value_bytes_per_kind: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None

    @property
    def mean_value_bytes(self) -> float:
        return self.value_bytes / self.records if self.records else 0.0


class ChangelogWriter:
    """A fast producer of changelog records (large batches, no compression: the values are compressed already, and
    Faust writes its changelogs uncompressed), partitioned by key like the project's producers."""

    def __init__(self, bootstrap: str, result: LoadResult) -> None:
        self.result = result
        self._errors: list[str] = []
        self._producer = new_producer(bootstrap, {"acks": "all", "linger.ms": 50, "batch.size": 1_000_000,
                                                  "queue.buffering.max.kbytes": 512 * 1024,
                                                  "queue.buffering.max.messages": 1_000_000})

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is not None and len(self._errors) < 10:
            self._errors.append(str(error))

    def write(self, key: bytes, value: bytes, kind: str) -> None:
        while True:
            try:
                self._producer.produce(self.result.topic, key=key, value=value, on_delivery=self._delivered)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)
        self.result.records += 1
        self.result.key_bytes += len(key)
        self.result.value_bytes += len(value)
        self.result.value_bytes_per_kind[kind] = self.result.value_bytes_per_kind.get(kind, 0) + len(value)

    def flush(self) -> None:
        remaining = self._producer.flush(600)
        if remaining or self._errors:
            raise RuntimeError(f"changelog load failed: {remaining} records undelivered; {self._errors[:3]}")


def workload_states(workload: lt.Workload, names: TopicNames) -> Iterator[tuple[bytes, bytes]]:
    """The table records of the workload's orders: each its own `order.placed` applied by the ledger."""
    for offset, record in enumerate(workload.orders):
        event = INPUT_EVENT_ADAPTER.validate_json(record.value)
        state = apply(new_state(event.order_id), event, f"{names.order_events}:0:{offset}").state
        yield record.key, ORDERS.encode(state)


def load_table(args: Args, names: TopicNames, workload: lt.Workload, *, orders: int) -> LoadResult:
    """Load `orders` orders into the `orders` changelog of `names`: the workload's, then templates' (module
    docstring)."""
    result = LoadResult(topic=ORDERS.changelog(names.app_id))
    writer = ChangelogWriter(args.bootstrap, result)
    started = time.perf_counter()
    kinds: Counter[str] = Counter()
    for key, value in workload_states(workload, names):
        writer.write(key, value, "workload: open, none fulfilled")
    kinds["workload: open, none fulfilled"] = len(workload.orders)
    rest = orders - len(workload.orders)
    if rest > 0:
        templates = [make_template(kind, names) for kind in KINDS]
        for template in templates:
            check_template(template)
        first = len(workload.orders)
        tasks = [(start, min(CHUNK, first + rest - start)) for start in range(first, first + rest, CHUNK)]
        context = multiprocessing.get_context("spawn")
        with lt.progress(lambda: f"{result.records:,} of {orders:,} records produced"), \
                context.Pool(args.build_processes, initializer=_init_builder, initargs=(templates,)) as pool:
            for records in pool.imap(build_chunk, tasks):
                for key, value, kind in records:
                    writer.write(key, value, kind)
                    kinds[kind] += 1
    writer.flush()
    result.seconds = time.perf_counter() - started
    result.kinds = dict(kinds)
    return result


# -- the worker --------------------------------------------------------------------------------------------------


@dataclass
class StartResult:
    """One start of the worker."""

    what: str
    ready_s: float | None = None
    cpu_s_to_ready: float | None = None
    rss_at_ready_mib: float | None = None
    first_scan_after_ready_s: float | None = None
    peak_rss_mib: float | None = None
    stop_s: float | None = None
    exit_code: int | None = None
    state_disk_mib: float | None = None
    state_files: int | None = None


def cpu_us_per_event(result: lt.LedgerResult | None) -> float | None:
    """The worker's CPU time per fulfillment event in the throughput phase: less sensitive than events/s to the
    other work on the machine (a worker that gets less than a core is slower, not costlier)."""
    if result is None or not result.complete or not result.worker_cpu_s_fulfillment_phase:
        return None
    used = result.worker_cpu_s_fulfillment_phase[0]
    return round(used / result.events * 1e6) if used is not None else None


def state_disk(path: Path) -> tuple[float, int]:
    """MiB allocated under `path` (as `du`: blocks, not apparent sizes) and the number of files."""
    allocated, files = 0, 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            with suppress(OSError):
                allocated += os.lstat(os.path.join(folder, name)).st_blocks * 512
                files += 1
    return round(allocated / (1024 * 1024), 1), files


def stuck_scan_done(port: int) -> bool:
    status, body = lt.http_get(f"http://127.0.0.1:{port}/metrics")
    return status == 200 and _STUCK_SAMPLE.search(body.decode(errors="replace")) is not None


def start_and_wait(args: Args, lt_args: lt.Args, config: Config, config_path: Path, log_path: Path,
                   what: str) -> tuple[subprocess.Popen[bytes], StartResult]:
    """Start the worker and wait for /readyz 200; the result holds the time from the process start."""
    port = config.worker.web_port
    result = StartResult(what=what)
    started = time.perf_counter()
    worker = lt.start_worker(lt_args, config_path, log_path)
    try:
        with lt.progress(lambda: f"{what}: {time.perf_counter() - started:.0f}s, worker RSS "
                         f"{lt._mib(lt.proc_stats(worker.pid).vm_rss_kib)} MiB, state "
                         f"{state_disk(Path(config.worker.state_dir))[0]} MiB"):
            lt.wait_for(lambda: lt.http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200, args.timeout,
                        "/readyz 200", worker)
        result.ready_s = time.perf_counter() - started
    except BaseException:
        stop(worker, result, config)
        lt.say(f"worker log tail:\n{lt.log_tail(log_path)}")
        raise
    stats = lt.proc_stats(worker.pid)
    result.cpu_s_to_ready, result.rss_at_ready_mib = stats.cpu_seconds, lt._mib(stats.vm_rss_kib)
    lt.say(f"{what}: ready after {result.ready_s:.1f}s (pid {worker.pid}, CPU {result.cpu_s_to_ready}s, "
           f"RSS {result.rss_at_ready_mib} MiB)")
    return worker, result


def wait_first_scan(args: Args, worker: subprocess.Popen[bytes], port: int, result: StartResult) -> None:
    ready_at = time.perf_counter()
    with suppress(TimeoutError):
        lt.wait_for(lambda: stuck_scan_done(port), args.timeout, "the first stuck-order scan", worker)
        result.first_scan_after_ready_s = round(time.perf_counter() - ready_at, 1)
    lt.say(f"first stuck-order scan done {result.first_scan_after_ready_s}s after ready")


def stop(worker: subprocess.Popen[bytes], result: StartResult, config: Config) -> None:
    result.peak_rss_mib = lt._mib(lt.proc_stats(worker.pid).vm_hwm_kib)
    stopping = time.perf_counter()
    result.exit_code = lt.stop_process(worker, timeout_s=120)
    result.stop_s = round(time.perf_counter() - stopping, 1)
    result.state_disk_mib, result.state_files = state_disk(Path(config.worker.state_dir))


@dataclass
class TableRun:
    """One set of topics and one state folder: the config, and what happened to them."""

    prefix: str
    config: Config
    config_path: Path
    load: LoadResult | None = None
    starts: list[StartResult] = field(default_factory=list)
    throughput: lt.LedgerResult | None = None
    load_average_before_throughput: list[float] = field(default_factory=list)


def make_run(args: Args, prefix: str, temp: Path) -> TableRun:
    folder = temp / prefix
    folder.mkdir(parents=True)
    lt_args = worker_args(args)
    config = lt.write_config(folder / "config.yaml", args=lt_args, prefix=prefix, state_dir=folder / "state",
                             web_port=free_port())
    return TableRun(prefix=prefix, config=config, config_path=folder / "config.yaml")


def worker_args(args: Args) -> lt.Args:
    return lt.Args(orders=args.workload_orders, fulfillments_per_order=args.workload_lines,
                   partitions=args.partitions, bootstrap=args.bootstrap, timeout=args.timeout,
                   worker_loglevel=args.worker_loglevel)


def measure_worker(args: Args, run: TableRun, workload: lt.Workload) -> None:
    """Steps 2 and 3 on one table: start on an empty volume, stop, start again on the state kept, then the
    workload's throughput on that second start."""
    lt_args = worker_args(args)
    names = TopicNames(run.prefix)
    port = run.config.worker.web_port
    log_path = run.config_path.parent / "worker.log"
    worker, first = start_and_wait(args, lt_args, run.config, run.config_path, log_path,
                                   "rebuild from the changelogs (empty state folder)")
    run.starts.append(first)
    stop(worker, first, run.config)
    lt.say(f"stopped in {first.stop_s}s (exit {first.exit_code}), peak RSS {first.peak_rss_mib} MiB, "
           f"state {first.state_disk_mib} MiB in {first.state_files} files")
    worker, last = start_and_wait(args, lt_args, run.config, run.config_path, log_path, "restart on its own state")
    run.starts.append(last)
    try:
        wait_first_scan(args, worker, port, last)
        result = lt.LedgerResult(events=len(workload.fulfillments))
        run.throughput = result
        run.load_average_before_throughput = [round(x, 2) for x in os.getloadavg()]
        handle = lt.WorkerHandle(name="worker", config_path=run.config_path, port=port, log_path=log_path,
                                 process=worker)
        lt._fulfillment_phase(lt_args, names, [handle], workload, result)
        lt.say(f"throughput: {result.events:,} fulfillments at {_num(result.events_per_s)} events/s, "
               f"{_num(cpu_us_per_event(result))} us of worker CPU per event, correct {result.correct}")
    finally:
        stop(worker, last, run.config)
        lt.say(f"stopped in {last.stop_s}s (exit {last.exit_code}), peak RSS {last.peak_rss_mib} MiB, "
               f"state {last.state_disk_mib} MiB")
    if last.exit_code not in (0, -signal.SIGTERM):
        lt.say(f"worker exit code {last.exit_code}; log tail:\n{lt.log_tail(log_path)}")


# -- the web app part --------------------------------------------------------------------------------------------


def run_webapp(args: Args, run: TableRun) -> dict[str, Any]:
    """Call `bench/scale_webapp.py`'s `measure_webapp` at the full table, passing by name whichever of these it
    declares: `bootstrap`, `prefix`, `app_id`, `config` (the `Config`), `config_path`, `orders`, `partitions`,
    `timeout` (all of them when it takes `**kwargs`). Returns its figures, or `{"available": False, "reason": ...}`.
    """
    try:
        module = importlib.import_module("bench.scale_webapp")
        measure: Callable[..., Any] = module.measure_webapp
    except (ImportError, AttributeError) as error:
        return {"available": False, "reason": f"bench/scale_webapp.py: {error}"}
    offered: dict[str, Any] = {"bootstrap": args.bootstrap, "prefix": run.prefix,
                               "app_id": TopicNames(run.prefix).app_id, "config": run.config,
                               "config_path": run.config_path, "orders": args.orders,
                               "partitions": args.partitions, "timeout": args.timeout}
    parameters = inspect.signature(measure).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        passed = offered
    else:
        missing = [name for name, p in parameters.items()
                   if name not in offered and p.default is inspect.Parameter.empty
                   and p.kind not in (inspect.Parameter.VAR_POSITIONAL,)]
        if missing:
            return {"available": False, "reason": f"measure_webapp needs {missing}, which scale.py does not offer"}
        passed = {name: value for name, value in offered.items() if name in parameters}
    positional = [name for name, p in parameters.items() if p.kind is inspect.Parameter.POSITIONAL_ONLY]
    figures = measure(*(passed.pop(name) for name in positional if name in passed), **passed)
    return {"available": True, **(figures if isinstance(figures, dict) else {"result": figures})}


# -- arguments, reporting, main ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Args:
    orders: int
    partitions: int
    bootstrap: str
    workload_orders: int
    workload_lines: int
    build_processes: int
    timeout: float
    worker_loglevel: str
    skip_worker: bool
    skip_webapp: bool


def parse_args(argv: Sequence[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the table (default 1000000)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--workload-orders", type=int, default=4000,
                        help="open orders shipped by the throughput workload (default 4000)")
    parser.add_argument("--workload-lines", type=int, default=3,
                        help="single-unit lines per workload order, one fulfillment each (default 3)")
    parser.add_argument("--build-processes", type=int, default=2,
                        help="processes building the table's records (default 2)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per waiting phase")
    parser.add_argument("--worker-loglevel", default="warning", help="the worker's --loglevel (default warning)")
    parser.add_argument("--skip-worker", action="store_true", help="only load the table (and run the web app part)")
    parser.add_argument("--skip-webapp", action="store_true", help="do not run bench/scale_webapp.py")
    ns = parser.parse_args(argv)
    if min(ns.orders, ns.partitions, ns.workload_orders, ns.workload_lines, ns.build_processes) < 1:
        parser.error("--orders, --partitions, --workload-orders, --workload-lines and --build-processes must be "
                     "positive")
    if ns.workload_orders > ns.orders:
        parser.error("--workload-orders cannot exceed --orders")
    return Args(orders=ns.orders, partitions=ns.partitions, bootstrap=ns.bootstrap, workload_orders=ns.workload_orders,
                workload_lines=ns.workload_lines, build_processes=ns.build_processes, timeout=ns.timeout,
                worker_loglevel=ns.worker_loglevel, skip_worker=ns.skip_worker, skip_webapp=ns.skip_webapp)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator and denominator else None


def _num(value: float | None, digits: int = 0) -> str:
    return f"{value:,.{digits}f}" if value is not None else "n/a"


def _goal(value: float | None, goal: float) -> str:
    if value is None:
        return ""
    return f"(goal <= {goal:,.0f}: {'met' if value <= goal else 'NOT met'})"


def print_report(report: dict[str, Any], full: TableRun, empty: TableRun | None, webapp: dict[str, Any] | None) -> None:
    load = full.load
    machine, code = report["machine"], report["code"]
    lines = ["", "=" * 100,
             f"scale  {report['orders']:,} orders in the table, {report['partitions']} partitions",
             "-" * 100]
    if load is not None:
        lines.append(f"changelog   {load.records:,} records, {load.value_bytes / 2**20:,.1f} MiB of values "
                     f"(mean {load.mean_value_bytes:,.0f} B), loaded in {_num(load.seconds, 1)}s")
        for kind in [*(k.name for k in KINDS), "workload: open, none fulfilled"]:
            count = load.kinds.get(kind, 0)
            if count:
                mean = load.value_bytes_per_kind.get(kind, 0) / count
                lines.append(f"    {count:>9,}  {kind:<34} ~{mean:>7,.0f} B stored")
    for start in full.starts:
        goal = GOALS["rebuild_ready_s"] if start.what.startswith("rebuild") else GOALS["restart_ready_s"]
        lines.append(f"{start.what:<50} ready {_num(start.ready_s, 1)}s {_goal(start.ready_s, goal)}; "
                     f"CPU to ready {_num(start.cpu_s_to_ready, 1)}s"
                     + (f"; {load.records / start.ready_s:,.0f} orders/s" if load and start.ready_s
                        and start.what.startswith("rebuild") else ""))
        lines.append(f"{'':<50} peak RSS {_num(start.peak_rss_mib, 1)} MiB {_goal(start.peak_rss_mib, 1024)}; "
                     f"state folder {_num(start.state_disk_mib, 1)} MiB ({start.state_files} files); "
                     f"stop {_num(start.stop_s, 1)}s, exit {start.exit_code}")
        if start.first_scan_after_ready_s is not None:
            lines.append(f"{'':<50} first stuck-order scan done {start.first_scan_after_ready_s}s after ready")
    full_rate = full.throughput.events_per_s if full.throughput else None
    empty_rate = empty.throughput.events_per_s if empty and empty.throughput else None
    for label, run in (("full table", full), ("empty table", empty)):
        if run is not None and run.throughput is not None:
            result = run.throughput
            lines.append(f"throughput, {label:<12} {_num(result.events_per_s):>8} events/s, "
                         f"{_num(cpu_us_per_event(result)):>6} us CPU/event  ({result.events:,} fulfillments in "
                         f"{_num(result.elapsed_s, 1)}s, worker at {result.worker_cpu_utilisation} cores, load "
                         f"average {run.load_average_before_throughput[:1]}; correct "
                         f"{'YES' if result.correct else 'NO'}: {result.shipped_distinct:,} shipped, dead letters "
                         f"{result.dead_letters})")
    if full_rate and empty_rate:
        full_cpu, empty_cpu = cpu_us_per_event(full.throughput), cpu_us_per_event(empty.throughput if empty else None)
        lines.append(f"ratio full / empty  {full_rate / empty_rate:.3f} in events/s"
                     + (f", {full_cpu / empty_cpu:.3f} in CPU per event" if full_cpu and empty_cpu else ""))
    if empty is not None:
        for start in empty.starts:
            lines.append(f"empty table, {start.what:<37} ready {_num(start.ready_s, 1)}s, peak RSS "
                         f"{_num(start.peak_rss_mib, 1)} MiB, state {_num(start.state_disk_mib, 1)} MiB")
    if webapp is not None:
        if webapp.get("available"):
            lines.append("web app     (bench/scale_webapp.py)")
            lines += [f"    {name} = {value}" for name, value in _flat(webapp) if name != "available"]
        else:
            lines.append(f"web app part not available ({webapp.get('reason')})")
    lines += [f"machine     {machine['cores']} cores, {machine['cpu_model']}, Python {machine['python']}, load average "
              f"at start {', '.join(f'{x:.2f}' for x in machine['load_average_at_start'])}",
              f"code        {code['commit']}" + (f" + uncommitted changes to {', '.join(code['changed_files'])}"
                                                 if code["changed_files"] else " (clean)")
              + (" (source CHANGED during the run)" if code.get("changed_during_run") else ""),
              f"run took    {report['wall_s']:.0f}s", "=" * 100]
    print("\n".join(lines), flush=True)


def _flat(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, scalar) for every scalar in nested dicts."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat(inner, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _serialisable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return _serialisable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _serialisable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_serialisable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Config):
        return None
    return value


def write_results(report: dict[str, Any], stamp: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"scale-{stamp}.json"
    path.write_text(json.dumps(_serialisable(report), indent=2, default=str) + "\n")
    return path


def run_summary(run: TableRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"prefix": run.prefix, "load": run.load, "load_mean_value_bytes": run.load.mean_value_bytes if run.load
            else None, "starts": run.starts, "throughput": run.throughput,
            "throughput_cpu_us_per_event": cpu_us_per_event(run.throughput),
            "load_average_before_throughput": run.load_average_before_throughput}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    prefix = f"bench-{stamp.lower()}-{os.getpid()}"
    machine, version = lt.machine_summary(), lt.code_version()
    lt.say(f"code {version['commit']}" + (f" with changes to {', '.join(version['changed_files'])}"
                                          if version["changed_files"] else " (clean)"))
    lt.say(f"run {prefix}: {args.orders:,} orders, {args.partitions} partitions, broker {args.bootstrap}")
    temp = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    full = make_run(args, prefix, temp)
    empty: TableRun | None = None
    webapp: dict[str, Any] | None = None
    try:
        workload = lt.build_workload(args.workload_orders, args.workload_lines, prefix)
        ensure_topics(full.config.kafka)
        lt.say(f"loading {args.orders:,} orders into {ORDERS.changelog(TopicNames(prefix).app_id)} ...")
        full.load = load_table(args, TopicNames(prefix), workload, orders=args.orders)
        lt.say(f"loaded {full.load.records:,} records ({full.load.value_bytes / 2**20:,.1f} MiB of values) in "
               f"{full.load.seconds:.1f}s")
        if not args.skip_worker:
            measure_worker(args, full, workload)
            empty = make_run(args, f"{prefix}-empty", temp)
            ensure_topics(empty.config.kafka)
            empty.load = load_table(args, TopicNames(empty.prefix), workload, orders=args.workload_orders)
            lt.say(f"empty table: {empty.load.records:,} workload orders loaded")
            measure_worker(args, empty, workload)
        if not args.skip_webapp:
            lt.say("web app part ...")
            webapp = run_webapp(args, full)
            if not webapp.get("available"):
                lt.say(f"web app part not available ({webapp.get('reason')})")
    finally:
        groups = [TopicNames(prefix).app_id, TopicNames(f"{prefix}-empty").app_id]
        deleted = lt.delete_bench_leftovers(args.bootstrap, prefix, groups)
        shutil.rmtree(temp, ignore_errors=True)
        lt.say(f"cleaned up: {len(deleted)} topics deleted, {temp} removed")
    version["changed_during_run"] = lt.source_fingerprint() != version["source_fingerprint"]
    full_rate = full.throughput.events_per_s if full.throughput else None
    empty_rate = empty.throughput.events_per_s if empty and empty.throughput else None
    report: dict[str, Any] = {
        "run": prefix, "timestamp": stamp, "orders": args.orders, "partitions": args.partitions,
        "bootstrap": args.bootstrap, "workload": {"orders": args.workload_orders, "lines": args.workload_lines,
                                                  "fulfillment_events": args.workload_orders * args.workload_lines},
        "kinds": [asdict(kind) for kind in KINDS], "goals": GOALS,
        "full": run_summary(full), "empty": run_summary(empty),
        "throughput_ratio_full_to_empty": full_rate / empty_rate if full_rate and empty_rate else None,
        "cpu_per_event_ratio_full_to_empty": _ratio(cpu_us_per_event(full.throughput),
                                                    cpu_us_per_event(empty.throughput if empty else None)),
        "webapp": webapp, "machine": machine, "code": {**version, "dirty": bool(version["changed_files"])},
        "wall_s": round(time.perf_counter() - began, 1),
    }
    print_report(report, full, empty, webapp)
    lt.say(f"results written to {write_results(report, stamp)}")
    ok = all(run.throughput is None or run.throughput.correct for run in (full, empty) if run is not None)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The web app's read model (`webapp.readmodel.TopicReadModel`) at a large order table: time to ready from an empty
store and after a restart with its store, peak memory, the store's size on disk, and how long the read model takes
to answer an order page and a connection's list page.

    python bench/scale_webapp.py [--orders 100000] [--bootstrap 127.0.0.1:9092] [--partitions 4]
                                 [--sellers 1000] [--buyers 100] [--keep-topics]

`measure_webapp(config, orders)` measures against topics already loaded (bench/scale.py calls it with its full
table); `main()` first loads its own table into fresh topics (prefix `webbench-<timestamp>-<pid>`, deleted at the
end unless `--keep-topics`): `--orders` records on the order table's changelog, one per order (the changelog as
compaction leaves it), made by the ledger itself (`ledger.apply` from `ledger.new_state` on `bench/state_size.py`'s
`inputs`) for a few kinds of orders (`KINDS`), each record its kind's state with the order id, the seller and
buyer connections (`--sellers`, `--buyers` of them, in turn) and the placed time changed on the decoded state, then
encoded with `streams.orders.tables.ORDERS.encode`.

Method: the read model runs in a child process (`python -m bench.scale_webapp --child ...`), so its memory is its
own: peak RSS is the child's VmHWM from /proc, read just before it exits, plus the peak of the process that decodes
the backlog beside it (`webapp.outlines`; its VmHWM sampled from /proc every 0.1 s), the two peaks
added (an upper bound of what they held together); CPU is both processes' (`cpu_s_until_ready` is the reader's
own). Run 1 starts on an empty store folder (read from offset 0), run 2 on the store run 1 left. Time to ready is
from starting the child to `ready` (imports included). Page times are the read model's part of a page: `order(id)`
for 20 orders not yet viewed (decoding the state and building the view) and again (cached); `orders_of(connection)`
for the seller connection of one of them, first and second time, when it has at most `LIST_LIMIT` orders
(`orders_of` builds a view of every order of the connection; above that the page is only estimated: its orders
times the median first order page).
Figures are printed and returned; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from schemas.config import Config, KafkaSettings  # noqa: E402

LIST_LIMIT = 5_000
"""A connection's list page is timed only up to this many orders (each costs a view built)."""

SAMPLE_ORDERS = 20


# -- measuring -------------------------------------------------------------------------------------------------


def measure_webapp(config: Config, orders: int, timeout: float = 1800.0) -> dict[str, object]:
    """Run the read model twice against the topics of `config` (already loaded with `orders` orders): on an empty
    store, then on the store the first run left. Returns the figures (see the module docstring)."""
    folder = Path(tempfile.mkdtemp(prefix="scale-webapp-"))
    try:
        store_dir = folder / "store"
        run_config = config.model_copy(update={"web": config.web.model_copy(update={"store_dir": str(store_dir)})})
        config_file = folder / "config.pickle"
        config_file.write_bytes(pickle.dumps(run_config))
        cold = _child(config_file, folder / "cold.json", timeout)
        size = _disk_use(store_dir)
        warm = _child(config_file, folder / "warm.json", timeout)
        return {"orders": orders, "orders_in_store": cold.get("orders_in_store"),
                "empty_store": cold, "restart": warm, "store_disk_bytes": size,
                "store_disk_mib": round(size / 2**20, 1),
                "peak_rss_mib": max(float(cold.get("peak_rss_mib", 0)), float(warm.get("peak_rss_mib", 0))),
                "goals": {"peak_rss_mib": 512, "ready_s": 30}}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _child(config_file: Path, out: Path, timeout: float) -> dict[str, Any]:
    started = time.time()
    process = subprocess.run([sys.executable, "-m", "bench.scale_webapp", "--child", str(config_file), str(out),
                              str(timeout)], cwd=REPO, capture_output=True, text=True, timeout=timeout + 300,
                             check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    if process.returncode != 0 or not out.exists():
        return {"failed": True, "exit_code": process.returncode, "stderr_tail": process.stderr[-3000:]}
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["ready_s"] = round(figures.pop("ready_at") - started, 2) if figures.get("ready_at") else None
    return figures


def _disk_use(folder: Path) -> int:
    return sum(path.stat().st_blocks * 512 for path in folder.rglob("*") if path.is_file())


def _proc_status(pid: int | str = "self") -> dict[str, float]:
    """VmHWM and VmRSS of process `pid` in MiB, from /proc (raises OSError once the process is gone)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            found[name] = int(value.split()[0]) / 1024  # kB -> MiB
    return found


def child_main(config_file: Path, out: Path, timeout: float) -> int:
    """The read model in this process, with the garbage collection of `fulfillsync web`: ready, then the pages;
    writes the figures to `out`."""
    from streams.kit.gc_tuning import collect_less_often
    from webapp.readmodel import TopicReadModel

    config: Config = pickle.loads(config_file.read_bytes())
    collect_less_often()
    watch = _ChildPeaks().start()
    model = TopicReadModel(config).start()
    started = time.monotonic()
    ready = model.wait_ready(timeout)
    figures: dict[str, Any] = {"ready": ready, "ready_at": time.time() if ready else None,
                               "model_ready_s": round(time.monotonic() - started, 2),
                               "cpu_s_until_ready": round(_cpu_s(), 1),
                               "rss_at_ready_mib": round(_proc_status().get("VmRSS", 0), 1),
                               "temporary_store": model.store.temporary}
    if ready:
        figures.update(_pages(model))
    model.close()
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:  # reaps the decoding process
        time.sleep(0.05)
    watch.stop()
    status = _proc_status()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["decoder_peak_rss_mib"] = round(watch.peak_mib, 1)  # 0 without a decoder
    figures["decoder_cpu_s"] = round(children.ru_utime + children.ru_stime, 1)
    # the two processes' peaks added: an upper bound of what they held together
    figures["peak_rss_mib"] = round(status.get("VmHWM", 0) + figures["decoder_peak_rss_mib"], 1)
    figures["reader_peak_rss_mib"] = round(status.get("VmHWM", 0), 1)
    figures["batches_decoded_ahead"] = model.decoded_ahead
    figures["cpu_s"] = round(_cpu_s() + figures["decoder_cpu_s"], 1)
    out.write_text(json.dumps(figures))
    return 0


class _ChildPeaks:
    """The largest VmHWM of this process's multiprocessing children (the read model's decoding process), read from
    /proc every 0.1 s while they live (a growth in their last 0.1 s may be missed)."""

    def __init__(self) -> None:
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> _ChildPeaks:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for child in multiprocessing.active_children():
                if child.pid is None:
                    continue
                try:
                    self.peak_mib = max(self.peak_mib, _proc_status(child.pid).get("VmHWM", 0.0))
                except OSError:  # it ended meanwhile
                    continue


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pages(model: Any) -> dict[str, Any]:
    with sqlite3.connect(f"file:{model.store.path}?mode=ro", uri=True) as db:
        count = int(db.execute("SELECT count(*) FROM orders WHERE seller IS NOT NULL").fetchone()[0])
        top = int(db.execute("SELECT max(rowid) FROM orders").fetchone()[0] or 0)
        rng = random.Random(7)
        sample: list[tuple[str, str]] = []
        while len(sample) < min(SAMPLE_ORDERS, count):
            found = db.execute("SELECT order_id, seller FROM orders WHERE rowid >= ? AND seller IS NOT NULL LIMIT 1",
                               (rng.randint(1, top),)).fetchone()
            if found is not None and found not in sample:
                sample.append(found)
        seller = sample[0][1] if sample else ""
        listed = int(db.execute("SELECT count(*) FROM orders WHERE seller = ?", (seller,)).fetchone()[0])
    db.close()
    first, again = [], []
    for order_id, _seller in sample:
        started = time.perf_counter()
        model.order(order_id)
        first.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.order(order_id)
        again.append(time.perf_counter() - started)
    figures: dict[str, Any] = {"orders_in_store": count}
    if first:
        figures["order_page_ms"] = {"first_median": _ms(statistics.median(first)), "first_max": _ms(max(first)),
                                    "cached_median": _ms(statistics.median(again))}
    page: dict[str, Any] = {"connection": seller, "orders": listed}
    if listed <= LIST_LIMIT:
        started = time.perf_counter()
        model.store.ids_of(seller)
        page["index_query_ms"] = _ms(time.perf_counter() - started)
        for name in ("first_ms", "second_ms"):
            started = time.perf_counter()
            model.orders_of(seller)
            page[name] = _ms(time.perf_counter() - started)
    elif first:
        page["not_measured"] = f"{listed} orders > {LIST_LIMIT}: orders_of builds a view of each"
        page["estimated_first_s"] = round(listed * statistics.median(first), 1)
    figures["list_page"] = page
    return figures


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# -- loading a table of its own --------------------------------------------------------------------------------

KINDS = (  # (lines, fulfilled lines, weight): mostly small shipped orders, some open, a few larger
    (1, 1, 40), (2, 2, 20), (3, 3, 15), (10, 10, 5), (1, 0, 10), (3, 1, 10),
)


def _templates() -> list[tuple[Any, int]]:
    from bench.state_size import inputs
    from ledger import apply, new_state

    made = []
    for lines, fulfilled, weight in KINDS:
        events = inputs(lines, 0)[: 1 + fulfilled]
        state = new_state(events[0].order_id)
        for offset, event in enumerate(events):
            state = apply(state, event, f"bench:0:{offset}").state
        made.append((state, weight))
    return made


def load(config: Config, orders: int, sellers: int, buyers: int) -> float:
    """Produce `orders` states on the order table's changelog; returns the seconds it took."""
    from schemas.ids import order_id
    from schemas.topics import TopicNames
    from streams.kit.kafka_clients import new_producer
    from streams.orders.tables import ORDERS

    templates = _templates()
    topic = ORDERS.changelog(TopicNames(config.kafka.topic_prefix).app_id)
    producer = new_producer(config.kafka, {"linger.ms": 100, "batch.num.messages": 10_000,
                                           "queue.buffering.max.kbytes": 262_144})
    rng = random.Random(1)
    chosen = rng.choices([state for state, _ in templates], weights=[w for _, w in templates], k=orders)
    started = time.monotonic()
    for index, template in enumerate(chosen):
        placed = template.order
        seller = placed.seller.model_copy(update={"connection": f"seller-{index % sellers:05d}"})
        buyer = placed.buyer.model_copy(update={"connection": f"buyer-{index % buyers:04d}",
                                                "order_ref": f"gid://shopify/Order/{6_000_000_000_000 + index}"})
        key = order_id(buyer.connection, buyer.order_ref, seller.connection)
        state = template.model_copy(update={"order_id": key, "order": placed.model_copy(update={
            "order_id": key, "seller": seller, "buyer": buyer,
            "occurred_at": placed.occurred_at + timedelta(seconds=index)})})
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=ORDERS.encode(state))
                break
            except BufferError:
                producer.poll(0.1)
        if index % 10_000 == 0:
            producer.poll(0)
            if index:
                print(f"  loaded {index:,} of {orders:,}", flush=True)
    producer.flush(600)
    return time.monotonic() - started


def _delete_topics(config: Config) -> None:
    from streams.admin import topic_specs
    from streams.kit.kafka_clients import new_admin

    names = [spec.name for spec in topic_specs(config.kafka)]
    admin = new_admin(config.kafka)
    for future in admin.delete_topics(names, operation_timeout=60).values():
        try:
            future.result(timeout=60)
        except Exception as error:  # noqa: BLE001 - reported, the run is over
            print(f"  could not delete a topic: {error}")


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["--child"]:
        return child_main(Path(arguments[1]), Path(arguments[2]), float(arguments[3]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--sellers", type=int, default=1000, help="seller connections the orders go to in turn")
    parser.add_argument("--buyers", type=int, default=100, help="buyer connections the orders come from in turn")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--keep-topics", action="store_true")
    args = parser.parse_args(arguments)

    from streams.admin import ensure_topics

    prefix = f"webbench-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    config = Config(kafka=KafkaSettings(bootstrap_servers=args.bootstrap, topic_prefix=prefix,
                                        partitions=args.partitions))
    ensure_topics(config.kafka)
    try:
        print(f"loading {args.orders:,} orders into {prefix} ({args.sellers} sellers, {args.buyers} buyers)")
        print(f"  loaded in {load(config, args.orders, args.sellers, args.buyers):.1f} s")
        figures = measure_webapp(config, args.orders, args.timeout)
    finally:
        if not args.keep_topics:
            _delete_topics(config)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What Faust itself costs on this machine: the ceiling any Faust-based ledger can reach.

    python bench/faust_floor.py [--events 60000] [--partitions 4] [--bootstrap 127.0.0.1:9092]

Three passes over the same N pre-built records (600-byte values, 20,000 distinct keys, interleaved), each in a
fresh topic, each timed from the first record produced to the last record processed:

1. `iterate`: a Faust agent (same transport, store and producer settings as the worker) that only iterates;
2. `table`:   the same agent writing each record's value into a RocksDB table (one changelog record per event),
              which is the least the ledger does per event;
3. `raw`:     a confluent-kafka consumer that only reads (the broker's and the client's own cost).

The Faust agents run in a child process (`python bench/faust_floor.py --agent MODE PREFIX`), which prints `ready`
once its first rebalance and table recovery are complete (Faust's `on_rebalance_complete`; the parent produces
nothing before that, as the ledger benchmark waits for the worker's /readyz), a progress line every 10,000
records, and `done N` at the N-th record. Topics, the consumer group and the state are deleted at the end.

`bench/ledger_throughput.py` imports `faust_pass` and runs the `iterate` and `table` passes in the same invocation
as the ledger, on the same broker, producing the ledger run's own pre-encoded fulfillment records (its `produce`
argument) instead of the synthetic ones, so the floor reads the same records, keys and count as the ledger.
"""

from __future__ import annotations

import argparse
import logging
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.cimpl import NewTopic

from schemas.config import KafkaSettings
from streams.kit.kafka_clients import new_admin, new_consumer, new_faust_app, new_producer

DISTINCT_KEYS = 20_000
VALUE = b"x" * 600


READY_TIMEOUT_S = 120.0


def run_agent(mode: str, prefix: str, bootstrap: str, partitions: int, state_dir: str, expect: int) -> None:
    """The child process: a Faust app whose only agent iterates (and, in `table` mode, writes a table); prints
    `ready` after its first rebalance and `done <expect>` at the `expect`-th record."""
    import faust

    app = new_faust_app(faust.App, prefix, KafkaSettings(bootstrap_servers=bootstrap), store="rocksdb://",
                        datadir=state_dir, autodiscover=False, topic_partitions=partitions, key_serializer="raw",
                        value_serializer="raw", producer_linger_ms=5, producer_max_batch_size=1 << 20,
                        web_enabled=False, table_standby_replicas=0, consumer_auto_offset_reset="earliest")
    table = app.Table("floor", default=None, partitions=partitions, key_type=bytes, value_type=bytes,
                      options={"driver": "rocksdict", "block_cache_size": 16 << 20, "write_buffer_size": 8 << 20})
    source = app.topic(f"{prefix}.in", key_type=bytes, value_type=bytes, key_serializer="raw",
                       value_serializer="raw")
    seen = 0
    announced = False

    async def agent(stream: Any) -> None:
        nonlocal seen
        async for event in stream.events():
            if mode == "table":
                table[event.key] = event.value
            seen += 1
            if seen % 10_000 == 0:
                print(f"processed {seen}", flush=True)
            if seen == expect:
                print(f"done {seen}", flush=True)

    async def rebalance_complete(_sender: Any, /, *_args: Any, signal: Any, **_kwargs: Any) -> None:
        nonlocal announced
        if not announced:
            announced = True
            print("ready", flush=True)

    app.agent(source, name="floor")(agent)
    app.on_rebalance_complete.connect(rebalance_complete)

    class Worker(faust.Worker):  # the same logging fix as streams.app
        def _setup_logging(self) -> None:
            super()._setup_logging()
            logging.getLogger().setLevel("WARNING")

    Worker(app, loglevel="warning", redirect_stdouts=False).execute_from_commandline()


def produce(bootstrap: str, topic: str, events: int) -> None:
    producer = new_producer(bootstrap, {"linger.ms": 5, "enable.idempotence": True})
    for index in range(events):
        while True:
            try:
                producer.produce(topic, key=str(index % DISTINCT_KEYS).encode(), value=VALUE)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush()


@dataclass(frozen=True)
class FloorResult:
    """One Faust pass: `events` records, from the first produced to the agent's `done` line."""

    mode: str
    events: int
    elapsed_s: float
    events_per_s: float
    ready_s: float
    """Seconds from the agent's start to its `ready` line (not part of the figure)."""


def faust_pass(mode: str, bootstrap: str, partitions: int, events: int,
               produce_into: Callable[[str], object] | None = None, timeout_s: float = 900.0) -> FloorResult:
    """Run one Faust agent (`iterate` or `table`) in a child process on a fresh input topic and time `events`
    records through it. `produce_into(topic)` produces exactly `events` records into the topic (default: the
    synthetic records of `produce`); it is called once the agent has announced `ready`. Raises RuntimeError or
    TimeoutError when the agent exits or does not finish in time."""
    prefix = f"floor-{mode}-{uuid.uuid4().hex[:8]}"
    topic = f"{prefix}.in"
    admin = new_admin(bootstrap)
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result()
    state_dir = tempfile.mkdtemp(prefix="faust-floor-")
    launched = time.monotonic()
    child = subprocess.Popen([sys.executable, __file__, "--agent", mode, prefix, "--bootstrap", bootstrap,
                              "--partitions", str(partitions), "--state-dir", state_dir, "--expect", str(events)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = _lines_of(child)
    try:
        _wait_line(lines, "ready", READY_TIMEOUT_S, f"the {mode} agent's first rebalance")
        ready_s = time.monotonic() - launched
        started = time.monotonic()
        if produce_into is None:
            produce(bootstrap, topic, events)
        else:
            produce_into(topic)
        _wait_line(lines, f"done {events}", timeout_s, f"{events} records through the {mode} agent")
        elapsed = time.monotonic() - started
        return FloorResult(mode=mode, events=events, elapsed_s=elapsed, events_per_s=events / elapsed,
                           ready_s=ready_s)
    finally:
        child.terminate()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)
        shutil.rmtree(state_dir, ignore_errors=True)
        topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if topics:
            admin.delete_topics(topics)
        for future in admin.delete_consumer_groups([prefix], request_timeout=10).values():
            with suppress(KafkaException):
                future.result(timeout=10)


def _lines_of(child: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The child's standard output, line by line, read by a thread (None at its end)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=read, name="floor-agent-stdout", daemon=True).start()
    return lines


def _wait_line(lines: queue.Queue[str | None], wanted: str, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"{what}: not seen within {timeout_s:.0f}s") from None
        if line is None:
            raise RuntimeError(f"{what}: the agent process ended first")
        if line == wanted:
            return


def raw_pass(bootstrap: str, partitions: int, events: int) -> float:
    topic = f"floor-raw-{uuid.uuid4().hex[:8]}"
    admin = new_admin(bootstrap)
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result()
    consumer = new_consumer(bootstrap, {"group.id": topic, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        started = time.monotonic()
        produce(bootstrap, topic, events)
        seen = 0
        while seen < events:
            seen += len(consumer.consume(1000, timeout=0.5))
        return events / (time.monotonic() - started)
    finally:
        consumer.close()
        admin.delete_topics([topic])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--agent", nargs=2, metavar=("MODE", "PREFIX"), help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.agent:
        run_agent(args.agent[0], args.agent[1], args.bootstrap, args.partitions, args.state_dir, args.expect)
        return 0
    figures = {
        "raw": raw_pass(args.bootstrap, args.partitions, args.events),
        "iterate": faust_pass("iterate", args.bootstrap, args.partitions, args.events).events_per_s,
        "table": faust_pass("table", args.bootstrap, args.partitions, args.events).events_per_s,
    }
    print(f"faust floor, {args.events:,} events, {args.partitions} partitions")
    for name, rate in figures.items():
        print(f"  {name:8} {rate:10,.0f} events/s   ({rate / figures['raw']:.3f} of raw)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

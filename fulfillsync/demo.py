"""`fulfillsync demo` (what `make run` shows): a worker, a scripted stream of orders and fulfillments produced
straight onto the topics, and a live, readable account of what the ledger published.

The script: a partial fulfilment completed over three events; two tracking numbers for two units then a tracking
correction; a shipped order cancelled (reopened) and fulfilled again (shipped again); an over-fulfilment and a
malformed record, both dead-lettered. Every run uses fresh order references, so runs do not mix.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fulfillsync.timeline import describe, read_outcomes, wait_until
from schemas.config import Config
from schemas.events import FulfilledLine, OrderLine, OrderPlaced, PartyRef, SourceRef
from schemas.factories import fulfillment_cancelled, fulfillment_recorded, order_placed
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.producer import EventProducer
from streams.records import InputEvent

BUYER = PartyRef(partner="shop", connection="shop-demo", platform="bigcommerce")
SELLER = PartyRef(partner="acme", connection="acme-demo", platform="shopify")
SELLER_SOURCE = SourceRef(partner="acme", connection="acme-demo", platform="shopify")


@dataclass(frozen=True)
class Step:
    say: str
    topic: str
    event: InputEvent | None = None
    raw: bytes | None = None
    key: bytes | None = None


def script(names: TopicNames, run: str, start: datetime) -> tuple[list[Step], Counter[str]]:
    """The demo's steps and the outcomes (by `type` or dead-letter reason) they should produce."""
    clock = iter(start + timedelta(seconds=i) for i in range(1000))

    def order(ref: str, *lines: tuple[str, str, int]) -> InputEvent:
        return order_placed(buyer=BUYER.model_copy(update={"order_ref": f"{run}-{ref}"}), seller=SELLER,
                            lines=[OrderLine(line_id=i, sku=s, quantity=q, title=None) for i, s, q in lines],
                            occurred_at=next(clock))

    def fulfil(order_id: str, fid: str, carrier: str, numbers: list[str], **units: int) -> InputEvent:
        return fulfillment_recorded(order_id=order_id, source=SELLER_SOURCE, fulfillment_id=f"{run}-{fid}",
                                    source_version=next(clock), carrier=carrier, tracking_numbers=numbers,
                                    lines=[FulfilledLine(line_id=k, quantity=v) for k, v in units.items()])

    a = order("1001", ("L1", "ACME-MUG", 3), ("L2", "ACME-TEE", 1))
    b = order("1002", ("L1", "ACME-LAMP", 2))
    c = order("1003", ("L1", "ACME-CAP", 1))
    d = order("1004", ("L1", "ACME-SOCK", 2))
    b_first = fulfil(b.order_id, "B1", "fedex", ["7946 1234 5670", "7946 1234 5681"], L1=2)
    b_fixed = fulfil(b.order_id, "B1", "FedEx", ["794612345670", "794612345692"], L1=2)
    c_cancel = fulfillment_cancelled(order_id=c.order_id, source=SELLER_SOURCE, fulfillment_id=f"{run}-C1",
                                     source_version=next(clock))
    o, f = names.order_events, names.fulfillment_events
    steps = [
        Step(f"order {run}-1001 placed: 3 mugs + 1 tee", o, a),
        Step(f"order {run}-1002 placed: 2 lamps", o, b),
        Step(f"order {run}-1003 placed: 1 cap", o, c),
        Step(f"order {run}-1004 placed: 2 socks", o, d),
        Step("1001: seller ships 1 mug (partial)", f, fulfil(a.order_id, "A1", "UPS", ["1Z999AA10123456784"], L1=1)),
        Step("1001: seller ships 2 more mugs (still partial)", f,
             fulfil(a.order_id, "A2", "ups", ["1Z999AA10123456785"], L1=2)),
        Step("1002: seller ships both lamps with two tracking numbers", f, b_first),
        Step("1001: seller ships the tee: every unit covered", f,
             fulfil(a.order_id, "A3", "usps", ["9400111899223817392648"], L2=1)),
        Step("1002: seller corrects a tracking number", f, b_fixed),
        Step("1003: seller ships the cap", f, fulfil(c.order_id, "C1", "DHL", ["JD014600006281230458"], L1=1)),
        Step("1003: seller cancels that fulfillment (wrong parcel)", f, c_cancel),
        Step("1003: seller ships the cap again", f, fulfil(c.order_id, "C2", "dhl", ["JD014600006281230999"], L1=1)),
        Step("1004: seller reports 3 socks on a 2-sock order", f,
             fulfil(d.order_id, "D1", "Royal Mail", ["RM123456785GB"], L1=3)),
        Step("a malformed record arrives on fulfillment-events", f, raw=b'{"type": "fulfillment.recorded", "oops',
             key=d.order_id.encode()),
    ]
    expected = Counter({"order.shipped": 4, "order.reopened": 1, "order.tracking_updated": 1,
                        "over_fulfillment": 1, "invalid_payload": 1})
    return steps, expected


def run_demo(config: Config, *, config_path: Path | None, pause: float, exit_when_done: bool) -> int:
    """Run the demo; returns 0 when every expected outcome was seen (or on Ctrl-C), 1 otherwise."""
    names = TopicNames(config.kafka.topic_prefix)
    ensure_topics(config.kafka)
    worker = _start_worker(config, config_path)
    try:
        return _feed_and_show(config, names, pause=pause, exit_when_done=exit_when_done)
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping the worker...", flush=True)
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def _start_worker(config: Config, config_path: Path | None) -> subprocess.Popen[bytes]:
    log_path = Path(config.worker.state_dir).parent / "demo-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "fulfillsync.cli"]
    if config_path is not None:
        argv += ["--config", str(config_path)]
    argv += ["worker", "--loglevel", "info", "--no-create-topics"]
    print(f"starting the worker (log: {log_path}) ...", flush=True)
    with log_path.open("ab") as log:
        worker = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{config.worker.web_port}/readyz"
    if not wait_until(lambda: worker.poll() is not None or _answers(url), timeout_s=90):
        worker.kill()
        raise RuntimeError(f"the worker did not become ready within 90s; see {log_path}")
    if worker.poll() is not None:
        raise RuntimeError(f"the worker exited with code {worker.returncode}; see {log_path}")
    print(f"worker ready: http://127.0.0.1:{config.worker.web_port}/readyz", flush=True)
    return worker


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - a local URL we built
            return bool(response.status == 200)
    except OSError:
        return False


def _feed_and_show(config: Config, names: TopicNames, *, pause: float, exit_when_done: bool) -> int:
    run = datetime.now(UTC).strftime("%H%M%S")
    steps, expected = script(names, run, datetime.now(UTC))
    our_orders = {s.event.order_id for s in steps if s.event is not None}
    references = {s.event.order_id: s.event.buyer.order_ref or "" for s in steps
                  if isinstance(s.event, OrderPlaced)}
    seen: Counter[str] = Counter()
    done = threading.Event()

    def show() -> None:
        for record in read_outcomes(config, from_beginning=True, stop=done.is_set):
            if record.get("order_id") not in our_orders:
                continue
            seen[record.get("reason") or record.get("type") or "?"] += 1
            print(f"   {datetime.now():%H:%M:%S}  <= {describe(record, references)}", flush=True)

    watcher = threading.Thread(target=show, daemon=True)
    watcher.start()
    with EventProducer(config.kafka.bootstrap_servers, source="/fulfillsync/demo") as producer:
        for step in steps:
            print(f"{datetime.now():%H:%M:%S}  => {step.say}", flush=True)
            if step.event is not None:
                producer.publish(step.topic, step.event)
            else:
                producer.publish_raw(step.topic, step.key, step.raw)
            producer.flush()
            time.sleep(pause)
    complete = wait_until(lambda: all(seen[k] >= n for k, n in expected.items()), timeout_s=60)
    summary = ", ".join(f"{k} {seen[k]}/{n}" for k, n in expected.items())
    print(f"\n{'all expected outcomes seen' if complete else 'MISSING outcomes'}: {summary}", flush=True)
    if exit_when_done or not complete:
        done.set()
        watcher.join(timeout=5)
        return 0 if complete else 1
    print("still watching; press Ctrl-C to stop.", flush=True)
    while True:
        time.sleep(3600)

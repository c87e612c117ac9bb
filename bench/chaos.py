"""Chaos run: the whole sync loop under faults for minutes, then every store reconciled against the ledger.

    python bench/chaos.py [--orders 500] [--minutes 10] [--seed N] [--workers 2] [--bootstrap-port N]
                          [--interval 5s] [--partitions 4] [--settle-minutes 5] [--keep]

A script, not a test: it prints a table and exits 0 when nothing is missing and nothing is doubled, 1 when anything
is, 2 when it could not set up (the broker, the stores or the workers did not start), 3 when the run itself fell
short (the script could not place or fulfill some orders, so fewer orders were checked than asked for). On a
2-core machine give it the cores (`nice` other work): the default run takes about 17 minutes (setup, 10 minutes of
chaos, up to 5 of settling, the reconciliation).

Method
------
Setup. The script starts a Kafka broker of its own (`LocalBroker`, home in a temporary folder, on
`--bootstrap-port` and the port after it as the controller), so it can stop and start it; its `libs/` is a link to
the jars of a broker home of this checkout that has them (`.fulfillsync/*/libs`, the suite's or `make run`'s),
otherwise LocalBroker fetches them with Maven. The marketplace of tests/support/marketplace.py: a buyer store and
a seller store on each of Shopify, BigCommerce, WooCommerce and Magento 2, served over HTTP in this process, every
buyer routing to every seller, polling every `--interval`, WooCommerce connections at 20 requests/s (as the
end-to-end tests). `--workers` `fulfillsync worker` processes share the consumer group and the topics, each with
its own configuration file (same topic prefix, its own web port and state folder) and log.

Orders (all drawn from `--seed` before the run starts). `--orders` buyer orders, as many for each of the 16
(buyer, seller) pairs, in a shuffled sequence, placed on the buyer stores at a steady pace over the first 80% of
`--minutes`. Shapes: one unit shipped whole; two lines (or two units of one line) shipped in two parts a few
seconds apart, so the buyer's order is partially fulfilled in between; two units shipped at once with two tracking
numbers. One order in ten also has a line of the buyer's own (not routed). Every tracking number is unique in the
run. Once our connector has created the order on the seller's store (found by the reference it stores there), the
seller fulfills it after a short pause. For about half the orders the platform's signed webhook is sent to a
random worker's `/webhooks/<connection>` (the buyer's `orders/create` and each seller fulfillment's delivery, on
the platforms whose webhooks fulfillsync verifies: not Magento); the rest reach the worker by its polls.

Faults, on a schedule drawn from the seed (rates per minute of chaos; every kind happens at least once):
- `worker_kill` (1/min): SIGKILL a random running worker, started again 2-8 s later;
- `broker_restart` (0.4/min): the broker stopped (`LocalBroker.stop`, a clean shutdown) for 5-40 s, then started
  again; outages never overlap;
- `store_429` (2/min): a random store answers its next 5-30 API requests 429 with `Retry-After` 1-5 s;
- `store_5xx` (2/min): a random store answers its next 3-15 API requests 500, 502 or 503;
- `store_slow` (1/min): a random store answers its next 1-3 API requests after `CONNECTOR_TIMEOUT_S` + 5 s, past
  the connector's read timeout: either reads (GET) answered for real that late, or any request answered 504 that
  late (Shopify, all POST, gets the latter); the late answer never applies a write the connector gave up on;
- `webhook_flood` (1/min): 200-500 requests at once at one worker's `/webhooks/<connection>`: half forged
  (signed with a wrong secret), three tenths one authentic delivery replayed, the rest for unknown connections or
  with a body that is no delivery at all.
Like Kubernetes, a supervisor starts again any worker that exits by itself (a broker outage longer than its
timeouts, say), after 2 s and then backing off; each exit and its code is logged. Store faults go through the
stores' `POST /_sandbox/faults` and are tagged, so the script sees (in this process) when each was used up.

Orders affected. An order is in flight from when it is placed until the buyer's store shows every tracking
number its seller shipped (checked every 2 s once the seller has shipped everything). A fault's injection lasts
from its start until its end (the worker ready again, the broker answering again, the store's last faulty
answer sent, the flood answered); the orders affected by it are those in flight at any moment of that span
(for a store fault: only orders whose buyer or seller is that store).

End. After `--minutes` (and once every order is placed) no new fault starts; the running ones finish, every
store's leftover faults are cleared, the broker is made to answer and every worker to run. The script then waits
(at most `--settle-minutes`, with progress lines) until every order is shipped on its seller's store and shown on
the buyer's, lets the workers run three more poll intervals (so a late duplicate has time to appear), stops them
(SIGTERM) and reconciles.

Reconciled, per order:
- its seller's store holds exactly one order carrying our order id (none: missing; every extra: doubled);
- the tracking numbers of the buyer order's active fulfillments, as a multiset, equal those of the seller order's:
  each seller number absent on the buyer is missing; each extra copy on the buyer, and each buyer number without a
  seller counterpart, is doubled;
- shipped-orders holds exactly one distinct `order.shipped` event id for it once the seller shipped every unit
  (none: missing; each further id: doubled). A repeated record with the same id is not a double (consumers drop
  those by `event_id`).
Dead letters are read from the dead-letters topic and counted by `reason`.

Printed: one row per fault kind (times injected, orders affected, and the missing and doubled counted over those
orders; an order affected by several kinds counts in each), the orders no fault touched, all orders; dead letters
by reason; worker exits; webhook answers; the orders with a problem. Also written as JSON to
bench/results/chaos-<timestamp>.json, with the machine and the code measured. `--keep` keeps the temporary folder
(broker data and logs, worker configurations, logs and state) and prints its path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.ledger_throughput import code_version, machine_summary, record_count, say, source_fingerprint  # noqa: E402
from bench.sync_latency import RESULTS_DIR, WEBHOOK_PLATFORMS, check_clocks, percentile  # noqa: E402
from fulfillsync.localkafka.broker import (  # noqa: E402
    KAFKA_JARS_MARKER,
    BrokerError,
    LocalBroker,
    broker_answers,
    default_home,
)
from sandbox.merchant import Merchant, MerchantError, PlacedOrder  # noqa: E402
from sandbox.server import free_port  # noqa: E402
from sandbox.settings import SandboxPlatform  # noqa: E402
from schemas.config import parse_duration  # noqa: E402
from schemas.ids import order_id as our_order_id  # noqa: E402
from tests.support.kafka_harness import (  # noqa: E402
    OutputReader,
    Published,
    WorkerProcess,
    port_below_ephemeral_range,
)
from tests.support.marketplace import (  # noqa: E402
    PLATFORMS,
    PRODUCTS,
    Marketplace,
    Store,
    buyer_id,
    marketplace,
    seller_id,
    signed_delivery,
    sku,
)

CONNECTOR_TIMEOUT_S = 30.0
"""The connectors' read timeout (`connectors/http.py`, `PlatformHttp`: `httpx.Timeout(30.0, connect=10.0)`)."""
SLOW_ANSWER_S = CONNECTOR_TIMEOUT_S + 5
REQUESTS_PER_S: dict[SandboxPlatform, float] = {"woocommerce": 20}
"""WooCommerce connections default to 2 requests/s (a courtesy to shared hosts); the simulated store takes more."""
PLACING_SHARE = 0.8
"""Orders are placed over this share of `--minutes`, so most of them ship while faults still happen."""
SYNC_CHECK_EVERY_S = 2.0
SELLER_LOOKUP_EVERY_S = 2.0
HOUSE_SKU = "HOUSE-CANDLE"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class FaultKind:
    """A kind of fault: its name in the table, what it does, how often it is injected per minute of chaos."""

    name: str
    what: str
    per_minute: float


FAULT_KINDS = (
    FaultKind("worker_kill", "SIGKILL a random worker, started again 2-8 s later", 1.0),
    FaultKind("broker_restart", "the broker stopped for 5-40 s, then started again", 0.4),
    FaultKind("store_429", "a store answers 5-30 requests 429 with Retry-After", 2.0),
    FaultKind("store_5xx", "a store answers 3-15 requests 500, 502 or 503", 2.0),
    FaultKind("store_slow", f"a store answers 1-3 requests after {SLOW_ANSWER_S:.0f} s (past the connector's "
              f"{CONNECTOR_TIMEOUT_S:.0f} s timeout)", 1.0),
    FaultKind("webhook_flood", "200-500 forged and replayed webhook requests at once at a worker", 1.0),
)


# -- the plan ---------------------------------------------------------------------------------------------------


@dataclass
class ChaosOrder:
    """One buyer order of the run: what the seed planned, and what happened to it (times in seconds since the
    chaos started)."""

    number: int
    buyer: SandboxPlatform
    seller: SandboxPlatform
    lines: dict[str, int]
    """The buyer order's lines: the seller's SKUs, and possibly one of the buyer's own."""
    parts: list[tuple[dict[str, int], list[str]]]
    """The seller's fulfillments, in order: (sku -> units, tracking numbers)."""
    first_pause_s: float
    part_gap_s: float
    buyer_webhook: bool
    seller_webhooks: bool
    on_buyer: PlacedOrder | None = None
    order_id: str | None = None
    on_seller: PlacedOrder | None = None
    shipped_numbers: list[str] = field(default_factory=list)
    """The numbers the seller store accepted so far."""
    placed_at: float | None = None
    on_seller_at: float | None = None
    fulfilled_at: float | None = None
    synced_at: float | None = None
    shortfall: str | None = None
    """Why the script could not play the order to its end (a store refused the merchant's action)."""
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        ref = self.on_buyer.order_ref if self.on_buyer else "-"
        return f"#{self.number} {buyer_id(self.buyer)} {ref} -> {seller_id(self.seller)}"

    def in_flight(self, start: float, end: float) -> bool:
        """Placed, and not yet shown whole on the buyer's store, at some moment between `start` and `end`."""
        return self.placed_at is not None and self.placed_at <= end and (
            self.synced_at is None or self.synced_at >= start)


def plan_orders(count: int, rng: random.Random) -> list[ChaosOrder]:
    """`count` orders, as many per (buyer, seller) pair as can be, in a shuffled sequence; shapes, pauses and
    webhooks drawn from `rng`. Tracking numbers are unique (UPS-shaped, by serial)."""
    pairs = [(buyer, seller) for buyer in PLATFORMS for seller in PLATFORMS]
    serial = 0

    def number() -> str:
        nonlocal serial
        serial += 1
        return f"1Z999AA1{serial:010d}"

    orders = []
    for index in range(count):
        buyer, seller = pairs[index % len(pairs)]
        first, second = (sku(seller, name) for name in rng.sample(PRODUCTS, 2))
        shape = rng.choices(("whole", "two-lines", "two-units", "two-numbers"), weights=(45, 20, 20, 15))[0]
        parts: list[tuple[dict[str, int], list[str]]]
        if shape == "whole":
            lines = {first: 1}
            parts = [({first: 1}, [number()])]
        elif shape == "two-lines":
            lines = {first: 1, second: 1}
            parts = [({first: 1}, [number()]), ({second: 1}, [number()])]
        elif shape == "two-units":
            lines = {first: 2}
            parts = [({first: 1}, [number()]), ({first: 1}, [number()])]
        else:
            lines = {first: 2}
            parts = [({first: 2}, [number(), number()])]
        own = {HOUSE_SKU: 1} if rng.random() < 0.1 else {}
        orders.append(ChaosOrder(
            number=0, buyer=buyer, seller=seller, lines={**lines, **own}, parts=parts,
            first_pause_s=rng.uniform(1, 8), part_gap_s=rng.uniform(3, 20),
            buyer_webhook=buyer in WEBHOOK_PLATFORMS and rng.random() < 0.5,
            seller_webhooks=seller in WEBHOOK_PLATFORMS and rng.random() < 0.5))
    rng.shuffle(orders)
    for index, order in enumerate(orders, 1):
        order.number = index
    return orders


def plan_faults(minutes: float, rng: random.Random) -> list[tuple[float, str]]:
    """(seconds since the start, fault kind), in time order: each kind `per_minute` times per minute (at least
    once), at uniformly drawn moments between 5% and 95% of the run."""
    schedule = []
    for kind in FAULT_KINDS:
        for _ in range(max(1, round(kind.per_minute * minutes))):
            schedule.append((rng.uniform(0.05, 0.95) * minutes * 60, kind.name))
    return sorted(schedule)


# -- what the run records ---------------------------------------------------------------------------------------


@dataclass
class Injection:
    """One injected fault: its kind, target, when it started and ended (seconds since the chaos started), the
    stores it concerns (None: all) and what exactly was done."""

    kind: str
    target: str
    started: float
    ended: float | None = None
    stores: list[str] | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Exit:
    """A worker process that ended during the run."""

    at: float
    worker: str
    code: int | None
    cause: str


@dataclass
class Worker:
    """One `fulfillsync worker` of the run. `busy`: being killed or started by the script, so the supervisor
    leaves it alone."""

    name: str
    process: WorkerProcess
    port: int
    busy: bool = False

    def running(self) -> bool:
        process = self.process.process
        return process is not None and process.poll() is None

    def returncode(self) -> int | None:
        process = self.process.process
        return None if process is None else process.returncode


def worker_config(source: Path, folder: Path, name: str) -> Path:
    """A configuration for one more worker of the marketplace configured by `source`: the same document (topic
    prefix, hence topics and consumer group; connections), with its own web port and state folder; written to
    `folder/<name>.yaml`."""
    document = yaml.safe_load(source.read_text())
    document["worker"] = {**document["worker"], "web_port": free_port(), "state_dir": str(folder / f"{name}-state")}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def start_broker(broker: LocalBroker, log: Callable[[str], None], attempts: int = 5) -> None:
    """`LocalBroker.start` (idempotent), tried `attempts` times 10 s apart: its port is in the ephemeral range,
    where a client's connection elsewhere can hold it for a while. Raises the last BrokerError."""
    for attempt in range(1, attempts + 1):
        try:
            log(f"broker: {broker.start()}")
            return
        except BrokerError as error:
            if attempt == attempts:
                raise
            text = str(error)
            why = "its port is taken (Address already in use)" if "Address already in use" in text else text[:300]
            log(f"the broker did not start (attempt {attempt}): {why}; trying again in 10 s")
            time.sleep(10)


def broker_home(folder: Path) -> Path:
    """`folder/kafka`, the home of the run's broker. Its `libs/` links to the jars of a broker home of this checkout
    that has them (`.fulfillsync/*/libs`, or the default home's), so no Maven fetch; without one, LocalBroker
    fetches them."""
    home = folder / "kafka"
    home.mkdir(parents=True)
    for libs in [*sorted((REPO / ".fulfillsync").glob("*/libs")), default_home() / "libs"]:
        if libs.is_dir() and any(jar.name.startswith(KAFKA_JARS_MARKER) for jar in libs.iterdir()):
            (home / "libs").symlink_to(libs.resolve(), target_is_directory=True)
            break
    return home


# -- the run ----------------------------------------------------------------------------------------------------


class ChaosRun:
    """Plays the merchants, injects the faults, supervises the workers, then stops them and reads every store (see
    the module docstring). Everything runs on one asyncio loop (`chaos`: `play`, `stop_workers`, `read_stores`);
    blocking calls (the broker, starting or stopping a worker, reading the topics) run in threads."""

    def __init__(self, args: argparse.Namespace, market: Marketplace, broker: LocalBroker, workers: list[Worker],
                 orders: list[ChaosOrder], schedule: list[tuple[float, str]]) -> None:
        self.args = args
        self.market = market
        self.broker = broker
        self.workers = workers
        self.orders = orders
        self.schedule = schedule
        self.duration_s = float(args.minutes) * 60
        self.interval_s = parse_duration(args.interval).total_seconds()
        self.fault_rng = random.Random(f"{args.seed}-faults")
        self.misc_rng = random.Random(f"{args.seed}-misc")
        self.injections: list[Injection] = []
        self.exits: list[Exit] = []
        self.deliveries: Counter[str] = Counter()
        self.flood_answers: Counter[str] = Counter()
        self.events: list[tuple[float, str]] = []
        self.phases: dict[str, float] = {}
        self.broker_down = False
        self.chaos_over = False
        self.closing = False
        self.settle_deadline = float("inf")
        self.started = time.monotonic()
        self._broker_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._fault_tasks: list[asyncio.Task[Any]] = []
        self._stories: list[asyncio.Task[Any]] = []
        self._fault_serial = 0
        self.stores: dict[str, Store] = {store.connection: store
                                         for store in [*market.buyers.values(), *market.sellers.values()]}
        self._store_http = {connection: httpx.AsyncClient(base_url=store.root, timeout=30)
                            for connection, store in self.stores.items()}
        self.merchants = {connection: Merchant(store.platform, self._store_http[connection])
                          for connection, store in self.stores.items()}
        self.http = httpx.AsyncClient(timeout=15)

    # -- plumbing ---------------------------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the chaos started."""
        return time.monotonic() - self.started

    def log(self, text: str) -> None:
        self.events.append((round(self.now(), 1), text))
        say(f"t+{self.now():4.0f}s  {text}")

    def spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run `work` as a task the run keeps (and cancels when it closes)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def aclose(self) -> None:
        for client in [self.http, *self._store_http.values()]:
            await client.aclose()

    def webhook_url(self, worker: Worker, connection: str) -> str:
        return f"http://127.0.0.1:{worker.port}/webhooks/{connection}"

    def progress(self) -> str:
        placed = [order for order in self.orders if order.placed_at is not None]
        return (f"placed {len(placed)}/{len(self.orders)}, on sellers' stores "
                f"{sum(order.on_seller is not None for order in placed)}, shipped by sellers "
                f"{sum(order.fulfilled_at is not None for order in placed)}, shown whole on buyers' stores "
                f"{sum(order.synced_at is not None for order in placed)}; workers running "
                f"{sum(worker.running() for worker in self.workers)}/{len(self.workers)}, broker "
                f"{'down' if self.broker_down else 'up'}, faults injected {len(self.injections)}")

    async def report_progress(self) -> None:
        while True:
            await asyncio.sleep(30)
            self.log(self.progress())

    # -- the whole run ----------------------------------------------------------------------------------------

    async def play(self) -> None:
        """The chaos phase, the end of the faults and the settling (module docstring); returns with the workers
        still running. Every task it started is cancelled when it returns or raises."""
        self.spawn(self.supervise())
        self.spawn(self.watch_sync())
        self.spawn(self.report_progress())
        self.started = time.monotonic()
        scheduler = self.spawn(self.run_schedule())
        try:
            self.log(f"chaos for {self.args.minutes:g} min: {len(self.orders)} orders, {len(self.schedule)} faults "
                     "scheduled")
            await self.place_all()
            await asyncio.sleep(max(0.0, self.duration_s - self.now()))
            self.phases["chaos_s"] = round(self.now(), 1)
            self.chaos_over = True
            scheduler.cancel()
            self.log("the chaos is over: no new fault; the running ones finish")
            while not all(task.done() for task in self._fault_tasks):
                await self.clear_store_faults()  # also those posted by a fault that was starting
                await asyncio.sleep(1.0)
            await self.clear_store_faults()
            if not await asyncio.to_thread(broker_answers, self.broker.bootstrap):
                await self.start_broker()
            await self.workers_ready(timeout_s=240)
            self.settle_deadline = self.now() + float(self.args.settle_minutes) * 60
            await self.settle()
            quiet_s = max(15.0, 3 * self.interval_s)
            self.log(f"letting the workers run {quiet_s:.0f} s more (a late duplicate would show)")
            await asyncio.sleep(quiet_s)
            self.phases["settled_s"] = round(self.now(), 1)
        finally:
            self.closing = True
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def settle(self) -> None:
        """Wait until every story ended and every order its seller shipped whole shows whole on its buyer's store,
        or the settle deadline passes; a progress line every 15 s."""
        self.log(f"settling: waiting up to {self.args.settle_minutes:g} min for every order to reach its buyer")
        reported = self.now()
        while self.now() < self.settle_deadline:
            stories = sum(not story.done() for story in self._stories)
            waiting = [order for order in self.orders if order.fulfilled_at is not None and order.synced_at is None]
            if not stories and not waiting:
                self.log("settled: " + self.progress())
                return
            if self.now() - reported >= 15:
                reported = self.now()
                self.log(f"settling ({stories} stories running): {self.progress()}")
            await asyncio.sleep(1.0)
        self.log("gave up waiting: " + self.progress())

    async def workers_ready(self, timeout_s: float) -> None:
        """Wait until every worker runs and answers /readyz 200 (the supervisor starts exited ones)."""
        deadline = self.now() + timeout_s
        while self.now() < deadline:
            ready = [worker.running() and not worker.busy
                     and (await asyncio.to_thread(worker.process.http, "/readyz"))[0] == 200
                     for worker in self.workers]
            if all(ready):
                self.log(f"every worker ({len(self.workers)}) runs and is ready")
                return
            await asyncio.sleep(2.0)
        self.log(f"not every worker was ready after {timeout_s:.0f} s; going on")

    async def stop_workers(self) -> dict[str, int | None]:
        """SIGTERM every running worker and wait for it (SIGKILL after 60 s); exit code by worker."""
        async def stop(worker: Worker) -> int | None:
            if not worker.running():
                return worker.returncode()
            try:
                return await asyncio.to_thread(worker.process.stop)
            except AssertionError:
                return worker.returncode()
        codes = await asyncio.gather(*(stop(worker) for worker in self.workers))
        return {worker.name: code for worker, code in zip(self.workers, codes, strict=True)}

    # -- the merchants ----------------------------------------------------------------------------------------

    async def place_all(self) -> None:
        """Start each order's story at its moment: evenly over the first `PLACING_SHARE` of the chaos."""
        window = PLACING_SHARE * self.duration_s
        for index, order in enumerate(self.orders):
            await asyncio.sleep(max(0.0, index * window / len(self.orders) - self.now()))
            self._stories.append(self.spawn(self.story(order)))

    async def story(self, order: ChaosOrder) -> None:
        """One order: placed on the buyer's store (its webhook maybe sent), found on the seller's store once our
        connector created it, shipped there in its parts (each part's webhook maybe sent). A store refusing the
        script's action ends the story with a note."""
        buyer_store, seller_store = self.market.buyers[order.buyer], self.market.sellers[order.seller]
        buyer, seller = self.merchants[buyer_store.connection], self.merchants[seller_store.connection]
        try:
            order.on_buyer = await buyer.place_order(order.lines)
        except (MerchantError, httpx.HTTPError) as error:
            order.shortfall = f"not placed: {error}"
            self.log(f"{order.label}: {order.shortfall}")
            return
        order.placed_at = self.now()
        order.order_id = our_order_id(buyer_store.connection, order.on_buyer.order_ref, seller_store.connection)
        if order.buyer_webhook:
            await self.deliver(buyer_store, order.on_buyer, None)
        while True:
            try:
                order.on_seller = await seller.find_order(order.order_id)
            except (MerchantError, httpx.HTTPError) as error:
                order.notes.append(f"looking the order up on the seller's store failed: {error}")
            if order.on_seller is not None:
                break
            if self.now() > self.settle_deadline:
                order.notes.append("never found on the seller's store")
                return
            await asyncio.sleep(SELLER_LOOKUP_EVERY_S)
        order.on_seller_at = self.now()
        await asyncio.sleep(order.first_pause_s)
        for index, (lines, numbers) in enumerate(order.parts):
            if index:
                await asyncio.sleep(order.part_gap_s)
            try:
                ref = await seller.fulfill(order.on_seller, lines, numbers, "UPS")
            except (MerchantError, httpx.HTTPError) as error:
                order.shortfall = f"part {index + 1} not shipped, the seller's store refused: {error}"
                self.log(f"{order.label}: {order.shortfall}")
                return
            order.shipped_numbers.extend(numbers)
            if order.seller_webhooks:
                await self.deliver(seller_store, order.on_seller, ref)
        order.fulfilled_at = self.now()

    async def deliver(self, store: Store, order: PlacedOrder, ref: str | None) -> None:
        """The signed webhook `store`'s platform sends for `order` (a fulfillment `ref`, or None: the order
        created), to a random worker; its answer counted."""
        worker = self.misc_rng.choice(self.workers)
        headers, body = signed_delivery(store, order, ref)
        try:
            response = await self.http.post(self.webhook_url(worker, store.connection), content=body,
                                            headers=headers)
            self.deliveries[str(response.status_code)] += 1
        except httpx.HTTPError as error:
            self.deliveries[f"no answer ({type(error).__name__})"] += 1

    async def buyer_numbers(self, order: ChaosOrder) -> Counter[str]:
        """The tracking numbers of the buyer order's active fulfillments, as its store shows them."""
        assert order.on_buyer is not None
        fulfillments = await self.merchants[buyer_id(order.buyer)].fulfillments(order.on_buyer)
        return Counter(number for item in fulfillments if not item.cancelled for number in item.numbers)

    async def watch_sync(self) -> None:
        """Every `SYNC_CHECK_EVERY_S`, mark the orders their seller shipped whole whose buyer's store now shows
        exactly the seller's tracking numbers (`synced_at`: the end of the order's flight)."""
        limit = asyncio.Semaphore(8)

        async def check(order: ChaosOrder) -> None:
            async with limit:
                try:
                    numbers = await self.buyer_numbers(order)
                except (MerchantError, httpx.HTTPError):
                    return
                if numbers == Counter(order.shipped_numbers):
                    order.synced_at = self.now()

        while True:
            await asyncio.gather(*(check(order) for order in self.orders
                                   if order.fulfilled_at is not None and order.synced_at is None))
            await asyncio.sleep(SYNC_CHECK_EVERY_S)

    # -- workers and the broker -------------------------------------------------------------------------------

    def record_exit(self, worker: Worker, cause: str) -> None:
        """Note that `worker` exited (its code, why); unless the chaos killed it, the log's last line is shown."""
        code = worker.returncode()
        self.exits.append(Exit(round(self.now(), 1), worker.name, code, cause))
        last = "" if cause.startswith("SIGKILL") else f"; its log ends: {worker.process.log_tail(1).strip()[:200]}"
        self.log(f"{worker.name} exited with code {code} ({cause}){last}")

    def broker_note(self) -> str:
        return ", the broker down" if self.broker_down else ""

    async def start_worker(self, worker: Worker, why: str) -> None:
        """Start `worker` until its process runs: `WorkerProcess.start` waits for /readyz; a process still up
        but not ready after that wait counts as started. Each start that ends in an exit is recorded, then tried
        again after 2 s doubling to 30 s. Gives up when the run closes."""
        delay = 2.0
        while not self.closing:
            try:
                await asyncio.to_thread(worker.process.start)
                self.log(f"{worker.name} ready ({why})")
                return
            except AssertionError:
                if worker.running():
                    self.log(f"{worker.name} started, not ready yet ({why})")
                    return
                self.record_exit(worker, "exited while starting" + self.broker_note())
            await asyncio.sleep(delay)
            delay = min(2 * delay, 30.0)

    async def supervise(self) -> None:
        """Like Kubernetes: a worker that exited by itself is recorded and started again 2 s later."""
        async def restart(worker: Worker) -> None:
            try:
                await asyncio.sleep(2.0)
                await self.start_worker(worker, "restarted by the supervisor")
            finally:
                worker.busy = False

        while True:
            for worker in self.workers:
                if not worker.busy and not worker.running():
                    worker.busy = True
                    self.record_exit(worker, "exited by itself" + self.broker_note())
                    self.spawn(restart(worker))
            await asyncio.sleep(1.0)

    async def start_broker(self) -> None:
        await asyncio.to_thread(start_broker, self.broker, self.log)

    # -- faults -----------------------------------------------------------------------------------------------

    def begin(self, kind: str, target: str, *, stores: list[str] | None = None,
              detail: dict[str, Any] | None = None) -> Injection:
        injection = Injection(kind, target, round(self.now(), 1), stores=stores, detail=detail or {})
        self.injections.append(injection)
        self.log(f"FAULT {kind} on {target} {json.dumps(injection.detail)}")
        return injection

    def end(self, injection: Injection, late_s: float = 0.0) -> None:
        """The fault's last effect happens `late_s` from now."""
        injection.ended = round(self.now() + late_s, 1)
        self.log(f"      {injection.kind} on {injection.target} over after "
                 f"{injection.ended - injection.started:.0f} s")

    async def run_schedule(self) -> None:
        injectors: dict[str, Callable[[], Awaitable[None]]] = {
            "worker_kill": self.kill_worker, "broker_restart": self.restart_broker, "store_429": self.store_429,
            "store_5xx": self.store_5xx, "store_slow": self.store_slow, "webhook_flood": self.webhook_flood}

        async def inject(kind: str) -> None:
            try:
                await injectors[kind]()
            except Exception as error:  # noqa: BLE001 - a fault that cannot be injected is logged; the run goes on
                self.log(f"{kind}: could not inject: {error!r}")

        for at, kind in self.schedule:
            await asyncio.sleep(max(0.0, at - self.now()))
            self._fault_tasks.append(self.spawn(inject(kind)))

    async def kill_worker(self) -> None:
        candidates = [worker for worker in self.workers if not worker.busy and worker.running()]
        if not candidates:
            self.log("worker_kill: no worker running, skipped")
            return
        worker = self.fault_rng.choice(candidates)
        process = worker.process.process
        assert process is not None
        worker.busy = True
        pause = self.fault_rng.uniform(2, 8)
        injection = self.begin("worker_kill", worker.name, detail={"pid": process.pid, "down_s": round(pause, 1)})
        try:
            process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(process.wait)
            self.record_exit(worker, "SIGKILL by the chaos" + self.broker_note())
            await asyncio.sleep(pause)
            await self.start_worker(worker, "after its SIGKILL")
        finally:
            worker.busy = False
            self.end(injection)

    async def restart_broker(self) -> None:
        async with self._broker_lock:
            if self.chaos_over:
                return
            outage = self.fault_rng.uniform(5, 40)
            injection = self.begin("broker_restart", "broker", detail={"down_s": round(outage, 1)})
            self.broker_down = True
            try:
                self.log(f"broker: {await asyncio.to_thread(self.broker.stop)}")
                await asyncio.sleep(outage)
            finally:
                if not self.closing:
                    await self.start_broker()
                self.broker_down = False
                self.end(injection)

    def pick_store(self) -> Store:
        return self.stores[self.fault_rng.choice(sorted(self.stores))]

    async def store_429(self) -> None:
        await self.store_fault("store_429", self.pick_store(), {
            "status": 429, "times": self.fault_rng.randint(5, 30),
            "headers": {"Retry-After": str(self.fault_rng.randint(1, 5))}})

    async def store_5xx(self) -> None:
        await self.store_fault("store_5xx", self.pick_store(), {
            "status": self.fault_rng.choice((500, 502, 503)), "times": self.fault_rng.randint(3, 15)})

    async def store_slow(self) -> None:
        store = self.pick_store()
        times = self.fault_rng.randint(1, 3)
        if store.platform == "shopify" or self.fault_rng.random() < 0.5:
            body: dict[str, Any] = {"status": 504, "delay_s": SLOW_ANSWER_S, "times": times}
        else:
            body = {"status": 0, "delay_s": SLOW_ANSWER_S, "times": times, "method": "GET"}
        await self.store_fault("store_slow", store, body, late_s=SLOW_ANSWER_S)

    async def store_fault(self, kind: str, store: Store, fault: dict[str, Any], late_s: float = 0.0) -> None:
        """Post `fault` to the store's `/_sandbox/faults`, tagged by a body of its own, and wait (in this process:
        the store's fault list) until the store has used it up or the faults are cleared; its last effect is
        `late_s` after the last request took it."""
        self._fault_serial += 1
        tag = json.dumps({"error": f"chaos {kind} #{self._fault_serial}"})
        injection = self.begin(kind, store.connection, stores=[store.connection], detail=dict(fault))
        response = await self.http.post(f"{store.root}/_sandbox/faults", json={**fault, "body": tag})
        response.raise_for_status()
        held = next((item for item in list(store.app.sandbox.faults) if item.body == tag), None)
        while held is not None and any(item is held for item in list(store.app.sandbox.faults)):
            await asyncio.sleep(0.5)
        used = int(fault["times"]) - (max(held.times, 0) if held is not None else 0)
        injection.detail["answers_used"] = used
        self.end(injection, late_s if used else 0.0)

    async def clear_store_faults(self) -> None:
        for store in self.stores.values():
            response = await self.http.delete(f"{store.root}/_sandbox/faults")
            response.raise_for_status()

    async def webhook_flood(self) -> None:
        running = [worker for worker in self.workers if worker.running()]
        if not running:
            self.log("webhook_flood: no worker running, skipped")
            return
        rng = self.fault_rng
        worker = rng.choice(running)
        store = self.stores[rng.choice(sorted(c for c, s in self.stores.items() if s.platform in WEBHOOK_PLATFORMS))]
        known = [placed for order in self.orders
                 for placed in (order.on_buyer if buyer_id(order.buyer) == store.connection else None,
                                order.on_seller if seller_id(order.seller) == store.connection else None)
                 if placed is not None]
        order = rng.choice(known) if known else PlacedOrder("gid://shopify/Order/999999999", 999999999, {})
        url = self.webhook_url(worker, store.connection)
        authentic = signed_delivery(store, order)
        requests: list[tuple[str, dict[str, str], bytes]] = []
        for index in range(rng.randint(200, 500)):
            draw = rng.random()
            if draw < 0.5:
                requests.append((url, *signed_delivery(store, order, secret=f"forged-{uuid.uuid4().hex}")))
            elif draw < 0.8:
                requests.append((url, *authentic))
            elif draw < 0.9:
                requests.append((self.webhook_url(worker, f"nobody-{index}"),
                                 *signed_delivery(store, order, secret="forged")))
            else:
                requests.append((url, {"Content-Type": "application/json"}, rng.randbytes(rng.randint(0, 2048))))
        injection = self.begin("webhook_flood", f"{worker.name} /webhooks/{store.connection}",
                               detail={"requests": len(requests)})
        answers: Counter[str] = Counter()
        # aiohttp's client sends several times as many requests per second as httpx's from one process
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200),
                                         timeout=aiohttp.ClientTimeout(total=30)) as session:
            async def send(target: str, headers: dict[str, str], body: bytes) -> None:
                try:
                    async with session.post(target, data=body, headers=headers) as response:
                        await response.read()
                        answers[str(response.status)] += 1
                except (aiohttp.ClientError, TimeoutError) as error:
                    answers[type(error).__name__] += 1

            began = time.monotonic()
            await asyncio.gather(*(send(*request) for request in requests))
        injection.detail.update(answers=dict(answers), seconds=round(time.monotonic() - began, 2))
        self.flood_answers.update(answers)
        self.end(injection)

    # -- the reconciliation -----------------------------------------------------------------------------------

    async def read_stores(self) -> dict[int, StoreView]:
        """What every store shows for every placed order (the workers stopped): the seller orders carrying its id,
        the tracking numbers of both sides' active fulfillments."""
        ids = {order.order_id for order in self.orders if order.order_id is not None}
        copies: Counter[str] = Counter()
        for store in self.market.sellers.values():
            copies.update(seller_copies(store, ids))
        limit = asyncio.Semaphore(8)

        async def view(order: ChaosOrder) -> tuple[int, StoreView]:
            assert order.order_id is not None
            async with limit:
                seller = self.merchants[seller_id(order.seller)]
                if order.on_seller is None and copies[order.order_id]:
                    order.on_seller = await seller.find_order(order.order_id)
                on_seller: Counter[str] = Counter()
                if order.on_seller is not None:
                    on_seller = Counter(number for item in await seller.fulfillments(order.on_seller)
                                        if not item.cancelled for number in item.numbers)
                return order.number, StoreView(copies[order.order_id], on_seller, await self.buyer_numbers(order))

        return dict(await asyncio.gather(*(view(order) for order in self.orders if order.order_id is not None)))


@dataclass(frozen=True)
class StoreView:
    """One order as the stores show it at the end."""

    seller_copies: int
    seller_numbers: Counter[str]
    buyer_numbers: Counter[str]


def seller_copies(store: Store, ids: set[str]) -> Counter[str]:
    """How many orders of `store` carry each of `ids`, read in this process from the store's own records: an
    order's representation holds the reference our seller connector stored on it (Shopify `sourceIdentifier`,
    BigCommerce `external_order_id`, WooCommerce meta, Magento `ext_order_id`)."""
    counts: Counter[str] = Counter()
    for record in list(store.records.orders.values()):
        counts.update(set(UUID.findall(repr(record))) & ids)
    return counts


@dataclass
class OrderCheck:
    """The reconciliation of one order: what is missing and what is doubled, and why."""

    number: int
    label: str
    order_id: str
    seller_copies: int
    seller_numbers: list[str]
    buyer_numbers: list[str]
    shipped_ids: list[str]
    missing: int = 0
    doubled: int = 0
    problems: list[str] = field(default_factory=list)


def check_order(order: ChaosOrder, view: StoreView, shipped_ids: set[str]) -> OrderCheck:
    """Reconcile one order (module docstring, "Reconciled")."""
    assert order.order_id is not None
    check = OrderCheck(order.number, order.label, order.order_id, view.seller_copies,
                       sorted(view.seller_numbers.elements()), sorted(view.buyer_numbers.elements()),
                       sorted(shipped_ids))
    if view.seller_copies == 0:
        check.missing += 1
        check.problems.append("no order on the seller's store")
    elif view.seller_copies > 1:
        check.doubled += view.seller_copies - 1
        check.problems.append(f"{view.seller_copies} orders on the seller's store")
    absent = view.seller_numbers - view.buyer_numbers
    extra = view.buyer_numbers - view.seller_numbers
    if absent:
        check.missing += sum(absent.values())
        check.problems.append(f"on the seller, not on the buyer: {sorted(absent.elements())}")
    if extra:
        check.doubled += sum(extra.values())
        check.problems.append(f"on the buyer more often than on the seller: {sorted(extra.elements())}")
    if view.seller_numbers != Counter(order.shipped_numbers):
        check.problems.append(f"the seller's store shows {sorted(view.seller_numbers.elements())}, the script "
                              f"shipped {sorted(order.shipped_numbers)}")
    if order.fulfilled_at is not None:
        if not shipped_ids:
            check.missing += 1
            check.problems.append("shipped whole by the seller, no order.shipped")
        elif len(shipped_ids) > 1:
            check.doubled += len(shipped_ids) - 1
            check.problems.append(f"{len(shipped_ids)} distinct order.shipped ids")
    return check


def read_outputs(market: Marketplace, partitions: int) -> list[Published]:
    """Every record of shipped-orders and dead-letters (`Published`), read until as many as the topics hold (at
    most 2 minutes)."""
    names = market.names
    expected = sum(record_count(market.bootstrap, topic, partitions)
                   for topic in (names.shipped_orders, names.dead_letters))
    reader = OutputReader(market.bootstrap, names)
    try:
        deadline = time.monotonic() + 120
        while len(reader.records) < expected and time.monotonic() < deadline:
            reader.poll(1.0)
        return list(reader.records)
    finally:
        reader.close()


def affected_by(orders: Sequence[ChaosOrder], injection: Injection, end: float) -> set[int]:
    """The orders in flight while `injection` lasted (a store fault: those of that store only)."""
    until = injection.ended if injection.ended is not None else end
    return {order.number for order in orders if order.in_flight(injection.started, until)
            and (injection.stores is None or buyer_id(order.buyer) in injection.stores
                 or seller_id(order.seller) in injection.stores)}


def fault_table(orders: Sequence[ChaosOrder], injections: Sequence[Injection], checks: dict[int, OrderCheck],
                end: float) -> list[dict[str, Any]]:
    """The rows of the table: per fault kind, then the orders no fault touched, then all placed orders."""
    def row(name: str, times: int | None, numbers: set[int]) -> dict[str, Any]:
        return {"fault": name, "times_injected": times, "orders_affected": len(numbers),
                "missing": sum(checks[n].missing for n in numbers if n in checks),
                "doubled": sum(checks[n].doubled for n in numbers if n in checks)}

    rows = []
    touched: set[int] = set()
    for kind in FAULT_KINDS:
        of_kind = [injection for injection in injections if injection.kind == kind.name]
        numbers = set().union(*(affected_by(orders, injection, end) for injection in of_kind))
        touched |= numbers
        rows.append(row(kind.name, len(of_kind), numbers))
    placed = {order.number for order in orders if order.placed_at is not None}
    rows.append(row("(no fault)", None, placed - touched))
    rows.append(row("all orders", len(injections), placed))
    return rows


# -- the report -------------------------------------------------------------------------------------------------


def summarise(run: ChaosRun, checks: dict[int, OrderCheck], outputs: Sequence[Published],
              stopped: dict[str, int | None]) -> dict[str, Any]:
    """Everything the run found, as the JSON document's `results`."""
    names = run.market.names
    letters = [record.value for record in outputs if record.topic == names.dead_letters]
    end = run.now()
    placed = [order for order in run.orders if order.placed_at is not None]
    flight = [order.synced_at - order.fulfilled_at for order in placed
              if order.synced_at is not None and order.fulfilled_at is not None]
    problems = [asdict(check) for check in sorted(checks.values(), key=lambda c: c.number) if check.problems]
    return {
        "table": fault_table(run.orders, run.injections, checks, end),
        "missing": sum(check.missing for check in checks.values()),
        "doubled": sum(check.doubled for check in checks.values()),
        "dead_letters_by_reason": dict(Counter(str(letter.get("reason")) for letter in letters).most_common()),
        "dead_letters_by_stage_and_reason": dict(Counter(
            f"{letter.get('stage')}/{letter.get('reason')}" for letter in letters).most_common()),
        "dead_letter_examples": [{key: letter.get(key) for key in ("order_id", "stage", "reason", "message")}
                                 for letter in letters[:20]],
        "orders": {"planned": len(run.orders), "placed": len(placed),
                   "on_seller_store": sum(order.on_seller is not None for order in placed),
                   "shipped_by_seller": sum(order.fulfilled_at is not None for order in placed),
                   "shown_whole_on_buyer": sum(order.synced_at is not None for order in placed),
                   "shortfalls": [f"{order.label}: {order.shortfall}" for order in run.orders if order.shortfall],
                   "seller_shipped_to_buyer_shows_s": {
                       "p50": round(percentile(flight, 50), 1), "p99": round(percentile(flight, 99), 1),
                       "max": round(max(flight), 1)} if flight else None},
        "problem_orders": problems,
        "order_timelines": [{"number": order.number, "label": order.label, "order_id": order.order_id,
                             **{name: None if at is None else round(at, 1) for name, at in (
                                 ("placed_at", order.placed_at), ("on_seller_at", order.on_seller_at),
                                 ("fulfilled_at", order.fulfilled_at), ("synced_at", order.synced_at))},
                             "notes": order.notes[:3]} for order in run.orders],
        "injections": [asdict(injection) for injection in run.injections],
        "worker_exits": [asdict(item) for item in run.exits],
        "worker_exit_codes_at_the_end": stopped,
        "webhook_deliveries": dict(run.deliveries),
        "webhook_flood_answers": dict(run.flood_answers),
        "phases_s": run.phases,
        "events": run.events,
    }


def report(args: argparse.Namespace, results: dict[str, Any], machine: dict[str, Any]) -> None:
    """Print the table and the rest of `results` (see the module docstring, "Printed")."""
    line = "=" * 100
    print()
    print(line)
    print(f"chaos run: {results['orders']['placed']} orders placed of {args.orders}, {args.minutes:g} min of "
          f"faults, {args.workers} workers, poll interval {args.interval}, seed {args.seed}")
    print("-" * 100)
    print(f"{'fault':16} {'times injected':>14} {'orders affected':>16} {'missing':>8} {'doubled':>8}")
    for row in results["table"]:
        times = "-" if row["times_injected"] is None else row["times_injected"]
        print(f"{row['fault']:16} {times:>14} {row['orders_affected']:>16} {row['missing']:>8} {row['doubled']:>8}")
    print("-" * 100)
    for kind in FAULT_KINDS:
        print(f"{kind.name:16} {kind.what}")
    print("orders affected: in flight (placed, not yet shown whole on the buyer's store) while the fault lasted; "
          "missing and\ndoubled: counted over those orders (module docstring)")
    print("-" * 100)
    letters = results["dead_letters_by_reason"]
    print("dead letters by reason: " + (", ".join(f"{reason} {count}" for reason, count in letters.items())
                                          or "none"))
    exits = results["worker_exits"]
    by_cause = Counter(exit_["cause"].split(",")[0] for exit_ in exits)
    codes = Counter(str(exit_["code"]) for exit_ in exits if not exit_["cause"].startswith("SIGKILL"))
    print(f"worker exits: {len(exits)} ({', '.join(f'{cause} {n}' for cause, n in by_cause.items()) or 'none'})"
          + (f"; codes of the exits the chaos did not cause: {dict(codes)}" if codes else ""))
    print(f"webhooks: deliveries answered {results['webhook_deliveries']}; floods answered "
          f"{results['webhook_flood_answers']}")
    orders = results["orders"]
    timing = orders["seller_shipped_to_buyer_shows_s"]
    print(f"orders: placed {orders['placed']}, on their seller's store {orders['on_seller_store']}, shipped whole by "
          f"the seller {orders['shipped_by_seller']}, shown whole on the buyer's store "
          f"{orders['shown_whole_on_buyer']}" + (f" (last seller shipment -> buyer shows it: p50 {timing['p50']} s, "
                                                 f"p99 {timing['p99']} s, max {timing['max']} s)" if timing else ""))
    for shortfall in orders["shortfalls"][:10]:
        print(f"  script shortfall: {shortfall}")
    for problem in results["problem_orders"][:20]:
        print(f"  {problem['label']} ({problem['order_id']}): {'; '.join(problem['problems'])}")
    if len(results["problem_orders"]) > 20:
        print(f"  ... and {len(results['problem_orders']) - 20} more orders with a problem (in the JSON)")
    verdict = "OK" if results["missing"] == 0 and results["doubled"] == 0 else "FAILED"
    print(f"totals: {len(results['injections'])} faults injected, missing {results['missing']}, doubled "
          f"{results['doubled']}, dead letters {sum(letters.values())}: {verdict}")
    print(f"machine: {machine['cores']} cores, {machine['cpu_model']}, Python {machine['python']}")
    print(line)


# -- setup and teardown -----------------------------------------------------------------------------------------


async def chaos(run: ChaosRun) -> dict[str, Any]:
    """The run on one loop: play, stop the workers, read the stores and the topics, summarise."""
    try:
        await run.play()
        run.log("stopping the workers (SIGTERM) to reconcile a world that no longer moves")
        stopped = await run.stop_workers()
        run.log(f"workers stopped, exit codes {stopped}; reading every store")
        views = await run.read_stores()
        outputs = await asyncio.to_thread(read_outputs, run.market, int(run.args.partitions))
    finally:
        await run.aclose()
    names = run.market.names
    shipped: dict[str, set[str]] = {}
    for record in outputs:
        if record.topic == names.shipped_orders and record.value.get("type") == "order.shipped":
            shipped.setdefault(str(record.value.get("order_id")), set()).add(str(record.value.get("event_id")))
    checks = {order.number: check_order(order, views[order.number], shipped.get(order.order_id, set()))
              for order in run.orders if order.order_id is not None and order.number in views}
    return summarise(run, checks, outputs, stopped)


def start_workers(market: Marketplace, folder: Path, count: int, workers: list[Worker]) -> None:
    """Fill `workers` with the marketplace's worker and `count - 1` more sharing its topics and consumer group,
    started here one by one (each waited for until ready). Each is in the list before it starts, so a failed start
    leaves every process to the caller's cleanup. Raises AssertionError when one does not start."""
    workers.append(Worker("worker-1", market.worker, market.worker.config.worker.web_port))
    for number in range(2, count + 1):
        name = f"worker-{number}"
        process = WorkerProcess(worker_config(market.config_path, folder, name), folder / f"{name}.log")
        workers.append(Worker(name, process, process.config.worker.web_port))
        process.start()


def stop_extra_workers(workers: Sequence[Worker]) -> None:
    """SIGTERM (then SIGKILL) every worker but the marketplace's own, which its context stops."""
    for worker in workers[1:]:
        if worker.process.process is not None and worker.running():
            try:
                worker.process.stop()
            except AssertionError as error:
                say(f"{worker.name}: {str(error).splitlines()[0]}")


def run_in(folder: Path, args: argparse.Namespace) -> tuple[int, dict[str, Any] | None]:
    """Broker, marketplace, workers, the run; (exit status, results or None when the setup failed). The broker,
    the stores and every worker are stopped when it returns, raises or is interrupted."""
    rng = random.Random(args.seed)
    orders = plan_orders(args.orders, rng)
    schedule = plan_faults(args.minutes, rng)
    port = args.bootstrap_port or port_below_ephemeral_range()
    broker = LocalBroker(home=broker_home(folder), port=port, controller_port=port + 1)
    try:
        say(f"starting the run's broker on {broker.bootstrap} (home {broker.home})")
        try:
            start_broker(broker, say)
        except BrokerError as error:
            say(f"the broker did not start: {error}")
            return 2, None
        say(f"serving the stores, starting {args.workers} worker(s) (logs in {folder})")
        with ExitStack() as stack:
            workers: list[Worker] = []
            try:
                market = stack.enter_context(marketplace(
                    folder, broker.bootstrap, interval=args.interval, partitions=args.partitions,
                    requests_per_s=REQUESTS_PER_S))
                stack.callback(stop_extra_workers, workers)  # before the marketplace stops its worker and stores
                # this consumer is never read here; during the outages it would only log that the broker is gone
                market.topics.close()
                start_workers(market, folder, args.workers, workers)
            except AssertionError as error:  # a worker that would not start (WorkerProcess.start)
                say(f"setup failed: {str(error)[:3000]}")
                return 2, None
            check_clocks(market)
            results = asyncio.run(chaos(ChaosRun(args, market, broker, workers, orders, schedule)))
    finally:
        say(f"broker: {broker.stop()}")
    status = 1 if results["missing"] or results["doubled"] else 3 if results["orders"]["shortfalls"] else 0
    return status, results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=500, help="buyer orders placed (default 500)")
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of faults (default 10)")
    parser.add_argument("--seed", type=int, default=None, help="the seed of the orders and faults (default: drawn)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes sharing the group (default 2)")
    parser.add_argument("--bootstrap-port", type=int, default=0,
                        help="the run's own broker's port; the next one is its controller's (default: a free one "
                             "below the ephemeral range, which the workers' reconnections cannot take)")
    parser.add_argument("--interval", default="5s", help="the poll interval (default 5s)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument("--settle-minutes", type=float, default=5.0,
                        help="the longest wait after the chaos for every order to reach its buyer (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the broker's, stores' and workers' folder")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.minutes <= 0 or args.workers < 1 or args.partitions < 1:
        parser.error("--orders, --minutes, --workers and --partitions must be positive")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1_000_000)
    say(f"chaos run, seed {args.seed} (the same orders and fault schedule again: --seed {args.seed})")
    machine, version = machine_summary(), code_version()
    fingerprint = version.pop("source_fingerprint")
    folder = Path(tempfile.mkdtemp(prefix="fulfillsync-chaos-"))
    try:
        status, results = run_in(folder, args)
    except KeyboardInterrupt:
        say("interrupted: the workers, the stores and the broker are stopped; no results")
        return 130
    finally:
        if args.keep:
            say(f"kept {folder} (broker home kafka/, worker configurations, logs and state)")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if results is None:
        return status
    version["changed_during_run"] = source_fingerprint() != fingerprint
    report(args, results, machine)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    document = {"args": vars(args), "fault_kinds": [asdict(kind) for kind in FAULT_KINDS], "machine": machine,
                "code": version, "results": results}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Sync latency: from a seller's fulfillment to the buyer's order showing it (README.md, "Sync latency").

    python bench/sync_latency.py [--mode both|webhook|poll] [--orders 1008] [--rate 2] [--buyers shopify,woocommerce]
                                 [--webhook-interval 15m] [--poll-interval 20s] [--requests-per-s woocommerce=20]
                                 [--bootstrap 127.0.0.1:9092] [--keep]

Method
------
Each mode runs its own marketplace (tests/support/marketplace.py): simulated stores served over HTTP in this
process, a configuration routing every buyer to every seller, and `fulfillsync worker` as its own process on the
broker at `--bootstrap`.

- webhook: sellers on Shopify, BigCommerce and WooCommerce (the platforms whose webhooks fulfillsync verifies),
  polling every `--webhook-interval` (15 minutes), so a scheduled poll cannot explain a latency of seconds (the
  number of scheduled slots that began during the measured window is reported). After each seller fulfillment
  the bench POSTs the signed delivery the seller's platform would send (Shopify `fulfillments/create`,
  BigCommerce Standard Webhooks `store/shipment/created`, WooCommerce `order.updated`) to
  `/webhooks/<seller connection>` on the worker. New buyer orders and seller orders reach the worker the same way
  during setup (one delivery per store).
- poll: sellers on all four platforms, polling every `--poll-interval` (20 s), no webhooks.

Buyers (`--buyers`, default Shopify and WooCommerce) are the same in both modes. Connections keep their
connector's default request rate except WooCommerce, raised from 2 to 20 requests/s (`--requests-per-s`;
WooCommerce itself has no limit, the default is a courtesy to shared hosts). Per mode: `--orders` one-line
orders, spread round-robin over every (buyer, seller) pair, are placed on the buyer stores; the bench waits until
every one exists on its seller's store (the seller order sink creates them one by one) and the worker has read
each new seller order once and gone quiet (the steady state; otherwise the first polls would time the setup's
backlog). Only then the clock starts: the seller orders are fulfilled (one tracking number each) at `--rate` per
second, interleaved across the pairs, and the bench waits until every buyer order has its fulfillment.

Measurement: each store journals, inside its own fulfillment-creating method, the wall-clock time (`time.time()`
of this process) at which it first recorded a fulfillment of an order (`Store.fulfilled_at`). The latency of an
order is buyer store's time minus seller store's time: both stores live in this process, so both sides read the
same real clock; the bench never polls a buyer store. The stores' clocks are checked to run in real time
(`sandbox/common.py` Clock, not frozen or shifted), since the connectors' cursors depend on them. Not modelled:
the platforms' own delay before they send a webhook (seconds on Shopify and BigCommerce, which come on top).

Throughput, not latency, is what a higher `--rate` measures: each connection's rate limit and the serial agents
(seller checks, buyer pushes) cap how many fulfillments per second the loop absorbs, and above that the latency
is the backlog's. Targets: webhook-driven p99 < 5 s; poll-driven p99 <= interval + 10 s. Results are printed
and written as JSON to bench/results/sync_latency-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.ledger_throughput import (  # noqa: E402
    code_version,
    delete_bench_leftovers,
    machine_summary,
    say,
    source_fingerprint,
)
from sandbox.merchant import Merchant, PlacedOrder  # noqa: E402
from sandbox.settings import SandboxPlatform  # noqa: E402
from schemas.config import parse_duration  # noqa: E402
from schemas.topics import TopicNames  # noqa: E402
from tests.support.kafka_harness import drain, reader_from_start  # noqa: E402
from tests.support.marketplace import (  # noqa: E402
    PLATFORMS,
    Marketplace,
    Store,
    buyer_id,
    marketplace,
    seller_id,
    signed_delivery,
    sku,
)

WEBHOOK_PLATFORMS: tuple[SandboxPlatform, ...] = ("shopify", "bigcommerce", "woocommerce")
RESULTS_DIR = REPO / "bench" / "results"
CLOCK_TOLERANCE_S = 1.0
PRODUCT = "MUG"
DEFAULT_RATES = "woocommerce=20"


def request_rates(items: Sequence[str]) -> dict[SandboxPlatform, float]:
    """`PLATFORM=N` items as a mapping ('none': no overrides)."""
    rates: dict[SandboxPlatform, float] = {}
    for item in items:
        if item == "none":
            continue
        name, _, value = item.partition("=")
        if name not in PLATFORMS:
            raise SystemExit(f"--requests-per-s: unknown platform {name!r}")
        rates[PLATFORMS[PLATFORMS.index(name)]] = float(value)
    return rates


@dataclass
class Trip:
    """One order's journey: placed on `buyer`, routed to `seller`."""

    buyer: SandboxPlatform
    seller: SandboxPlatform
    on_buyer: PlacedOrder
    order_id: str | None = None
    on_seller: PlacedOrder | None = None


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of `values` (non-empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def check_clocks(market: Marketplace) -> None:
    """Fail unless every store's clock runs in real time (the measurement and the cursors rely on it)."""
    for store in [*market.buyers.values(), *market.sellers.values()]:
        drift = abs(store.app.sandbox.clock.now().timestamp() - time.time())
        if drift > CLOCK_TOLERANCE_S:
            raise SystemExit(f"{store.connection}: the store's clock is {drift:.1f}s off real time")


async def place_orders(market: Marketplace, plan: Sequence[tuple[SandboxPlatform, SandboxPlatform]]) -> list[Trip]:
    """Place one order per (buyer, seller) of `plan` on the buyer store; buyers in parallel, each in order."""
    async def on(buyer: SandboxPlatform) -> list[Trip]:
        async with httpx.AsyncClient(base_url=market.buyers[buyer].root, timeout=30) as http:
            merchant = Merchant(buyer, http)
            return [Trip(buyer, seller, await merchant.place_order({sku(seller, PRODUCT): 1}))
                    for b, seller in plan if b == buyer]
    placed = await asyncio.gather(*(on(buyer) for buyer in market.buyers))
    return [trip for trips in placed for trip in trips]


async def notify(market: Marketplace, last: Sequence[tuple[Store, PlacedOrder]]) -> None:
    """One signed order-created delivery per store (for its last order): each makes the worker poll the store's
    connection, which sees every order changed since its last poll."""
    async with httpx.AsyncClient(timeout=10) as http:
        for store, order in {store.connection: (store, order) for store, order in last}.values():
            headers, body = signed_delivery(store, order)
            response = await http.post(market.webhook_url(store.connection), content=body, headers=headers)
            response.raise_for_status()


def seller_checks(market: Marketplace) -> dict[str, float]:
    """`fulfillsync_seller_checks_total` summed over outcomes, by seller connection."""
    totals: dict[str, float] = {}
    for name, value in worker_samples(market, ("fulfillsync_seller_checks_total{",)).items():
        for store in market.sellers.values():
            if f'connection="{store.connection}"' in name:
                totals[store.connection] = totals.get(store.connection, 0.0) + value
    return totals


def settle(market: Marketplace, trips: Sequence[Trip], webhooks: bool, timeout_s: float) -> None:
    """Bring the worker to its steady state before the clock starts: every new seller order read once (as the
    first poll after an order is created does), then no check for 5 s. Without this the first polls of the
    measured phase would read the fulfillments of every order created during setup, and the benchmark would time
    that backlog. Webhook mode asks for the seller polls with one delivery per seller store."""
    if webhooks:
        asyncio.run(notify(market, [(market.sellers[t.seller], t.on_seller) for t in trips if t.on_seller]))
    expected = Counter(seller_id(trip.seller) for trip in trips)
    deadline = time.monotonic() + timeout_s
    previous: dict[str, float] = {}
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        counts = seller_checks(market)
        if counts != previous:
            previous, quiet_since = counts, time.monotonic()
        elif all(counts.get(c, 0) >= n for c, n in expected.items()) and time.monotonic() - quiet_since > 5:
            return
        time.sleep(0.5)
    raise SystemExit(f"the worker did not settle in {timeout_s:.0f}s: seller checks {previous} of {dict(expected)}")


def wait_routed(market: Marketplace, trips: Sequence[Trip], timeout_s: float) -> None:
    """Wait until every trip's order.placed is on the topic; sets `order_id`."""
    by_key = {(buyer_id(t.buyer), t.on_buyer.order_ref, seller_id(t.seller)): t for t in trips}
    seen = 0
    deadline = time.monotonic() + timeout_s
    pending = len(trips)
    while pending:
        market.topics.read(0.5)
        for value in market.topics.of(market.names.order_events, kind="order.placed")[seen:]:
            seen += 1
            trip = by_key.get((value["buyer"]["connection"], value["buyer"]["order_ref"],
                               value["seller"]["connection"]))
            if trip is not None and trip.order_id is None:
                trip.order_id = str(value["order_id"])
                pending -= 1
        if time.monotonic() > deadline:
            raise SystemExit(f"{pending} orders not routed after {timeout_s:.0f}s\n{market.worker.log_tail(40)}")


def wait_on_sellers(market: Marketplace, trips: Sequence[Trip], timeout_s: float) -> None:
    """Wait until every seller store holds all its orders (counted in the store object: no API traffic), then
    look each one up once; sets `on_seller`."""
    expected = Counter(trip.seller for trip in trips)
    deadline = time.monotonic() + timeout_s
    reported = time.monotonic()
    while True:
        counts = {seller: len(market.sellers[seller].records.orders) for seller in expected}
        if all(counts[seller] >= expected[seller] for seller in expected):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"seller orders after {timeout_s:.0f}s: {counts} of {dict(expected)}\n"
                             f"{market.worker.log_tail(40)}")
        if time.monotonic() - reported > 15:
            reported = time.monotonic()
            say(f"  seller orders created: {sum(counts.values())}/{len(trips)}")
        time.sleep(1.0)
    asyncio.run(find_seller_orders(market, trips))


async def find_seller_orders(market: Marketplace, trips: Sequence[Trip]) -> None:
    async def on(seller: SandboxPlatform) -> None:
        async with httpx.AsyncClient(base_url=market.sellers[seller].root, timeout=30) as http:
            merchant = Merchant(seller, http)
            for trip in trips:
                if trip.seller == seller:
                    assert trip.order_id is not None
                    trip.on_seller = await merchant.find_order(trip.order_id)
                    if trip.on_seller is None:
                        raise SystemExit(f"order {trip.order_id} missing on {seller_id(seller)}")
    await asyncio.gather(*(on(seller) for seller in market.sellers))


async def fulfill_all(market: Marketplace, trips: Sequence[Trip], rate: float, webhooks: bool) -> Counter[str]:
    """Fulfill every trip's seller order at `rate` per second (each on its own schedule, so a slow answer does
    not slow the rate), each followed by its platform's signed webhook when `webhooks`; the webhook answers."""
    answers: Counter[str] = Counter()
    clients = {seller: httpx.AsyncClient(base_url=store.root, timeout=30) for seller, store in market.sellers.items()}
    merchants = {seller: Merchant(seller, client) for seller, client in clients.items()}
    worker = httpx.AsyncClient(timeout=30)

    async def one(index: int, trip: Trip) -> None:
        assert trip.on_seller is not None
        ref = await merchants[trip.seller].fulfill(trip.on_seller, {sku(trip.seller, PRODUCT): 1},
                                                  [f"1Z999AA1{index:010d}"], "UPS")
        if webhooks:
            store: Store = market.sellers[trip.seller]
            headers, body = signed_delivery(store, trip.on_seller, ref)
            response = await worker.post(market.webhook_url(store.connection), content=body, headers=headers)
            answers[str(response.status_code)] += 1

    try:
        start = time.monotonic()
        tasks = []
        for index, trip in enumerate(trips):
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(index, trip)))
        await asyncio.gather(*tasks)
    finally:
        for client in [*clients.values(), worker]:
            await client.aclose()
    return answers


def wait_delivered(market: Marketplace, trips: Sequence[Trip], timeout_s: float) -> None:
    """Wait (reading the buyer stores' journals in this process) until every buyer order has its fulfillment, or
    `timeout_s` passes; what is still missing is reported by `latencies`."""
    deadline = time.monotonic() + timeout_s
    reported = time.monotonic()
    while time.monotonic() < deadline:
        missing = sum(1 for t in trips if t.on_buyer.admin_id not in market.buyers[t.buyer].fulfilled_at)
        if not missing:
            return
        if time.monotonic() - reported > 15:
            reported = time.monotonic()
            say(f"  buyer orders still without their fulfillment: {missing}")
        time.sleep(0.5)


def latencies(market: Marketplace, trips: Sequence[Trip]) -> tuple[list[float], list[float], int]:
    """(latencies in seconds, seller fulfillment times, how many buyer orders never showed theirs)."""
    values, fulfilled, missing = [], [], 0
    for trip in trips:
        assert trip.on_seller is not None
        seller_at = market.sellers[trip.seller].fulfilled_at[trip.on_seller.admin_id]
        fulfilled.append(seller_at)
        buyer_at = market.buyers[trip.buyer].fulfilled_at.get(trip.on_buyer.admin_id)
        if buyer_at is None:
            missing += 1
        else:
            values.append(buyer_at - seller_at)
    return values, fulfilled, missing


STAGES = ("ask", "read", "ledger", "push")
"""Where an order's latency goes, from the topics' record timestamps: `ask` seller fulfillment -> its check record
(webhook or poll, then the seller connection's listing), `read` -> fulfillment.recorded (the check agent reads the
seller's fulfillments), `ledger` -> the buyer push record, `push` -> the buyer store records the fulfillment."""


def stage_times(market: Marketplace, trips: Sequence[Trip]) -> dict[str, Any]:
    """p50/p99 of each of `STAGES` over the delivered trips (see there), read back from the worker's topics, and
    for the trips never delivered the last stage they reached (`missing_stopped_at`, by seller -> buyer)."""
    names = market.names
    consumer = reader_from_start(market.bootstrap, (names.seller_checks, names.fulfillment_events,
                                                    names.buyer_pushes))
    first: dict[tuple[str, str], list[float]] = {}
    try:
        for message in drain(consumer, 5.0):
            key = (message.key() or b"").decode()
            topic = str(message.topic())
            if topic == names.fulfillment_events and json.loads(message.value()).get("type") != "fulfillment.recorded":
                continue
            first.setdefault((topic, key), []).append(message.timestamp()[1] / 1000)
    finally:
        consumer.close()

    def after(topic: str, key: str, since: float) -> float | None:
        return min((at for at in first.get((topic, key), []) if at >= since - 0.01), default=None)

    spans: dict[str, list[float]] = {stage: [] for stage in STAGES}
    by_seller: dict[str, dict[str, list[float]]] = {}
    push_by_buyer: dict[str, list[float]] = {}
    stuck: Counter[str] = Counter()
    for trip in trips:
        seller_at = market.sellers[trip.seller].fulfilled_at.get(trip.on_seller.admin_id) if trip.on_seller else None
        buyer_at = market.buyers[trip.buyer].fulfilled_at.get(trip.on_buyer.admin_id)
        if seller_at is None or trip.order_id is None:
            continue
        asked = after(names.seller_checks, trip.order_id, seller_at)
        recorded = after(names.fulfillment_events, trip.order_id, asked or seller_at)
        pushed = after(names.buyer_pushes, trip.order_id, recorded or seller_at)
        if buyer_at is None:  # where a fulfillment that never reached its buyer stopped
            reached = "pushed" if pushed else "recorded" if recorded else "asked" if asked else "not asked"
            stuck[f"{trip.seller}->{trip.buyer}: {reached}"] += 1
            continue
        if asked is None or recorded is None or pushed is None:
            continue
        seller_spans = by_seller.setdefault(trip.seller, {stage: [] for stage in STAGES})
        for stage, span in zip(STAGES, (asked - seller_at, recorded - asked, pushed - recorded, buyer_at - pushed),
                               strict=True):
            spans[stage].append(span)
            seller_spans[stage].append(span)
        push_by_buyer.setdefault(trip.buyer, []).append(buyer_at - recorded)

    def figures(values: Sequence[float]) -> dict[str, float]:
        return {"p50": round(percentile(values, 50), 3), "p99": round(percentile(values, 99), 3)}

    times: dict[str, Any] = {stage: figures(values) for stage, values in spans.items() if values}
    times["by_seller"] = {seller: {stage: figures(values) for stage, values in stages.items() if values}
                          for seller, stages in by_seller.items()}
    times["recorded_to_buyer_by_buyer"] = {buyer: figures(values) for buyer, values in push_by_buyer.items()}
    if stuck:
        times["missing_stopped_at"] = dict(stuck)
    return times


def worker_samples(market: Marketplace, prefixes: Sequence[str]) -> dict[str, float]:
    status, text = market.worker.http("/metrics")
    if status != 200:
        return {}
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith(tuple(prefixes))}


def run_mode(mode: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """One marketplace, one mode: the figures (see the module docstring)."""
    webhooks = mode == "webhook"
    sellers = WEBHOOK_PLATFORMS if webhooks else PLATFORMS
    buyers = args.buyers
    if webhooks and not set(buyers) <= set(WEBHOOK_PLATFORMS):
        raise SystemExit(f"webhook mode: buyers must be among {WEBHOOK_PLATFORMS} (their new orders arrive by "
                         "webhook; a Magento buyer would wait for the scheduled poll)")
    interval = args.webhook_interval if webhooks else args.poll_interval
    interval_s = parse_duration(interval).total_seconds()
    pairs = [(buyer, seller) for buyer in buyers for seller in sellers]
    plan = [pairs[index % len(pairs)] for index in range(args.orders)]
    say(f"{mode}: buyers {'/'.join(buyers)}, sellers {'/'.join(sellers)}, poll interval {interval}, "
        f"{args.orders} orders at {args.rate}/s")
    names: TopicNames | None = None
    try:
        with marketplace(folder, args.bootstrap, interval=interval, buyers=buyers, sellers=sellers,
                         requests_per_s=args.requests_per_s) as market:
            names = market.names
            check_clocks(market)
            started = time.monotonic()
            trips = asyncio.run(place_orders(market, plan))
            say(f"  placed {len(trips)} buyer orders in {time.monotonic() - started:.1f}s")
            if webhooks:
                asyncio.run(notify(market, [(market.buyers[t.buyer], t.on_buyer) for t in trips]))
            wait_routed(market, trips, timeout_s=120 + 2 * interval_s + args.orders * 0.2)
            say(f"  routed (order.placed) after {time.monotonic() - started:.1f}s")
            wait_on_sellers(market, trips, timeout_s=300 + args.orders * 1.0)
            say(f"  every order on its seller store after {time.monotonic() - started:.1f}s")
            settle(market, trips, webhooks, timeout_s=120 + interval_s + args.orders * 1.0)
            setup_s = time.monotonic() - started
            say(f"  every seller order read once, worker quiet after {setup_s:.1f}s; the clock starts")
            before = worker_samples(market, ("fulfillsync_polls_total", "fulfillsync_poll_ticks_total"))
            clock_start = time.time()
            answers = asyncio.run(fulfill_all(market, trips, args.rate, webhooks))
            fulfill_s = time.time() - clock_start
            say(f"  fulfilled {len(trips)} seller orders in {fulfill_s:.1f}s; webhook answers {dict(answers)}")
            wait_delivered(market, trips, timeout_s=120 + (0 if webhooks else interval_s))
            values, fulfilled, missing = latencies(market, trips)
            delivered = [market.buyers[t.buyer].fulfilled_at[t.on_buyer.admin_id] for t in trips
                         if t.on_buyer.admin_id in market.buyers[t.buyer].fulfilled_at]
            window_end = max(delivered, default=time.time())
            after = worker_samples(market, ("fulfillsync_polls_total", "fulfillsync_poll_ticks_total"))
            check_clocks(market)
            stages = stage_times(market, trips)
            by_seller = {seller: sorted(market.buyers[t.buyer].fulfilled_at[t.on_buyer.admin_id]
                                        - market.sellers[seller].fulfilled_at[t.on_seller.admin_id]
                                        for t in trips if t.seller == seller and t.on_seller is not None
                                        and t.on_buyer.admin_id in market.buyers[t.buyer].fulfilled_at)
                         for seller in sellers}
            market.topics.read(1.0)
            dead_letters = len(market.topics.of(market.names.dead_letters))
    finally:
        if names is not None:
            deleted = delete_bench_leftovers(args.bootstrap, names.prefix, [names.app_id])
            say(f"  cleaned up {len(deleted)} topics")
    return summarise(mode, interval, interval_s, values, missing, {
        "buyers": list(buyers), "sellers": list(sellers), "orders": len(trips),
        "rate_per_s": args.rate, "connection_requests_per_s": args.requests_per_s or "connector defaults",
        "setup_s": round(setup_s, 1), "fulfill_phase_s": round(fulfill_s, 1),
        "webhook_answers": dict(answers), "dead_letters": dead_letters, "stages_s": stages,
        "by_seller_s": {seller: {"p50": round(percentile(values, 50), 3), "p99": round(percentile(values, 99), 3)}
                        for seller, values in by_seller.items() if values},
        # one connection's slots (streams/polling/ticks.py) that began while orders were in flight
        "scheduled_slots_in_window": int(window_end // interval_s) - int(min(fulfilled) // interval_s),
        "worker_poll_counters_during_run": {name: value - before.get(name, 0.0) for name, value in after.items()
                                            if value != before.get(name, 0.0)}})


def summarise(mode: str, interval: str, interval_s: float, values: Sequence[float], missing: int,
              details: dict[str, Any]) -> dict[str, Any]:
    figures = {name: round(percentile(values, p), 3) if values else None
               for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))}
    figures["min"] = round(min(values), 3) if values else None
    p99 = figures["p99"]
    if mode == "webhook":
        target, met = "p99 < 5 s", p99 is not None and p99 < 5 and missing == 0
    else:
        target = f"p99 <= interval + 10 s = {interval_s + 10:.0f} s"
        met = p99 is not None and p99 <= interval_s + 10 and missing == 0
    return {"mode": mode, "poll_interval": interval, "poll_interval_s": interval_s, "measured": len(values),
            "missing": missing, "latency_s": figures,
            "as_fraction_of_interval": {name: round(value / interval_s, 4) if value is not None else None
                                        for name, value in figures.items()},
            "target": target, "target_met": met, **details}


def report(results: Sequence[dict[str, Any]], machine: dict[str, Any]) -> None:
    print()
    print("=" * 104)
    print("sync latency: seller's fulfillment -> the buyer's order shows it (stores' own journals, same clock)")
    print("-" * 104)
    print(f"{'mode':8} {'interval':>8} {'orders':>7} {'rate/s':>6} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} "
          f"{'p99/interval':>12} {'missing':>7}  target")
    for row in results:
        if "error" in row:
            print(f"{row['mode']:8} gave up: {row['error'].splitlines()[0][:90]}")
            continue
        lat = row["latency_s"]
        cells = " ".join(f"{lat[name]:>6.2f}s" if lat[name] is not None else f"{'n/a':>7}"
                         for name in ("p50", "p90", "p99", "max"))
        fraction = row["as_fraction_of_interval"]["p99"]
        print(f"{row['mode']:8} {row['poll_interval']:>8} {row['orders']:>7} {row['rate_per_s']:>6g} {cells} "
              f"{fraction if fraction is not None else 'n/a':>12} {row['missing']:>7}  "
              f"{row['target']}: {'MET' if row['target_met'] else 'NOT MET'}")
    print("-" * 104)
    for row in (row for row in results if "error" not in row):
        print(f"{row['mode']:8} buyers {'/'.join(row['buyers'])}, sellers {'/'.join(row['sellers'])}; setup "
              f"{row['setup_s']}s; fulfill phase {row['fulfill_phase_s']}s; webhook answers {row['webhook_answers']}; "
              f"dead letters {row['dead_letters']}; scheduled poll slots in the window "
              f"{row['scheduled_slots_in_window']}")
        stages = row.get("stages_s", {})
        print(f"{row['mode']:8} stages p50/p99: " + ", ".join(
            f"{stage} {stages[stage]['p50']:.2f}/{stages[stage]['p99']:.2f}s" for stage in STAGES if stage in stages))
        print(f"{row['mode']:8} by seller p50/p99: " + ", ".join(
            f"{seller} {times['p50']:.2f}/{times['p99']:.2f}s" for seller, times in row.get("by_seller_s", {}).items()))
        for seller, seller_stages in stages.get("by_seller", {}).items():
            print(f"{row['mode']:8}   stages of seller {seller}: " + ", ".join(
                f"{stage} {seller_stages[stage]['p50']:.2f}/{seller_stages[stage]['p99']:.2f}s"
                for stage in STAGES if stage in seller_stages))
        print(f"{row['mode']:8} recorded -> buyer's order, by buyer p50/p99: " + ", ".join(
            f"{buyer} {times['p50']:.2f}/{times['p99']:.2f}s"
            for buyer, times in stages.get("recorded_to_buyer_by_buyer", {}).items()))
        if "missing_stopped_at" in stages:
            print(f"{row['mode']:8} missing orders stopped at: {stages['missing_stopped_at']}")
    print(f"machine: {machine['cores']} cores, {machine['cpu_model']}, Python {machine['python']}")
    print("=" * 104)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("both", "webhook", "poll"), default="both")
    parser.add_argument("--orders", type=int, default=1008, help="orders per mode (default 1008: a multiple of "
                        "the 6 and 8 (buyer, seller) pairs)")
    parser.add_argument("--rate", type=float, default=2.0, help="seller fulfillments per second")
    parser.add_argument("--buyers", default="shopify,woocommerce", help="buyer platforms, comma-separated")
    parser.add_argument("--webhook-interval", default="15m")
    parser.add_argument("--poll-interval", default="20s")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--requests-per-s", action="append", default=[], metavar="PLATFORM=N",
                        help="a connection request rate other than the connector's default (repeatable; default "
                        f"{DEFAULT_RATES}; 'none' keeps every default)")
    parser.add_argument("--keep", action="store_true", help="keep the worker's log and state (path printed)")
    args = parser.parse_args(argv)
    args.requests_per_s = request_rates(args.requests_per_s or [DEFAULT_RATES])
    args.buyers = [PLATFORMS[PLATFORMS.index(name)] for name in args.buyers.split(",") if name in PLATFORMS]
    machine, version = machine_summary(), code_version()
    fingerprint = version.pop("source_fingerprint")
    path = RESULTS_DIR / f"sync_latency-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    results: list[dict[str, Any]] = []
    for mode in (("webhook", "poll") if args.mode == "both" else (args.mode,)):
        results.append(measured(mode, args))
        version["changed_during_run"] = source_fingerprint() != fingerprint
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)  # after every mode: a later failure loses nothing
        document = {"args": vars(args), "machine": machine, "code": version, "results": results}
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    report(results, machine)
    print(json.dumps({"bench": "sync_latency", **{row["mode"]: {
        "p50": row["latency_s"]["p50"], "p99": row["latency_s"]["p99"], "target_met": row["target_met"]}
        if "error" not in row else {"error": row["error"][:200]} for row in results}}))
    print(f"results written to {path}")
    return 0 if all(row.get("target_met") for row in results) else 1


def measured(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """`run_mode` in a fresh folder (kept with --keep); a run that gives up (a wait timed out) becomes a row with
    its `error`, so the other mode still runs and is reported."""
    try:
        if args.keep:
            folder = tempfile.mkdtemp(prefix=f"sync-latency-{mode}-")
            say(f"worker log and state kept in {folder}")
            return run_mode(mode, args, Path(folder))
        with tempfile.TemporaryDirectory(prefix=f"sync-latency-{mode}-") as temporary:
            return run_mode(mode, args, Path(temporary))
    except SystemExit as error:
        say(f"{mode}: gave up: {str(error)[:500]}")
        return {"mode": mode, "error": str(error)}

if __name__ == "__main__":
    sys.exit(main())

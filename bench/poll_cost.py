"""What a poll cycle costs the platforms: requests and time, against polling every open order one by one.

    python bench/poll_cost.py [--stores 200] [--orders 50000] [--changed 0.01] [--seed 7] [--new-orders 50]
                              [--products 10]

Method
------
`--stores` simulated seller stores (the four platforms in turn, each store as it comes out of `sandbox/`, with
its default rate limits: Shopify's cost bucket of 2,000 points at 100/s, BigCommerce's 150 requests per 30 s),
served in-process (httpx's ASGI transport, no sockets), each polled by its platform's connector. Every store gets
`--orders / --stores` open orders of one line, placed over the previous seven days on the store's clock (so the
poll cursor's two-minute overlap covers what it would in production). Then:

1. initial poll: every store walked from no cursor (not part of the figures; it sets the cursors);
2. a poll cycle with no changes: every store polled from its cursor;
3. the store clocks move on 15 minutes (one polling interval) and `--changed` of the orders, spread at random,
   get a shipment with a tracking number;
4. a poll cycle with those changes: every store polled from its cursor, and the fulfillments of every order the
   poll returned read (what the seller poller does with a changed order);
5. the naive baseline: one request per open order (the platform's single-order read), every store;
6. catalog lookups for the orders to create: `--new-orders` orders per store, each of 2 SKUs drawn from the
   store's `--products`-item catalog, linked through the seller order sink's cache (`streams/sellers/catalog.py`,
   10-minute TTL) against the same lookups uncached (TTL 0: one catalog read per order).

Requests are counted by the stores themselves (`/_sandbox/requests`), with the status of every answer; the
stores run concurrently, as a poller would run them. Results are printed and written as JSON to
bench/results/poll_cost-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from connectors.base import StoreConnector  # noqa: E402
from connectors.registry import connector_for  # noqa: E402
from sandbox.common import SandboxApp  # noqa: E402
from sandbox.merchant import Merchant, PlacedOrder  # noqa: E402
from sandbox.registry import create_store  # noqa: E402
from sandbox.settings import SandboxPlatform, StoreSettings  # noqa: E402
from schemas.config import REQUIRED_CREDENTIALS, Connection  # noqa: E402
from streams.sellers.catalog import CatalogMetrics, SellerCatalogs  # noqa: E402

PLATFORMS: tuple[SandboxPlatform, ...] = ("shopify", "bigcommerce", "woocommerce", "magento2")
CREDENTIALS = {"access_token": "bench-token", "consumer_key": "ck_bench", "consumer_secret": "cs_bench"}
SHOPIFY_ORDER = "query Order($id: ID!) { order(id: $id) { id updatedAt displayFulfillmentStatus } }"


@dataclass
class Store:
    platform: SandboxPlatform
    app: SandboxApp
    base_path: str
    admin: httpx.AsyncClient
    connector: StoreConnector
    merchant: Merchant
    connector_id: str = ""
    orders: list[PlacedOrder] = field(default_factory=list)
    cursor: str | None = None


def build(index: int) -> Store:
    store_platform = PLATFORMS[index % len(PLATFORMS)]
    app, base_path = create_store(StoreSettings(platform=store_platform, name=f"store{index}",
                                                credentials=CREDENTIALS))
    transport = httpx.ASGITransport(app=app)
    connection = Connection(id=f"{store_platform}-{index}", partner=f"seller{index}", role="seller",
                            platform=store_platform, base_url=f"http://127.0.0.1{base_path}",
                            credentials={key: SecretStr(CREDENTIALS[key])
                                         for key in REQUIRED_CREDENTIALS[store_platform]})
    admin = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
    return Store(store_platform, app, base_path, admin, connector_for(connection, transport=transport),
                 Merchant(store_platform, admin), connection.id)


async def seed(store: Store, orders: int) -> None:
    """`orders` one-line orders spread over the seven days before now. The store's clock keeps running (its
    rate-limit windows need it): it is moved back seven days, then forward again order by order."""
    step = timedelta(days=7) / max(orders, 1)
    await store.admin.post("/_sandbox/clock", json={"advance_s": -timedelta(days=7).total_seconds()})
    for _ in range(orders):
        store.orders.append(await store.merchant.place_order({"ACME-MUG": 2}))
        await store.admin.post("/_sandbox/clock", json={"advance_s": step.total_seconds()})


async def poll(store: Store, read_fulfillments: bool) -> int:
    """Walk the store's changes from its cursor; returns how many orders came back."""
    returned: list[str] = []
    while True:
        page = await store.connector.orders_changed_since(store.cursor)
        returned += [order.order_ref for order in page.items]
        store.cursor = page.cursor
        if not page.has_more:
            break
    if read_fulfillments:
        for order_ref in returned:
            await store.connector.fulfillments(order_ref)
    return len(returned)


async def naive(store: Store) -> None:
    """One request per open order, waiting what a 429 asks for before retrying that order."""
    for order in store.orders:
        while True:
            response = await naive_read(store, order)
            if response.status_code != 429:
                break
            reset = response.headers.get("x-rate-limit-time-reset-ms")
            await asyncio.sleep(int(reset) / 1000 if reset else float(response.headers.get("retry-after", "1")))


async def naive_read(store: Store, order: PlacedOrder) -> httpx.Response:
    token = CREDENTIALS["access_token"]
    if store.platform == "shopify":
        return await store.admin.post("/admin/api/2026-07/graphql.json", headers={"X-Shopify-Access-Token": token},
                                      json={"query": SHOPIFY_ORDER, "variables": {"id": order.order_ref}})
    if store.platform == "bigcommerce":
        return await store.admin.get(f"{store.base_path}/v2/orders/{order.order_ref}",
                                     headers={"X-Auth-Token": token, "Accept": "application/json"})
    if store.platform == "woocommerce":
        return await store.admin.get(f"/wp-json/wc/v3/orders/{order.order_ref}",
                                     auth=(CREDENTIALS["consumer_key"], CREDENTIALS["consumer_secret"]))
    return await store.admin.get(f"{store.base_path}/V1/orders/{order.order_ref}",
                                 headers={"Authorization": f"Bearer {token}"})


def catalog_work(args: argparse.Namespace, ttl_s: float) -> Any:
    """Per store: `--new-orders` lookups of 2 SKUs each through one `SellerCatalogs` (the sink's cache)."""
    catalogs = SellerCatalogs(ttl_s=ttl_s, metrics=CatalogMetrics(CollectorRegistry()))
    rng = random.Random(args.seed)
    skus = [f"ACME-{n:03}" for n in range(args.products)]
    orders = [rng.sample(skus, 2) for _ in range(args.new_orders)]

    async def work(store: Store) -> int:
        for order in orders:
            found = await catalogs.lookup(store.connector_id, store.connector, order)
            assert all(len(found.variants[sku]) == 1 for sku in order), found
        return 0

    return work


async def counted(stores: list[Store], work: Any) -> dict[str, Any]:
    """Run `work(store)` on every store at once; the stores' own request counts and the time it took."""
    for store in stores:
        store.app.sandbox.requests.clear()
        store.app.sandbox.statuses.clear()
    started = time.monotonic()
    results = await asyncio.gather(*(work(store) for store in stores))
    elapsed = time.monotonic() - started
    per_store = [sum(store.app.sandbox.requests.values()) for store in stores]
    statuses: Counter[int] = Counter()
    by_platform: Counter[str] = Counter()
    for store, requests in zip(stores, per_store, strict=True):
        statuses.update(store.app.sandbox.statuses)
        by_platform[store.platform] += requests
    return {"seconds": round(elapsed, 2), "requests": sum(per_store), "max_per_store": max(per_store),
            "by_platform": dict(by_platform), "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "orders_returned": sum(r for r in results if isinstance(r, int))}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stores = [build(index) for index in range(args.stores)]
    per_store = args.orders // args.stores
    started = time.monotonic()
    for store in stores:  # CPU-bound in-process; sequential keeps the event loop responsive
        await seed(store, per_store)
    print(f"seeded {per_store * len(stores):,} open orders in {len(stores)} stores "
          f"in {time.monotonic() - started:.1f}s", flush=True)

    figures: dict[str, Any] = {}
    figures["initial"] = await counted(stores, lambda store: poll(store, read_fulfillments=False))
    print(f"initial poll: {figures['initial']}", flush=True)
    figures["unchanged"] = await counted(stores, lambda store: poll(store, read_fulfillments=True))
    print(f"unchanged cycle: {figures['unchanged']}", flush=True)

    rng = random.Random(args.seed)
    everything = [(store, order) for store in stores for order in store.orders]
    changed = rng.sample(everything, max(1, round(len(everything) * args.changed)))
    for store in stores:
        await store.admin.post("/_sandbox/clock", json={"advance_s": 900})
    for number, (store, order) in enumerate(changed):
        await store.merchant.ship(order, "ACME-MUG", 1, f"1Z999AA1{number:010d}")
    figures["changed"] = await counted(stores, lambda store: poll(store, read_fulfillments=True))
    figures["changed"]["orders_changed"] = len(changed)
    print(f"changed cycle: {figures['changed']}", flush=True)

    figures["naive"] = await counted(stores, naive)
    print(f"naive baseline: {figures['naive']}", flush=True)

    for store in stores:
        await store.merchant.stock([f"ACME-{n:03}" for n in range(args.products)])
    figures["catalog_cached"] = await counted(stores, catalog_work(args, ttl_s=600))
    print(f"catalog lookups, cached: {figures['catalog_cached']}", flush=True)
    figures["catalog_uncached"] = await counted(stores, catalog_work(args, ttl_s=0))
    print(f"catalog lookups, uncached: {figures['catalog_uncached']}", flush=True)
    for store in stores:
        await store.connector.aclose()
        await store.admin.aclose()
    return figures


def report(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    stores, naive_figures = args.stores, figures["naive"]
    print()
    print("=" * 96)
    print(f"poll cost  {stores} stores ({stores // 4} per platform), {args.orders:,} open orders, "
          f"{figures['changed']['orders_changed']} changed between two polls")
    print("-" * 96)
    print(f"{'cycle':28} {'requests':>9} {'per store':>10} {'max/store':>10} {'seconds':>8} {'vs naive':>9}  429s")
    for name, label in (("unchanged", "poll, no changes"), ("changed", "poll, 1% changed (+reads)"),
                        ("naive", "naive: one per open order")):
        row = figures[name]
        ratio = row["requests"] / naive_figures["requests"]
        print(f"{label:28} {row['requests']:>9,} {row['requests'] / stores:>10.2f} {row['max_per_store']:>10} "
              f"{row['seconds']:>8.2f} {ratio:>9.4f}  {row['statuses'].get('429', 0)}")
    cached, uncached = figures["catalog_cached"], figures["catalog_uncached"]
    print(f"{'catalog, cached (10m TTL)':28} {cached['requests']:>9,} {cached['requests'] / stores:>10.2f} "
          f"{cached['max_per_store']:>10} {cached['seconds']:>8.2f} {cached['requests'] / uncached['requests']:>9.4f}"
          f"  {cached['statuses'].get('429', 0)}   (ratio vs uncached)")
    print(f"{'catalog, uncached':28} {uncached['requests']:>9,} {uncached['requests'] / stores:>10.2f} "
          f"{uncached['max_per_store']:>10} {uncached['seconds']:>8.2f} {1:>9.4f}  "
          f"{uncached['statuses'].get('429', 0)}   ({args.new_orders} new orders per store, "
          f"{args.products} products)")
    print("-" * 96)
    for name in ("unchanged", "changed", "naive", "catalog_cached"):
        print(f"{name:10} by platform {figures[name]['by_platform']}  answers {figures[name]['statuses']}")
    target = figures["unchanged"]["max_per_store"] <= 1 and all(
        figures[name]["statuses"].get("429", 0) == 0 for name in ("initial", "unchanged", "changed"))
    print(f"target (no-change cycle <= 1 request per store; no 429 from any poll): {'MET' if target else 'NOT MET'}")
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print("=" * 96)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--new-orders", type=int, default=50, help="orders to create per store (catalog lookups)")
    parser.add_argument("--products", type=int, default=10, help="catalog items per store")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    report(args, figures)
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"poll_cost-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"args": vars(args), "figures": figures}, indent=2), encoding="utf-8")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

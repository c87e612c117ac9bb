"""A whole marketplace for end-to-end runs: a buyer store and a seller store on each of the four platforms, served
over HTTP in this process, a configuration routing every buyer to every seller, and `fulfillsync worker` as its
own process on the real broker. Tests and `bench/sync_latency.py` act as the merchants through
`sandbox.merchant.Merchant` and read the topics back.

Connections are `b-<tag>` (buyers) and `s-<tag>` (sellers), tags `shop`, `bc`, `woo`, `mag`; a buyer routes SKUs
`<TAG>-*` to seller `s-<tag>`; any other SKU is the buyer's own. Every seller's catalog has `<TAG>-<name>` for each
of `PRODUCTS`. Credentials reach the worker through environment variables, as in production; the Magento stores
refuse bearer tokens (as 2.4.4+ stores do), so their connections sign with OAuth 1.0a.

Options for the benchmark: which platforms serve buyers and sellers, the poll interval; every store journals
when it records a fulfillment (`Store.fulfilled_at`), and `signed_delivery` builds the webhook a seller's or
buyer's platform would send for an order.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from sandbox.common import SandboxApp
from sandbox.merchant import Merchant, PlacedOrder, StoreFulfillment
from sandbox.registry import create_store
from sandbox.server import free_port
from sandbox.settings import SandboxPlatform, StoreSettings
from schemas.config import REQUIRED_CREDENTIALS
from schemas.config_file import load_config
from schemas.platform_names import MAGENTO_OAUTH_CREDENTIALS
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from tests.support.kafka_harness import WorkerProcess, drain, reader_from_start, reader_settings
from tests.support.stores import served

T = TypeVar("T")
TAGS: dict[SandboxPlatform, str] = {"shopify": "shop", "bigcommerce": "bc", "woocommerce": "woo", "magento2": "mag"}
PLATFORMS: tuple[SandboxPlatform, ...] = tuple(TAGS)
PRODUCTS = ("MUG", "CAP", "TEE", "BOX", "PEN", "INK")
"""Product names every seller's catalogue has (as `sku(seller, name)`)."""
STORE_OPTIONS: dict[SandboxPlatform, dict[str, Any]] = {"magento2": {"enable_integration_as_bearer": False}}
"""Magento stores behave as 2.4.4+ does by default: integration tokens are refused as bearer tokens, so the
connections sign every request with OAuth 1.0a."""
SECRET_ENV = "FULFILLSYNC_E2E_SECRET"
SECRET = "e2e-store-credential"
WEBHOOK_SECRET = "e2e-webhook-secret"


def buyer_id(platform: SandboxPlatform) -> str:
    return f"b-{TAGS[platform]}"


def seller_id(platform: SandboxPlatform) -> str:
    return f"s-{TAGS[platform]}"


def sku(seller: SandboxPlatform, name: str) -> str:
    """A SKU the buyers route to `seller`."""
    return f"{TAGS[seller].upper()}-{name}"


def _credential_names(platform: SandboxPlatform) -> tuple[str, ...]:
    """Magento: the integration's four OAuth 1.0a credentials (its stores refuse bearer tokens, as 2.4.4+ does)."""
    return MAGENTO_OAUTH_CREDENTIALS if platform == "magento2" else REQUIRED_CREDENTIALS[platform]


def _credentials(platform: SandboxPlatform) -> dict[str, str]:
    values = {"consumer_key": f"ck_{SECRET}", "consumer_secret": f"cs_{SECRET}",
              "access_token_secret": f"ts_{SECRET}"}
    return {name: values.get(name, SECRET) for name in _credential_names(platform)}


@dataclass
class Store:
    """One served store: its connection id, platform, root URL (admin routes), API base URL and app."""

    connection: str
    platform: SandboxPlatform
    root: str
    base_url: str
    app: SandboxApp
    fulfilled_at: dict[int, float] = field(default_factory=dict)
    """Order admin id -> wall-clock time (`time.time()`) at which the store first recorded a fulfillment of it,
    taken in the store's own fulfillment-creating method (see `journal_fulfillments`)."""

    @property
    def records(self) -> Any:
        """The store object itself, in this process (its `orders` dict, its methods): the app's `store`, or for
        Shopify the ShopifyStore behind the GraphQL layer."""
        return self.app.store.store if self.platform == "shopify" else self.app.store

    def act(self, action: Callable[[Merchant], Awaitable[T]]) -> T:
        """Run one merchant action on this store (a fresh client: tests are synchronous)."""
        async def go() -> T:
            async with httpx.AsyncClient(base_url=self.root, timeout=15) as http:
                return await action(Merchant(self.platform, http))
        return asyncio.run(go())

    def fulfillments(self, order: PlacedOrder) -> list[StoreFulfillment]:
        return self.act(lambda merchant: merchant.fulfillments(order))

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.root}/_sandbox{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()


@dataclass
class Topics:
    """Every record of the public topics so far, parsed: (topic, key, value)."""

    bootstrap: str
    names: TopicNames
    records: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    settings: Mapping[str, Any] | None = None
    """Added to the reader's consumer settings (`reader_from_start`): the configuration's security settings."""

    def __post_init__(self) -> None:
        self._consumer = reader_from_start(self.bootstrap, self.names.public, self.settings)

    def read(self, seconds: float = 0.2) -> None:
        for message in drain(self._consumer, seconds):
            key = message.key()
            try:
                value = json.loads(message.value() or b"null")
            except ValueError:
                value = {"unparsed": True}
            self.records.append((str(message.topic()), key.decode() if key else None, value))

    def of(self, topic: str, order_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        return [value for name, _, value in self.records if name == topic
                and (order_id is None or value.get("order_id") == order_id)
                and (kind is None or value.get("type") == kind)]

    def order_id(self, buyer: str, buyer_order_ref: str, seller: str) -> str | None:
        """Our order id for a buyer order routed to `seller`, once its order.placed was published."""
        for value in self.of(self.names.order_events, kind="order.placed"):
            if (value["buyer"]["connection"], value["buyer"]["order_ref"], value["seller"]["connection"]) == (
                    buyer, buyer_order_ref, seller):
                return str(value["order_id"])
        return None

    def close(self) -> None:
        self._consumer.close()


@dataclass
class Marketplace:
    """The served stores, the configuration and the worker (see the module docstring)."""

    folder: Path
    bootstrap: str
    buyers: dict[SandboxPlatform, Store]
    sellers: dict[SandboxPlatform, Store]
    config_path: Path
    worker: WorkerProcess
    topics: Topics

    @property
    def names(self) -> TopicNames:
        return self.topics.names

    def wait_for(self, condition: Callable[[], T | None], what: str, timeout_s: float = 60) -> T:
        """Poll `condition` (reading the topics in between) until it returns something truthy; fails with what was
        awaited and the worker's log tail."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.topics.read(0.2)
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}\n{self.worker.log_tail(80)}")
            time.sleep(0.3)

    def seller_order(self, seller: SandboxPlatform, order_id: str, timeout_s: float = 60) -> PlacedOrder:
        """The order fulfillsync created on `seller`'s store for `order_id`, once it exists."""
        store = self.sellers[seller]
        return self.wait_for(lambda: store.act(lambda merchant: merchant.find_order(order_id)),
                             f"order {order_id} on {store.connection}", timeout_s)

    def routed(self, buyer: SandboxPlatform, order: PlacedOrder, seller: SandboxPlatform, timeout_s: float = 60) -> str:
        """Our order id for `order` on `buyer` routed to `seller`, once the buyer poll published it."""
        return self.wait_for(lambda: self.topics.order_id(buyer_id(buyer), order.order_ref, seller_id(seller)),
                             f"buyer order {order.order_ref} on {buyer_id(buyer)} routed to {seller_id(seller)}",
                             timeout_s)

    def webhook_url(self, connection: str) -> str:
        return f"http://127.0.0.1:{self.worker.config.worker.web_port}/webhooks/{connection}"

    def restart(self) -> None:
        self.worker = WorkerProcess(self.config_path, self.folder / "worker.log").start()


FULFILLMENT_WRITERS: dict[SandboxPlatform, tuple[str, ...]] = {
    "shopify": ("fulfill",), "bigcommerce": ("ship",), "woocommerce": ("add_tracking", "add_fulfillment"),
    "magento2": ("ship",)}
"""The store methods that record a new fulfillment (API and admin routes alike; Shopify's merchant route goes
through `fulfill` too). The first argument is the order id, except Shopify's, which returns (order, ...)."""


def journal_fulfillments(store: Store) -> None:
    """Wrap the store object's fulfillment-creating methods so that each successful call records, once per order,
    the wall-clock time it returned in `store.fulfilled_at`. A call that raises records nothing. The stores' own
    timestamps cannot serve: they have one-second resolution, and WooCommerce tracking items only a date."""
    target = store.records

    def journaled(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            order_id = result[0].id if store.platform == "shopify" else args[0]
            store.fulfilled_at.setdefault(int(order_id), time.time())
            return result
        return call

    for name in FULFILLMENT_WRITERS[store.platform]:
        setattr(target, name, journaled(getattr(target, name)))


def _b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def signed_delivery(store: Store, order: PlacedOrder, fulfillment_ref: str | None = None,
                    secret: str = WEBHOOK_SECRET) -> tuple[dict[str, str], bytes]:
    """The headers and body of the webhook `store`'s platform sends when a fulfillment `fulfillment_ref` of `order`
    was created (None: when `order` was created), signed with `secret` and with a fresh delivery id: Shopify
    `fulfillments/create` / `orders/create`, BigCommerce (Standard Webhooks) `store/shipment/created` /
    `store/order/created`, WooCommerce `order.updated` / `order.created`. Raises ValueError for Magento (no
    webhooks fulfillsync verifies)."""
    delivery = uuid.uuid4().hex
    if store.platform == "shopify":
        topic = "fulfillments/create" if fulfillment_ref else "orders/create"
        payload: dict[str, Any] = (
            {"id": int(fulfillment_ref.rsplit("/", 1)[-1]), "order_id": order.admin_id, "status": "success"}
            if fulfillment_ref else {"id": order.admin_id, "admin_graphql_api_id": order.order_ref})
        body = json.dumps(payload).encode()
        return {"X-Shopify-Hmac-Sha256": _b64_hmac(secret.encode(), body), "X-Shopify-Topic": topic,
                "X-Shopify-Event-Id": delivery, "Content-Type": "application/json"}, body
    if store.platform == "bigcommerce":
        data = ({"type": "shipment", "id": int(fulfillment_ref), "orderId": order.admin_id} if fulfillment_ref
                else {"type": "order", "id": order.admin_id})
        stamp = int(time.time())
        body = json.dumps({"scope": f"store/{data['type']}/created", "store_id": "1", "data": data,
                           "hash": delivery,
                           "created_at": stamp, "producer": "stores/sandbox"}).encode()
        signature = _b64_hmac(secret.encode(), f"{delivery}.{stamp}.".encode() + body)
        return {"webhook-id": delivery, "webhook-timestamp": str(stamp), "webhook-signature": f"v1,{signature}",
                "Content-Type": "application/json"}, body
    if store.platform == "woocommerce":
        event = "updated" if fulfillment_ref else "created"
        # a real delivery carries the whole order, so two updates of one order differ (its modification time, the
        # tracking in its meta data); the signed body is what fulfillsync's replay protection remembers
        body = json.dumps({"id": order.admin_id, "status": "processing",
                           "date_modified_gmt": datetime.now(UTC).isoformat(timespec="microseconds")[:26],
                           "meta_data": [{"key": "_fulfillsync_fulfillment", "value": fulfillment_ref or ""}],
                           }).encode()
        return {"X-WC-Webhook-Signature": _b64_hmac(secret.encode(), body), "X-WC-Webhook-Topic": f"order.{event}",
                "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Delivery-ID": str(uuid.uuid4().int % 10**9), "Content-Type": "application/json"}, body
    raise ValueError(f"{store.platform} sends no webhooks fulfillsync verifies")


def write_config(folder: Path, bootstrap: str, buyers: dict[SandboxPlatform, Store],
                 sellers: dict[SandboxPlatform, Store], *, interval: str, partitions: int = 2,
                 requests_per_s: Mapping[SandboxPlatform, float] | None = None,
                 customize: Callable[[dict[str, Any]], None] | None = None) -> Path:
    def connection(store: Store, role: str) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": store.connection, "partner": store.connection, "role": role, "platform": store.platform,
            "base_url": store.base_url, "credentials": {name: f"${{{SECRET_ENV}_{name.upper()}}}"
                                                    for name in _credential_names(store.platform)}}
        if requests_per_s and store.platform in requests_per_s:
            document["requests_per_s"] = requests_per_s[store.platform]
        if store.platform != "magento2":
            document["webhook_secret"] = f"${{{SECRET_ENV}_WEBHOOK}}"
        return document

    document = {
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": f"e2e{uuid.uuid4().hex[:10]}",
                  "partitions": partitions},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(folder / "state"),
                   "broker_session_timeout": "6s"},
        "polling": {"interval": interval, "shipped_watch": "10m"},
        "connections": [connection(store, "buyer") for store in buyers.values()]
        + [connection(store, "seller") for store in sellers.values()],
        "routes": [{"buyer": buyer.connection, "seller": seller.connection, "skus": [sku(platform, "*")]}
                   for buyer in buyers.values() for platform, seller in sellers.items()],
    }
    if customize is not None:
        customize(document)
    path = folder / "fulfillsync.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@contextmanager
def marketplace(folder: Path, bootstrap: str, *, interval: str = "3s", partitions: int = 2,
                buyers: Sequence[SandboxPlatform] = PLATFORMS, sellers: Sequence[SandboxPlatform] = PLATFORMS,
                requests_per_s: Mapping[SandboxPlatform, float] | None = None,
                customize: Callable[[dict[str, Any]], None] | None = None) -> Iterator[Marketplace]:
    """Serve the stores (a buyer store per platform of `buyers`, a seller store per platform of `sellers`; by
    default all eight), write the configuration (`requests_per_s`: a connection rate other than the connector's
    default, by platform; `customize` edits the configuration document before it is written), create the topics
    and start the worker; stop it all when the block ends (the worker with SIGTERM, or SIGKILL if the test already
    killed it)."""
    for platform in PLATFORMS:
        for name, value in _credentials(platform).items():
            os.environ[f"{SECRET_ENV}_{name.upper()}"] = value
    os.environ[f"{SECRET_ENV}_WEBHOOK"] = WEBHOOK_SECRET
    with ExitStack() as stack:
        stores: dict[str, dict[SandboxPlatform, Store]] = {"buyer": {}, "seller": {}}
        for role, ids, platforms in (("buyer", buyer_id, buyers), ("seller", seller_id, sellers)):
            for platform in platforms:
                name = ids(platform)
                app, base_path = create_store(StoreSettings(platform=platform, name=name,
                                                            credentials=_credentials(platform),
                                                            options=STORE_OPTIONS.get(platform, {})))
                root = stack.enter_context(served(app, name))
                stores[role][platform] = Store(name, platform, root, root + base_path, app)
                journal_fulfillments(stores[role][platform])
        for platform, seller in stores["seller"].items():
            seller.act(functools.partial(Merchant.stock, skus=[sku(platform, name) for name in PRODUCTS]))
        config_path = write_config(folder, bootstrap, stores["buyer"], stores["seller"], interval=interval,
                                   partitions=partitions, requests_per_s=requests_per_s, customize=customize)
        config = load_config(config_path).config
        ensure_topics(config.kafka)
        topics = Topics(bootstrap, TopicNames(config.kafka.topic_prefix), settings=reader_settings(config.kafka))
        stack.callback(topics.close)
        worker = WorkerProcess(config_path, folder / "worker.log").start()
        market = Marketplace(folder, bootstrap, stores["buyer"], stores["seller"], config_path, worker, topics)
        try:
            yield market
        finally:
            market.worker.stop()

"""A simulated WooCommerce store and connectors wired to it in-process (httpx.ASGITransport)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.http import RetryPolicy
from connectors.woocommerce import WooCommerceConnector
from sandbox.common import SandboxApp
from sandbox.settings import StoreSettings
from sandbox.woocommerce.app import create_app
from sandbox.woocommerce.store import WooStore
from schemas.config import Connection

KEY = "ck_5d2f0c7e9a1b4c3d8e7f6a5b4c3d2e1f0a9b8c7d"
SECRET = "cs_9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
FAST_RETRY = RetryPolicy(initial_delay_s=0.01, max_delay_s=0.05)


@dataclass
class Woo:
    """One simulated store; `connector()` builds connectors to it whose sleeps advance the store's clock."""

    app: SandboxApp
    sleeps: list[float] = field(default_factory=list)

    @property
    def store(self) -> WooStore:
        store: WooStore = self.app.store
        return store

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.app.sandbox.clock.advance(seconds)

    def connection(self, *, tracking_api: str | None = None, key: str = KEY, secret: str = SECRET,
                   base_url: str = "http://127.0.0.1:8080", role: str = "buyer", notify: bool = False,
                   requests_per_s: float | None = 1000.0) -> Connection:
        return Connection.model_validate({
            "id": "acme-woo", "partner": "acme", "role": role, "platform": "woocommerce", "base_url": base_url,
            "credentials": {"consumer_key": SecretStr(key), "consumer_secret": SecretStr(secret)},
            "tracking_api": tracking_api, "requests_per_s": requests_per_s, "notify_customer": notify})

    def connector(self, **options: Any) -> WooCommerceConnector:
        page_size = options.pop("page_size", 100)
        return WooCommerceConnector(self.connection(**options), transport=httpx.ASGITransport(app=self.app),
                                    retry=FAST_RETRY, sleep=self.sleep, page_size=page_size,
                                    now=self.app.sandbox.clock.now)

    def advance(self, seconds: float = 1.0) -> None:
        self.app.sandbox.clock.advance(seconds)


def settings(**options: Any) -> StoreSettings:
    """The settings of a store accepting KEY/SECRET, with the given options (tracking, rate_limit, currency, …)."""
    return StoreSettings(platform="woocommerce", credentials={"consumer_key": KEY, "consumer_secret": SECRET},
                         options=options)


def woo(**options: Any) -> Woo:
    """A store accepting KEY/SECRET with the given options (tracking, rate_limit, utc_offset_minutes)."""
    return Woo(create_app(settings(**options)))


def make_client(**options: Any) -> httpx.AsyncClient:
    """An HTTP client to a new store accepting KEY/SECRET with the given options, reached in-process at
    `http://127.0.0.1:9000`."""
    app = create_app(settings(**options))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:9000")


def stock(store: WooStore, *skus: str, price: str = "12.50", inventory: int | None = None) -> None:
    """Simple products with these SKUs at `price`; `inventory` units on hand (None: stock not managed)."""
    for sku in skus:
        store.add_product(sku, f"Product {sku}", price, stock_quantity=inventory)


def place(store: WooStore, *lines: tuple[str, int], **fields: Any) -> int:
    """A paid customer order with the given (sku, quantity) lines and a US shipping address; its id."""
    address = {"first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Analytical Way", "city": "Portland",
               "state": "OR", "postcode": "97201", "country": "US"}
    fields.setdefault("shipping", address)
    fields.setdefault("billing", {**address, "email": "ada@example.com", "phone": "555-0100"})
    return store.place_order([{"sku": sku, "quantity": qty} for sku, qty in lines], **fields).id

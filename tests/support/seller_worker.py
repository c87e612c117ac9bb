"""Shared by the worker tests of the seller order sink and of buyer cancellations (tests/streams/sellers/,
tests/streams/polling/): simulated Shopify seller stores served over HTTP, a configuration with two sellers, a
reader of the topics, and the orders they place."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sandbox.common import SandboxApp
from sandbox.registry import create_store
from sandbox.server import free_port
from sandbox.settings import StoreSettings
from sandbox.shopify.store import Order
from schemas.events import OrderLine, OrderPlaced, PartyRef, ShippingAddress, ShippingDetails
from schemas.factories import order_placed
from schemas.topics import TopicNames
from tests.support.kafka_harness import WorkerProcess, drain, reader_from_start
from tests.support.stores import served

pytestmark = pytest.mark.kafka

TOKEN = "shpat_seller_orders_test_token"
BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce")
ACME = PartyRef(partner="acme", connection="acme-shopify", platform="shopify")
BOLT = PartyRef(partner="bolt", connection="bolt-shopify", platform="shopify")
REFUSAL = "Order blocked: the customer account is on hold"
SHIPPING = ShippingDetails(
    address=ShippingAddress(name="Ada Lovelace", lines=["12 St James's Square"], city="London", postal_code="SW1Y 4JH",
                            country_code="GB"), email="ada@example.com", buyer_order_number="#1042")


@dataclass
class Store:
    """A simulated Shopify store served over HTTP (tests.support.stores)."""

    app: SandboxApp
    root: str

    def orders_for(self, order_id: str) -> list[Order]:
        return [order for order in list(self.app.store.store.orders.values()) if order.source_identifier == order_id]

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.root}/_sandbox{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()


@contextmanager
def served_shopify(name: str) -> Iterator[Store]:
    app, _ = create_store(StoreSettings(platform="shopify", name=name, credentials={"access_token": TOKEN}))
    with served(app, name) as root:
        yield Store(app, root)


@dataclass
class Reader:
    """Every record of some topics, from offset 0 of each partition: (topic, key, value)."""

    bootstrap: str
    topics: tuple[str, ...]
    records: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._consumer = reader_from_start(self.bootstrap, self.topics)

    def read(self, seconds: float) -> None:
        for message in drain(self._consumer, seconds):
            key = message.key()
            self.records.append((str(message.topic()), key.decode() if key else None,
                                 json.loads(message.value() or b"null")))

    def wait_for(self, condition: Callable[[], bool], what: str, worker: WorkerProcess, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.read(0.2)
            if condition():
                return
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; saw "
                             f"{[(topic, value.get('type')) for topic, _, value in self.records]}\n"
                             f"{worker.log_tail()}")

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [value for name, _, value in self.records if name == topic]

    def close(self) -> None:
        self._consumer.close()


UNPOLLED_BUYER: dict[str, Any] = {
    "id": BUYER.connection, "partner": BUYER.partner, "role": "buyer", "platform": BUYER.platform,
    "base_url": "http://127.0.0.1:9", "credentials": {"access_token": "${SELLER_ORDERS_TEST_TOKEN}"}}
"""The buyer the test's orders come from, configured (its polls find no store on the discard port: logged only)."""


def write_config(folder: Path, bootstrap: str, acme: Store, bolt: Store) -> Path:
    def seller(party: PartyRef, store: Store) -> dict[str, Any]:
        return {"id": party.connection, "partner": party.partner, "role": "seller", "platform": "shopify",
                "base_url": store.root, "credentials": {"access_token": "${SELLER_ORDERS_TEST_TOKEN}"}}

    document = {
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": f"t{uuid.uuid4().hex[:10]}", "partitions": 2},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(folder / "state"),
                   "broker_session_timeout": "6s"},
        "connections": [seller(ACME, acme), seller(BOLT, bolt), UNPOLLED_BUYER],
        # the sink creates only what the configuration routes to a seller
        # the sellers' catalogs are not the point here: today's SKUs go as custom lines
        "routes": [{"buyer": BUYER.connection, "seller": seller.connection, "skus": [f"{seller.partner.upper()}-*"],
                    "unknown_sku": "custom_line"} for seller in (ACME, BOLT)],
    }
    path = folder / "fulfillsync.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def placed(seller: PartyRef, lines: dict[str, int], shipping: ShippingDetails | None = None) -> OrderPlaced:
    """A stored order as the buyer poller publishes it: the seller's order_ref still unknown."""
    # a BigCommerce order id (numeric), so the buyer sink's writes go to the (absent) store and are retried
    buyer = BUYER.model_copy(update={"order_ref": str(uuid.uuid4().int % 10**9)})
    return order_placed(buyer=buyer, seller=seller, occurred_at=datetime.now(UTC),
                        lines=[OrderLine(line_id=f"L{index}", sku=sku, quantity=qty, title=sku)
                               for index, (sku, qty) in enumerate(lines.items(), start=1)]
                        ).model_copy(update={"shipping": shipping})


def confirmations(reader: Reader, names: TopicNames, order_id: str) -> list[dict[str, Any]]:
    """The order.placed events on order-events that carry the seller's order_ref for `order_id`."""
    return [value for value in reader.of(names.order_events)
            if value["order_id"] == order_id and value["seller"]["order_ref"] is not None]


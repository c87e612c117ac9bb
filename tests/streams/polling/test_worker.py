"""Scheduled polling end to end on the real broker: `fulfillsync worker` as its own process with a 2-second poll
interval, a buyer's simulated BigCommerce store served over HTTP, orders placed as its merchant, and order-events
read back. Two sellers are configured (they are not polled: seller polling is a later step; the seller-order sink
may try to create the orders on them, which this test does not look at)."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import signal
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

from sandbox.merchant import Merchant, PlacedOrder
from sandbox.registry import create_store
from sandbox.server import free_port
from sandbox.settings import StoreSettings
from schemas.cloudevents import header_map
from schemas.config_file import load_config
from schemas.events import OrderLine, PartyRef
from schemas.factories import order_placed
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from tests.support.kafka_harness import WorkerProcess, drain, reader_from_start
from tests.support.stores import served

pytestmark = pytest.mark.kafka

TOKEN = "sandbox-token"
INTERVAL_S = 2.0
BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce")
ACME = PartyRef(partner="acme", connection="acme-shopify", platform="shopify")
BOLT = PartyRef(partner="bolt", connection="bolt-woo", platform="woocommerce")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOWHERE = "http://127.0.0.1:9"  # the sellers' stores: nothing listens, and nothing may call them yet


@dataclass
class Store:
    """A simulated store served over HTTP (tests.support.stores)."""

    root: str
    base_url: str

    def place(self, lines: dict[str, int]) -> PlacedOrder:
        async def act() -> PlacedOrder:
            async with httpx.AsyncClient(base_url=self.root) as http:
                return await Merchant("bigcommerce", http).place_order(lines)

        return asyncio.run(act())


@contextmanager
def served_bigcommerce() -> Iterator[Store]:
    app, base_path = create_store(StoreSettings(platform="bigcommerce", name="shop",
                                                credentials={"access_token": TOKEN}))
    with served(app, "bigcommerce") as root:
        yield Store(root, f"{root}{base_path}")


@dataclass
class TopicReader:
    """Every record of one topic, from offset 0 of each partition."""

    bootstrap: str
    topic: str
    records: list[tuple[str | None, dict[str, Any], dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._consumer = reader_from_start(self.bootstrap, (self.topic,))

    def read(self, seconds: float) -> list[tuple[str | None, dict[str, Any], dict[str, str]]]:
        for message in drain(self._consumer, seconds):
            key = message.key()
            self.records.append((key.decode() if key else None, json.loads(message.value() or b"null"),
                                 header_map(message.headers())))
        return self.records

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str, worker: WorkerProcess) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.read(0.3)
            if condition():
                return
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; saw "
                             f"{[r[1].get('order_id') for r in self.records]}\n{worker.log_tail()}")

    def event_ids(self) -> list[str]:
        return [str(value["event_id"]) for _, value, _ in self.records]

    def close(self) -> None:
        self._consumer.close()


def write_config(folder: Path, bootstrap: str, buyer_base_url: str) -> Path:
    document = {
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": f"t{uuid.uuid4().hex[:10]}", "partitions": 2},
        "polling": {"interval": f"{INTERVAL_S:g}s"},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(folder / "state"),
                   "broker_session_timeout": "6s"},
        "connections": [
            {"id": BUYER.connection, "partner": BUYER.partner, "role": "buyer", "platform": "bigcommerce",
             "base_url": buyer_base_url, "credentials": {"access_token": "${POLLING_TEST_TOKEN}"}},
            {"id": ACME.connection, "partner": ACME.partner, "role": "seller", "platform": "shopify",
             "base_url": NOWHERE, "credentials": {"access_token": "${POLLING_TEST_TOKEN}"}},
            {"id": BOLT.connection, "partner": BOLT.partner, "role": "seller", "platform": "woocommerce",
             "base_url": NOWHERE, "credentials": {"consumer_key": "${POLLING_TEST_TOKEN}",
                                                                    "consumer_secret": "${POLLING_TEST_TOKEN}"}},
        ],
        # the sellers' catalogs are not the point here: today's SKUs go as custom lines
        "routes": [{"buyer": BUYER.connection, "seller": seller.connection, "skus": [f"{seller.partner.upper()}-*"],
                    "unknown_sku": "custom_line"} for seller in (ACME, BOLT)],
    }
    path = folder / "fulfillsync.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def expected_event(placed: PlacedOrder, seller: PartyRef, lines: dict[str, int]) -> tuple[str, str]:
    """(order id, event id) the poller must publish for `lines` of `placed` routed to `seller`."""
    event = order_placed(buyer=BUYER.model_copy(update={"order_ref": placed.order_ref}), seller=seller,
                         lines=[OrderLine(line_id=placed.line_ids[sku], sku=sku, quantity=qty, title=sku)
                                for sku, qty in lines.items()],
                         occurred_at=T0)  # the event id does not depend on the time
    return event.order_id, event.event_id


def test_new_buyer_orders_are_published_once_per_seller_across_polls_and_restarts(
        tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLLING_TEST_TOKEN", TOKEN)  # the worker process inherits it
    with served_bigcommerce() as store:
        config_path = write_config(tmp_path, kafka_bootstrap, store.base_url)
        config = load_config(config_path).config
        ensure_topics(config.kafka)
        names = TopicNames(config.kafka.topic_prefix)
        mixed = store.place({"ACME-MUG": 2, "BOLT-NUT": 3, "OWN-TEE": 1})  # placed before the worker runs
        own_only = store.place({"OWN-CAP": 1})
        expected = {expected_event(mixed, ACME, {"ACME-MUG": 2}), expected_event(mixed, BOLT, {"BOLT-NUT": 3})}

        reader = TopicReader(kafka_bootstrap, names.order_events)
        worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
        started = time.monotonic()
        try:
            reader.wait_for(lambda: len(reader.records) >= 2, 60, "the mixed order's two order.placed", worker)
            reader.read(2.5 * INTERVAL_S)  # more polls: nothing else may appear
            assert {(str(value["order_id"]), str(value["event_id"])) for _, value, _ in reader.records} == expected
            assert len(reader.records) == 2, "an order was published twice"
            for key, value, headers in reader.records:
                assert key == value["order_id"]
                assert headers["ce_id"] == value["event_id"]
                assert headers["ce_type"] == "io.fulfillsync.order.placed"
                assert headers["ce_source"] == "/fulfillsync/connections/shop-bc"
                assert {line["sku"] for line in value["lines"]} <= {"ACME-MUG", "BOLT-NUT"}
            assert worker.metric('fulfillsync_unrouted_lines_total{connection="shop-bc",reason="no_route"}') == 2
            # the seller is polled too (its store is not served in this test: the poll fails and is retried; on a
            # loaded machine its first poll may come after the reads above)
            reader.wait_for(lambda: worker.metric(
                'fulfillsync_polls_total{connection="acme-shopify",outcome="retryable_error"}') > 0, 60,
                "a failed poll of the seller's store", worker)
            polls = worker.metric('fulfillsync_polls_total{connection="shop-bc",outcome="ok"}')
            # at most one poll per interval (the failing sellers' polls share the poller agent, so fewer may happen)
            assert 2 <= polls <= 2 + (time.monotonic() - started) / INTERVAL_S, "not one poll per interval"
            assert own_only.order_ref not in json.dumps([value for _, value, _ in reader.records])

            worker.stop(signal.SIGTERM)
            worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
            reader.wait_for(lambda: worker.metric('fulfillsync_polls_total{connection="shop-bc",outcome="ok"}') >= 2,
                            30, "two polls after the restart", worker)
            assert len(reader.records) == 2, "the restarted worker published again"
            assert worker.metric('fulfillsync_poll_orders_seen_total{connection="shop-bc"}') == 0, \
                "the restarted worker read the orders again: it did not resume from the stored cursor"

            later = store.place({"ACME-CAP": 1})
            later_id = expected_event(later, ACME, {"ACME-CAP": 1})
            reader.wait_for(lambda: len(reader.records) >= 3, 30, "the later order's order.placed", worker)
            reader.read(INTERVAL_S)
            assert len(reader.records) == 3
            key, value, _ = reader.records[2]
            assert (value["order_id"], value["event_id"]) == later_id
            letters = TopicReader(kafka_bootstrap, names.dead_letters)
            assert letters.read(1.0) == [], "the ledger refused what the poller published"
            letters.close()
        finally:
            reader.close()
            worker.stop(signal.SIGTERM)


def test_bad_orders_on_a_page_are_dead_lettered_once_and_the_good_ones_and_later_ones_sync(
        tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLLING_TEST_TOKEN", TOKEN)
    with served_bigcommerce() as store:
        config_path = write_config(tmp_path, kafka_bootstrap, store.base_url)
        config = load_config(config_path).config
        ensure_topics(config.kafka)
        names = TopicNames(config.kafka.topic_prefix)
        good = store.place({"ACME-MUG": 2})
        now = email.utils.format_datetime(datetime.now(UTC))
        bad = [b'{"id": 9001, "date_modified": "yesterday"}',
               b'{"id": 9002, "date_modified": "' + now.encode() + b'", "customer_message": "caf\xe9"}',
               b'{"id": 9003, "date_modified": "' + now.encode() + b'", "customer_message": '
               + b"[" * 5000 + b"]" * 5000 + b"}"]
        for raw in bad:
            answer = httpx.post(f"{store.root}/_sandbox/raw-orders", json={
                "path": r"/v2/orders$", "at": "", "times": 0, "raw_base64": base64.b64encode(raw).decode()})
            assert answer.status_code == 201
        reader = TopicReader(kafka_bootstrap, names.order_events)
        letters = TopicReader(kafka_bootstrap, names.dead_letters)
        worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
        try:
            reader.wait_for(lambda: len(reader.records) >= 1, 60, "the good order's order.placed", worker)
            assert reader.records[0][1]["event_id"] == expected_event(good, ACME, {"ACME-MUG": 2})[1]
            letters.wait_for(lambda: len(letters.records) >= 3, 30, "three dead letters", worker)
            later = store.place({"ACME-CAP": 1})
            reader.wait_for(lambda: len(reader.records) >= 2, 30, "the later order's order.placed", worker)
            assert reader.records[1][1]["event_id"] == expected_event(later, ACME, {"ACME-CAP": 1})[1]
            letters.read(2 * INTERVAL_S)  # more polls over the same bad orders: no more letters
            by_key = {key: value for key, value, _ in letters.records}
            assert len(letters.records) == 3 and set(by_key) == {"9001", "9002", "9003"}
            assert {value["stage"] for value in by_key.values()} == {"polling"}
            assert by_key["9001"]["reason"] == "invalid_order" and "date_modified" in by_key["9001"]["message"]
            assert by_key["9002"]["reason"] == "invalid_payload" and "UTF-8" in by_key["9002"]["message"]
            assert base64.b64decode(by_key["9002"]["original"]["value_base64"]) == bad[1]
            assert by_key["9003"]["reason"] == "invalid_payload" and "nested deeper" in by_key["9003"]["message"]
        finally:
            reader.close()
            letters.close()
            worker.stop(signal.SIGTERM)

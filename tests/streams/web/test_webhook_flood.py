"""On the real broker: a `fulfillsync worker` process under a flood of forged webhook requests from loopback keeps
answering /healthz and still ships an order produced meanwhile; the flood gets 401s and 429s, never a 5xx."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml

from schemas.config_file import load_config
from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef
from schemas.factories import fulfillment_recorded, order_placed
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from tests.support.kafka_harness import OutputReader, WorkerProcess, write_config
from tests.support.webhooks import SHOPIFY_SECRET, connections

pytestmark = pytest.mark.kafka

FLOOD_REQUESTS = 2_000
FLOOD_SECONDS = 4.0
FLOOD_CONCURRENCY = 20
BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce")
SELLER = PartyRef(partner="acme", connection="acme-shopify", platform="shopify")
SOURCE = SourceRef(partner="acme", connection="acme-shopify", platform="shopify")


class Flood:
    """`FLOOD_REQUESTS` forged Shopify deliveries (1 KiB bodies) spread over `FLOOD_SECONDS`, in a thread."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/webhooks/acme-shopify"
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="webhook-flood", daemon=True)

    async def _run(self) -> None:
        body = b'{"id": 1, "padding": "' + b"x" * 1000 + b'"}'
        headers = {"X-Shopify-Hmac-Sha256": "Zm9yZ2Vk", "X-Shopify-Topic": "orders/updated",
                   "Content-Type": "application/json"}
        start = time.monotonic()
        interval = FLOOD_SECONDS / FLOOD_REQUESTS
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout,
                                         connector=aiohttp.TCPConnector(limit=FLOOD_CONCURRENCY)) as session:

            async def one(n: int) -> None:
                await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
                try:
                    async with session.post(self.url, data=body, headers={**headers, "X-Shopify-Event-Id": f"f{n}"}) \
                            as response:
                        await response.read()
                        self.statuses[response.status] += 1
                except (aiohttp.ClientError, TimeoutError) as error:
                    self.errors[type(error).__name__] += 1

            await asyncio.gather(*(one(n) for n in range(FLOOD_REQUESTS)))


def healthz_seconds(port: int) -> float:
    """How long /healthz took to answer 200 (fails the test on any other answer)."""
    began = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        assert response.status == 200
    return time.monotonic() - began


def test_a_flood_of_forged_webhooks_neither_stops_healthz_nor_the_ledger(tmp_path: Path,
                                                                         kafka_bootstrap: str) -> None:
    path = write_config(tmp_path, kafka_bootstrap)
    document = yaml.safe_load(path.read_text())
    document["connections"] = [{**connections()[0], "webhook_secret": SHOPIFY_SECRET}]
    path.write_text(yaml.safe_dump(document))
    config = load_config(path).config
    ensure_topics(config.kafka)
    names = TopicNames(config.kafka.topic_prefix)
    worker = WorkerProcess(path, tmp_path / "worker.log").start()
    producer = EventProducer(kafka_bootstrap, source="/tests")
    reader = OutputReader(kafka_bootstrap, names)
    try:
        port = config.worker.web_port
        flood = Flood(port)
        flood.thread.start()
        time.sleep(0.5)  # the flood is under way when the order arrives
        ref = f"F{datetime.now(UTC).strftime('%H%M%S%f')}"
        order = order_placed(buyer=BUYER.model_copy(update={"order_ref": ref}), seller=SELLER,
                             lines=[OrderLine(line_id="L1", sku="ACME-MUG", quantity=2)],
                             occurred_at=datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
        producer.publish(names.order_events, order)
        producer.publish(names.fulfillment_events, fulfillment_recorded(
            order_id=order.order_id, source=SOURCE, fulfillment_id="F1",
            source_version=datetime(2026, 11, 1, 12, 1, tzinfo=UTC) + timedelta(minutes=1), carrier="UPS",
            tracking_numbers=["1Z999AA10123456784"], lines=[FulfilledLine(line_id="L1", quantity=2)]))
        producer.flush()
        health: list[float] = []
        while flood.thread.is_alive():
            health.append(healthz_seconds(port))
            time.sleep(0.2)
        flood.thread.join()
        reader.wait_for(lambda _: len(reader.of("order.shipped", order.order_id)) == 1, timeout_s=30,
                        what="the order shipped while the endpoint was flooded")

        assert len(health) >= 5 and max(health) < 2.0, health
        assert not flood.errors, flood.errors
        assert sum(flood.statuses.values()) == FLOOD_REQUESTS
        assert set(flood.statuses) <= {401, 429}, flood.statuses  # never a 5xx
        assert flood.statuses[429] > FLOOD_REQUESTS // 2 and flood.statuses[401] > 0, flood.statuses
        sample = 'fulfillsync_webhooks_total{{connection="acme-shopify",outcome="{}"}}'
        assert worker.metric(sample.format("rate_limited")) == flood.statuses[429]
        assert worker.metric(sample.format("refused")) == flood.statuses[401]
        assert worker.metric(sample.format("accepted")) == 0
    finally:
        reader.close()
        worker.stop()

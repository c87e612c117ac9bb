"""The web app's read model against real workers (docs/webapp.md): a buyer on a simulated Shopify store,
a `manual` seller, an order routed to it; a fulfillment the web app sends shows as pending, then applied by the
ledger, then pushed once the buyer's store has it. A second worker joining (partitions split between two workers)
changes nothing a read model shows, and a read model started afterwards shows the same: any web process answers
for any order."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledger import new_state
from sandbox.merchant import PlacedOrder
from sandbox.registry import create_store
from sandbox.server import free_port
from sandbox.settings import StoreSettings
from schemas.config_file import load_config
from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef
from schemas.factories import fulfillment_recorded, order_placed
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from tests.support.kafka_harness import WorkerProcess
from tests.support.marketplace import Store
from tests.support.stores import served
from webapp.model import OrderView
from webapp.readmodel import TopicReadModel

pytestmark = pytest.mark.kafka

TOKEN_ENV = "READMODEL_TEST_TOKEN"
TOKEN = "shpat_readmodel_test_token"
BUYER = PartyRef(partner="northwind", connection="northwind-shop", platform="shopify")
SELLER = PartyRef(partner="acme", connection="acme-web", platform="manual")


def write_config(path: Path, prefix: str, buyer_api: str, state_dir: Path) -> Path:
    document: dict[str, Any] = {
        "kafka": {"bootstrap_servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                  "topic_prefix": prefix, "partitions": 2},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(state_dir),
                   "broker_session_timeout": "6s"},
        "polling": {"interval": "1h"},  # the test publishes the order.placed itself, as the buyer poller would
        "connections": [
            {"id": BUYER.connection, "partner": BUYER.partner, "role": "buyer", "platform": "shopify",
             "base_url": buyer_api, "credentials": {"access_token": f"${{{TOKEN_ENV}}}"}},
            {"id": SELLER.connection, "partner": SELLER.partner, "role": "seller", "platform": "manual"},
        ],
        "routes": [{"buyer": BUYER.connection, "seller": SELLER.connection, "skus": ["ACME-*"]}],
    }
    path.write_text(yaml.safe_dump(document))
    return path


# generous: waiting costs nothing when things work, and a loaded machine takes long over a rebalance
def wait_for(condition: Callable[[], bool], what: str, worker: WorkerProcess, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what}\n{worker.log_tail()}"
        time.sleep(0.1)


def statuses(model: TopicReadModel, order_id: str) -> list[tuple[str, str]]:
    view = model.order(order_id)
    return [] if view is None else [(f.fulfillment_id, f.status) for f in view.fulfillments]


def shown(model: TopicReadModel, order_id: str) -> tuple[list[str], list[str], OrderView | None]:
    """What a web process shows: the order lists of the seller and the buyer, and the order page (without the
    ledger's state behind it, which also remembers inputs that changed nothing, such as the buyer poller's own
    `order.placed` for the order)."""
    view = model.order(order_id)
    return ([view.order_id for view in model.orders_of(SELLER.connection)],
            [view.order_id for view in model.orders_of(BUYER.connection)],
            None if view is None else replace(view, state=new_state(order_id)))


def test_a_fulfillment_goes_from_pending_to_pushed_and_any_read_model_shows_it_with_two_workers(
        tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)  # the workers inherit it
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    app, base_path = create_store(StoreSettings(platform="shopify", name="northwind",
                                                credentials={"access_token": TOKEN}))
    with served(app, "northwind") as root:
        store = Store(BUYER.connection, "shopify", root, root + base_path, app)
        prefix = f"t{uuid.uuid4().hex[:10]}"
        first_path = write_config(tmp_path / "first.yaml", prefix, store.base_url, tmp_path / "state-1")
        config = load_config(first_path).config
        ensure_topics(config.kafka)
        names = TopicNames(prefix)
        first = WorkerProcess(first_path, tmp_path / "worker-1.log").start()
        second: WorkerProcess | None = None
        producer = EventProducer(kafka_bootstrap, source="/tests")
        model = TopicReadModel(config).start()
        late: TopicReadModel | None = None
        try:
            # the buyer's customer orders; the buyer poller's order.placed routes it to the manual seller
            bought: PlacedOrder = store.act(lambda merchant: merchant.place_order({"ACME-MUG": 2}))
            buyer = BUYER.model_copy(update={"order_ref": bought.order_ref})
            placed = order_placed(buyer=buyer, seller=SELLER, occurred_at=datetime.now(UTC), lines=[
                OrderLine(line_id=bought.line_ids["ACME-MUG"], sku="ACME-MUG", quantity=2, title="Mug")])
            producer.publish(names.order_events, placed)
            producer.flush()
            assert model.wait_ready(60), "the read model did not catch up"
            wait_for(lambda: model.order(placed.order_id) is not None, "the order in the read model", first)
            sellers, buyers, view = shown(model, placed.order_id)
            assert sellers == buyers == [placed.order_id]
            assert view is not None and [(line.ordered, line.remaining) for line in view.lines] == [(2, 2)]

            # the seller records a fulfillment in the web app: pending until the ledger applied it
            fulfillment_id, version = f"web-{uuid.uuid4()}", datetime.now(UTC)
            model.note_sent(placed.order_id, fulfillment_id, version)
            assert statuses(model, placed.order_id) == [(fulfillment_id, "pending")]
            producer.publish(names.fulfillment_events, fulfillment_recorded(
                order_id=placed.order_id, source=SourceRef(**SELLER.model_dump(exclude={"order_ref"})),
                fulfillment_id=fulfillment_id, source_version=version, carrier="UPS",
                tracking_numbers=["1Z999AA10123456784"],
                lines=[FulfilledLine(line_id=bought.line_ids["ACME-MUG"], quantity=2)]))
            producer.flush()
            wait_for(lambda: statuses(model, placed.order_id) in ([(fulfillment_id, "applied")],
                                                                  [(fulfillment_id, "pushed")]),
                     "the fulfillment applied", first)
            view = model.order(placed.order_id)
            assert view is not None and view.shipped and [line.remaining for line in view.lines] == [0]
            wait_for(lambda: statuses(model, placed.order_id) == [(fulfillment_id, "pushed")],
                     "the fulfillment on the buyer's store", first)
            [on_buyer] = store.fulfillments(bought)
            assert on_buyer.numbers == ("1Z999AA10123456784",)
            before = shown(model, placed.order_id)
            assert [entry.what for entry in before[2].timeline] == [  # type: ignore[union-attr]
                "placed", "fulfilled 2 of ACME-MUG (UPS 1Z999AA10123456784)", "shipped",
                "pushed to the buyer: 2 of ACME-MUG (UPS 1Z999AA10123456784)"]

            # a second worker joins: the partitions are split, and nothing any web process shows changes
            second_path = write_config(tmp_path / "second.yaml", prefix, store.base_url, tmp_path / "state-2")
            second = WorkerProcess(second_path, tmp_path / "worker-2.log").start()
            late = TopicReadModel(config).start()
            assert late.wait_ready(60), "the second read model did not catch up"
            assert shown(late, placed.order_id) == before
            assert shown(model, placed.order_id) == before
            # and orders placed now, each applied by whichever worker owns its partition, show in both
            more = [order_placed(buyer=BUYER.model_copy(update={"order_ref": f"gid://shopify/Order/{900 + n}"}),
                                 seller=SELLER, occurred_at=datetime.now(UTC),
                                 lines=[OrderLine(line_id=f"L{n}", sku="ACME-CAP", quantity=1)]) for n in range(4)]
            for event in more:
                producer.publish(names.order_events, event)
            producer.flush()
            newest_first = [event.order_id for event in reversed(more)] + [placed.order_id]
            wait_for(lambda: all(shown(reader, placed.order_id)[0] == newest_first for reader in (model, late)),
                     "the new orders in every read model", second)
        finally:
            model.close()
            if late is not None:
                late.close()
            for worker in (second, first):
                if worker is not None and worker.process is not None and worker.process.poll() is None:
                    worker.stop()

"""The seller order sink end to end on the real broker: `fulfillsync worker` as its own process, two sellers'
simulated Shopify stores served over HTTP, `order.placed` events produced as the buyer poller would, and
order-events, dead-letters and the seller-order table's changelog read back.

One worker runs the whole story (a worker start costs seconds): an order created once with its lines and
recorded; a store answering 503 for a while while another store's order goes through; a store refusing with a
4xx; a restart after which replayed orders make no seller-order call to any store."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from schemas.config_file import load_config
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from streams.sellers.tables import SELLER_ORDERS
from tests.support.kafka_harness import WorkerProcess
from tests.support.seller_worker import (
    ACME,
    BOLT,
    REFUSAL,
    SHIPPING,
    TOKEN,
    Reader,
    confirmations,
    placed,
    served_shopify,
    write_config,
)

pytestmark = pytest.mark.kafka


def test_orders_are_created_once_on_their_sellers_stores_through_failures_and_restarts(
        tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELLER_ORDERS_TEST_TOKEN", TOKEN)  # the worker process inherits it
    with served_shopify("acme") as acme, served_shopify("bolt") as bolt:
        config_path = write_config(tmp_path, kafka_bootstrap, acme, bolt)
        config = load_config(config_path).config
        ensure_topics(config.kafka)
        names = TopicNames(config.kafka.topic_prefix)
        changelog = SELLER_ORDERS.changelog(names.app_id)
        reader = Reader(kafka_bootstrap, (names.order_events, names.dead_letters, changelog))
        producer = EventProducer(kafka_bootstrap, source="/tests")
        worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
        try:
            # 1. created once, with the right lines; recorded; the seller's reference published and accepted
            first = placed(ACME, {"ACME-MUG": 2, "ACME-CAP": 1}, SHIPPING)
            producer.publish(names.order_events, first)
            producer.flush()
            reader.wait_for(lambda: len(confirmations(reader, names, first.order_id)) == 1,
                            "the first order's confirmation", worker)
            [created] = acme.orders_for(first.order_id)
            assert sorted((line.sku, line.quantity) for line in created.line_items) == [("ACME-CAP", 1),
                                                                                        ("ACME-MUG", 2)]
            assert created.email == "ada@example.com"
            assert created.shipping_address is not None and "SW1Y 4JH" in created.shipping_address.values()
            [confirmed] = confirmations(reader, names, first.order_id)
            assert confirmed["seller"]["order_ref"].endswith(f"/{created.id}")
            assert confirmed["event_id"] != first.event_id
            assert [line["line_id"] for line in confirmed["lines"]] == ["L1", "L2"]
            reader.wait_for(lambda: any(key == first.order_id for topic, key, _ in reader.records
                                        if topic == SELLER_ORDERS.changelog(names.app_id)), "the table entry", worker)
            [entry] = [value for topic, key, value in reader.records
                       if topic == SELLER_ORDERS.changelog(names.app_id) and key == first.order_id]
            assert entry["order_ref"] == confirmed["seller"]["order_ref"]
            assert entry["line_refs"] == {"L1": f"gid://shopify/LineItem/{created.line_items[0].id}",
                                          "L2": f"gid://shopify/LineItem/{created.line_items[1].id}"}

            # 2. acme answers 503 for a while: bolt's order goes through meanwhile, acme's is created once later
            acme.admin("POST", "/faults", {"status": 503, "times": 6, "path": "graphql"})
            delayed, other = placed(ACME, {"ACME-TEE": 1}), placed(BOLT, {"BOLT-NUT": 3})
            producer.publish(names.order_events, delayed)
            producer.publish(names.order_events, other)
            producer.flush()
            reader.wait_for(lambda: len(confirmations(reader, names, other.order_id)) == 1,
                            "bolt's order while acme fails", worker)
            assert acme.orders_for(delayed.order_id) == [], "acme's failing order was created without retrying"
            assert len(bolt.orders_for(other.order_id)) == 1
            reader.wait_for(lambda: len(confirmations(reader, names, delayed.order_id)) == 1,
                            "acme's order after its store recovered", worker, timeout_s=40)
            assert len(acme.orders_for(delayed.order_id)) == 1
            assert acme.admin("GET", "/requests")["by_status"].get("503") == 6

            # 3. a permanent refusal: dead-lettered with the platform's message, nothing created
            bolt.admin("POST", "/faults", {"status": 400, "times": 1, "path": "graphql",
                                           "body": json.dumps({"errors": REFUSAL})})
            refused = placed(BOLT, {"BOLT-BOLT": 1})
            producer.publish(names.order_events, refused)
            producer.flush()
            reader.wait_for(lambda: any(value["order_id"] == refused.order_id
                                        for value in reader.of(names.dead_letters)), "the refusal's dead letter",
                            worker)
            reader.read(1.0)
            [letter] = reader.of(names.dead_letters)  # and no other: the ledger accepted every confirmation
            assert (letter["reason"], letter["stage"]) == ("platform_rejected", "seller_orders")
            assert REFUSAL in letter["message"]
            assert TOKEN not in json.dumps(letter)
            assert json.loads(letter["original"]["value"])["event_id"] == refused.event_id
            assert bolt.orders_for(refused.order_id) == []
            applied = 'fulfillsync_ledger_inputs_total{status="applied",type="order.placed"}'
            assert worker.metric(applied) == 4 + 3, "the ledger did not apply every order and confirmation"

            # 4. restart, then the orders are replayed: no store is called again, nothing is published again
            worker.stop(signal.SIGTERM)
            acme.admin("DELETE", "/requests")
            worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
            for event in (first, delayed):
                producer.publish(names.order_events, event)
            producer.flush()
            reader.wait_for(lambda: worker.metric('fulfillsync_seller_orders_total{connection="acme-shopify",'
                                                   'outcome="already_created"}') == 2, "the replays", worker)
            reader.read(2.0)
            # polls may run (a poll slot can begin during the test); the sink's operations may not
            called = acme.admin("GET", "/requests")["by_operation"]
            assert not {"FindOrderBySource", "CreateOrder"} & set(called), f"a replay called the store: {called}"
            assert len(acme.app.store.store.orders) == 2
            for order_id in (first.order_id, delayed.order_id, other.order_id):
                assert len(confirmations(reader, names, order_id)) == 1
        finally:
            reader.close()
            worker.stop(signal.SIGTERM)

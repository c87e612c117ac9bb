"""The operators' tools on the real broker, run as an operator runs them (`python -m fulfillsync.cli`), against a
worker that applied real inputs: dead letters listed and shown, a stuck order found, its `unknown_order` letter
requeued once its order arrived (and never twice), a replay of every input that publishes nothing new, an order's
story, and an offsets reset refused while the worker runs and done once it stopped.

One worker runs the whole story (a worker start costs seconds)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.cimpl import NewTopic

from fulfillsync.ops.reading import TopicRange
from fulfillsync.ops.replay import REPLAYED_FROM
from ledger import MAX_HELD_INPUTS
from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef
from schemas.factories import fulfillment_recorded, order_placed
from streams.kit.kafka_clients import new_admin
from tests.support.kafka_harness import Pipeline, pipeline
from tests.support.operators_tools import committed, tool_json
from tests.support.operators_tools import tool as run_tool

pytestmark = pytest.mark.kafka

BUYER = PartyRef(partner="northwind", connection="northwind-shop", platform="shopify")
SELLER = PartyRef(partner="acme", connection="acme-shop", platform="shopify")
SOURCE = SourceRef(partner="acme", connection="acme-shop", platform="shopify")
DUPLICATE = 'fulfillsync_ledger_inputs_total{status="duplicate",type="%s"}'


def as_json(run: Pipeline, *args: str) -> Any:
    return tool_json(run.config_path, *args)


def tool(run: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tool(run.config_path, *args)


def placed(ref: str, quantity: int) -> Any:
    return order_placed(buyer=BUYER.model_copy(update={"order_ref": ref}), seller=SELLER,
                        occurred_at=datetime.now(UTC), lines=[OrderLine(line_id="L1", sku="ACME-MUG",
                                                                         quantity=quantity)])


def fulfilled(order_id: str, fulfillment_id: str, quantity: int) -> Any:
    return fulfillment_recorded(order_id=order_id, source=SOURCE, fulfillment_id=fulfillment_id,
                                source_version=datetime.now(UTC), carrier="UPS",
                                tracking_numbers=[f"1Z999AA1{abs(hash(fulfillment_id)) % 10**10:010d}"],
                                lines=[FulfilledLine(line_id="L1", quantity=quantity)])


def test_dead_letters_requeue_replay_order_show_and_offsets_reset(tmp_path: Path, kafka_bootstrap: str) -> None:
    with pipeline(tmp_path, kafka_bootstrap) as run:
        names, reader = run.names, run.reader
        # an order shipped at once; another whose fulfillments came first: one more than the ledger holds
        shipped = placed("1001", 2)
        early = placed("1002", MAX_HELD_INPUTS + 1)
        run.producer.publish(names.order_events, shipped)
        run.producer.publish(names.fulfillment_events, fulfilled(shipped.order_id, "F-1", 2))
        for index in range(MAX_HELD_INPUTS + 1):
            run.producer.publish(names.fulfillment_events, fulfilled(early.order_id, f"E-{index}", 1))
        run.producer.flush()
        reader.wait_for(lambda records: len(reader.of("dead_letter", early.order_id)) == 1, what="the letter")
        run.producer.publish(names.order_events, early)
        run.producer.flush()
        reader.wait_for(lambda records: len(reader.of("order.shipped", shipped.order_id)) == 1, what="shipped")
        reader.settle(2.0)
        assert reader.of("order.shipped", early.order_id) == []  # 100 of its 101 units: one was dead-lettered

        # 1. list and show
        listed = as_json(run, "dead-letters", "list")
        [letter] = listed["letters"]
        assert (letter["reason"], letter["stage"], letter["order_id"]) == ("unknown_order", "ledger", early.order_id)
        assert listed["summary"] == [{"reason": "unknown_order", "stage": "ledger", "letters": 1}]
        assert as_json(run, "dead-letters", "list", "--reason", "over_fulfillment")["letters"] == []
        assert len(as_json(run, "dead-letters", "list", "--connection", "acme-shop", "--since", "1h")["letters"]) == 1
        shown = as_json(run, "dead-letters", "show", letter["id"])
        assert shown["original_decoded"]["type"] == "fulfillment.recorded"
        assert "requeue" in shown["what_to_do"]
        missing = tool(run, "dead-letters", "show", "no-such-letter")
        assert missing.returncode == 2 and "no dead letter with id no-such-letter" in missing.stderr

        # the order waiting for its last unit is stuck (once quiet long enough); the shipped one is not
        [stuck] = as_json(run, "orders", "stuck", "--older", "1ms")["orders"]
        assert (stuck["order_id"], stuck["fulfilled"], stuck["to_ship"]) == (early.order_id, MAX_HELD_INPUTS,
                                                                          MAX_HELD_INPUTS + 1)
        assert as_json(run, "orders", "stuck", "--older", "1d")["orders"] == []

        # 2. requeue: a dry run publishes nothing; --execute ships the order; a second requeue is refused
        planned = as_json(run, "dead-letters", "requeue", letter["id"])
        assert planned["dry_run"] and len(planned["would_requeue"]) == 1 and planned["refused"] == []
        [counted] = planned["records"]
        assert (counted["topic"], counted["type"], counted["records"]) == (names.fulfillment_events,
                                                                           "fulfillment.recorded", 1)
        reader.settle(2.0)
        assert reader.of("order.shipped", early.order_id) == []
        done = as_json(run, "dead-letters", "requeue", "--reason", "unknown_order", "--execute")
        assert [row["id"] for row in done["requeued"]] == [letter["id"]]
        reader.wait_for(lambda records: len(reader.of("order.shipped", early.order_id)) == 1, what="the requeue")
        again = as_json(run, "dead-letters", "requeue", letter["id"], "--execute")
        assert again["requeued"] == [] and "already requeued" in again["refused"][0]["refused"]

        # 3. replay every input of the last day: the ledger drops each as a duplicate, nothing new is published
        before = {(record.topic, record.value["event_id"]) for record in reader.records}
        duplicates = run.worker.metric(DUPLICATE % "fulfillment.recorded")
        dry = as_json(run, "replay", "--topic", "fulfillment-events", "--last", "1d")
        assert dry["dry_run"] and dry["total"] == 1 + MAX_HELD_INPUTS + 1 + 1  # F-1, E-0..E-100, the requeued one
        assert {row["type"] for row in dry["records"]} == {"fulfillment.recorded"}
        for topic in ("order-events", "fulfillment-events"):
            assert as_json(run, "replay", "--topic", topic, "--last", "1d", "--execute")["dry_run"] is False
        reader.wait_for(lambda records: run.worker.metric(DUPLICATE % "fulfillment.recorded")
                        >= duplicates + dry["total"], what="every replayed fulfillment seen as a duplicate")
        reader.settle(3.0)
        assert {(record.topic, record.value["event_id"]) for record in reader.records} == before
        only = as_json(run, "replay", "--topic", "order-events", "--last", "1d", "--order", shipped.order_id)
        assert only["total"] == 2  # the order and its replayed copy
        # a consuming service gets shipped-orders re-delivered to a topic of its own, partitions and ids kept
        own = f"{names.prefix}-consumer-copy"
        admin = new_admin(kafka_bootstrap)
        admin.create_topics([NewTopic(own, num_partitions=2, replication_factor=1)])[own].result(timeout=30)
        copied = as_json(run, "replay", "--topic", "shipped-orders", "--last", "1d", "--target", own, "--execute")
        originals = {(r.key, r.value["event_id"]) for r in reader.records if r.topic == names.shipped_orders}
        assert copied["target"] == own and copied["total"] == len(originals) == 2
        with TopicRange(run.worker.config.kafka, own) as span:
            copies = list(span.records())
        assert {(r.key_text, (r.parsed() or {})["event_id"]) for r in copies} == originals
        assert all(dict(r.headers)[REPLAYED_FROM].decode().startswith(f"{names.shipped_orders}:{r.partition}:")
                   for r in copies)

        refused = tool(run, "replay", "--topic", "dead-letters", "--last", "1d", "--execute")
        assert refused.returncode == 2 and "dead-letters requeue" in refused.stderr

        # 4. one order's story
        story = as_json(run, "order", "show", early.order_id)
        assert story["status"] == "shipped" and story["lines"][0]["fulfilled"] == MAX_HELD_INPUTS + 1
        assert any(moment["type"] == "dead_letter" for moment in story["timeline"])
        assert "orders" in story["tables"]
        nowhere = tool(run, "order", "show", "no-such-order")
        assert nowhere.returncode == 2 and "no record about order no-such-order" in nowhere.stderr
        by_ref = as_json(run, "order", "show", "--buyer", BUYER.connection, "--ref", "1001")
        assert by_ref["order_id"] == shipped.order_id and by_ref["status"] == "shipped"

        # 5. offsets reset: refused while the worker runs, done once it stopped
        busy = tool(run, "offsets", "reset", "--topic", "order-events", "--to-earliest", "--execute")
        assert busy.returncode == 2 and "stop every worker first" in busy.stderr, busy.stderr
        run.worker.stop()
        moves = as_json(run, "offsets", "reset", "--topic", "order-events", "--to-earliest")
        assert moves["dry_run"] and all(row["new"] == 0 for row in moves["partitions"])
        assert sum(row["read_again"] for row in moves["partitions"]) == sum(row["end"] for row in moves["partitions"])
        as_json(run, "offsets", "reset", "--topic", "order-events", "--to-earliest", "--execute")
        assert committed(run.worker.config.kafka, names.order_events) == {0: 0, 1: 0}
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        ahead = as_json(run, "offsets", "reset", "--topic", "order-events", "--to-datetime", later)
        assert all(row["lag_after"] == 0 for row in ahead["partitions"])

"""Buyer cancellations end to end on the real broker: `fulfillsync worker` as its own process, a seller's simulated
Shopify store served over HTTP, `order.placed` and `order.buyer_cancelled` produced as the buyer poller would.

One worker runs the story: units cancelled of a partly fulfilled order reach the store (an order edit) and the
ledger ships the order, with the cancelled units on `order.shipped`; a whole order cancelled reaches the store
(`orderCancel`); the same cancellation replayed calls the store no more."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.config_file import load_config
from schemas.events import CancelledLine, FulfilledLine, OrderBuyerCancelled, OrderPlaced, SourceRef
from schemas.factories import fulfillment_recorded, order_buyer_cancelled
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from tests.support.kafka_harness import WorkerProcess
from tests.support.seller_worker import (
    ACME,
    BOLT,
    TOKEN,
    Reader,
    confirmations,
    placed,
    served_shopify,
    write_config,
)

pytestmark = pytest.mark.kafka

BUYER_SOURCE = SourceRef(partner="shop", connection="shop-bc", platform="bigcommerce")
ACME_SOURCE = SourceRef(partner=ACME.partner, connection=ACME.connection, platform=ACME.platform)


def cancellation(order: OrderPlaced, units: dict[str, int] | None = None) -> OrderBuyerCancelled:
    """order.buyer_cancelled of `order`: SKU -> units cancelled, or (None) every unit."""
    ordered = {line.sku: line for line in order.lines}
    whole = units is None
    gone = {sku: line.quantity for sku, line in ordered.items()} if units is None else units
    return order_buyer_cancelled(
        order_id=order.order_id, source=BUYER_SOURCE, whole_order=whole, occurred_at=datetime.now(UTC),
        lines=[CancelledLine(line_id=ordered[sku].line_id, sku=sku, cancelled_quantity=count,
                             remaining_quantity=ordered[sku].quantity - count) for sku, count in gone.items()])


def test_buyer_cancellations_reach_the_sellers_store_and_cancelled_units_stop_counting(
        tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELLER_ORDERS_TEST_TOKEN", TOKEN)
    with served_shopify("acme") as acme, served_shopify("bolt") as bolt:  # a store each: polls see only theirs
        config_path = write_config(tmp_path, kafka_bootstrap, acme, bolt)
        config = load_config(config_path).config
        ensure_topics(config.kafka)
        names = TopicNames(config.kafka.topic_prefix)
        reader = Reader(kafka_bootstrap, (names.order_events, names.shipped_orders, names.dead_letters))
        producer = EventProducer(kafka_bootstrap, source="/tests")
        worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
        try:
            # the worker's first scheduled polls, on empty stores; the next ones are 15 minutes away, so the
            # store requests counted below are the cancellations' alone
            reader.wait_for(lambda: all(worker.metric(f'fulfillsync_polls_total{{connection="{party.connection}",'
                                                      'outcome="ok"}') >= 1 for party in (ACME, BOLT)),
                            "the first polls", worker)
            partly, whole = placed(ACME, {"ACME-MUG": 3, "ACME-CAP": 1}), placed(ACME, {"ACME-TEE": 2})
            for event in (partly, whole):
                producer.publish(names.order_events, event)
            producer.flush()
            reader.wait_for(lambda: all(confirmations(reader, names, e.order_id) for e in (partly, whole)),
                            "both orders created", worker)

            # 1. one mug shipped, then the buyer cancels the other two and the cap: the order is complete
            producer.publish(names.fulfillment_events, fulfillment_recorded(
                order_id=partly.order_id, source=ACME_SOURCE, fulfillment_id="F1", source_version=datetime.now(UTC),
                lines=[FulfilledLine(line_id="L1", quantity=1)], carrier="UPS", tracking_numbers=["1Z999"]))
            cancel_units = cancellation(partly, {"ACME-MUG": 2, "ACME-CAP": 1})
            producer.publish(names.order_events, cancel_units)
            producer.flush()
            reader.wait_for(lambda: any(v["order_id"] == partly.order_id for v in reader.of(names.shipped_orders)),
                            "the partly cancelled order shipped", worker)
            [shipped] = reader.of(names.shipped_orders)
            assert [(x["sku"], x["quantity"], x["cancelled_quantity"]) for x in shipped["lines"]] == [
                ("ACME-MUG", 3, 2), ("ACME-CAP", 1, 1)]
            [store_order] = acme.orders_for(partly.order_id)
            reader.wait_for(lambda: [x.current_quantity for x in store_order.line_items] == [1, 0],
                            "the units removed on the store", worker)

            # 2. the whole second order: cancelled on the store; never shipped
            producer.publish(names.order_events, cancellation(whole))
            producer.flush()
            [tee_order] = acme.orders_for(whole.order_id)
            reader.wait_for(lambda: tee_order.cancelled_at is not None, "the whole order cancelled", worker)

            # 3. a replayed cancellation: no store call
            sent = 'fulfillsync_seller_cancellations_total{connection="acme-shopify",outcome="sent"}'
            assert worker.metric(sent) == 2
            acme.admin("DELETE", "/requests")
            producer.publish_raw(names.order_events, *_again(cancel_units))
            producer.flush()
            reader.wait_for(lambda: worker.metric('fulfillsync_seller_cancellations_total{connection='
                                                  '"acme-shopify",outcome="already_sent"}') == 1, "the replay", worker)
            assert acme.admin("GET", "/requests")["total"] == 0
            assert reader.of(names.dead_letters) == []
        finally:
            reader.close()
            worker.stop(signal.SIGTERM)


def _again(event: OrderBuyerCancelled) -> tuple[bytes, bytes]:
    """The same event as a new record (an operator's replay): key and value only."""
    return event.order_id.encode(), event.model_dump_json().encode()

"""End to end on the real broker: `fulfillsync worker` as its own process, events produced onto its topics,
and what it publishes on shipped-orders and dead-letters read back."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from schemas.events import FulfilledLine, InputEvent, OrderLine, OrderPlaced, PartyRef, SourceRef
from schemas.factories import fulfillment_cancelled, fulfillment_recorded, order_placed
from schemas.generate import JSON_DIR
from tests.support.kafka_harness import Pipeline, Published, pipeline

pytestmark = pytest.mark.kafka

BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce")
SELLER = PartyRef(partner="acme", connection="acme-shopify", platform="shopify")
SOURCE = SourceRef(partner="acme", connection="acme-shopify", platform="shopify")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Pipeline]:
    """One worker for the scenarios that do not stop it."""
    with pipeline(tmp_path_factory.mktemp("ledger-worker"), kafka_bootstrap) as p:
        yield p


def new_order(ref: str, **lines: int) -> OrderPlaced:
    return order_placed(buyer=BUYER.model_copy(update={"order_ref": ref}), seller=SELLER,
                        lines=[OrderLine(line_id=k, sku=f"ACME-{k}", quantity=v) for k, v in lines.items()],
                        occurred_at=T0)


def fulfill(order: OrderPlaced, fid: str, minute: int = 1, numbers: tuple[str, ...] = (), carrier: str | None = "UPS",
           **units: int) -> InputEvent:
    return fulfillment_recorded(order_id=order.order_id, source=SOURCE, fulfillment_id=fid,
                                source_version=T0 + timedelta(minutes=minute), carrier=carrier,
                                tracking_numbers=list(numbers),
                                lines=[FulfilledLine(line_id=k, quantity=v) for k, v in units.items()])


def send(p: Pipeline, *events: InputEvent) -> None:
    for event in events:
        topic = p.names.order_events if event.type == "order.placed" else p.names.fulfillment_events
        p.producer.publish(topic, event)
    p.producer.flush()


def unique_ref() -> str:
    return f"R{datetime.now(UTC).strftime('%H%M%S%f')}"


def test_three_partial_fulfillments_ship_the_order_once(shared: Pipeline) -> None:
    order = new_order(unique_ref(), L1=3, L2=2)
    send(shared, order, fulfill(order, "F1", 1, ("1Z001",), L1=1))
    send(shared, fulfill(order, "F2", 2, ("1Z002", "1Z003"), L1=2, L2=1))
    shared.reader.settle(2)
    assert shared.reader.of("order.shipped", order.order_id) == [], "shipped before every unit was covered"
    send(shared, fulfill(order, "F3", 3, ("1Z004",), L2=1))
    shared.reader.wait_for(lambda _: len(shared.reader.of("order.shipped", order.order_id)) == 1,
                           what="one order.shipped")
    shared.reader.settle()
    [shipped] = shared.reader.of("order.shipped", order.order_id)
    assert sorted(f["fulfillment_id"] for f in shipped.value["fulfillments"]) == ["F1", "F2", "F3"]
    assert shipped.value["buyer"]["order_ref"] == order.buyer.order_ref
    assert {line["line_id"]: line["quantity"] for line in shipped.value["lines"]} == {"L1": 3, "L2": 2}
    _assert_contract(shipped, "order.shipped")


def test_duplicated_and_reordered_deliveries_ship_once(shared: Pipeline) -> None:
    order = new_order(unique_ref(), L1=2, L2=1)
    f1, f2 = fulfill(order, "F1", 1, L1=2), fulfill(order, "F2", 2, L2=1)
    send(shared, f2, f1, f2, order, f1, order, f2)  # fulfillments before their order, everything repeated
    shared.reader.wait_for(lambda _: len(shared.reader.of("order.shipped", order.order_id)) >= 1,
                           what="order.shipped")
    send(shared, f1, f2, order)
    shared.reader.settle(4)
    assert len(shared.reader.of("order.shipped", order.order_id)) == 1
    assert shared.reader.of("dead_letter", order.order_id) == []


def test_cancel_after_shipped_reopens_then_refulfillment_ships_again(shared: Pipeline) -> None:
    order = new_order(unique_ref(), L1=1)
    send(shared, order, fulfill(order, "F1", 1, ("1Z111",), L1=1))
    shared.reader.wait_for(lambda _: len(shared.reader.of("order.shipped", order.order_id)) == 1,
                           what="first order.shipped")
    send(shared, fulfillment_cancelled(order_id=order.order_id, source=SOURCE, fulfillment_id="F1",
                                       source_version=T0 + timedelta(minutes=5)))
    shared.reader.wait_for(lambda _: len(shared.reader.of("order.reopened", order.order_id)) == 1,
                           what="order.reopened")
    send(shared, fulfill(order, "F2", 6, ("1Z222",), L1=1))
    shared.reader.wait_for(lambda _: len(shared.reader.of("order.shipped", order.order_id)) == 2,
                           what="second order.shipped")
    first, second = shared.reader.of("order.shipped", order.order_id)
    [reopened] = shared.reader.of("order.reopened", order.order_id)
    kinds = [r.value["type"] for r in shared.reader.records if r.value.get("order_id") == order.order_id]
    assert kinds == ["order.shipped", "order.reopened", "order.shipped"]
    assert reopened.value["reopens_event_id"] == first.value["event_id"]
    assert second.value["event_id"] != first.value["event_id"]
    assert [f["tracking_numbers"] for f in second.value["fulfillments"]] == [["1Z222"]]
    _assert_contract(reopened, "order.reopened")


def test_tracking_correction_on_a_shipped_order_is_published(shared: Pipeline) -> None:
    order = new_order(unique_ref(), L1=2)
    send(shared, order, fulfill(order, "F1", 1, ("1Z1", "1Z2"), L1=2))
    shared.reader.wait_for(lambda _: len(shared.reader.of("order.shipped", order.order_id)) == 1, what="shipped")
    send(shared, fulfill(order, "F1", 2, ("1Z1", "1Z9"), L1=2))
    shared.reader.wait_for(lambda _: len(shared.reader.of("order.tracking_updated", order.order_id)) == 1,
                           what="tracking update")
    [update] = shared.reader.of("order.tracking_updated", order.order_id)
    assert update.value["fulfillment"]["tracking_numbers"] == ["1Z1", "1Z9"]
    assert update.value["fulfillment"]["tracking_urls"][1] == "https://www.ups.com/track?tracknum=1Z9"
    _assert_contract(update, "order.tracking_updated")


def test_rejected_inputs_are_dead_lettered_and_the_worker_goes_on(shared: Pipeline) -> None:
    order = new_order(unique_ref(), L1=1, L2=2)
    send(shared, order)
    send(shared, fulfill(order, "OVER", 1, L2=3))
    send(shared, fulfill(order, "GHOST", 1, L9=1))
    send(shared, fulfill(order, "MULTI", 1, ("1Z1", "1Z2"), L1=1))
    shared.producer.publish_raw(shared.names.fulfillment_events, order.order_id.encode(), b'{"type": "fulfill')
    shared.producer.flush()
    send(shared, fulfill(order, "OK", 2, ("1Z3",), L1=1, L2=2))
    shared.reader.wait_for(lambda _: len(shared.reader.of("order.shipped", order.order_id)) == 1,
                           what="the order shipping after the rejected inputs")
    shared.reader.wait_for(lambda _: len(shared.reader.of("dead_letter", order.order_id)) >= 4, what="4 dead letters")
    letters = {r.value["reason"]: r for r in shared.reader.of("dead_letter", order.order_id)}
    assert sorted(letters) == ["invalid_payload", "multi_tracking_single_unit", "over_fulfillment", "unknown_line"]
    assert letters["invalid_payload"].value["original"]["value"] == '{"type": "fulfill'
    assert letters["over_fulfillment"].value["original"]["topic"] == shared.names.fulfillment_events
    assert "line L2: 3 more unit(s) would make 3 fulfilled of 2 ordered" in letters["over_fulfillment"].value["message"]
    for letter in letters.values():
        _assert_contract(letter, "dead_letter")


def test_health_readiness_and_metrics_answer(shared: Pipeline) -> None:
    assert shared.worker.http("/healthz")[0] == 200
    status, body = shared.worker.http("/readyz")
    assert (status, '"ready"' in body) == (200, True)
    status, text = shared.worker.http("/metrics")
    assert status == 200 and "fulfillsync_ledger_inputs_total" in text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_worker_stopped_mid_stream_loses_nothing_and_never_reships_under_a_new_id(
    tmp_path: Path, kafka_bootstrap: str, sig: signal.Signals
) -> None:
    with pipeline(tmp_path, kafka_bootstrap) as p:
        # Enough work (1,800 fulfillments) that the worker is surely mid-stream when the first orders ship.
        orders = [new_order(f"{unique_ref()}-{i}", L1=2, L2=1) for i in range(600)]
        send(p, *orders)
        for order in orders:
            p.producer.publish(p.names.fulfillment_events, fulfill(order, "A", 1, ("1ZA",), L1=1))
            p.producer.publish(p.names.fulfillment_events, fulfill(order, "B", 2, ("1ZB",), L1=1))
            p.producer.publish(p.names.fulfillment_events, fulfill(order, "C", 3, ("1ZC",), L2=1))
        p.producer.flush()
        p.reader.wait_for(lambda _: len(p.reader.of("order.shipped")) >= 1, what="some orders shipped")
        p.worker.stop(sig)
        assert len({r.value["order_id"] for r in p.reader.of("order.shipped")}) < len(orders), \
            "the worker finished before it was stopped: nothing was in flight"
        p.worker.start()
        expected = {order.order_id for order in orders}
        p.reader.wait_for(lambda _: {r.value["order_id"] for r in p.reader.of("order.shipped")} >= expected,
                          timeout_s=120, what="every order shipped after the restart")
        p.reader.settle(3)
        ids_by_order: dict[str, set[str]] = {}
        for record in p.reader.of("order.shipped"):
            ids_by_order.setdefault(record.value["order_id"], set()).add(record.value["event_id"])
        assert set(ids_by_order) == expected
        assert all(len(ids) == 1 for ids in ids_by_order.values()), "an order was shipped under a second id"
        assert p.reader.of("dead_letter") == []


def _assert_contract(record: Published, kind: str) -> None:
    """The record matches its committed JSON Schema and carries CloudEvents binary-mode headers."""
    schema = json.loads((JSON_DIR / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(record.value)
    assert record.key == record.value["order_id"]
    assert record.headers["ce_specversion"] == "1.0"
    assert record.headers["ce_id"] == record.value["event_id"]
    assert record.headers["ce_type"] == f"io.fulfillsync.{kind}"
    assert record.headers["ce_source"] and record.headers["ce_time"]
    assert record.headers["content-type"] == "application/json"

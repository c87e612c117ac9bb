"""Defence in depth in the seller order sink: it creates (or announces to a manual seller) only orders the
configuration sends to their seller: a configured buyer connection, every line's SKU routed by that buyer's routes
to that seller. Anything else on order-events, whoever produced it, is dead-lettered `tenant_mismatch` and reaches
no store (tests/support/seller_sink.py: `CONFIG` routes shop-bc's `ACME-*` to acme-shopify and `HAND-*` to hand)."""

from __future__ import annotations

import json

import pytest

from ledger.routing import placement_mismatch
from schemas.config import Config
from schemas.events import OrderPlaced, OriginalRecord, PartyRef
from streams.kit.records import EncodedRecord
from streams.sellers.creator import STAGE
from streams.sellers.records import RetryRecord
from tests.support.seller_sink import ACME, BUYER, CONFIG, CREATED, NOW, TOPICS, harness, placed

HAND = PartyRef(partner="hand", connection="hand", platform="manual")


FORGED = {
    "an unconfigured buyer": placed(buyer=BUYER.model_copy(update={"connection": "rogue-shop"})),
    "a buyer posing as another partner": placed(buyer=BUYER.model_copy(update={"partner": "rival"})),
    "a buyer on another platform than configured": placed(buyer=BUYER.model_copy(update={"platform": "shopify"})),
    "a seller connection as the buyer": placed(buyer=PartyRef(partner="acme", connection="acme-shopify",
                                                               platform="shopify", order_ref="1")),
    "a SKU routed to another seller": placed(ACME, skus=("ACME-MUG", "HAND-CAP")),
    "a SKU no route covers": placed(ACME, skus=("ACME-MUG", "HOUSE-CANDLE")),
    "a seller posing as another partner": placed(ACME.model_copy(update={"partner": "bolt"})),
}


@pytest.mark.parametrize("event", FORGED.values(), ids=FORGED.keys())
def test_an_order_the_configuration_does_not_send_to_its_seller_is_dead_lettered_not_created(
        event: OrderPlaced) -> None:
    h = harness(CREATED)
    h.run_placed(event, partition=3)
    assert h.connector.calls == [] and h.events.published == [] and h.table == {}
    [(topic, record, partition)] = h.sent
    assert (topic, partition, record.key) == (TOPICS.dead_letters, None, event.order_id.encode())
    letter = json.loads(record.value)
    assert (letter["reason"], letter["stage"], letter["order_id"]) == ("tenant_mismatch", STAGE, event.order_id)
    assert letter["message"].startswith(f"order {event.order_id} is not created on {event.seller.connection}: ")
    assert json.loads(letter["original"]["value"])["event_id"] == event.event_id  # the record, whole
    assert h.creator._metrics.outcomes.labels(event.seller.connection, "tenant_mismatch")._value.get() == 1


def test_the_letter_names_what_does_not_match_and_a_replay_gives_the_same_letter() -> None:
    event = placed(ACME, skus=("ACME-MUG", "HAND-CAP"))
    h = harness(CREATED)
    h.run_placed(event)
    h.run_placed(event)  # a replay, or the same record forged twice
    first, second = h.letters()
    assert first["event_id"] == second["event_id"]
    assert first["message"] == (f"order {event.order_id} is not created on acme-shopify: line 'L2' (SKU 'HAND-CAP') "
                                "is routed by buyer shop-bc's routes to hand, not to seller acme-shopify")
    assert h.connector.calls == []


def test_a_manual_seller_gets_no_email_and_no_notice_for_an_order_not_routed_to_it() -> None:
    h = harness()
    h.run_placed(placed(HAND, skus=("ACME-MUG", "ACME-CAP")))
    [letter] = h.letters()
    assert letter["reason"] == "tenant_mismatch"
    assert h.table == {}  # no notice entry: nothing was announced
    h.sent.clear()
    h.run_placed(placed(HAND))  # HAND-* is routed to it: announced as before (no mail server here: no letter)
    assert h.letters() == []


def test_a_retried_order_whose_route_was_removed_since_is_dead_lettered_not_created() -> None:
    without_routes = Config(kafka=CONFIG.kafka, connections=CONFIG.connections, routes=[], web=CONFIG.web)
    h = harness(CREATED, config=without_routes)
    event = placed()
    record = RetryRecord(placed=event, attempt=2, not_before=NOW, last_error="503",
                         original=_original(event))
    h.run_retry((TOPICS.retries, EncodedRecord(event.order_id.encode(), record.model_dump_json().encode(), []), 1))
    assert h.connector.calls == []
    [letter] = h.letters()
    assert letter["reason"] == "tenant_mismatch"
    assert "routed by buyer shop-bc's routes to no seller" in str(letter["message"])


def test_orders_the_configuration_routes_are_created_as_before() -> None:
    h = harness(CREATED)
    h.run_placed(placed())
    assert len(h.connector.calls) == 1 and h.letters() == []


def test_the_check_is_the_routing_rule() -> None:
    routes, connections = CONFIG.routes, CONFIG.connections
    assert placement_mismatch(placed(), routes=routes, connections=connections) is None
    assert placement_mismatch(placed(HAND), routes=routes, connections=connections) is None
    assert placement_mismatch(placed(ACME, skus=("ACME-MUG", "ACME-CAP")), routes=[],
                              connections=connections) is not None
    long_sku = "X" * 500
    why = placement_mismatch(placed(ACME, skus=("ACME-MUG", long_sku)), routes=routes, connections=connections)
    assert why is not None and long_sku not in why and "'" + "X" * 64 + "…'" in why


def _original(event: OrderPlaced) -> OriginalRecord:
    return OriginalRecord(topic=TOPICS.order_events, partition=1, offset=9, key=event.order_id,
                          value=event.model_dump_json(), headers=[])

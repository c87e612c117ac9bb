"""Which dead letters `fulfillsync dead-letters requeue` sends back, and where (`fulfillsync.ops.dead_letters`):
decided with the pure ledger on the order's current state, without a broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from fulfillsync.ops.dead_letters import Decider, Filters, Letter, RequeueRefused
from fulfillsync.ops.reading import Record
from ledger import OrderState, apply, new_state
from schemas.config import Config
from schemas.events import InputEvent
from schemas.topics import TopicNames
from streams.buyers.records import RetryRecord as BuyerRetry
from streams.kit.dead_letters import dead_letter, encode_dead_letter
from streams.kit.records import RebuiltMessage
from streams.sellers.records import RetryRecord as SellerRetry
from tests.support.ledger_builders import ORDER_ID, cancelled, order_placed, recorded

NAMES = TopicNames("fulfillsync")
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def letter_of(event: InputEvent, *, reason: str, stage: str = "ledger", topic: str | None = None) -> Letter:
    """The dead letter a stage writes for `event` read at partition 1, offset 7 of its topic."""
    topic = topic or (NAMES.order_events if event.type.startswith("order.") else NAMES.fulfillment_events)
    message = RebuiltMessage(topic=topic, partition=1, offset=7, key=event.order_id.encode(),
                             value=event.model_dump_json().encode(), headers=[("ce_id", event.event_id.encode())])
    found = dead_letter(message, reason=reason, text="refused", order_id=event.order_id,
                        rejected_event_id=event.event_id, at=NOW, stage=stage)
    encoded = encode_dead_letter(found, key=event.order_id)
    return Letter(Record(NAMES.dead_letters, 0, 3, 0, encoded.key, encoded.value, encoded.headers), found)


def decider(state: OrderState, already: set[str] | None = None, config: Config | None = None) -> Decider:
    return Decider(config or Config(), already or set(), {state.order_id: state}, clock=lambda: NOW)


def test_an_unknown_order_letter_is_requeued_under_a_new_id_once_the_order_is_known() -> None:
    late = recorded({"L1": 1})
    letter = letter_of(late, reason="unknown_order")
    with pytest.raises(RequeueRefused, match=r"would not accept it now \(held"):
        decider(new_state(ORDER_ID)).decide(letter)  # the order is still unknown: it would only be held
    known = apply(new_state(ORDER_ID), order_placed({"L1": 1})).state
    requeue = decider(known).decide(letter)
    assert (requeue.topic, requeue.partition, requeue.key) == (NAMES.fulfillment_events, 1, ORDER_ID.encode())
    renewed = json.loads(requeue.value)
    assert renewed["event_id"] != late.event_id and renewed["fulfillment_id"] == late.fulfillment_id
    assert dict(requeue.headers)["ce_id"] == renewed["event_id"].encode()
    assert dict(requeue.headers)["fulfillsync_requeued_from"] == letter.id.encode()
    assert decider(known).decide(letter).value == requeue.value  # the same id every time: a lost record is safe


def test_a_letter_the_ledger_would_still_refuse_or_already_requeued_is_refused() -> None:
    state = apply(new_state(ORDER_ID), order_placed({"L1": 1})).state
    state = apply(state, recorded({"L1": 1}, fulfillment_id="F1")).state
    over = letter_of(recorded({"L1": 1}, fulfillment_id="F2"), reason="over_fulfillment")
    with pytest.raises(RequeueRefused, match=r"rejected: line L1: 1 more unit"):
        decider(state).decide(over)
    freed = apply(state, cancelled(fulfillment_id="F1", version=1)).state
    assert decider(freed).decide(over).topic == NAMES.fulfillment_events
    with pytest.raises(RequeueRefused, match="already requeued"):
        decider(freed, already={over.id}).decide(over)


def test_sink_letters_go_to_their_retry_topics_with_attempts_reset_and_store_data_letters_are_refused() -> None:
    placed = order_placed({"L1": 1})
    state = new_state(ORDER_ID)
    refused_order = letter_of(placed, reason="platform_rejected", stage="seller_orders")
    with pytest.raises(RequeueRefused, match="does not send this order to its seller"):
        decider(state).decide(refused_order)  # no route in an empty configuration
    config = Config.model_validate({
        "connections": [
            {"id": "buyer-shop", "partner": "buyer-1", "role": "buyer", "platform": "shopify",
             "base_url": "http://127.0.0.1:1", "credentials": {"access_token": "t"}},
            {"id": "seller-shop", "partner": "seller-1", "role": "seller", "platform": "bigcommerce",
             "base_url": "http://127.0.0.1:1", "credentials": {"access_token": "t"}}],
        "routes": [{"buyer": "buyer-shop", "seller": "seller-shop", "skus": ["*"]}]})
    requeue = decider(state, config=config).decide(refused_order)
    retry = SellerRetry.model_validate_json(requeue.value)
    assert (requeue.topic, requeue.partition, retry.attempt, retry.placed) == (
        NAMES.seller_order_retries, 1, 1, placed)
    buyer_write = letter_of(placed, reason="platform_rejected", stage="buyer_tracking", topic=NAMES.buyer_pushes)
    requeue = decider(state).decide(buyer_write)
    assert requeue.topic == NAMES.buyer_push_retries
    assert BuyerRetry.model_validate_json(requeue.value).order_id == ORDER_ID
    for stage in ("polling", "seller_fulfillments"):
        with pytest.raises(RequeueRefused, match="next poll"):
            decider(state).decide(letter_of(placed, reason="invalid_payload", stage=stage))


def test_filters_match_on_every_field_given() -> None:
    letter = letter_of(recorded({"L1": 1}), reason="unknown_order")
    assert Filters().match(letter)
    assert Filters(reasons=frozenset({"unknown_order"}), stages=frozenset({"ledger"}),
                   connections=frozenset({"seller-shop"}), since=NOW).match(letter)
    for miss in (Filters(reasons=frozenset({"over_fulfillment"})), Filters(orders=frozenset({"other"})),
                 Filters(connections=frozenset({"buyer-shop"})), Filters(since=NOW.replace(day=2))):
        assert not miss.match(letter)

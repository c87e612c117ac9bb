"""The seller order sink's decisions without Kafka or HTTP: `SellerOrderCreator` with a scripted connector, a dict
as its table and recorders for what it publishes (the harness: tests/support/seller_sink.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from confluent_kafka import KafkaException

from connectors.base import PermanentError, RetryableError
from ledger.routing import route_order
from schemas.config import Config, Connection, Route
from schemas.events import (
    OrderPlaced,
    OriginalRecord,
    PartyRef,
)
from schemas.factories import order_placed
from schemas.platform import (
    Address,
    PlatformLine,
    PlatformOrder,
)
from streams.kit.records import EncodedRecord
from streams.kit.retries import MAX_ATTEMPTS, MAX_DELAY, retry_delay
from streams.sellers.records import RetryRecord
from streams.sellers.wiring import seller_of
from tests.support.seller_sink import (
    BUYER,
    CONFIG,
    CREATED,
    NOW,
    SECRET,
    SHIPPING,
    TOPICS,
    harness,
    placed,
)


def test_a_created_order_is_published_with_the_sellers_reference_then_recorded() -> None:
    h = harness(CREATED)
    event = placed()
    h.run_placed(event)
    [call] = h.connector.calls
    assert call.our_order_id == event.order_id and call.buyer_order_number == "#1042"
    assert call.shipping_address is not None and call.shipping_address.postal_code == "SW1Y 4JH"
    assert (call.email, call.phone, call.shipping_method) == ("ada@example.com", "+44 20 7946 0000", "Express")
    assert [(line.line_ref, line.sku, line.quantity) for line in call.lines] == [("L1", "ACME-MUG", 2),
                                                                                  ("L2", "ACME-CAP", 1)]
    [(topic, confirmation)] = h.events.published
    assert topic == TOPICS.order_events and h.events.flushed == 1
    assert isinstance(confirmation, OrderPlaced)
    assert confirmation.seller.order_ref == CREATED.order_ref
    assert (confirmation.order_id, confirmation.lines, confirmation.buyer) == (event.order_id, event.lines,
                                                                               event.buyer)
    assert confirmation.shipping == SHIPPING
    assert confirmation.event_id != event.event_id
    assert confirmation.event_id == order_placed(buyer=BUYER, seller=confirmation.seller, lines=event.lines,
                                                 occurred_at=NOW - timedelta(days=1)).event_id  # deterministic
    entry = json.loads(h.table[event.order_id.encode()])
    assert (entry["order_ref"], entry["line_refs"]) == (CREATED.order_ref, CREATED.line_refs)
    assert h.sent == []


def test_nothing_is_created_for_a_recorded_order_a_confirmation_or_a_manual_seller() -> None:
    h = harness(CREATED)
    event = placed()
    h.run_placed(event)
    h.run_placed(event)  # duplicate / replay: the table says it exists
    confirmation = h.events.published[0][1]
    assert isinstance(confirmation, OrderPlaced)
    h.run_placed(confirmation)  # our own confirmation
    h.run_placed(placed(PartyRef(partner="hand", connection="hand", platform="manual")))
    h.run_placed(placed(PartyRef(partner="x", connection="not-configured", platform="shopify")))
    assert len(h.connector.calls) == 1
    assert len(h.events.published) == 1 and h.sent == []


def test_a_retryable_failure_schedules_a_retry_in_the_orders_partition_that_later_creates_it() -> None:
    h = harness(RetryableError("503", connection="acme-shopify", status=503), CREATED)
    event = placed()
    h.run_placed(event, partition=4)
    [(topic, record, partition)] = h.sent
    assert (topic, partition, record.key) == (TOPICS.retries, 4, event.order_id.encode())
    [retry] = h.retries()
    assert (retry.attempt, retry.not_before, retry.placed) == (1, NOW + timedelta(seconds=1), event)
    assert retry.original.partition == 4 and h.events.published == []
    h.sent.clear()
    h.run_retry((topic, record, partition))
    assert h.slept == [1.0]  # the clock stands at NOW: the retry waits its whole second
    assert len(h.connector.calls) == 2 and len(h.events.published) == 1 and h.sent == []
    assert event.order_id.encode() in h.table


def test_a_retry_waits_until_it_is_due_but_never_longer_than_the_cap() -> None:
    h = harness(CREATED)
    record = RetryRecord(placed=placed(), attempt=3, not_before=NOW + timedelta(hours=2), last_error="503",
                         original=h_original())
    h.run_retry((TOPICS.retries, EncodedRecord(b"k", record.model_dump_json().encode(), []), 0))
    assert h.slept == [MAX_DELAY.total_seconds()]


def h_original() -> OriginalRecord:
    return OriginalRecord(topic=TOPICS.order_events, partition=0, offset=1, key="k", value="{}", headers=[])


@pytest.mark.parametrize(("attempt", "retry_after", "expected"), [
    (1, None, 1), (2, None, 2), (3, None, 4), (6, None, 32), (7, None, 60), (40, None, 60),
    (1, 10.0, 10), (1, 3600.0, 60),
])
def test_backoff_doubles_from_one_second_is_capped_and_honours_the_platforms_wait(
        attempt: int, retry_after: float | None, expected: float) -> None:
    assert retry_delay(attempt, retry_after) == timedelta(seconds=expected)


def test_a_permanent_refusal_is_dead_lettered_with_the_platforms_message_and_the_original_record() -> None:
    error = PermanentError("shopify connection 'acme-shopify': POST ... answered 422",
                           connection="acme-shopify", platform_message="SKU ACME-MUG is not sold here", status=422)
    h = harness(error)
    event = placed()
    h.run_placed(event, partition=2)
    [letter] = h.letters()
    assert (letter["reason"], letter["stage"], letter["order_id"]) == ("platform_rejected", "seller_orders",
                                                                       event.order_id)
    assert "SKU ACME-MUG is not sold here" in str(letter["message"])
    original = letter["original"]
    assert isinstance(original, dict)
    assert (original["topic"], original["partition"], original["offset"]) == (TOPICS.order_events, 2, 7)
    assert json.loads(original["value"])["event_id"] == event.event_id
    assert SECRET not in json.dumps(letter)
    assert h.retries() == [] and h.table == {}


def test_the_last_attempt_dead_letters_instead_of_retrying() -> None:
    h = harness(RetryableError("timed out", connection="acme-shopify"))
    record = RetryRecord(placed=placed(), attempt=MAX_ATTEMPTS - 1, not_before=NOW, last_error="503",
                         original=h_original())
    h.run_retry((TOPICS.retries, EncodedRecord(b"k", record.model_dump_json().encode(), []), 0))
    [letter] = h.letters()
    assert letter["reason"] == "platform_rejected"
    assert f"in {MAX_ATTEMPTS} attempts" in str(letter["message"]) and "timed out" in str(letter["message"])
    assert h.retries() == []


def test_an_unexpected_error_is_retried_and_a_failing_producer_never_escapes() -> None:
    h = harness(KeyError("boom"))
    h.run_placed(placed())
    [retry] = h.retries()
    assert "KeyError" in retry.last_error

    async def refuse(topic: str, record: EncodedRecord, partition: int | None) -> None:
        raise RuntimeError("producer closed")

    broken = harness(RetryableError("503", connection="acme-shopify"), send=refuse)
    broken.run_placed(placed())  # logged as critical, not raised
    broken.run_retry((TOPICS.retries, EncodedRecord(b"k", b"not json", []), 0))  # ignored, not raised


def test_a_retry_record_the_broker_did_not_take_is_written_again_in_place_not_lost() -> None:
    """Kafka away while the retry record is written: a transient failure, so the attempt runs again in place (the
    platform is asked again, the retry record then written once) instead of the order being left uncreated."""
    sent: list[tuple[str, EncodedRecord, int | None]] = []
    refusals = [KafkaException("Local: Broker transport failure")]

    async def flaky(topic: str, record: EncodedRecord, partition: int | None) -> None:
        if refusals:
            raise refusals.pop()
        sent.append((topic, record, partition))

    h = harness(RetryableError("503", connection="acme-shopify", status=503),
                RetryableError("503", connection="acme-shopify", status=503), send=flaky)
    h.run_placed(placed())
    assert len(h.connector.calls) == 2, "the attempt was run again after the retry record failed"
    assert [topic for topic, _, _ in sent] == [TOPICS.retries]


def test_without_shipping_details_the_buyers_order_reference_is_the_number() -> None:
    h = harness(CREATED)
    h.run_placed(placed().model_copy(update={"shipping": None}))
    [call] = h.connector.calls
    assert (call.buyer_order_number, call.shipping_address, call.email) == ("900", None, None)


def test_routing_copies_the_buyer_orders_shipping_details_without_changing_the_event_id() -> None:
    buyer = Connection(id="shop-bc", partner="shop", role="buyer", platform="bigcommerce",
                       base_url="https://shop.example", credentials={"access_token": "t"})
    config = Config(connections=[buyer, CONFIG.connection("acme-shopify")],
                    routes=[Route(buyer="shop-bc", seller="acme-shopify", skus=["ACME-*"])])
    bare = PlatformOrder(order_ref="900", number="#1042", updated_at=NOW,
                         lines=(PlatformLine(line_ref="L1", sku="ACME-MUG", quantity=2),))
    full = bare.model_copy(update={
        "shipping_address": Address(name="Ada Lovelace", lines=("12 St James's Square",), city="London",
                                    postal_code="SW1Y 4JH", country_code="GB"),
        "email": "ada@example.com", "shipping_method": "Express"})

    [without] = route_order(buyer, bare, routes=config.routes, connections=config.connections, observed_at=NOW).placed
    [with_details] = route_order(buyer, full, routes=config.routes, connections=config.connections,
                                 observed_at=NOW).placed
    assert without.shipping is None
    assert with_details.shipping is not None and with_details.event_id == without.event_id
    assert with_details.shipping.address is not None and with_details.shipping.address.postal_code == "SW1Y 4JH"
    assert (with_details.shipping.email, with_details.shipping.method, with_details.shipping.buyer_order_number) == (
        "ada@example.com", "Express", "#1042")


def test_records_are_laned_by_the_seller_they_name() -> None:
    placed = b'{"type": "order.placed", "seller": {"connection": "acme-shopify", "partner": "acme"}}'
    assert seller_of(placed) == "acme-shopify"
    assert seller_of(b'{"placed": ' + placed + b', "attempt": 1}', "placed") == "acme-shopify"
    assert seller_of(b'{"type": "order.buyer_cancelled", "order_id": "o1"}') == ""  # names no seller
    assert seller_of(b'{"cancelled": {"order_id": "o1"}}', "placed") == ""
    assert seller_of(b"not json") == seller_of(None) == seller_of(b'["a"]') == ""

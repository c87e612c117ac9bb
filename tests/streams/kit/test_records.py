"""Decoding inputs never raises: every bad record gets a reason; dead letters keep the original whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from schemas.events import FulfilledLine, SourceRef
from schemas.factories import fulfillment_recorded
from streams.kit.dead_letters import dead_letter
from streams.kit.records import InvalidInput, decode_input

FULFILLMENTS = frozenset({"fulfillment.recorded", "fulfillment.cancelled"})
T = datetime(2026, 1, 1, tzinfo=UTC)
EVENT = fulfillment_recorded(order_id="o-1", source=SourceRef(partner="s", connection="s", platform="manual"),
                             fulfillment_id="F1", source_version=T, lines=[FulfilledLine(line_id="L1", quantity=1)])


@dataclass
class Message:
    value: bytes | None
    key: bytes | None = b"o-1"
    topic: str = "p.fulfillment-events"
    partition: int = 1
    offset: int = 42
    headers: list[tuple[str, bytes]] = field(default_factory=lambda: [("ce_id", b"x")])


def test_a_valid_input_decodes() -> None:
    assert decode_input(Message(EVENT.model_dump_json().encode()), FULFILLMENTS) == EVENT


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (Message(None), "the record has no value"),
        (Message(b"{not json"), "Invalid JSON"),
        (Message(b'{"type": "order.teleported"}'), "does not match any of the expected tags"),
        (Message(EVENT.model_dump_json().encode().replace(b'"quantity":1', b'"quantity":1.5')),
         "lines.0.quantity: Input should be a valid integer"),
        (Message(EVENT.model_dump_json().encode(), key=b"o-2"), "differs from order_id 'o-1'"),
        (Message(EVENT.model_dump_json().encode(), key=None), "differs from order_id 'o-1'"),
    ],
    ids=["empty", "not-json", "unknown-type", "fractional-quantity", "wrong-key", "no-key"],
)
def test_bad_records_become_invalid_payload(message: Message, expected: str) -> None:
    decoded = decode_input(message, FULFILLMENTS)
    assert isinstance(decoded, InvalidInput)
    assert decoded.reason == "invalid_payload"
    assert expected in decoded.message


def test_an_input_on_the_wrong_topic_is_invalid() -> None:
    decoded = decode_input(Message(EVENT.model_dump_json().encode()), frozenset({"order.placed"}))
    assert isinstance(decoded, InvalidInput) and "does not belong on p.fulfillment-events" in decoded.message


def test_dead_letter_keeps_the_original_record_and_has_a_stable_id() -> None:
    message = Message(b"\xff\xfe not utf-8")
    first = dead_letter(message, reason="invalid_payload", text="bad", order_id=None, rejected_event_id=None, at=T)
    again = dead_letter(message, reason="invalid_payload", text="bad", order_id=None, rejected_event_id=None, at=T)
    assert first.event_id == again.event_id
    assert first.original.value is None and first.original.value_base64 == "//4gbm90IHV0Zi04"
    assert (first.original.topic, first.original.partition, first.original.offset) == ("p.fulfillment-events", 1, 42)
    assert first.original.headers == [("ce_id", "x")]
    moved = dead_letter(Message(b"x", offset=43), reason="invalid_payload", text="bad", order_id=None,
                        rejected_event_id=None, at=T)
    assert moved.event_id != first.event_id

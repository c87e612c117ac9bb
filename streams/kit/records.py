"""Kafka records <-> our events: decoding inputs, encoding outputs with CloudEvents headers, and building
dead-letter records that keep the original record whole.

Decoding never raises: a record that is not a valid input becomes an `InvalidInput` with a reason code.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.cloudevents import Headers, RawHeaders, binary_headers, header_map
from schemas.events import INPUT_EVENT_ADAPTER, AnyInput, DeadLetter, OriginalRecord
from schemas.ids import event_id

InputEvent = AnyInput

LEDGER_SOURCE = "/fulfillsync/ledger"


class KafkaMessage(Protocol):
    """What we read of a consumed record (Faust's `Message` has these attributes)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> RawHeaders: ...


@dataclass(frozen=True)
class RebuiltMessage:
    """A `KafkaMessage` rebuilt from parts kept elsewhere (a held input in the ledger's state, a retry record),
    so its dead letter names the record it was first read from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: RawHeaders


@dataclass(frozen=True)
class InvalidInput:
    """A record that cannot be applied: `reason` is a dead-letter reason code, `message` says why for a person."""

    reason: str
    message: str
    order_id: str | None = None


@dataclass(frozen=True)
class EncodedRecord:
    key: bytes
    value: bytes
    headers: Headers


def position(message: KafkaMessage) -> str:
    """Where a record was read: the same record always has the same position."""
    return f"{message.topic}:{message.partition}:{message.offset}"


def decode_input(message: KafkaMessage, allowed_types: frozenset[str]) -> InputEvent | InvalidInput:
    """The input event in `message`, checked against its key and the types its topic may carry."""
    key = message.key.decode("utf-8", "replace") if message.key is not None else None
    if not message.value:
        return InvalidInput("invalid_payload", "the record has no value", key)
    try:
        event = INPUT_EVENT_ADAPTER.validate_json(message.value)
    except ValidationError as error:
        return InvalidInput("invalid_payload", _validation_summary(error), key)
    if event.type not in allowed_types:
        return InvalidInput(
            "invalid_payload",
            f"{event.type} does not belong on {message.topic} (expected {', '.join(sorted(allowed_types))})",
            event.order_id,
        )
    if key != event.order_id:
        return InvalidInput(
            "invalid_payload",
            f"the record key {key!r} differs from order_id {event.order_id!r}; records must be keyed by order id",
            event.order_id,
        )
    return event


def _validation_summary(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        location = ".".join(str(part) for part in item["loc"]) or "(value)"
        problems.append(f"{location}: {item['msg']}")
    more = f" (and {error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return "not a valid input event: " + "; ".join(problems) + more


def encode_event(record: BaseModel, *, order_id: str, record_id: str, record_type: str, time: datetime,
                 source: str = LEDGER_SOURCE) -> EncodedRecord:
    """A record keyed by order id, JSON value, CloudEvents binary-mode headers."""
    return EncodedRecord(
        key=order_id.encode(),
        value=record.model_dump_json().encode(),
        headers=binary_headers(event_id=record_id, event_type=record_type, source=source, time=time,
                               subject=order_id),
    )


def encode_dead_letter(letter: DeadLetter, *, key: str, source: str = LEDGER_SOURCE) -> EncodedRecord:
    """`letter` as a dead-letters record keyed by `key` (its order id, or the rejected record's key)."""
    return encode_event(letter, order_id=key, record_id=letter.event_id, record_type=letter.type,
                        time=letter.dead_lettered_at, source=source)


def dead_letter(message: KafkaMessage, *, reason: str, text: str, order_id: str | None, rejected_event_id: str | None,
                at: datetime, stage: str = "ledger") -> DeadLetter:
    """The dead-letter record for `message`. Its id is deterministic: from the rejected event's id and the
    reason when the record parsed, else from the record's position."""
    if rejected_event_id is not None:
        letter_id = event_id("dead_letter", rejected_event_id, reason)
    else:
        letter_id = event_id("dead_letter", position(message), reason)
    return DeadLetter(
        event_id=letter_id, order_id=order_id, reason=reason, message=text, stage=stage,
        dead_lettered_at=at, original=_original(message),
    )


def _original(message: KafkaMessage) -> OriginalRecord:
    value_text: str | None = None
    value_b64: str | None = None
    if message.value is not None:
        try:
            value_text = message.value.decode("utf-8")
        except UnicodeDecodeError:
            value_b64 = base64.b64encode(message.value).decode()
    headers = list(header_map(message.headers).items())
    return OriginalRecord(
        topic=message.topic, partition=message.partition, offset=message.offset,
        key=message.key.decode("utf-8", "replace") if message.key is not None else None,
        value=value_text, value_base64=value_b64, headers=headers,
    )


Internal = TypeVar("Internal", bound=BaseModel)


def decode_internal(model: type[Internal], value: bytes | None, what: str) -> Internal | str:
    """An internal record's value (poll tick, check, push, retry) as `model`, or a short reason why it is not one,
    naming it as `what` (never raises)."""
    if not value:
        return "the record has no value"
    try:
        return model.model_validate_json(value)
    except ValidationError as error:
        return f"not {what}: {error.error_count()} problem(s), first: {error.errors()[0]['msg']}"


RAW_TOPIC: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
                             "value_serializer": "raw"}
"""Options for a Faust topic read and written as bytes: every agent decodes records itself, so a malformed one is
dead-lettered or logged by our code instead of dropped by Faust's decoder."""


def utc_now() -> datetime:
    """The agents' default clock."""
    return datetime.now(UTC)

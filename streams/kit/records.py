"""Kafka records <-> our events: what an agent reads of a record, decoding inputs and internal records, encoding
outputs with CloudEvents headers, and `Send`, the one way an agent publishes through the worker's Faust producer.

Every record encoded here carries the current trace (`schemas.trace_scope.outgoing`: a new span of the trace of the
record being handled, or a new trace) as `ce_traceparent` / `ce_tracestate` (docs/architecture.md, "Tracing").

Decoding never raises: a record that is not a valid input becomes an `InvalidInput` with a reason code; an internal
record that does not decode becomes a short reason string.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from schemas import trace_scope
from schemas.cloudevents import TRACEPARENT, Headers, RawHeaders, binary_headers, trace_headers
from schemas.config import Connection
from schemas.events import INPUT_EVENT_ADAPTER, InputEvent

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
    """A record ready to produce: key, value and headers as bytes."""

    key: bytes
    value: bytes
    headers: Headers


Send = Callable[[str, EncodedRecord, int | None], Awaitable[None]]
"""Publishes one record on a topic (by name) with the worker's Faust producer, on the given partition (None: by
key). Faust flushes that producer before it commits the offset of the record being handled, so what an agent sends
while handling a record is delivered before that record counts as done. Raises if the producer refuses it."""


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
    """A record keyed by order id, JSON value, CloudEvents binary-mode headers, carrying the current trace."""
    return EncodedRecord(
        key=order_id.encode(),
        value=record.model_dump_json().encode(),
        headers=binary_headers(event_id=record_id, event_type=record_type, source=source, time=time,
                               subject=order_id,
                               trace=trace_scope.outgoing(record_type, event_id=record_id, subject=order_id)),
    )


def encode_internal(record: BaseModel, *, key: str, what: str) -> EncodedRecord:
    """An internal record (a push, a retry, a check: no CloudEvents attributes): keyed by `key` (an order id),
    JSON value, and the trace headers of a new span of the current trace (`what` names the record in that span)."""
    return EncodedRecord(key=key.encode(), value=record.model_dump_json().encode(),
                         headers=outgoing_trace_headers(what, subject=key))


def outgoing_trace_headers(what: str, *, subject: str | None = None) -> Headers:
    """The trace headers of a record about to be published (`schemas.trace_scope.outgoing`)."""
    return trace_headers(trace_scope.outgoing(what, subject=subject))


def traced(record: EncodedRecord, what: str) -> EncodedRecord:
    """`record` carrying a trace: itself when it has a `ce_traceparent` header already, else with the trace headers
    of a new span of the current trace added (`what` names the record in that span)."""
    if any(name == TRACEPARENT for name, _ in record.headers):
        return record
    subject = record.key.decode("utf-8", "replace")
    return EncodedRecord(key=record.key, value=record.value,
                         headers=[*record.headers, *outgoing_trace_headers(what, subject=subject)])


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


def source_of(connection: Connection) -> str:
    """The CloudEvents `source` of events observed on `connection`."""
    return f"/fulfillsync/connections/{connection.id}"

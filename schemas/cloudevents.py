"""CloudEvents 1.0 Kafka protocol binding, binary content mode: the attributes travel as `ce_*` headers and the
record value is the JSON event itself (https://github.com/cloudevents/spec, kafka-protocol-binding.md).

Every record also carries the Distributed Tracing extension (extensions/distributed-tracing.md there): the W3C
`traceparent` as `ce_traceparent`, and `tracestate` as `ce_tracestate` when there is one (`schemas.trace_context`;
docs/architecture.md, "Tracing")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from schemas.trace_context import TraceContext

SPEC_VERSION = "1.0"
TYPE_PREFIX = "io.fulfillsync."
CONTENT_TYPE = "application/json"
TRACEPARENT = "ce_traceparent"
TRACESTATE = "ce_tracestate"
"""The headers of the Distributed Tracing extension (optional on a record fulfillsync reads)."""
SCHEMA_ID_BASE = "https://fulfillsync.io/schemas/"
"""The base of the `$id` of every committed JSON Schema (`schemas/json/<name>.schema.json`)."""

Headers = list[tuple[str, bytes]]
RawHeaders = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None
"""Headers as Kafka clients hand them over: a list of pairs (confluent-kafka, aiokafka) or a mapping (Faust)."""


def ce_type(event_type: str) -> str:
    """The CloudEvents `type` of one of our record types, e.g. `order.shipped` -> `io.fulfillsync.order.shipped`."""
    return TYPE_PREFIX + event_type


def schema_id(name: str) -> str:
    """The `$id` of `schemas/json/<name>.schema.json`, e.g. `order.shipped` ->
    `https://fulfillsync.io/schemas/order.shipped.schema.json`; a record's `ce_dataschema` header."""
    return f"{SCHEMA_ID_BASE}{name}.schema.json"


def binary_headers(*, event_id: str, event_type: str, source: str, time: datetime, subject: str | None,
                   trace: TraceContext | None = None) -> Headers:
    """The headers of one record. `subject` is the order id when there is one; `ce_dataschema` names the
    committed JSON Schema of `event_type` (`schema_id`); `trace` is the record's span (`trace_headers`)."""
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", event_id.encode()),
        ("ce_type", ce_type(event_type).encode()),
        ("ce_source", source.encode()),
        ("ce_time", time.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
        ("ce_dataschema", schema_id(event_type).encode()),
    ]
    if subject is not None:
        headers.append(("ce_subject", subject.encode()))
    if trace is not None:
        headers.extend(trace_headers(trace))
    return headers


def trace_headers(trace: TraceContext) -> Headers:
    """`ce_traceparent` naming `trace`'s span, and `ce_tracestate` when it has a state."""
    headers: Headers = [(TRACEPARENT, trace.traceparent().encode())]
    if trace.state is not None:
        headers.append((TRACESTATE, trace.state.encode()))
    return headers


def header_map(headers: RawHeaders) -> dict[str, str]:
    """Headers as text, last value winning; undecodable bytes are replaced rather than raising."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
    return {name: value if isinstance(value, str) else (value or b"").decode("utf-8", "replace")
            for name, value in pairs}

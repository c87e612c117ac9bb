"""CloudEvents 1.0 Kafka protocol binding, binary content mode: the attributes travel as `ce_*` headers and the
record value is the JSON event itself (https://github.com/cloudevents/spec, kafka-protocol-binding.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

SPEC_VERSION = "1.0"
TYPE_PREFIX = "io.fulfillsync."
CONTENT_TYPE = "application/json"

Headers = list[tuple[str, bytes]]
RawHeaders = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None
"""Headers as Kafka clients hand them over: a list of pairs (confluent-kafka, aiokafka) or a mapping (Faust)."""


def ce_type(event_type: str) -> str:
    """The CloudEvents `type` of one of our record types, e.g. `order.shipped` -> `io.fulfillsync.order.shipped`."""
    return TYPE_PREFIX + event_type


def binary_headers(*, event_id: str, event_type: str, source: str, time: datetime, subject: str | None) -> Headers:
    """The headers of one record. `subject` is the order id when there is one."""
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", event_id.encode()),
        ("ce_type", ce_type(event_type).encode()),
        ("ce_source", source.encode()),
        ("ce_time", time.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if subject is not None:
        headers.append(("ce_subject", subject.encode()))
    return headers


def header_map(headers: RawHeaders) -> dict[str, str]:
    """Headers as text, last value winning; undecodable bytes are replaced rather than raising."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
    return {name: value if isinstance(value, str) else (value or b"").decode("utf-8", "replace")
            for name, value in pairs}

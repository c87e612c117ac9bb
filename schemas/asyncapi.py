"""The AsyncAPI 3.0.0 document of fulfillsync's public topics, `schemas/asyncapi.yaml`, built from the models.

`document()` describes, for the topics of docs/consumers.md and README.md "Contracts":
- each channel (`{prefix}.shipped-orders`, `{prefix}.dead-letters`, `{prefix}.order-events`,
  `{prefix}.fulfillment-events`), its address built by `schemas.topics.TopicNames` with a `prefix` parameter;
- each message: its Kafka key (the order id, a string: Kafka message binding 0.5.0), its CloudEvents 1.0
  binary-mode headers (`schemas.cloudevents`: `ce_type` and `ce_dataschema` fixed per record type; the optional
  `ce_traceparent` / `ce_tracestate` of the Distributed Tracing extension) and its payload, a
  reference to the committed JSON Schema `json/<type>.schema.json` beside the document (written from the same
  models by `schemas.generate`);
- fulfillsync's operations: it sends on shipped-orders and dead-letters and receives on the input topics (which
  other tools may produce to).

The document is generated (`python -m schemas.generate`, `make schemas`); tests/schemas/test_asyncapi.py fails when
the committed file differs from `render(document())`, and validates it against the official AsyncAPI 3.0.0 JSON
Schema vendored in `schemas/vendor/asyncapi/`. Nothing here reads a file or the network, and nothing raises for
the models as they are (a record type missing from `PUBLISHED_MODELS` raises KeyError, a bug the tests catch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel

from schemas.cloudevents import CONTENT_TYPE, SPEC_VERSION, TRACEPARENT, TRACESTATE, ce_type, schema_id
from schemas.events import PUBLISHED_MODELS
from schemas.topics import TopicNames

ASYNCAPI_VERSION: Final = "3.0.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"
PAYLOAD_FORMAT: Final = "application/schema+json;version=draft-2020-12"
"""The format of the payload schemas (pydantic writes JSON Schema draft 2020-12)."""
DEFAULT_PREFIX: Final = TopicNames().prefix
DOCUMENT_FILE: Final = "asyncapi.yaml"
TRACEPARENT_PATTERN: Final = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$"
"""The shape of a `traceparent` of any version (`schemas.trace_context` also refuses version ff and all-zero ids)."""
HEADER_COMMENT: Final = ("# Generated from the models by `python -m schemas.generate` (make schemas); do not edit.\n"
                         "# docs/consumers.md explains how to consume these topics.\n")


@dataclass(frozen=True)
class Channel:
    """One public topic: its id in the document, its name under the prefix, what fulfillsync does with it, and
    the record types it carries (keys of `schemas.events.PUBLISHED_MODELS`)."""

    id: str
    topic: Literal["shipped_orders", "dead_letters", "order_events", "fulfillment_events"]
    action: Literal["send", "receive"]
    types: tuple[str, ...]
    title: str
    description: str
    key: str

    def address(self, prefix: str) -> str:
        """The topic's name under `prefix` (`{prefix}` itself gives the document's channel address)."""
        name: str = getattr(TopicNames(prefix), self.topic)
        return name


ORDER_KEY: Final = ("The order id (`order_id` of the value). Every record of one order has this key, so it is on "
                    "one partition and read in the order it was written.")

CHANNELS: Final = (
    Channel(
        id="shippedOrders", topic="shipped_orders", action="send",
        types=("order.shipped", "order.reopened", "order.tracking_updated"),
        title="Shipped orders",
        description=(
            "Public. What other services consume: an order became Shipped (every unit of every line covered by "
            "active fulfillments), a cancellation reopened it, or the tracking of a shipped order changed. "
            "At-least-once: a record may come again (a restart, a replay), always with the same `event_id`; drop "
            "duplicates by `event_id` (docs/consumers.md)."),
        key=ORDER_KEY,
    ),
    Channel(
        id="deadLetters", topic="dead_letters", action="send", types=("dead_letter",),
        title="Dead letters",
        description=(
            "Every input fulfillsync did not apply, with a machine-readable `reason`, a message for a person and "
            "the original record whole (`fulfillsync dead-letters list|show|requeue`)."),
        key=("The order id when it is known; otherwise the rejected record's own key (for a buyer order refused "
             "before it became an event: its order reference on the platform, or the connection id)."),
    ),
    Channel(
        id="orderEvents", topic="order_events", action="receive", types=("order.placed", "order.buyer_cancelled"),
        title="Order events",
        description=(
            "Input. Buyer orders routed to a seller, and buyer cancellations. Written by fulfillsync's buyer "
            "poller and by tools; read by the ledger. A record whose value does not validate, whose key is not its "
            "`order_id`, or whose type does not belong here is dead-lettered as `invalid_payload`."),
        key=ORDER_KEY,
    ),
    Channel(
        id="fulfillmentEvents", topic="fulfillment_events", action="receive",
        types=("fulfillment.recorded", "fulfillment.cancelled"),
        title="Fulfillment events",
        description=(
            "Input. Fulfillments as the seller's platform (or the web app) reports them, and their cancellations. "
            "Written by fulfillsync's seller checks, the web app and tools; read by the ledger. Invalid records "
            "are dead-lettered as `invalid_payload`."),
        key=ORDER_KEY,
    ),
)
"""Every public topic. A type on a `receive` channel is an input (others write it, fulfillsync reads it); on a
`send` channel an output (fulfillsync writes it, others read it): `schemas.compatibility` checks each direction."""


def direction(record_type: str) -> Literal["input", "output"]:
    """Whether fulfillsync reads (`input`) or writes (`output`) `record_type`. Raises KeyError for a type that no
    public channel carries."""
    for channel in CHANNELS:
        if record_type in channel.types:
            return "input" if channel.action == "receive" else "output"
    raise KeyError(record_type)


def _summary(model: type[BaseModel]) -> str:
    """The first paragraph of the model's docstring, on one line."""
    text = (model.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(text.split())


def _schema_version(model: type[BaseModel]) -> int:
    default = model.model_fields["schema_version"].default
    assert isinstance(default, int)
    return default


def _headers(record_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": ("CloudEvents 1.0, Kafka protocol binding, binary content mode: the attributes are headers "
                        "(UTF-8 text), the value is the event itself."),
        "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type",
                     "ce_dataschema"],
        "properties": {
            "ce_specversion": {"type": "string", "const": SPEC_VERSION},
            "ce_id": {"type": "string", "minLength": 1,
                      "description": "The `event_id` of the value: the same event always has the same id."},
            "ce_type": {"type": "string", "const": ce_type(record_type)},
            "ce_source": {"type": "string", "format": "uri-reference", "minLength": 1,
                          "description": ("What published it, e.g. `/fulfillsync/ledger` or "
                                          "`/fulfillsync/connections/<connection id>`.")},
            "ce_time": {"type": "string", "format": "date-time",
                        "description": "When the event happened (RFC 3339)."},
            "content-type": {"type": "string", "const": CONTENT_TYPE},
            "ce_dataschema": {"type": "string", "format": "uri", "const": schema_id(record_type),
                              "description": "The `$id` of the value's JSON Schema (`payload`)."},
            "ce_subject": {"type": "string",
                           "description": "The record's key (the order id); fulfillsync always sets it."},
            TRACEPARENT: {
                "type": "string", "pattern": TRACEPARENT_PATTERN,
                "description": (
                    "CloudEvents Distributed Tracing extension: the W3C Trace Context `traceparent` of the span that "
                    "published the record (`00-<trace id>-<span id>-<flags>`). Optional on an input (an absent or "
                    "invalid one starts a new trace, it is never a reason to dead-letter); fulfillsync sets it on "
                    "every record it writes, continuing the trace of the input the record comes from "
                    "(docs/consumers.md, \"Tracing\").")},
            TRACESTATE: {
                "type": "string",
                "description": ("The W3C Trace Context `tracestate` of that trace, when it has one: passed on as "
                                "received (an invalid one is dropped).")},
        },
    }


def _message(record_type: str, channel: Channel) -> dict[str, Any]:
    model = PUBLISHED_MODELS[record_type]
    return {
        "name": record_type,
        "title": record_type,
        "summary": _summary(model),
        "contentType": CONTENT_TYPE,
        "headers": _headers(record_type),
        "payload": {"schemaFormat": PAYLOAD_FORMAT, "schema": {"$ref": f"./json/{record_type}.schema.json"}},
        "bindings": {"kafka": {"key": {"type": "string", "description": channel.key},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
        "x-schema-version": _schema_version(model),
    }


def document() -> dict[str, Any]:
    """The AsyncAPI document as plain data (the order of keys is the order written)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for channel in CHANNELS:
        channels[channel.id] = {
            "address": channel.address("{prefix}"),
            "title": channel.title,
            "description": channel.description,
            "parameters": {"prefix": {"$ref": "#/components/parameters/prefix"}},
            "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in channel.types},
        }
        verb = "publishes" if channel.action == "send" else "consumes"
        operations[f"{channel.action}{channel.id[0].upper()}{channel.id[1:]}"] = {
            "action": channel.action,
            "channel": {"$ref": f"#/channels/{channel.id}"},
            "summary": f"fulfillsync {verb} {', '.join(channel.types)}.",
            "messages": [{"$ref": f"#/channels/{channel.id}/messages/{t}"} for t in channel.types],
        }
        for record_type in channel.types:
            messages[record_type] = _message(record_type, channel)
    versions = sorted({_schema_version(PUBLISHED_MODELS[t]) for channel in CHANNELS for t in channel.types})
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:fulfillsync",
        "info": {
            "title": "fulfillsync topics",
            "version": ".".join(str(version) for version in versions),
            "description": (
                "The Kafka topics other services and tools use: shipped-orders (public), dead-letters, and the input "
                "topics order-events and fulfillment-events. Every record is JSON keyed by order id with CloudEvents "
                "1.0 binary-mode headers; each record type's JSON Schema is in `schemas/json/` (its `$id` is the "
                "record's `ce_dataschema`) and carries `schema_version` (`x-schema-version` here). How to consume "
                "shipped-orders, and the compatibility policy: docs/consumers.md."),
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": ("The brokers of the configuration's `kafka.bootstrap_servers`, with its security "
                                "settings (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; docs/deploy.md)."),
                "variables": {"bootstrap": {"default": "127.0.0.1:9092",
                                            "description": "One bootstrap server, host:port."}},
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "parameters": {
                "prefix": {"default": DEFAULT_PREFIX,
                           "description": "The configuration's `kafka.topic_prefix`."},
            },
            "messages": messages,
        },
    }


def render(doc: dict[str, Any]) -> str:
    """`doc` as the YAML text of `schemas/asyncapi.yaml` (deterministic: the same document gives the same text)."""
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)
    return HEADER_COMMENT + body

"""The records fulfillsync consumes and produces (README.md "Contracts"; docs/architecture.md: their topics).

Inputs (`order.placed` and `order.buyer_cancelled` on order-events; `fulfillment.recorded` /
`fulfillment.cancelled` on fulfillment-events)
forbid unknown fields, so a misspelt field is reported instead of silently ignored. Published records
(shipped-orders, dead-letters) declare no `additionalProperties: false`, so consumers that validate against the
committed JSON Schema keep working when a later schema version adds a field.

Every record carries a deterministic `event_id` (see `schemas.ids`) and `schema_version`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, TypeAdapter

from schemas.platform_names import Platform as Platform  # re-exported: events name the platform they come from

SCHEMA_VERSION: Literal[1] = 1
DEAD_LETTER_SCHEMA_VERSION: Literal[2] = 2

NonEmptyStr = Annotated[str, Field(min_length=1, max_length=512)]

TRACKING_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\x00-\x1f\x7f/?#]+[^\s\x00-\x1f\x7f]*$"
"""What a tracking URL must look like in an input event: an absolute http or https URL with a host and no
whitespace or control characters. Any other scheme (`javascript:`, `data:`, `file:`...) would be copied as a link
onto buyers' storefronts and into `order.shipped`, so it is refused (`is_tracking_url` checks the same)."""

TrackingNumber = Annotated[str, Field(min_length=1, max_length=512, pattern=r"\S")]
"""A tracking number in an input event: at least one character that is not whitespace (a blank number is
refused). Producers strip numbers; `ledger.fulfillment_sync` also refuses numbers longer than
`ledger.fulfillment_sync.MAX_TRACKING_NUMBER` (what every platform can store)."""

TrackingUrl = Annotated[str, Field(pattern=TRACKING_URL_PATTERN)]

_TRACKING_URL = re.compile(TRACKING_URL_PATTERN)


def is_tracking_url(url: str) -> bool:
    """Whether `url` is acceptable as a tracking URL of an input event (`TRACKING_URL_PATTERN`)."""
    return _TRACKING_URL.fullmatch(url) is not None


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Published(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# -- parts ---------------------------------------------------------------------------------------------------


class PartyRef(_Input):
    """One side of an order: which partner, through which connection and platform, and its order reference."""

    partner: NonEmptyStr
    connection: NonEmptyStr
    platform: Platform
    order_ref: NonEmptyStr | None = Field(
        default=None, description="The order's reference on that party's platform; null until it exists there."
    )


class SourceRef(_Input):
    """Where an event was observed: the connection (and its partner and platform) that reported it."""

    partner: NonEmptyStr
    connection: NonEmptyStr
    platform: Platform


class OrderLine(_Input):
    """A line of the stored order. `line_id` is ours and stable; `quantity` is the ordered quantity."""

    line_id: NonEmptyStr
    sku: NonEmptyStr
    quantity: StrictInt
    title: str | None = None


class FulfilledLine(_Input):
    """Units of one order line covered by a fulfillment. The ledger rejects non-positive quantities."""

    line_id: NonEmptyStr
    sku: str | None = None
    quantity: StrictInt


class ShippingAddress(_Input):
    """Where the seller ships the order, as the buyer's customer entered it."""

    name: str
    company: str | None = None
    lines: list[str] = Field(default_factory=list)
    city: str = ""
    region: str | None = Field(default=None, description="State or province code where the platform has one.")
    postal_code: str = ""
    country_code: str = Field(default="", description="ISO 3166-1 alpha-2.")
    phone: str | None = None


class ShippingDetails(_Input):
    """What a seller needs to ship a stored order, copied from the buyer's order when it was first routed."""

    address: ShippingAddress | None = None
    email: str | None = None
    phone: str | None = None
    method: str | None = Field(default=None, description="The shipping method the customer chose, by name.")
    buyer_order_number: str | None = Field(
        default=None, description="What people call the buyer's order (`#1001`), shown on the seller's order.")


# -- inputs --------------------------------------------------------------------------------------------------


class OrderPlaced(_Input):
    """A buyer order routed to one seller: the stored order that the ledger tracks until it is Shipped."""

    event_id: NonEmptyStr
    type: Literal["order.placed"] = "order.placed"
    schema_version: Literal[1] = SCHEMA_VERSION
    order_id: NonEmptyStr
    occurred_at: AwareDatetime
    buyer: PartyRef
    seller: PartyRef
    lines: list[OrderLine] = Field(min_length=1)
    shipping: ShippingDetails | None = Field(
        default=None, description="Shipping details for the seller; null when the buyer order had none. Not part "
        "of the event id: it is copied from the buyer order the event's lines come from.")


class FulfillmentRecorded(_Input):
    """A fulfillment as the seller's platform (or the web app) reports it now.

    `source_version` is the platform's last-updated time of the fulfillment: a newer version replaces the
    tracking of an older one; an older one is ignored. `tracking_urls[i]` belongs to `tracking_numbers[i]`.
    """

    event_id: NonEmptyStr
    type: Literal["fulfillment.recorded"] = "fulfillment.recorded"
    schema_version: Literal[1] = SCHEMA_VERSION
    order_id: NonEmptyStr
    occurred_at: AwareDatetime
    source: SourceRef
    fulfillment_id: NonEmptyStr
    source_version: AwareDatetime
    carrier: str | None = None
    tracking_numbers: list[TrackingNumber] = Field(
        default_factory=list, description="Not blank. Positions pair with `tracking_urls`.")
    tracking_urls: list[TrackingUrl | None] = Field(
        default_factory=list, description="Absolute http(s) URLs only; null where a number has none.")
    lines: list[FulfilledLine] = Field(min_length=1)


class FulfillmentCancelled(_Input):
    """The seller cancelled a fulfillment. A cancelled fulfillment stops counting and never counts again."""

    event_id: NonEmptyStr
    type: Literal["fulfillment.cancelled"] = "fulfillment.cancelled"
    schema_version: Literal[1] = SCHEMA_VERSION
    order_id: NonEmptyStr
    occurred_at: AwareDatetime
    source: SourceRef
    fulfillment_id: NonEmptyStr
    source_version: AwareDatetime


class CancelledLine(_Input):
    """A line of the stored order with units the buyer cancelled since placement: totals, not the change since the
    last look. `cancelled_quantity + remaining_quantity` is the line's placed quantity."""

    line_id: NonEmptyStr
    sku: NonEmptyStr
    cancelled_quantity: StrictInt = Field(description="Units cancelled since placement, in all (at least 1).")
    remaining_quantity: StrictInt = Field(description="Units of the line still to ship.")


class OrderBuyerCancelled(_Input):
    """The buyer cancelled units of a stored order, or all of it, after it was placed (observed by the buyer order
    poller). Totals since placement: the ledger keeps, per line, the most units any such event cancelled, so a
    late or replayed older event changes nothing. `source` is the buyer connection that reported it."""

    event_id: NonEmptyStr
    type: Literal["order.buyer_cancelled"] = "order.buyer_cancelled"
    schema_version: Literal[1] = SCHEMA_VERSION
    order_id: NonEmptyStr
    occurred_at: AwareDatetime
    source: SourceRef
    whole_order: bool = Field(description="Nothing of the order is left to ship; `lines` then lists every line.")
    lines: list[CancelledLine] = Field(min_length=1)


FulfillmentEvent = Annotated[FulfillmentRecorded | FulfillmentCancelled, Field(discriminator="type")]
InputEvent = OrderPlaced | OrderBuyerCancelled | FulfillmentRecorded | FulfillmentCancelled
"""Every input event type (order-events and fulfillment-events carry these)."""
INPUT_EVENT_ADAPTER: TypeAdapter[InputEvent] = TypeAdapter(Annotated[InputEvent, Field(discriminator="type")])
"""Decodes any input event by its `type`."""


# -- published on shipped-orders -----------------------------------------------------------------------------


class PublishedParty(_Published):
    partner: str
    connection: str
    platform: Platform
    order_ref: str | None = None


class PublishedLine(_Published):
    """A line of the stored order: `quantity` as placed, of which the buyer later cancelled `cancelled_quantity`
    (those units are not to ship and do not count towards Shipped)."""

    line_id: str
    sku: str
    quantity: int
    cancelled_quantity: int = 0


class PublishedFulfilledLine(_Published):
    line_id: str
    sku: str
    quantity: int


class PublishedFulfillment(_Published):
    """An active fulfillment with its canonical carrier; `tracking_urls[i]` belongs to `tracking_numbers[i]`."""

    fulfillment_id: str
    carrier: str | None
    tracking_numbers: list[str]
    tracking_urls: list[str | None]
    lines: list[PublishedFulfilledLine]


class _OrderOutcome(_Published):
    event_id: str
    schema_version: Literal[1] = SCHEMA_VERSION
    order_id: str
    buyer: PublishedParty
    seller: PublishedParty


class OrderShipped(_OrderOutcome):
    """Active fulfillments now cover every unit of every line. Published once per covering."""

    type: Literal["order.shipped"] = "order.shipped"
    shipped_at: AwareDatetime
    lines: list[PublishedLine]
    fulfillments: list[PublishedFulfillment]


class OrderReopened(_OrderOutcome):
    """A cancellation uncovered a shipped order; it is unshipped until covered again."""

    type: Literal["order.reopened"] = "order.reopened"
    reopened_at: AwareDatetime
    cause: Literal["fulfillment_cancelled", "fulfillment_changed"]
    cause_fulfillment_id: str
    reopens_event_id: str = Field(description="The event_id of the order.shipped that this reopening undoes.")
    lines: list[PublishedLine]
    fulfillments: list[PublishedFulfillment]


class OrderTrackingUpdated(_OrderOutcome):
    """The carrier or tracking of a fulfillment of a shipped order changed."""

    type: Literal["order.tracking_updated"] = "order.tracking_updated"
    updated_at: AwareDatetime
    fulfillment: PublishedFulfillment


ShippedOrdersRecord = Annotated[OrderShipped | OrderReopened | OrderTrackingUpdated, Field(discriminator="type")]
SHIPPED_ORDERS_ADAPTER: TypeAdapter[OrderShipped | OrderReopened | OrderTrackingUpdated] = TypeAdapter(
    ShippedOrdersRecord
)


# -- dead-letters --------------------------------------------------------------------------------------------

DeadLetterReason = Literal[
    "invalid_payload",
    "invalid_quantity",
    "invalid_order",
    "order_conflict",
    "over_fulfillment",
    "unknown_line",
    "multi_tracking_single_unit",
    "unknown_order",
    "tenant_mismatch",
    "platform_rejected",
    "unknown_sku",
    "ambiguous_sku",
    "internal_error",
]


class OriginalRecord(_Published):
    """The rejected Kafka record as it was read. `value` is its text when it is UTF-8, else `value_base64`."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: str | None
    value_base64: str | None = None
    headers: list[tuple[str, str]]


class DeadLetter(_Published):
    """An input that was not applied, with a machine-readable reason and a message for a person."""

    event_id: str
    type: Literal["dead_letter"] = "dead_letter"
    schema_version: Literal[1, 2] = Field(
        default=DEAD_LETTER_SCHEMA_VERSION,
        description="2 since the reasons `unknown_sku` and `ambiguous_sku` (docs/consumers.md, \"Compatibility\"); "
                    "fulfillsync writes 2 and still reads the letters of 1 it wrote before.")
    order_id: str | None
    reason: DeadLetterReason
    message: str
    stage: str = Field(description="Which part of fulfillsync rejected the record, e.g. `ledger`.")
    dead_lettered_at: AwareDatetime
    original: OriginalRecord


PUBLISHED_MODELS: dict[str, type[BaseModel]] = {
    "order.placed": OrderPlaced,
    "order.buyer_cancelled": OrderBuyerCancelled,
    "fulfillment.recorded": FulfillmentRecorded,
    "fulfillment.cancelled": FulfillmentCancelled,
    "order.shipped": OrderShipped,
    "order.reopened": OrderReopened,
    "order.tracking_updated": OrderTrackingUpdated,
    "dead_letter": DeadLetter,
}
"""Every record type, by its `type`; each has a committed JSON Schema in `schemas/json/`."""

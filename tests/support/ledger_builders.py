"""Builders for the ledger tests: input events with sensible defaults, and a small driver feeding them to `apply`.

Test modules import these directly (`from conftest import ...`); they are plain functions rather than fixtures so
that hypothesis strategies can use them too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel

from ledger import OrderState, Output, Rejection, Result, apply, new_state
from schemas.events import (
    CancelledLine,
    FulfilledLine,
    FulfillmentCancelled,
    FulfillmentRecorded,
    OrderBuyerCancelled,
    OrderLine,
    OrderPlaced,
    PartyRef,
    SourceRef,
)
from schemas.factories import order_buyer_cancelled

InputEvent = OrderPlaced | OrderBuyerCancelled | FulfillmentRecorded | FulfillmentCancelled
OutputT = TypeVar("OutputT", bound=BaseModel)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ORDER_ID = "order-1"
BUYER = PartyRef(partner="buyer-1", connection="buyer-shop", platform="shopify", order_ref="#1001")
SELLER = PartyRef(partner="seller-1", connection="seller-shop", platform="bigcommerce", order_ref="5001")
SELLER_SOURCE = SourceRef(partner=SELLER.partner, connection=SELLER.connection, platform=SELLER.platform)
OTHER_SOURCE = SourceRef(partner="seller-2", connection="other-shop", platform="woocommerce")
BUYER_SOURCE = SourceRef(partner=BUYER.partner, connection=BUYER.connection, platform=BUYER.platform)


def at(minutes: int) -> datetime:
    """A fixed instant, `minutes` after T0 (source versions and occurrence times)."""
    return T0 + timedelta(minutes=minutes)


def sku(line_id: str) -> str:
    """The SKU the builders give to order line `line_id`."""
    return f"SKU-{line_id}"


def position(offset: int) -> str:
    """A Kafka position (`topic:partition:offset`)."""
    return f"fulfillment-events:0:{offset}"


def _content_id(kind: str, *parts: object) -> str:
    """A default event id derived from the event's content: equal content, equal id (a redelivery)."""
    return f"{kind}-{hashlib.sha256(repr(parts).encode()).hexdigest()[:12]}"


def order_placed(
    lines: Mapping[str, int] | Sequence[tuple[str, int]] | None = None,
    *,
    event_id: str = "placed-1",
    order_id: str = ORDER_ID,
    buyer: PartyRef = BUYER,
    seller: PartyRef = SELLER,
) -> OrderPlaced:
    """An order.placed with `lines` as line id -> ordered quantity (SKU from `sku`); one unit of L1 by default."""
    items = [("L1", 1)] if lines is None else list(lines.items()) if isinstance(lines, Mapping) else list(lines)
    return OrderPlaced(
        event_id=event_id, order_id=order_id, occurred_at=T0, buyer=buyer, seller=seller,
        lines=[OrderLine(line_id=line_id, sku=sku(line_id), quantity=quantity) for line_id, quantity in items],
    )


def recorded(
    lines: Mapping[str, int] | Sequence[FulfilledLine] | None = None,
    *,
    fulfillment_id: str = "F1",
    version: int = 0,
    carrier: str | None = None,
    tracking_numbers: Sequence[str] = (),
    tracking_urls: Sequence[str | None] = (),
    event_id: str | None = None,
    source: SourceRef = SELLER_SOURCE,
    order_id: str = ORDER_ID,
) -> FulfillmentRecorded:
    """A fulfillment.recorded of `lines` (line id -> units, or explicit lines); one unit of L1 by default.

    `version` is the source version in minutes after T0. Without `event_id`, the id is derived from the content,
    so building the same fulfillment twice gives a redelivery of one event.
    """
    fulfilled = (
        [FulfilledLine(line_id="L1", quantity=1)] if lines is None
        else [FulfilledLine(line_id=line_id, quantity=quantity) for line_id, quantity in lines.items()]
        if isinstance(lines, Mapping) else list(lines)
    )
    if event_id is None:
        event_id = _content_id("recorded", order_id, fulfillment_id, version, carrier, tuple(tracking_numbers),
                               tuple(tracking_urls), tuple(line.model_dump_json() for line in fulfilled), source)
    return FulfillmentRecorded(
        event_id=event_id, order_id=order_id, occurred_at=at(version), source=source,
        fulfillment_id=fulfillment_id, source_version=at(version), carrier=carrier,
        tracking_numbers=list(tracking_numbers), tracking_urls=list(tracking_urls), lines=fulfilled,
    )


def cancelled(
    fulfillment_id: str = "F1",
    *,
    version: int = 0,
    event_id: str | None = None,
    source: SourceRef = SELLER_SOURCE,
    order_id: str = ORDER_ID,
) -> FulfillmentCancelled:
    """A fulfillment.cancelled of `fulfillment_id` (source version `version` minutes after T0)."""
    if event_id is None:
        event_id = _content_id("cancelled", order_id, fulfillment_id, version, source)
    return FulfillmentCancelled(
        event_id=event_id, order_id=order_id, occurred_at=at(version), source=source,
        fulfillment_id=fulfillment_id, source_version=at(version),
    )


def buyer_cancelled(
    order: OrderPlaced,
    cancelled: Mapping[str, int] | None = None,
    *,
    whole_order: bool = False,
    minutes: int = 0,
    event_id: str | None = None,
    source: SourceRef = BUYER_SOURCE,
) -> OrderBuyerCancelled:
    """An order.buyer_cancelled of `order` with `cancelled` as line id -> units cancelled since placement (the
    remaining units follow from the order); `whole_order` cancels every unit of every line. The event id is the
    factory's (from the totals) unless given."""
    ordered = {line.line_id: line.quantity for line in order.lines}
    units = dict(ordered) if whole_order else dict(cancelled or {})
    event = order_buyer_cancelled(
        order_id=order.order_id, source=source, whole_order=whole_order, occurred_at=at(minutes),
        lines=[CancelledLine(line_id=line_id, sku=sku(line_id), cancelled_quantity=count,
                             remaining_quantity=ordered.get(line_id, count) - count)
               for line_id, count in units.items()])
    return event if event_id is None else event.model_copy(update={"event_id": event_id})


@dataclass
class Ledger:
    """One order's ledger state, fed inputs one at a time; each delivery gets a new position unless given one."""

    state: OrderState = field(default_factory=lambda: new_state(ORDER_ID))
    offset: int = 0

    def next_position(self) -> str:
        self.offset += 1
        return position(self.offset)

    def feed(self, event: InputEvent, at_position: str | None = None) -> Result:
        result = apply(self.state, event, at_position or self.next_position())
        self.state = result.state
        return result

    def feed_all(self, events: Iterable[InputEvent]) -> list[Result]:
        return [self.feed(event) for event in events]


def outputs_of(outputs: Iterable[Output], kind: type[OutputT]) -> list[OutputT]:
    """The outputs of type `kind`, in order."""
    return [output for output in outputs if isinstance(output, kind)]


def all_outputs(results: Iterable[Result]) -> list[Output]:
    return [output for result in results for output in result.outputs]


def rejection(result: Result) -> Rejection:
    """The single rejection of a rejected result (fails the test if the result is anything else)."""
    assert result.status == "rejected", (result.status, result.detail)
    assert len(result.outputs) == 1, result.outputs
    output = result.outputs[0]
    assert isinstance(output, Rejection)
    return output


def without_seen(state: OrderState) -> dict[str, object]:
    """The state minus its memory of processed inputs: what a rejected input must leave unchanged."""
    return state.model_dump(exclude={"recent", "rejected"})


def placed_ledger(lines: Mapping[str, int] | None = None) -> Ledger:
    """A ledger whose order (`order_placed(lines)`) has been placed."""
    ledger = Ledger()
    result = ledger.feed(order_placed(lines))
    assert result.status == "applied", result.detail
    return ledger

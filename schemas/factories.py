"""Building input events with their deterministic ids, for everything that produces them (pollers, the web app,
the demo, tools, tests). The same observation always yields the same `event_id`, so a re-poll is a duplicate."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

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
from schemas.ids import event_id, order_id


def _digest(content: object) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def order_placed(
    *, buyer: PartyRef, seller: PartyRef, lines: Sequence[OrderLine], occurred_at: datetime
) -> OrderPlaced:
    """`order.placed` for the lines of buyer order `buyer.order_ref` routed to `seller`."""
    if buyer.order_ref is None:
        raise ValueError("the buyer's order reference is required to identify the order")
    the_order_id = order_id(buyer.connection, buyer.order_ref, seller.connection)
    content = [buyer.model_dump(), seller.model_dump(), [line.model_dump() for line in lines]]
    return OrderPlaced(
        event_id=event_id("order.placed", the_order_id, _digest(content)),
        order_id=the_order_id, occurred_at=occurred_at, buyer=buyer, seller=seller, lines=list(lines),
    )


def fulfillment_recorded(
    *, order_id: str, source: SourceRef, fulfillment_id: str, source_version: datetime,
    lines: Sequence[FulfilledLine], carrier: str | None = None, tracking_numbers: Sequence[str] = (),
    tracking_urls: Sequence[str | None] = (), occurred_at: datetime | None = None,
) -> FulfillmentRecorded:
    """`fulfillment.recorded` for one version of a fulfillment; `occurred_at` defaults to `source_version`."""
    content = [carrier, list(tracking_numbers), list(tracking_urls), [line.model_dump() for line in lines]]
    return FulfillmentRecorded(
        event_id=event_id("fulfillment.recorded", order_id, fulfillment_id, source_version.isoformat(),
                          _digest(content)),
        order_id=order_id, occurred_at=occurred_at or source_version, source=source,
        fulfillment_id=fulfillment_id, source_version=source_version, carrier=carrier,
        tracking_numbers=list(tracking_numbers), tracking_urls=list(tracking_urls), lines=list(lines),
    )


def fulfillment_cancelled(*, order_id: str, source: SourceRef, fulfillment_id: str, source_version: datetime,
                          occurred_at: datetime | None = None) -> FulfillmentCancelled:
    """`fulfillment.cancelled`; a fulfillment is cancelled once, so its id names the event."""
    return FulfillmentCancelled(
        event_id=event_id("fulfillment.cancelled", order_id, fulfillment_id),
        order_id=order_id, occurred_at=occurred_at or source_version, source=source,
        fulfillment_id=fulfillment_id, source_version=source_version,
    )


def order_buyer_cancelled(*, order_id: str, source: SourceRef, whole_order: bool, lines: Sequence[CancelledLine],
                          occurred_at: datetime) -> OrderBuyerCancelled:
    """`order.buyer_cancelled` with totals since placement; the same totals always give the same event id (a
    re-poll of an unchanged buyer order is a duplicate), whatever the order of `lines` or the observation time."""
    content = [whole_order, sorted((line.model_dump() for line in lines), key=lambda line: line["line_id"])]
    return OrderBuyerCancelled(
        event_id=event_id("order.buyer_cancelled", order_id, _digest(content)),
        order_id=order_id, occurred_at=occurred_at, source=source, whole_order=whole_order, lines=list(lines),
    )

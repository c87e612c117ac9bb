"""The ledger's outputs (`order.shipped`, `order.reopened`, `order.tracking_updated`) as rendered from an order's
state, and the small marks the state keeps of them (`ledger.state.Mark`) so that they can be published again.

Output ids are deterministic (`schemas.ids.event_id` of what caused them); their content is the order's: its
parties, its lines with the units the buyer cancelled, and its active fulfillments. Rendering an output again from
a mark gives the same id, with the content of the state it is rendered from. Pure; never raises for a state that
has its order (every output is of a known order).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ledger.state import (
    FulfillmentRecord,
    Mark,
    OrderState,
    Output,
    PublishedMark,
    Rejection,
    ReopenedMark,
    ShippedMark,
    TrackingMark,
)
from schemas.events import (
    OrderReopened,
    OrderShipped,
    OrderTrackingUpdated,
    PartyRef,
    PublishedFulfilledLine,
    PublishedFulfillment,
    PublishedLine,
    PublishedParty,
)
from schemas.ids import event_id

Published = OrderShipped | OrderReopened | OrderTrackingUpdated


def shipped(state: OrderState, at: datetime, shipped_event_id: str | None = None) -> OrderShipped:
    """The `order.shipped` of the order's active fulfillments, at `at`; its id is derived from the covering
    fulfillments' versions unless given."""
    assert state.order is not None
    active = _active(state)
    if shipped_event_id is None:
        covering = [f"{r.fulfillment_id}@{r.source_version.isoformat()}#{r.digest}" for r in active]
        shipped_event_id = event_id("order.shipped", state.order_id, *covering)
    return OrderShipped(
        event_id=shipped_event_id, order_id=state.order_id, buyer=_party(state.order.buyer),
        seller=_party(state.order.seller), shipped_at=at, lines=_lines(state),
        fulfillments=[_published(r) for r in active],
    )


def reopened(state: OrderState, at: datetime, shipped_event_id: str, cause_fulfillment_id: str,
             cause: Literal["fulfillment_cancelled", "fulfillment_changed"]) -> OrderReopened:
    """The `order.reopened` that undoes the `order.shipped` `shipped_event_id`."""
    assert state.order is not None
    return OrderReopened(
        event_id=event_id("order.reopened", shipped_event_id),
        order_id=state.order_id, buyer=_party(state.order.buyer), seller=_party(state.order.seller),
        reopened_at=at, cause=cause, cause_fulfillment_id=cause_fulfillment_id, reopens_event_id=shipped_event_id,
        lines=_lines(state), fulfillments=[_published(r) for r in _active(state)],
    )


def tracking_updated(state: OrderState, record: FulfillmentRecord, at: datetime,
                     updated_event_id: str | None = None) -> OrderTrackingUpdated:
    """The `order.tracking_updated` of `record` (a fulfillment of the order); its id is derived from the record's
    version unless given."""
    assert state.order is not None
    if updated_event_id is None:
        updated_event_id = event_id("order.tracking_updated", state.order_id, record.fulfillment_id,
                                    record.source_version.isoformat(), record.digest)
    return OrderTrackingUpdated(
        event_id=updated_event_id, order_id=state.order_id, buyer=_party(state.order.buyer),
        seller=_party(state.order.seller), updated_at=at, fulfillment=_published(record),
    )


def mark_of(output: Output) -> Mark:
    """What the state keeps of `output`."""
    if isinstance(output, Rejection):
        return output
    if isinstance(output, OrderShipped):
        return ShippedMark(event_id=output.event_id, at=output.shipped_at)
    if isinstance(output, OrderReopened):
        return ReopenedMark(event_id=output.event_id, at=output.reopened_at, cause=output.cause,
                            cause_fulfillment_id=output.cause_fulfillment_id,
                            reopens_event_id=output.reopens_event_id)
    return TrackingMark(event_id=output.event_id, at=output.updated_at,
                        fulfillment_id=output.fulfillment.fulfillment_id)


def published_again(state: OrderState, marks: list[Mark]) -> list[Output]:
    """The outputs `marks` stand for, rendered from `state` (see the module docstring)."""
    return [mark if isinstance(mark, Rejection) else render(state, mark) for mark in marks]


def render(state: OrderState, mark: PublishedMark) -> Published:
    """The output `mark` stands for, with its id and time, and the content of `state`."""
    if isinstance(mark, ShippedMark):
        return shipped(state, mark.at, mark.event_id)
    if isinstance(mark, ReopenedMark):
        output = reopened(state, mark.at, mark.reopens_event_id, mark.cause_fulfillment_id, mark.cause)
        return output.model_copy(update={"event_id": mark.event_id})
    return tracking_updated(state, state.fulfillments[mark.fulfillment_id], mark.at, mark.event_id)


def shipped_output(state: OrderState) -> OrderShipped | None:
    """The `order.shipped` that makes the order Shipped now, rendered from the state; None when not Shipped."""
    if state.shipped_event_id is None or state.shipped_at is None or state.order is None:
        return None
    return shipped(state, state.shipped_at, state.shipped_event_id)


def published_history(state: OrderState) -> list[Published]:
    """The outputs the order's state still knows of, oldest first, once each: those of its last inputs with
    outputs, and the `order.shipped` that makes it Shipped now (however old)."""
    if state.order is None:
        return []
    marks: dict[str, PublishedMark] = {}
    for entry in state.recent:
        for mark in entry.outputs:
            if not isinstance(mark, Rejection):
                marks.setdefault(mark.event_id, mark)
    if state.shipped_event_id is not None and state.shipped_at is not None:
        marks.setdefault(state.shipped_event_id, ShippedMark(event_id=state.shipped_event_id, at=state.shipped_at))
    return sorted((render(state, mark) for mark in marks.values()), key=_time)


def _time(output: Published) -> datetime:
    if isinstance(output, OrderShipped):
        return output.shipped_at
    if isinstance(output, OrderReopened):
        return output.reopened_at
    return output.updated_at


def _active(state: OrderState) -> list[FulfillmentRecord]:
    return sorted((r for r in state.fulfillments.values() if r.active), key=lambda r: r.fulfillment_id)


def _party(party: PartyRef) -> PublishedParty:
    return PublishedParty(partner=party.partner, connection=party.connection, platform=party.platform,
                          order_ref=party.order_ref)


def _lines(state: OrderState) -> list[PublishedLine]:
    assert state.order is not None
    return [PublishedLine(line_id=line.line_id, sku=line.sku, quantity=line.quantity,
                          cancelled_quantity=state.buyer_cancelled.get(line.line_id, 0)) for line in state.order.lines]


def _published(record: FulfillmentRecord) -> PublishedFulfillment:
    return PublishedFulfillment(
        fulfillment_id=record.fulfillment_id, carrier=record.carrier,
        tracking_numbers=list(record.tracking_numbers), tracking_urls=list(record.tracking_urls),
        lines=[PublishedFulfilledLine(line_id=x.line_id, sku=x.sku, quantity=x.quantity) for x in record.lines],
    )

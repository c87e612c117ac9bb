"""One record of every public type, built from the models as fulfillsync builds them (`schemas.factories`,
`schemas.events`), for the contract tests (tests/schemas/test_asyncapi.py, tests/examples/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from schemas.events import (
    CancelledLine,
    DeadLetter,
    FulfilledLine,
    OrderLine,
    OrderReopened,
    OrderShipped,
    OrderTrackingUpdated,
    OriginalRecord,
    PartyRef,
    PublishedFulfilledLine,
    PublishedFulfillment,
    PublishedLine,
    PublishedParty,
    SourceRef,
)
from schemas.factories import fulfillment_cancelled, fulfillment_recorded, order_buyer_cancelled, order_placed
from schemas.ids import event_id, order_id

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce", order_ref="1001")
SELLER = PartyRef(partner="acme", connection="acme-shopify", platform="shopify", order_ref="5001")
SELLER_SOURCE = SourceRef(partner="acme", connection="acme-shopify", platform="shopify")
BUYER_SOURCE = SourceRef(partner="shop", connection="shop-bc", platform="bigcommerce")


def shipped(ref: str = "1001") -> OrderShipped:
    """An `order.shipped` of buyer order `ref`, one line, one fulfillment with one tracking number."""
    the_order = order_id(BUYER.connection, ref, SELLER.connection)
    fulfillment = PublishedFulfillment(
        fulfillment_id="F1", carrier="UPS", tracking_numbers=["1Z999AA10123456784"],
        tracking_urls=["https://www.ups.com/track?tracknum=1Z999AA10123456784"],
        lines=[PublishedFulfilledLine(line_id="L1", sku="ACME-1", quantity=2)])
    return OrderShipped(
        event_id=event_id("order.shipped", the_order, "F1@v1"), order_id=the_order,
        buyer=PublishedParty(**BUYER.model_dump() | {"order_ref": ref}), seller=PublishedParty(**SELLER.model_dump()),
        shipped_at=T0, lines=[PublishedLine(line_id="L1", sku="ACME-1", quantity=2)], fulfillments=[fulfillment])


def reopened(of: OrderShipped) -> OrderReopened:
    """The `order.reopened` that a cancellation of `of`'s fulfillment publishes."""
    return OrderReopened(
        event_id=event_id("order.reopened", of.event_id), order_id=of.order_id, buyer=of.buyer, seller=of.seller,
        reopened_at=T0 + timedelta(hours=1), cause="fulfillment_cancelled", cause_fulfillment_id="F1",
        reopens_event_id=of.event_id, lines=of.lines, fulfillments=[])


def tracking_updated(of: OrderShipped) -> OrderTrackingUpdated:
    """A tracking change of `of`'s fulfillment."""
    fulfillment = of.fulfillments[0].model_copy(update={"tracking_numbers": ["1Z999AA10123456785"],
                                                         "tracking_urls": [None]})
    return OrderTrackingUpdated(
        event_id=event_id("order.tracking_updated", of.order_id, "F1", "v2"), order_id=of.order_id,
        buyer=of.buyer, seller=of.seller, updated_at=T0 + timedelta(minutes=5), fulfillment=fulfillment)


def dead_letter() -> DeadLetter:
    """An `invalid_payload` letter of a record that was not JSON."""
    original = OriginalRecord(topic="fulfillsync.fulfillment-events", partition=0, offset=7, key="o-1",
                              value="{not json", headers=[("ce_id", "x")])
    return DeadLetter(event_id=event_id("dead_letter", "p:0:7", "invalid_payload"), order_id="o-1",
                      reason="invalid_payload", message="not a valid input event", stage="ledger",
                      dead_lettered_at=T0, original=original)


def every_type() -> dict[str, BaseModel]:
    """Record type -> one record of it, for every public type."""
    placed = order_placed(buyer=BUYER, seller=SELLER, occurred_at=T0,
                          lines=[OrderLine(line_id="L1", sku="ACME-1", quantity=2)])
    the_shipped = shipped()
    return {
        "order.placed": placed,
        "order.buyer_cancelled": order_buyer_cancelled(
            order_id=placed.order_id, source=BUYER_SOURCE, whole_order=False, occurred_at=T0,
            lines=[CancelledLine(line_id="L1", sku="ACME-1", cancelled_quantity=1, remaining_quantity=1)]),
        "fulfillment.recorded": fulfillment_recorded(
            order_id=placed.order_id, source=SELLER_SOURCE, fulfillment_id="F1", source_version=T0,
            lines=[FulfilledLine(line_id="L1", sku="ACME-1", quantity=2)], carrier="UPS",
            tracking_numbers=["1Z999AA10123456784"]),
        "fulfillment.cancelled": fulfillment_cancelled(order_id=placed.order_id, source=SELLER_SOURCE,
                                                       fulfillment_id="F1", source_version=T0),
        "order.shipped": the_shipped,
        "order.reopened": reopened(the_shipped),
        "order.tracking_updated": tracking_updated(the_shipped),
        "dead_letter": dead_letter(),
    }

"""Deterministic ids and CloudEvents binary-mode headers."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.cloudevents import binary_headers, header_map
from schemas.events import FulfilledLine, OrderLine, PartyRef, SourceRef
from schemas.factories import fulfillment_cancelled, fulfillment_recorded, order_placed
from schemas.ids import event_id, order_id

T = datetime(2026, 5, 1, tzinfo=UTC)
BUYER = PartyRef(partner="b", connection="b-shop", platform="shopify", order_ref="#1")
SELLER = PartyRef(partner="s", connection="s-shop", platform="magento2")
SOURCE = SourceRef(partner="s", connection="s-shop", platform="magento2")


def test_order_id_is_deterministic_and_separates_each_part() -> None:
    assert order_id("b-shop", "#1", "s-shop") == order_id("b-shop", "#1", "s-shop")
    assert order_id("b-shop", "#1", "s-shop") != order_id("b-shop", "#1", "other")
    assert order_id("a", "bc", "d") != order_id("ab", "c", "d")


def test_event_ids_follow_content() -> None:
    first = order_placed(buyer=BUYER, seller=SELLER, lines=[OrderLine(line_id="L1", sku="A", quantity=1)],
                         occurred_at=T)
    again = order_placed(buyer=BUYER, seller=SELLER, lines=[OrderLine(line_id="L1", sku="A", quantity=1)],
                         occurred_at=T)
    changed = order_placed(buyer=BUYER, seller=SELLER, lines=[OrderLine(line_id="L1", sku="A", quantity=2)],
                           occurred_at=T)
    assert first.event_id == again.event_id != changed.event_id
    assert first.order_id == order_id("b-shop", "#1", "s-shop")


def test_fulfillment_event_ids_change_with_version_and_tracking() -> None:
    def recorded(version: datetime, number: str) -> str:
        return fulfillment_recorded(order_id="o", source=SOURCE, fulfillment_id="F", source_version=version,
                                    tracking_numbers=[number], lines=[FulfilledLine(line_id="L1", quantity=1)]).event_id

    assert recorded(T, "1") == recorded(T, "1")
    assert len({recorded(T, "1"), recorded(T, "2"), recorded(T.replace(hour=1), "1")}) == 3
    cancel = fulfillment_cancelled(order_id="o", source=SOURCE, fulfillment_id="F", source_version=T)
    assert cancel.event_id == event_id("fulfillment.cancelled", "o", "F")


def test_binary_headers_carry_the_cloudevents_attributes() -> None:
    headers = header_map(binary_headers(event_id="e-1", event_type="order.shipped", source="/fulfillsync/ledger",
                                        time=T, subject="o-1"))
    assert headers == {"ce_specversion": "1.0", "ce_id": "e-1", "ce_type": "io.fulfillsync.order.shipped",
                       "ce_source": "/fulfillsync/ledger", "ce_time": "2026-05-01T00:00:00+00:00",
                       "content-type": "application/json", "ce_subject": "o-1",
                       "ce_dataschema": "https://fulfillsync.io/schemas/order.shipped.schema.json"}

"""The seller order sink's handling of `order.buyer_cancelled` without Kafka or HTTP: sent once per change of the
totals, kept until the order exists, retried, dead-lettered; see streams/sellers/canceller.py."""

from __future__ import annotations

import json
from datetime import timedelta

from connectors.base import PermanentError, RetryableError
from schemas.events import CancelledLine, OrderBuyerCancelled, OrderPlaced, PartyRef, SourceRef
from schemas.factories import order_buyer_cancelled
from streams.sellers.tables import SellerOrderTables
from tests.support.seller_sink import CREATED, NOW, TOPICS, Harness, harness, placed

BUYER_SOURCE = SourceRef(partner="shop", connection="shop-bc", platform="bigcommerce")


def cancelled(order: OrderPlaced, minutes: int = 5, whole: bool = False, **units: int) -> OrderBuyerCancelled:
    """order.buyer_cancelled of `order` with line id -> units cancelled (`whole`: every unit)."""
    ordered = {line.line_id: line for line in order.lines}
    gone = {line_id: line.quantity for line_id, line in ordered.items()} if whole else units
    return order_buyer_cancelled(
        order_id=order.order_id, source=BUYER_SOURCE, whole_order=whole, occurred_at=NOW + timedelta(minutes=minutes),
        lines=[CancelledLine(line_id=line_id, sku=ordered[line_id].sku, cancelled_quantity=count,
                             remaining_quantity=ordered[line_id].quantity - count) for line_id, count in gone.items()])


def created_order(h: Harness) -> OrderPlaced:
    event = placed()
    h.run_placed(event)
    assert len(h.connector.calls) == 1
    return event


def sent_totals(h: Harness, order: OrderPlaced) -> tuple[str, dict[str, int]] | None:
    entry = SellerOrderTables.over(h.table).created.get(order.order_id)
    assert entry is not None
    totals = entry.cancellation
    return None if totals is None else (totals.outcome, {k: v.cancelled_quantity for k, v in totals.lines.items()})


def test_a_cancellation_of_a_created_order_is_sent_once_with_the_sellers_line_refs() -> None:
    h = harness(CREATED)
    order = created_order(h)
    event = cancelled(order, L1=1)
    h.run_placed(event)
    h.run_placed(event)  # a replay

    [(order_ref, sent)] = h.connector.cancels
    assert order_ref == CREATED.order_ref and not sent.whole_order and sent.our_order_id == order.order_id
    assert [(x.line_ref, x.sku, x.cancelled_quantity, x.remaining_quantity) for x in sent.lines] == [
        ("gid://shopify/LineItem/1", "ACME-MUG", 1, 1)]
    assert sent_totals(h, order) == ("sent", {"L1": 1})
    assert h.sent == [] and h.events.published[1:] == []  # only the creation's confirmation


def test_an_older_total_sends_nothing_and_a_larger_one_sends_the_merged_totals() -> None:
    h = harness(CREATED)
    order = created_order(h)
    h.run_placed(cancelled(order, minutes=5, L1=2))
    h.run_placed(cancelled(order, minutes=1, L1=1))  # older news, read late
    h.run_placed(cancelled(order, minutes=6, L2=1))  # a total that had not seen L1's (merged, not replaced)

    assert [[(x.line_ref[-1], x.cancelled_quantity) for x in c.lines] for _, c in h.connector.cancels] == [
        [("1", 2)], [("1", 2), ("2", 1)]]
    assert sent_totals(h, order) == ("sent", {"L1": 2, "L2": 1})


def test_a_refusal_is_dead_lettered_once_and_not_sent_again_on_replay() -> None:
    h = harness(CREATED)
    order = created_order(h)
    h.connector.cancel_failures = [PermanentError("422 already fulfilled", connection="acme-shopify",
                                                  platform_message="Order is fulfilled", status=422)]
    event = cancelled(order, whole=True)
    h.run_placed(event)
    h.run_placed(event)

    assert len(h.connector.cancels) == 1
    [letter] = h.letters()
    assert letter["reason"] == "platform_rejected" and letter["stage"] == "seller_orders"
    assert "Order is fulfilled" in str(letter["message"])
    assert json.loads(str(letter["original"]["value"]))["type"] == "order.buyer_cancelled"  # type: ignore[index]
    assert sent_totals(h, order) == ("rejected", {"L1": 2, "L2": 1})


def test_a_retryable_failure_is_retried_through_the_retry_topic_in_the_orders_partition() -> None:
    h = harness(CREATED)
    order = created_order(h)
    h.connector.cancel_failures = [RetryableError("503", connection="acme-shopify", status=503)]
    h.run_placed(cancelled(order, L2=1), partition=3)

    [retry] = h.retries()
    assert retry.cancelled is not None and retry.placed is None and retry.attempt == 1
    [(topic, record, partition)] = h.sent
    assert (topic, partition) == (TOPICS.retries, 3)
    h.sent.clear()
    h.run_retry((topic, record, partition))
    assert len(h.connector.cancels) == 2 and h.sent == []
    assert sent_totals(h, order) == ("sent", {"L2": 1})


def test_a_cancellation_before_creation_waits_and_is_sent_right_after_the_order_is_created() -> None:
    h = harness(RetryableError("503", connection="acme-shopify", status=503), CREATED)
    order = placed()
    h.run_placed(order)  # creation fails: a retry is scheduled
    h.run_placed(cancelled(order, L1=1))
    assert h.connector.cancels == []
    h.run_retry(h.sent[0])

    assert len(h.connector.calls) == 2  # created as placed ...
    [(order_ref, sent)] = h.connector.cancels  # ... then its units cancelled
    assert order_ref == CREATED.order_ref and [x.cancelled_quantity for x in sent.lines] == [1]
    assert sent_totals(h, order) == ("sent", {"L1": 1})


def test_an_order_the_buyer_cancelled_in_full_before_creation_is_not_created() -> None:
    h = harness(RetryableError("503", connection="acme-shopify", status=503), CREATED)
    order = placed()
    h.run_placed(order)
    h.run_placed(cancelled(order, whole=True))
    h.run_retry(h.sent[0])

    assert len(h.connector.calls) == 1 and h.connector.cancels == []
    assert SellerOrderTables.over(h.table).created.get(order.order_id) is None
    pending = SellerOrderTables.over(h.table).pending.get(order.order_id)
    assert pending is not None and pending.totals.whole_order


def test_a_manual_sellers_order_is_never_cancelled_anywhere() -> None:
    h = harness()
    order = placed(PartyRef(partner="hand", connection="hand", platform="manual"))
    h.run_placed(order)
    h.run_placed(cancelled(order, L1=1))
    assert h.connector.calls == [] and h.connector.cancels == [] and h.sent == []

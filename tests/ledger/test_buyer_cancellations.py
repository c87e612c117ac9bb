"""order.buyer_cancelled: cancelled units stop counting towards Shipped; totals, tenants, held inputs, rejections."""

from __future__ import annotations

import pytest

from ledger import MAX_HELD_INPUTS, Rejection
from schemas.events import OrderReopened, OrderShipped, SourceRef
from tests.support.ledger_builders import (
    OTHER_SOURCE,
    SELLER_SOURCE,
    Ledger,
    buyer_cancelled,
    cancelled,
    order_placed,
    outputs_of,
    placed_ledger,
    recorded,
    rejection,
    without_seen,
)

ORDER = order_placed({"L1": 2, "L2": 1})


def test_cancelling_the_units_not_yet_fulfilled_ships_the_order() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    ledger.feed(recorded({"L1": 1, "L2": 1}))
    assert not ledger.state.is_shipped
    result = ledger.feed(buyer_cancelled(ORDER, {"L1": 1}, minutes=5))
    assert result.status == "applied"
    [shipped] = outputs_of(result.outputs, OrderShipped)
    assert ledger.state.shipped_event_id == shipped.event_id
    assert [(x.line_id, x.quantity, x.cancelled_quantity) for x in shipped.lines] == [("L1", 2, 1), ("L2", 1, 0)]


def test_the_shipped_event_id_is_the_usual_one_of_the_covering_fulfillments() -> None:
    cancelled_first = placed_ledger({"L1": 2})
    cancelled_first.feed(recorded({"L1": 1}))
    [via_cancellation] = cancelled_first.feed(buyer_cancelled(order_placed({"L1": 2}), {"L1": 1})).outputs
    never_cancelled = placed_ledger({"L1": 1})
    [via_fulfillment] = never_cancelled.feed(recorded({"L1": 1})).outputs
    assert isinstance(via_cancellation, OrderShipped) and isinstance(via_fulfillment, OrderShipped)
    assert via_cancellation.event_id == via_fulfillment.event_id


def test_after_a_cancellation_the_remaining_units_ship_the_order() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    assert ledger.feed(buyer_cancelled(ORDER, {"L2": 1})).outputs == []
    [shipped] = ledger.feed(recorded({"L1": 2})).outputs
    assert isinstance(shipped, OrderShipped)
    assert ledger.state.units_to_ship() == {"L1": 2, "L2": 0}


def test_fulfillments_are_still_accepted_up_to_the_ordered_quantity() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    ledger.feed(buyer_cancelled(ORDER, {"L1": 1}))
    # The seller shipped before it saw the cancellation: accepted, and the order ships.
    result = ledger.feed(recorded({"L1": 2, "L2": 1}))
    assert result.status == "applied"
    assert outputs_of(result.outputs, OrderShipped)
    assert rejection(ledger.feed(recorded({"L1": 1}, fulfillment_id="F2"))).reason == "over_fulfillment"


def test_an_older_total_changes_nothing() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    ledger.feed(buyer_cancelled(ORDER, {"L1": 2}))
    before = ledger.state
    result = ledger.feed(buyer_cancelled(ORDER, {"L1": 1}))
    assert (result.status, result.outputs) == ("stale", [])
    assert without_seen(result.state) == without_seen(before)


def test_totals_are_merged_per_line_as_the_maximum() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    ledger.feed(buyer_cancelled(ORDER, {"L1": 1}))
    ledger.feed(buyer_cancelled(ORDER, {"L2": 1}))  # a late event that had not seen the L1 cancellation
    assert ledger.state.buyer_cancelled == {"L1": 1, "L2": 1}


def test_the_same_cancellation_again_is_a_duplicate() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    event = buyer_cancelled(ORDER, {"L1": 1})
    ledger.feed(event)
    assert ledger.feed(event).status == "duplicate"


def test_a_whole_order_cancellation_means_the_order_never_ships() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    result = ledger.feed(buyer_cancelled(ORDER, whole_order=True))
    assert (result.status, result.outputs) == ("applied", [])
    assert ledger.state.nothing_to_ship()
    # The seller had already shipped everything: recorded (its tracking still goes to the buyer), never Shipped.
    result = ledger.feed(recorded({"L1": 2, "L2": 1}))
    assert (result.status, result.outputs) == ("applied", [])
    assert not ledger.state.is_shipped


def test_cancelling_every_unit_line_by_line_is_a_whole_order_cancellation() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    ledger.feed(buyer_cancelled(ORDER, {"L1": 2}))
    ledger.feed(buyer_cancelled(ORDER, {"L2": 1}))
    assert ledger.state.nothing_to_ship()
    assert ledger.feed(recorded({"L1": 2, "L2": 1})).outputs == []


def test_a_shipped_order_stays_shipped_when_the_buyer_cancels_all_of_it() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    [shipped] = ledger.feed(recorded({"L1": 2, "L2": 1})).outputs
    result = ledger.feed(buyer_cancelled(ORDER, whole_order=True, minutes=5))
    assert (result.status, result.outputs) == ("applied", [])
    assert ledger.state.shipped_event_id == shipped.event_id
    # The goods left: a later correction of the fulfillment does not reopen an order the buyer no longer wants.
    assert ledger.feed(cancelled("F1", version=6)).outputs == []
    assert ledger.state.shipped_event_id == shipped.event_id


def test_a_partly_cancelled_shipped_order_reopens_when_its_fulfillment_is_cancelled() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    ledger.feed(buyer_cancelled(ORDER, {"L1": 1}))
    [shipped] = ledger.feed(recorded({"L1": 1, "L2": 1})).outputs
    [reopened] = ledger.feed(cancelled("F1", version=3)).outputs
    assert isinstance(reopened, OrderReopened) and reopened.reopens_event_id == shipped.event_id
    assert [x.cancelled_quantity for x in reopened.lines] == [1, 0]


@pytest.mark.parametrize("source", [SELLER_SOURCE, OTHER_SOURCE,
                                    SourceRef(partner="buyer-1", connection="other-buyer", platform="shopify")])
def test_only_the_orders_buyer_connection_may_cancel(source: SourceRef) -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    before = ledger.state
    result = ledger.feed(buyer_cancelled(ORDER, {"L1": 1}, source=source))
    assert rejection(result).reason == "tenant_mismatch"
    assert without_seen(result.state) == without_seen(before)


def test_a_cancellation_before_its_order_is_held_and_applied_when_the_order_arrives() -> None:
    ledger = Ledger()
    ledger.feed(recorded({"L1": 1, "L2": 1}))
    assert ledger.feed(buyer_cancelled(ORDER, {"L1": 1})).status == "held"
    result = ledger.feed(ORDER)
    assert result.status == "applied"
    assert outputs_of(result.outputs, OrderShipped)
    assert ledger.state.buyer_cancelled == {"L1": 1}


def test_a_held_cancellation_of_another_tenant_is_rejected_on_release() -> None:
    ledger = Ledger()
    ledger.feed(buyer_cancelled(ORDER, {"L1": 1}, source=OTHER_SOURCE))
    result = ledger.feed(ORDER)
    assert [r.reason for r in outputs_of(result.outputs, Rejection)] == ["tenant_mismatch"]
    assert ledger.state.buyer_cancelled == {}


def test_held_cancellations_count_against_the_limit() -> None:
    ledger = Ledger()
    for index in range(MAX_HELD_INPUTS):
        ledger.feed(recorded({"L1": 1}, fulfillment_id=f"F{index}"))
    assert rejection(ledger.feed(buyer_cancelled(ORDER, {"L1": 1}))).reason == "unknown_order"


@pytest.mark.parametrize(("cancelled_units", "remaining", "reason"), [
    ({"L9": 1}, None, "unknown_line"),
    ({"L1": 1}, 0, "invalid_quantity"),   # 1 + 0 is not the 2 placed
    ({"L1": 3}, -1, "invalid_quantity"),
    ({"L1": -1}, 3, "invalid_quantity"),
])
def test_a_cancellation_that_does_not_fit_the_order_is_rejected(cancelled_units: dict[str, int],
                                                                 remaining: int | None, reason: str) -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    event = buyer_cancelled(ORDER, cancelled_units)
    if remaining is not None:
        event = event.model_copy(update={"lines": [event.lines[0].model_copy(
            update={"remaining_quantity": remaining})]})
    before = ledger.state
    result = ledger.feed(event)
    assert rejection(result).reason == reason
    assert without_seen(result.state) == without_seen(before)


def test_a_cancellation_naming_a_line_with_another_sku_is_rejected() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    event = buyer_cancelled(ORDER, {"L1": 1})
    event = event.model_copy(update={"lines": [event.lines[0].model_copy(update={"sku": "OTHER"})]})
    assert rejection(ledger.feed(event)).reason == "unknown_line"


def test_a_whole_order_cancellation_that_keeps_units_is_rejected() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    event = buyer_cancelled(ORDER, {"L1": 1}).model_copy(update={"whole_order": True})
    assert rejection(ledger.feed(event)).reason == "invalid_quantity"


def test_a_cancellation_repeating_a_line_is_rejected() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    event = buyer_cancelled(ORDER, {"L1": 1})
    event = event.model_copy(update={"lines": [event.lines[0], event.lines[0]]})
    assert rejection(ledger.feed(event)).reason == "invalid_payload"


def test_the_confirming_order_placed_keeps_the_cancellation() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    ledger.feed(buyer_cancelled(ORDER, {"L1": 1}))
    confirmed = ORDER.model_copy(update={"event_id": "placed-2",
                                         "seller": ORDER.seller.model_copy(update={"order_ref": "9"})})
    ledger.feed(confirmed)
    assert ledger.state.buyer_cancelled == {"L1": 1}

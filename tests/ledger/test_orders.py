"""order.placed, inputs that arrive before their order, and who may change an order."""

from __future__ import annotations

from ledger import MAX_HELD_INPUTS, Rejection
from schemas.events import OrderShipped, PartyRef, SourceRef
from tests.support.ledger_builders import (
    BUYER,
    OTHER_SOURCE,
    SELLER,
    Ledger,
    cancelled,
    order_placed,
    outputs_of,
    placed_ledger,
    recorded,
    rejection,
    without_seen,
)

# -- order.placed --------------------------------------------------------------------------------------------


def test_order_placed_is_stored() -> None:
    ledger = Ledger()
    order = order_placed({"L1": 2, "L2": 1})
    result = ledger.feed(order)
    assert (result.status, result.outputs) == ("applied", [])
    assert ledger.state.order == order
    assert not ledger.state.is_shipped


def test_order_with_duplicate_line_ids_is_invalid() -> None:
    ledger = Ledger()
    result = ledger.feed(order_placed([("L1", 1), ("L1", 2)]))
    assert rejection(result).reason == "invalid_order"
    assert result.state.order is None


def test_order_with_a_zero_quantity_line_is_invalid() -> None:
    ledger = Ledger()
    result = ledger.feed(order_placed({"L1": 1, "L2": 0}))
    assert rejection(result).reason == "invalid_order"
    assert result.state.order is None


def test_order_with_a_negative_quantity_line_is_invalid() -> None:
    assert rejection(Ledger().feed(order_placed({"L1": -1}))).reason == "invalid_order"


def test_second_order_placed_with_other_lines_is_a_conflict() -> None:
    ledger = placed_ledger({"L1": 1})
    before = ledger.state
    result = ledger.feed(order_placed({"L1": 2}, event_id="placed-2"))
    assert rejection(result).reason == "order_conflict"
    assert without_seen(result.state) == without_seen(before)


def test_second_order_placed_with_the_same_lines_is_a_duplicate() -> None:
    ledger = placed_ledger({"L1": 1, "L2": 3})
    before = ledger.state
    result = ledger.feed(order_placed([("L2", 3), ("L1", 1)], event_id="placed-2"))
    assert (result.status, result.outputs) == ("duplicate", [])
    assert without_seen(result.state) == without_seen(before)


def test_second_order_placed_fills_in_the_seller_order_reference() -> None:
    ledger = Ledger()
    ledger.feed(order_placed({"L1": 1}, seller=SELLER.model_copy(update={"order_ref": None})))
    result = ledger.feed(order_placed({"L1": 1}, event_id="placed-2", seller=SELLER))
    assert (result.status, result.outputs) == ("applied", [])
    assert ledger.state.order is not None and ledger.state.order.seller.order_ref == SELLER.order_ref


def test_second_order_placed_cannot_change_a_known_order_reference() -> None:
    ledger = placed_ledger({"L1": 1})
    before = ledger.state
    seller = SELLER.model_copy(update={"order_ref": "5002"})
    result = ledger.feed(order_placed({"L1": 1}, event_id="placed-2", seller=seller))
    assert rejection(result).reason == "order_conflict"
    assert without_seen(result.state) == without_seen(before)


def test_second_order_placed_cannot_move_the_order_to_another_seller() -> None:
    # The order id is derived from the seller connection: no genuine order.placed can name another seller.
    ledger = placed_ledger({"L1": 1})
    other_seller = PartyRef(partner=OTHER_SOURCE.partner, connection=OTHER_SOURCE.connection,
                            platform=OTHER_SOURCE.platform)
    result = ledger.feed(order_placed({"L1": 1}, event_id="placed-2", seller=other_seller))
    assert rejection(result).reason in {"order_conflict", "tenant_mismatch"}
    assert ledger.state.order is not None and ledger.state.order.seller == SELLER
    assert rejection(ledger.feed(recorded({"L1": 1}, source=OTHER_SOURCE))).reason == "tenant_mismatch"


# -- inputs before their order -------------------------------------------------------------------------------


def test_fulfillment_before_its_order_is_held_then_released_and_ships() -> None:
    ledger = Ledger()
    fulfillment = recorded({"L1": 1}, tracking_numbers=["T1"])
    early = ledger.feed(fulfillment)
    assert (early.status, early.outputs) == ("held", [])
    assert [held.event for held in ledger.state.held] == [fulfillment]
    assert ledger.state.fulfillments == {}

    placed = ledger.feed(order_placed({"L1": 1}))
    assert placed.status == "applied"
    [shipped] = placed.outputs
    assert isinstance(shipped, OrderShipped)
    assert ledger.state.held == []
    assert ledger.state.is_shipped and ledger.state.shipped_event_id == shipped.event_id
    assert ledger.state.fulfillments["F1"].tracking_numbers == ["T1"]


def test_partial_fulfillment_before_its_order_is_released_without_shipping() -> None:
    ledger = Ledger()
    assert ledger.feed(recorded({"L1": 1})).status == "held"
    placed = ledger.feed(order_placed({"L1": 2}))
    assert (placed.status, placed.outputs) == ("applied", [])
    assert ledger.state.active_units() == {"L1": 1}


def test_held_inputs_are_released_in_arrival_order() -> None:
    ledger = Ledger()
    statuses = [r.status for r in ledger.feed_all([recorded({"L1": 1}), cancelled("F1", version=5)])]
    assert statuses == ["held", "held"]
    placed = ledger.feed(order_placed({"L1": 1}))
    # Recorded, shipped, then cancelled: reopened. Both are published for the order.placed.
    assert [output.type for output in placed.outputs] == ["order.shipped", "order.reopened"]
    assert not ledger.state.is_shipped
    assert ledger.state.fulfillments["F1"].cancelled


def test_held_cancellation_before_its_fulfillment_makes_a_tombstone_on_release() -> None:
    ledger = Ledger()
    ledger.feed_all([cancelled("F1", version=5), recorded({"L1": 1})])
    placed = ledger.feed(order_placed({"L1": 1}))
    assert (placed.status, placed.outputs) == ("applied", [])
    assert ledger.state.active_units() == {}


def test_held_input_is_checked_on_release() -> None:
    ledger = Ledger()
    ledger.feed(recorded({"L1": 5}))
    placed = ledger.feed(order_placed({"L1": 1}))
    [rejected] = outputs_of(placed.outputs, Rejection)
    assert rejected.reason == "over_fulfillment"
    assert rejected.event_id == recorded({"L1": 5}).event_id


def test_too_many_inputs_for_an_unknown_order_are_rejected() -> None:
    ledger = Ledger()
    for index in range(MAX_HELD_INPUTS):
        assert ledger.feed(recorded({"L1": 1}, fulfillment_id=f"F{index}")).status == "held"
    result = ledger.feed(recorded({"L1": 1}, fulfillment_id="one-too-many"))
    assert rejection(result).reason == "unknown_order"
    assert len(result.state.held) == MAX_HELD_INPUTS


# -- tenancy -------------------------------------------------------------------------------------------------


def test_fulfillment_from_another_connection_is_a_tenant_mismatch() -> None:
    ledger = placed_ledger({"L1": 1})
    before = ledger.state
    result = ledger.feed(recorded({"L1": 1}, source=OTHER_SOURCE))
    assert rejection(result).reason == "tenant_mismatch"
    assert without_seen(result.state) == without_seen(before)


def test_fulfillment_from_the_buyer_connection_is_a_tenant_mismatch() -> None:
    ledger = placed_ledger({"L1": 1})
    source = SourceRef(partner=BUYER.partner, connection=BUYER.connection, platform=BUYER.platform)
    assert rejection(ledger.feed(recorded({"L1": 1}, source=source))).reason == "tenant_mismatch"


def test_cancellation_from_another_connection_is_a_tenant_mismatch() -> None:
    ledger = placed_ledger({"L1": 1})
    ledger.feed(recorded({"L1": 1}))
    result = ledger.feed(cancelled("F1", version=5, source=OTHER_SOURCE))
    assert rejection(result).reason == "tenant_mismatch"
    assert result.state.is_shipped


def test_held_fulfillment_from_another_connection_is_rejected_on_release() -> None:
    ledger = Ledger()
    assert ledger.feed(recorded({"L1": 1}, source=OTHER_SOURCE)).status == "held"
    placed = ledger.feed(order_placed({"L1": 1}))
    assert [r.reason for r in outputs_of(placed.outputs, Rejection)] == ["tenant_mismatch"]
    assert not ledger.state.is_shipped


def test_event_of_another_order_is_rejected() -> None:
    ledger = placed_ledger({"L1": 1})
    before = ledger.state
    result = ledger.feed(recorded({"L1": 1}, order_id="order-2"))
    assert rejection(result).reason == "invalid_payload"
    assert result.state == before

"""Coverage and corrections: when an order is Shipped, new versions, duplicates, cancellations, reopening."""

from __future__ import annotations

from ledger import Rejection
from schemas.events import OrderReopened, OrderShipped, OrderTrackingUpdated
from tests.support.ledger_builders import Ledger, all_outputs, cancelled, outputs_of, placed_ledger, recorded


def shipped_ledger() -> tuple[Ledger, OrderShipped]:
    """An order of one unit of L1, shipped by fulfillment F1 (version 0, UPS tracking T1)."""
    ledger = placed_ledger({"L1": 1})
    result = ledger.feed(recorded({"L1": 1}, carrier="ups", tracking_numbers=["T1"]))
    [shipped] = result.outputs
    assert isinstance(shipped, OrderShipped)
    return ledger, shipped


# -- shipped exactly when covered ----------------------------------------------------------------------------


def test_partial_fulfillments_ship_only_at_the_last_one() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1, "L3": 1})
    steps = [recorded({"L1": 1}, fulfillment_id="F1"), recorded({"L2": 1, "L1": 1}, fulfillment_id="F2"),
             recorded({"L3": 1}, fulfillment_id="F3")]
    results = ledger.feed_all(steps)
    assert [r.status for r in results] == ["applied"] * 3
    assert [r.outputs for r in results[:2]] == [[], []]
    assert [not r.state.is_shipped for r in results[:2]] == [True, True]
    [shipped] = results[2].outputs
    assert isinstance(shipped, OrderShipped)
    assert ledger.state.is_shipped and ledger.state.shipped_event_id == shipped.event_id
    assert sorted(f.fulfillment_id for f in shipped.fulfillments) == ["F1", "F2", "F3"]
    assert {(line.line_id, line.quantity) for line in shipped.lines} == {("L1", 2), ("L2", 1), ("L3", 1)}


def test_every_line_must_be_covered_not_just_the_total_units() -> None:
    ledger = placed_ledger({"L1": 1, "L2": 1})
    ledger.feed(recorded({"L1": 1}))
    assert not ledger.state.is_covered() and not ledger.state.is_shipped


def test_shipped_event_describes_the_order_and_its_fulfillments() -> None:
    ledger, shipped = shipped_ledger()
    assert shipped.order_id == ledger.state.order_id
    assert ledger.state.order is not None
    assert (shipped.buyer.connection, shipped.seller.connection) == (
        ledger.state.order.buyer.connection, ledger.state.order.seller.connection)
    [fulfillment] = shipped.fulfillments
    assert (fulfillment.carrier, fulfillment.tracking_numbers) == ("UPS", ["T1"])
    assert fulfillment.tracking_urls[0] is not None


def test_a_shipped_order_is_not_shipped_again_by_later_inputs() -> None:
    ledger, _ = shipped_ledger()
    results = ledger.feed_all([recorded({"L1": 1}, fulfillment_id="F2"), recorded({"L1": 1}, event_id="other-id")])
    assert outputs_of(all_outputs(results), OrderShipped) == []


# -- same fulfillment, other versions ------------------------------------------------------------------------


def test_same_fulfillment_same_content_is_a_no_op() -> None:
    ledger, _ = shipped_ledger()
    before = ledger.state
    # Another event id (e.g. the next poll) reporting the very same fulfillment.
    result = ledger.feed(recorded({"L1": 1}, carrier="ups", tracking_numbers=["T1"], event_id="poll-2"))
    assert result.status == "duplicate"
    assert result.outputs == []
    assert result.state.fulfillments == before.fulfillments
    assert result.state.shipped_event_id == before.shipped_event_id


def test_same_content_spelt_differently_is_a_no_op() -> None:
    ledger, _ = shipped_ledger()
    result = ledger.feed(recorded({"L1": 1}, carrier="United Parcel Service", tracking_numbers=[" T1 "]))
    assert result.status == "duplicate"
    assert result.outputs == []


def test_newer_version_of_a_shipped_order_updates_tracking_in_place() -> None:
    ledger, shipped = shipped_ledger()
    result = ledger.feed(recorded({"L1": 1}, version=5, carrier="fedex", tracking_numbers=["T2"]))
    assert result.status == "applied"
    [update] = result.outputs
    assert isinstance(update, OrderTrackingUpdated)
    assert update.fulfillment.fulfillment_id == "F1"
    assert (update.fulfillment.carrier, update.fulfillment.tracking_numbers) == ("FedEx", ["T2"])
    assert list(ledger.state.fulfillments) == ["F1"]  # no second fulfillment
    record = ledger.state.fulfillments["F1"]
    assert (record.carrier, record.tracking_numbers) == ("FedEx", ["T2"])
    assert ledger.state.shipped_event_id == shipped.event_id  # still the same shipment


def test_newer_version_with_the_same_content_publishes_nothing() -> None:
    ledger, _ = shipped_ledger()
    result = ledger.feed(recorded({"L1": 1}, version=5, carrier="ups", tracking_numbers=["T1"]))
    assert result.outputs == []
    assert ledger.state.fulfillments["F1"].tracking_numbers == ["T1"]


def test_newer_version_of_an_unshipped_order_updates_tracking_without_output() -> None:
    ledger = placed_ledger({"L1": 2})
    ledger.feed(recorded({"L1": 1}, tracking_numbers=["T1"]))
    result = ledger.feed(recorded({"L1": 1}, version=5, tracking_numbers=["T2"]))
    assert result.status == "applied"
    assert result.outputs == []
    assert list(ledger.state.fulfillments) == ["F1"]
    assert ledger.state.fulfillments["F1"].tracking_numbers == ["T2"]


def test_older_version_is_stale() -> None:
    ledger = placed_ledger({"L1": 1})
    ledger.feed(recorded({"L1": 1}, version=5, tracking_numbers=["NEW"]))
    before = ledger.state
    result = ledger.feed(recorded({"L1": 1}, version=1, tracking_numbers=["OLD"]))
    assert result.status == "stale"
    assert result.outputs == []
    assert result.state.fulfillments == before.fulfillments


def test_equal_versions_with_different_content_converge_in_either_order() -> None:
    first = recorded({"L1": 1}, version=3, tracking_numbers=["A"])
    second = recorded({"L1": 1}, version=3, tracking_numbers=["B"])
    one, other = placed_ledger({"L1": 1}), placed_ledger({"L1": 1})
    one.feed_all([first, second])
    other.feed_all([second, first])
    assert one.state.fulfillments == other.state.fulfillments


def test_newer_version_that_uncovers_a_shipped_order_reopens_it() -> None:
    ledger = placed_ledger({"L1": 2})
    [shipped] = ledger.feed(recorded({"L1": 2})).outputs
    result = ledger.feed(recorded({"L1": 1}, version=5))
    [reopened] = result.outputs
    assert isinstance(reopened, OrderReopened)
    assert (reopened.cause, reopened.cause_fulfillment_id) == ("fulfillment_changed", "F1")
    assert reopened.reopens_event_id == shipped.event_id
    assert not ledger.state.is_shipped


# -- cancellations -------------------------------------------------------------------------------------------


def test_cancelling_a_fulfillment_of_a_shipped_order_reopens_it() -> None:
    ledger, shipped = shipped_ledger()
    result = ledger.feed(cancelled("F1", version=5))
    assert result.status == "applied"
    [reopened] = result.outputs
    assert isinstance(reopened, OrderReopened)
    assert reopened.reopens_event_id == shipped.event_id
    assert (reopened.cause, reopened.cause_fulfillment_id) == ("fulfillment_cancelled", "F1")
    assert reopened.fulfillments == []
    assert not ledger.state.is_shipped
    assert ledger.state.active_units() == {}
    assert ledger.state.fulfillments["F1"].cancelled  # kept, marked cancelled


def test_cancelling_a_fulfillment_of_an_unshipped_order_publishes_nothing() -> None:
    ledger = placed_ledger({"L1": 2})
    ledger.feed(recorded({"L1": 1}))
    result = ledger.feed(cancelled("F1", version=5))
    assert (result.status, result.outputs) == ("applied", [])
    assert ledger.state.active_units() == {}


def test_cancelling_twice_is_a_duplicate() -> None:
    ledger, _ = shipped_ledger()
    ledger.feed(cancelled("F1", version=5))
    result = ledger.feed(cancelled("F1", version=6))
    assert (result.status, result.outputs) == ("duplicate", [])


def test_refulfilling_after_a_reopen_ships_again_under_a_new_deterministic_id() -> None:
    def run() -> tuple[OrderShipped, OrderReopened, OrderShipped]:
        ledger, first = shipped_ledger()
        [reopened] = ledger.feed(cancelled("F1", version=5)).outputs
        [again] = ledger.feed(recorded({"L1": 1}, fulfillment_id="F2", version=6, tracking_numbers=["T9"])).outputs
        assert isinstance(reopened, OrderReopened) and isinstance(again, OrderShipped)
        assert ledger.state.shipped_event_id == again.event_id
        return first, reopened, again

    first, reopened, again = run()
    assert again.event_id != first.event_id
    assert reopened.event_id not in {first.event_id, again.event_id}
    assert [f.fulfillment_id for f in again.fulfillments] == ["F2"]
    assert [e.event_id for e in run()] == [first.event_id, reopened.event_id, again.event_id]


def test_a_cancelled_fulfillment_never_counts_again() -> None:
    ledger, _ = shipped_ledger()
    ledger.feed(cancelled("F1", version=5))
    before = ledger.state
    result = ledger.feed(recorded({"L1": 1}, version=9, tracking_numbers=["T2"]))
    assert (result.status, result.outputs) == ("stale", [])
    assert result.state.fulfillments == before.fulfillments
    assert result.state.active_units() == {}
    assert not result.state.is_shipped


def test_a_cancellation_before_its_fulfillment_leaves_a_tombstone() -> None:
    ledger = placed_ledger({"L1": 1})
    result = ledger.feed(cancelled("F1", version=5))
    assert (result.status, result.outputs) == ("applied", [])
    assert ledger.state.fulfillments["F1"].cancelled
    for version in (1, 9):  # older or newer than the cancellation: never counts
        late = ledger.feed(recorded({"L1": 1}, version=version))
        assert (late.status, late.outputs) == ("stale", [])
    assert ledger.state.active_units() == {}
    assert not ledger.state.is_shipped


def test_cancellation_of_one_of_several_fulfillments_keeps_the_others_counting() -> None:
    ledger = placed_ledger({"L1": 1, "L2": 1})
    ledger.feed_all([recorded({"L1": 1}, fulfillment_id="F1"), recorded({"L2": 1}, fulfillment_id="F2")])
    [reopened] = ledger.feed(cancelled("F2", version=5)).outputs
    assert isinstance(reopened, OrderReopened)
    assert [f.fulfillment_id for f in reopened.fulfillments] == ["F1"]
    assert ledger.state.active_units() == {"L1": 1}


def test_no_rejections_in_a_normal_correction_flow() -> None:
    ledger, _ = shipped_ledger()
    results = ledger.feed_all([cancelled("F1", version=5), recorded({"L1": 1}, fulfillment_id="F2", version=6)])
    assert outputs_of(all_outputs(results), Rejection) == []

"""Redelivery, purity, persistence and determinism: what lets the ledger run on an at-least-once Kafka stream."""

from __future__ import annotations

import pytest

from ledger import OrderState, apply, new_state, stored
from ledger.apply import RECENT_INPUTS, REJECTED_INPUTS
from schemas.events import OrderShipped
from tests.support.ledger_builders import (
    InputEvent,
    Ledger,
    all_outputs,
    cancelled,
    order_placed,
    placed_ledger,
    recorded,
)


def correction_story() -> list[InputEvent]:
    """Inputs touching every rule: held, shipped, rejected, tracking updated, reopened, shipped again, stale."""
    return [
        recorded({"L1": 1}, fulfillment_id="F1", carrier="ups", tracking_numbers=["T1"]),  # held
        cancelled("F0", version=1),  # held, then a tombstone
        order_placed({"L1": 2, "L2": 1}),
        recorded({"L1": 1, "L2": 1}, fulfillment_id="F2", tracking_numbers=["T2", "T3"]),  # ships
        recorded({"L1": 1}, fulfillment_id="F3"),  # over-fulfillment
        recorded({"L1": 1}, fulfillment_id="F1", version=2, carrier="dhl", tracking_numbers=["T4"]),  # tracking
        recorded({"L9": 1}, fulfillment_id="F4"),  # unknown line
        cancelled("F2", version=3),  # reopens
        recorded({"L1": 1, "L2": 1}, fulfillment_id="F5", version=4, carrier="Acme"),  # ships again
        recorded({"L1": 1}, fulfillment_id="F1", version=1),  # stale
        recorded({"L1": 1}, fulfillment_id="F0", version=5),  # stale: cancelled before recorded
    ]


def states_of(events: list[InputEvent]) -> list[OrderState]:
    ledger = Ledger()
    return [ledger.feed(event).state for event in events]


def test_correction_story_statuses_and_outputs() -> None:
    ledger = Ledger()
    results = ledger.feed_all(correction_story())
    statuses = [result.status for result in results]
    assert statuses == ["held", "held", "applied", "applied", "rejected", "applied", "rejected", "applied",
                        "applied", "stale", "stale"]
    assert [output.type for output in all_outputs(results)] == [
        "order.shipped", "rejection", "order.tracking_updated", "rejection", "order.reopened", "order.shipped"]
    assert ledger.state.is_shipped


# -- redelivery ----------------------------------------------------------------------------------------------


def test_redelivery_at_the_same_position_returns_the_original_outputs() -> None:
    ledger = placed_ledger({"L1": 1})
    event = recorded({"L1": 1})
    first = ledger.feed(event, "fulfillment-events:0:42")
    [shipped] = first.outputs
    assert isinstance(shipped, OrderShipped)
    again = ledger.feed(event, "fulfillment-events:0:42")
    assert again.status == "duplicate"
    assert again.outputs == first.outputs
    assert again.state == first.state


def test_redelivery_at_another_position_returns_nothing() -> None:
    ledger = placed_ledger({"L1": 1})
    event = recorded({"L1": 1})
    first = ledger.feed(event, "fulfillment-events:0:42")
    again = ledger.feed(event, "fulfillment-events:0:43")
    assert (again.status, again.outputs) == ("duplicate", [])
    assert again.state == first.state


def test_redelivery_of_a_rejected_input_at_the_same_position_returns_its_rejection_again() -> None:
    ledger = placed_ledger({"L1": 1})
    event = recorded({"L1": 2})
    first = ledger.feed(event, "fulfillment-events:0:7")
    again = ledger.feed(event, "fulfillment-events:0:7")
    assert again.status == "duplicate"
    assert again.outputs == first.outputs and len(first.outputs) == 1


def test_redelivery_of_an_order_placed_that_released_held_inputs_returns_their_outputs() -> None:
    ledger = Ledger()
    ledger.feed(recorded({"L1": 1}))
    order = order_placed({"L1": 1})
    first = ledger.feed(order, "order-events:0:1")
    assert [output.type for output in first.outputs] == ["order.shipped"]
    assert ledger.feed(order, "order-events:0:1").outputs == first.outputs
    assert ledger.feed(order, "order-events:0:2").outputs == []


def test_only_the_last_inputs_with_outputs_publish_them_again() -> None:
    ledger = placed_ledger({"L1": 1})
    first = recorded({"L1": 1}, fulfillment_id="F1", version=0, tracking_numbers=["T0"])
    ledger.feed(first, "fulfillment-events:0:0")
    corrections = [recorded({"L1": 1}, fulfillment_id="F1", version=n, tracking_numbers=[f"T{n}"])
                   for n in range(1, RECENT_INPUTS + 2)]
    for offset, correction in enumerate(corrections, start=1):
        assert [o.type for o in ledger.feed(correction, f"fulfillment-events:0:{offset}").outputs] == [
            "order.tracking_updated"]
    assert len(ledger.state.recent) == RECENT_INPUTS
    # the oldest (the shipping input and the first correction) are forgotten: stale, nothing published again
    assert ledger.feed(first, "fulfillment-events:0:0").outputs == []
    assert ledger.feed(corrections[0], "fulfillment-events:0:1").outputs == []
    latest = ledger.feed(corrections[-1], f"fulfillment-events:0:{len(corrections)}")
    assert latest.status == "duplicate" and [o.type for o in latest.outputs] == ["order.tracking_updated"]


def test_a_state_does_not_grow_with_corrections_or_replays() -> None:
    ledger = placed_ledger({"L1": 1, "L2": 1})
    ledger.feed(recorded({"L1": 1, "L2": 1}, fulfillment_id="F1", version=0, tracking_numbers=["T0"]))
    sizes = []
    for n in range(1, 60):
        ledger.feed(recorded({"L1": 1, "L2": 1}, fulfillment_id="F1", version=n, tracking_numbers=[f"T{n:04d}"]))
        sizes.append(len(stored.encode(ledger.state)))
    assert max(sizes[RECENT_INPUTS:]) == min(sizes[RECENT_INPUTS:])  # bounded once the window is full
    before = ledger.state
    for n in range(60):  # a replay at new positions: nothing changes, nothing is stored
        assert ledger.feed(recorded({"L1": 1, "L2": 1}, fulfillment_id="F1", version=n,
                                    tracking_numbers=[f"T{n:04d}"] if n else ["T0"])).state is before


def test_rejected_inputs_are_remembered_up_to_the_bound() -> None:
    ledger = placed_ledger({"L1": 1})
    bad = [recorded({"L1": 2}, fulfillment_id=f"F{n}") for n in range(REJECTED_INPUTS + 1)]
    for event in bad:
        assert ledger.feed(event).status == "rejected"
    assert len(ledger.state.rejected) == REJECTED_INPUTS
    assert ledger.feed(bad[-1]).status == "duplicate"  # remembered: not judged again
    assert ledger.feed(bad[0]).status == "rejected"  # forgotten: judged again (and rejected again)


def test_an_order_placed_again_without_its_later_reference_is_a_duplicate() -> None:
    ledger = Ledger()
    without_ref = order_placed({"L1": 1})
    without_ref = without_ref.model_copy(update={"seller": without_ref.seller.model_copy(update={"order_ref": None})})
    ledger.feed(without_ref)
    with_ref = order_placed({"L1": 1}).model_copy(update={"event_id": "placed-2"})
    assert ledger.feed(with_ref).detail == "order references updated"
    replayed = ledger.feed(without_ref, "order-events:0:99")
    assert (replayed.status, replayed.outputs) == ("duplicate", [])


def test_redelivery_without_a_position_returns_nothing() -> None:
    ledger = placed_ledger({"L1": 1})
    event = recorded({"L1": 1})
    apply_once = apply(ledger.state, event, None)
    assert apply_once.status == "applied"
    assert apply(apply_once.state, event, None).outputs == []


# -- purity --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", range(len(correction_story())))
def test_apply_never_mutates_its_input_state(step: int) -> None:
    events = correction_story()
    state = states_of(events[:step])[-1] if step else new_state("order-1")
    snapshot = state.model_dump()
    copy = state.model_copy(deep=True)
    for event in [events[step], *events[:step]]:  # the next input, and redeliveries of earlier ones
        result = apply(state, event, f"p:{step}")
        assert state.model_dump() == snapshot
        assert state == copy
        if result.status in {"applied", "held"}:
            assert result.state is not state


# -- persistence ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", range(1, len(correction_story()) + 1))
def test_state_round_trips_through_the_stored_form(step: int) -> None:
    state = states_of(correction_story()[:step])[-1]
    assert stored.decode(stored.encode(state)) == state


def test_state_read_back_from_the_stored_form_behaves_like_the_original() -> None:
    direct, persisted = Ledger(), Ledger()
    for event in correction_story():
        expected = direct.feed(event)
        persisted.state = stored.decode(stored.encode(persisted.state))
        actual = persisted.feed(event)
        assert (actual.status, actual.outputs) == (expected.status, expected.outputs)
        assert actual.state == expected.state


# -- determinism ---------------------------------------------------------------------------------------------


def test_output_ids_are_deterministic() -> None:
    def output_ids() -> list[str]:
        return [output.event_id for output in all_outputs(Ledger().feed_all(correction_story()))]

    ids = output_ids()
    assert len(ids) >= 5
    assert output_ids() == ids


def test_shipped_ids_differ_per_order() -> None:
    one, other = Ledger(), Ledger(state=new_state("order-2"))
    [shipped_one] = all_outputs(one.feed_all([order_placed(), recorded()]))
    [shipped_other] = all_outputs(other.feed_all([order_placed(order_id="order-2"), recorded(order_id="order-2")]))
    assert shipped_one.event_id != shipped_other.event_id

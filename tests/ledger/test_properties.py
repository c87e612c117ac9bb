"""Property-based tests: random interleavings of one order, its fulfillment inputs and buyer cancellations, with
redeliveries.

A scenario is one order (1-4 lines of 1-4 units), a pool of fulfillment inputs (several versions of each
fulfillment id, mostly following a random split of the ordered units between the fulfillment ids so that orders
often ship, but also with random lines that may over-fulfill, random tracking, sometimes a cancellation), up to
two buyer cancellations (random totals per line, or the whole order), all delivered in a random order (so some
arrive before the order and are held), with redeliveries of earlier inputs at new positions and at their own
position mixed in. The invariants are checked after every delivery.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import OrderState, Output, Rejection, apply, new_state, stored
from ledger.apply import RECENT_INPUTS, REJECTED_INPUTS, record_key
from schemas.events import (
    OrderPlaced,
    OrderReopened,
    OrderShipped,
    OrderTrackingUpdated,
)
from tests.support.ledger_builders import (
    ORDER_ID,
    InputEvent,
    buyer_cancelled,
    cancelled,
    order_placed,
    position,
    recorded,
)

LINE_IDS = ("L1", "L2", "L3", "L4")
FULFILLMENT_IDS = ("F1", "F2", "F3")
CARRIERS = (None, "ups", "FedEx Ground", "Acme Freight")
TRACKING_NUMBERS = ("T1", "T2", "T3", "T4")
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


@dataclass(frozen=True)
class Delivery:
    event: InputEvent
    position: str


@dataclass(frozen=True)
class Scenario:
    order: OrderPlaced
    deliveries: tuple[Delivery, ...]

    def first_deliveries(self) -> list[Delivery]:
        """Each distinct event once, at the position it was first delivered at, in delivery order."""
        firsts: dict[str, Delivery] = {}
        for delivery in self.deliveries:
            firsts.setdefault(delivery.event.event_id, delivery)
        return list(firsts.values())


# -- strategies ----------------------------------------------------------------------------------------------


TRACKING = st.tuples(
    st.sampled_from(CARRIERS),
    st.lists(st.sampled_from(TRACKING_NUMBERS), max_size=2, unique=True),
    st.lists(st.booleans(), max_size=2),
)
"""A carrier, tracking numbers, and which of the numbers come with a URL."""


@st.composite
def fulfilled_lines(draw: st.DrawFn, ordered: dict[str, int]) -> dict[str, int]:
    """Some lines of the order, each with 1 to one more than its ordered units (so it may over-fulfill)."""
    chosen = draw(st.lists(st.sampled_from(sorted(ordered)), min_size=1, max_size=len(ordered), unique=True))
    return {line_id: draw(st.integers(1, ordered[line_id] + 1)) for line_id in chosen}


@st.composite
def fulfillment_inputs(
    draw: st.DrawFn, fulfillment_id: str, planned: dict[str, int], ordered: dict[str, int],
) -> list[InputEvent]:
    """1-3 versions of one fulfillment, maybe a cancellation. The first version has the `planned` lines (random
    ones if none are planned); later ones often keep those lines with other tracking, or take random lines.
    Source versions mostly increase, but may repeat or go back."""
    base = planned or draw(fulfilled_lines(ordered))
    events: list[InputEvent] = []
    for index in range(draw(st.integers(1, 3))):
        lines = base if index == 0 or draw(st.booleans()) else draw(fulfilled_lines(ordered))
        carrier, numbers, with_url = draw(TRACKING)
        events.append(recorded(
            lines, fulfillment_id=fulfillment_id, version=index + draw(st.integers(-1, 1)), carrier=carrier,
            tracking_numbers=numbers,
            tracking_urls=[f"https://track.example/{number}" if given else None
                           for number, given in zip(numbers, with_url, strict=False)],
            event_id=f"{fulfillment_id}-recorded-{index}",
        ))
    if draw(st.integers(0, 2)) == 0:
        version = draw(st.integers(0, 3))
        events.append(cancelled(fulfillment_id, version=version, event_id=f"{fulfillment_id}-cancelled"))
    return events


@st.composite
def buyer_cancellations(draw: st.DrawFn, order: OrderPlaced) -> list[InputEvent]:
    """0-2 buyer cancellations of `order`: random totals per line (at least one unit somewhere), or the whole
    order. Totals need not grow from one to the next: a later one may be older news."""
    events: list[InputEvent] = []
    for index in range(draw(st.integers(0, 2))):
        if draw(st.integers(0, 3)) == 0:
            events.append(buyer_cancelled(order, whole_order=True, minutes=index))
            continue
        totals = {line.line_id: draw(st.integers(0, line.quantity)) for line in order.lines}
        totals = {line_id: units for line_id, units in totals.items() if units} or {order.lines[0].line_id: 1}
        events.append(buyer_cancelled(order, totals, minutes=index))
    return events


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    quantities = draw(st.lists(st.integers(1, 4), min_size=1, max_size=len(LINE_IDS)))
    order = order_placed(dict(zip(LINE_IDS, quantities, strict=False)))
    ordered = {line.line_id: line.quantity for line in order.lines}
    fulfillment_ids = FULFILLMENT_IDS[:draw(st.integers(1, len(FULFILLMENT_IDS)))]
    # Which fulfillment ships each ordered unit: the sellers' plan, so that the order is often covered.
    units = [line_id for line_id, quantity in ordered.items() for _ in range(quantity)]
    owners = draw(st.lists(st.sampled_from(fulfillment_ids), min_size=len(units), max_size=len(units)))
    pool: list[InputEvent] = [order]
    for fulfillment_id in fulfillment_ids:
        planned = Counter(line_id for line_id, owner in zip(units, owners, strict=True) if owner == fulfillment_id)
        pool += draw(fulfillment_inputs(fulfillment_id, dict(planned), ordered))
    pool += draw(buyer_cancellations(order))

    deliveries: list[Delivery] = []
    firsts: list[Delivery] = []
    for event in draw(st.permutations(pool)):
        firsts.append(Delivery(event, position(len(deliveries) + 1)))
        deliveries.append(firsts[-1])
        redeliveries = st.tuples(st.sampled_from(tuple(firsts)), st.booleans())
        for earlier, same_position in draw(st.lists(redeliveries, max_size=2)):
            where = earlier.position if same_position else position(len(deliveries) + 1)
            deliveries.append(Delivery(earlier.event, where))
    return Scenario(order, tuple(deliveries))


# -- invariants ----------------------------------------------------------------------------------------------


@dataclass
class Shipments:
    """The shipped-orders records published for the first time so far in one run, and what they imply."""

    shipped_ids: list[str] = field(default_factory=list)
    current: str | None = None
    net: int = 0

    def publish(self, outputs: Sequence[Output]) -> None:
        for output in outputs:
            if isinstance(output, OrderShipped):
                assert output.event_id not in self.shipped_ids, "an order.shipped event id was reused"
                assert self.current is None, "shipped twice without a reopening in between"
                self.shipped_ids.append(output.event_id)
                self.current, self.net = output.event_id, self.net + 1
            elif isinstance(output, OrderReopened):
                assert output.reopens_event_id == self.current
                self.current, self.net = None, self.net - 1
            elif isinstance(output, OrderTrackingUpdated):
                assert self.current is not None, "tracking update published for an order that is not shipped"

    def check(self, state: OrderState) -> None:
        assert self.net == (1 if state.is_shipped else 0)
        assert state.shipped_event_id == self.current


def check_state(state: OrderState, order: OrderPlaced) -> None:
    ordered = {line.line_id: line.quantity for line in order.lines}
    for line_id, units in state.active_units().items():
        assert units <= ordered[line_id], f"line {line_id}: {units} active units of {ordered[line_id]} ordered"
    if state.order is None:
        assert not state.is_shipped
        assert state.fulfillments == {}
    else:
        if not state.nothing_to_ship():
            assert state.is_shipped == state.is_covered()
        assert state.held == []


def check_transition(before: OrderState, after: OrderState) -> None:
    """Buyer cancellations only grow, and once nothing is left to ship the Shipped status is frozen."""
    assert all(after.buyer_cancelled.get(line_id, 0) >= units for line_id, units in before.buyer_cancelled.items())
    if before.nothing_to_ship():
        assert after.shipped_event_id == before.shipped_event_id


def check_replay_changes_nothing(state: OrderState, events: Sequence[InputEvent], positions: Iterator[str]) -> None:
    """Re-applying every input processed so far, each at a new position, is a no-op: nothing published, the very
    same state returned (so nothing is stored)."""
    for event in events:
        result = apply(state, event, next(positions))
        assert result.status in ("duplicate", "stale"), (event.type, result.status, result.detail)
        assert result.outputs == []
        assert result.state is state


def run(deliveries: Sequence[Delivery], *, via_stored: bool = False) -> tuple[OrderState, list[Output]]:
    """Apply `deliveries` to a fresh state: the final state and the outputs of first deliveries (not the replays
    of redeliveries). With `via_stored`, the state is stored in the order table's form and read back before each
    input."""
    state, outputs, delivered = new_state(ORDER_ID), list[Output](), set[str]()
    for delivery in deliveries:
        if via_stored:
            read_back = stored.decode(stored.encode(state))
            assert read_back == state
            state = read_back
        result = apply(state, delivery.event, delivery.position)
        if delivery.event.event_id not in delivered:
            outputs += result.outputs
            delivered.add(delivery.event.event_id)
        state = result.state
    return state, outputs


def identities(outputs: Sequence[Output]) -> list[tuple[str, str]]:
    return [(output.type, output.event_id) for output in outputs]


# -- properties ----------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scenarios())
def test_invariants_hold_after_every_delivery(scenario: Scenario) -> None:
    state = new_state(ORDER_ID)
    shipments = Shipments()
    processed: list[InputEvent] = []
    first: dict[str, tuple[list[Output], OrderState]] = {}
    replay_positions = (f"replay:0:{offset}" for offset in itertools.count())

    for delivery in scenario.deliveries:
        event_id = delivery.event.event_id
        snapshot = state.model_dump()
        result = apply(state, delivery.event, delivery.position)
        assert state.model_dump() == snapshot, "apply mutated its input state"

        if event_id not in {event.event_id for event in processed}:  # first delivery
            processed.append(delivery.event)
            shipments.publish(result.outputs)
            if result.status == "rejected":
                assert any(isinstance(o, Rejection) and o.event_id == event_id for o in result.outputs)
            if result.status != "held":
                first[event_id] = (result.outputs, result.state)
        else:  # redelivery: changes nothing; the very same record publishes its remembered outputs again
            assert result.status in ("duplicate", "stale")
            assert result.state is state
            remembered = record_key(event_id, delivery.position) in {entry.key for entry in state.recent}
            if not remembered:
                assert result.outputs == []
            elif event_id in first:
                outputs, after = first[event_id]
                assert identities(result.outputs) == identities(outputs)
                released = isinstance(delivery.event, OrderPlaced)  # its outputs are those of held inputs
                if state == after and not released:  # nothing changed the order since: the very same record
                    assert result.outputs == outputs

        check_transition(state, result.state)
        state = result.state
        check_state(state, scenario.order)
        shipments.check(state)
        assert len(state.recent) <= RECENT_INPUTS and len(state.rejected) <= REJECTED_INPUTS
        assert stored.decode(stored.encode(state)) == state
        assert stored.outline(stored.encode(state)) == stored.outline_of(state)
        check_replay_changes_nothing(state, processed, replay_positions)


@PROPERTY_SETTINGS
@given(scenarios())
def test_a_fresh_run_over_the_distinct_inputs_gives_the_same_state_and_outputs(scenario: Scenario) -> None:
    state, outputs = run(scenario.deliveries)
    firsts = scenario.first_deliveries()
    # Redeliveries change nothing, and output ids are deterministic: the same records with the same ids.
    assert run(firsts) == (state, outputs)
    # The order table stores the state between inputs: that changes nothing either.
    assert run(firsts, via_stored=True) == (state, outputs)


@PROPERTY_SETTINGS
@given(st.data())
def test_buyer_cancellations_converge_whatever_their_order(data: st.DataObject) -> None:
    quantities = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=len(LINE_IDS)))
    order = order_placed(dict(zip(LINE_IDS, quantities, strict=False)))
    events = data.draw(buyer_cancellations(order)) + data.draw(buyer_cancellations(order))
    finals = []
    for arrangement in (events, data.draw(st.permutations(events))):
        state, _ = run([Delivery(event, position(offset)) for offset, event in enumerate([order, *arrangement])])
        finals.append(state.buyer_cancelled)
    assert finals[0] == finals[1]

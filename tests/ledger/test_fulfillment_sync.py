"""ledger.fulfillment_sync: seller fulfillments in (events), buyer writes out (actions), unit and property tests."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import apply, new_state
from ledger.fulfillment_sync import (
    VERSION_BUMP,
    BuyerAction,
    BuyerWritten,
    Cancel,
    Create,
    LastPublished,
    Replace,
    StoredSellerOrder,
    UpdateTracking,
    buyer_action,
    buyer_request,
    seller_events,
    written_after,
    written_before,
)
from schemas.carriers import tracking_url
from schemas.config import Connection
from schemas.events import FulfilledLine, FulfillmentCancelled, FulfillmentRecorded, OrderLine, PartyRef
from schemas.factories import order_placed
from schemas.platform import FulfillmentLine, PlatformFulfillment, Tracking

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce", order_ref="B-100")
SELLER = PartyRef(partner="acme", connection="acme-shopify", platform="shopify", order_ref="S-9")
SELLER_CONNECTION = Connection(id="acme-shopify", partner="acme", role="seller", platform="manual")
PLACED = order_placed(buyer=BUYER, seller=SELLER, occurred_at=T0,
                      lines=[OrderLine(line_id=f"b{i}", sku=f"ACME-{i}", quantity=3) for i in (1, 2, 3)])
ORDER = StoredSellerOrder(placed=PLACED, seller_order_ref="S-9",
                          seller_line_refs={"b1": "s1", "b2": "s2", "b3": "s3"})


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ful(ref: str = "F1", *, lines: Sequence[tuple[str, int]] = (("s1", 1),), minute: int = 1,
        carrier: str | None = "UPS", numbers: Sequence[str] = ("1Z1",), urls: Sequence[str | None] = (),
        cancelled: bool = False, order_ref: str = "S-9") -> PlatformFulfillment:
    return PlatformFulfillment(
        fulfillment_ref=ref, order_ref=order_ref, updated_at=at(minute), cancelled=cancelled,
        lines=tuple(FulfillmentLine(line_ref=line_ref, quantity=quantity) for line_ref, quantity in lines),
        tracking=Tracking(carrier=carrier, numbers=tuple(numbers), urls=tuple(urls)))


def only_recorded(found: Sequence[PlatformFulfillment],
                  published: dict[str, LastPublished] | None = None) -> FulfillmentRecorded:
    result = seller_events(ORDER, SELLER_CONNECTION, found, published or {})
    assert len(result.events) == 1, result
    event = result.events[0]
    assert isinstance(event, FulfillmentRecorded)
    return event


# -- seller side: unit tests ---------------------------------------------------------------------------------


def test_a_new_fulfillment_becomes_one_recorded_event_with_our_line_ids_and_a_built_url() -> None:
    event = only_recorded([ful(lines=[("s1", 1), ("s3", 2), ("s1", 1)])])
    assert event.order_id == PLACED.order_id
    assert event.fulfillment_id == "F1" and event.source_version == at(1)
    assert [(line.line_id, line.quantity) for line in event.lines] == [("b1", 2), ("b3", 2)]
    assert event.source.connection == "acme-shopify" and event.source.partner == "acme"
    assert event.carrier == "UPS"
    assert event.tracking_urls == ["https://www.ups.com/track?tracknum=1Z1"]


def test_a_given_url_is_kept_and_an_unknown_carrier_gets_none() -> None:
    kept = only_recorded([ful(numbers=("A", "B"), lines=[("s1", 2)], urls=("https://x.test/A",))])
    assert kept.tracking_urls == ["https://x.test/A", "https://www.ups.com/track?tracknum=B"]
    unknown = only_recorded([ful(carrier="Acme Freight", numbers=("A",))])
    assert unknown.tracking_urls == [None]


def test_the_same_inputs_give_the_same_event_ids() -> None:
    assert only_recorded([ful()]).event_id == only_recorded([ful()]).event_id


def test_unchanged_content_gives_nothing_even_with_a_newer_version() -> None:
    first = seller_events(ORDER, SELLER_CONNECTION, [ful()], {})
    again = seller_events(ORDER, SELLER_CONNECTION, [ful(minute=30)], dict(first.published))
    assert again == type(again)()


def test_changed_tracking_gives_a_new_version() -> None:
    first = seller_events(ORDER, SELLER_CONNECTION, [ful()], {})
    changed = only_recorded([ful(minute=5, numbers=("1Z2",))], dict(first.published))
    assert changed.source_version == at(5) and changed.tracking_numbers == ["1Z2"]
    assert changed.event_id != first.events[0].event_id


def test_a_change_without_a_newer_platform_version_is_published_just_after_the_last_one() -> None:
    first = seller_events(ORDER, SELLER_CONNECTION, [ful(minute=5)], {})
    edited = only_recorded([ful(minute=5, numbers=("1Z2",))], dict(first.published))
    assert edited.source_version == at(5) + VERSION_BUMP
    # and the ledger takes it as the newer version, whatever the digests' order
    state = apply(new_state(PLACED.order_id), PLACED).state
    state = apply(state, first.events[0]).state
    assert apply(state, edited).status == "applied"


def test_a_cancellation_is_published_once() -> None:
    first = seller_events(ORDER, SELLER_CONNECTION, [ful()], {})
    published = dict(first.published)
    cancelled = seller_events(ORDER, SELLER_CONNECTION, [ful(minute=9, cancelled=True)], published)
    assert [type(event) for event in cancelled.events] == [FulfillmentCancelled]
    assert cancelled.events[0].source_version == at(9)
    published |= cancelled.published
    assert seller_events(ORDER, SELLER_CONNECTION, [ful(minute=9, cancelled=True)], published).events == ()


def test_a_cancellation_never_published_before_is_published() -> None:
    result = seller_events(ORDER, SELLER_CONNECTION, [ful(lines=(), cancelled=True)], {})
    assert [event.type for event in result.events] == ["fulfillment.cancelled"]
    assert result.published["F1"].cancelled


def test_a_cancelled_fulfillment_listed_active_again_is_reported_not_published() -> None:
    published = {"F1": LastPublished(at(2), at(2), "", cancelled=True)}
    result = seller_events(ORDER, SELLER_CONNECTION, [ful(minute=3)], published)
    assert result.events == () and [p.reason for p in result.problems] == ["reactivated"]


def test_an_unknown_seller_line_is_reported_and_nothing_is_invented() -> None:
    result = seller_events(ORDER, SELLER_CONNECTION, [ful(lines=[("s1", 1), ("s-extra", 1)]), ful("F2")], {})
    assert [event.fulfillment_id for event in result.events] == ["F2"]
    assert [(p.fulfillment_ref, p.reason) for p in result.problems] == [("F1", "unknown_line")]
    assert "s-extra" in result.problems[0].message
    assert set(result.published) == {"F2"}


def test_other_orders_fulfillments_and_line_less_active_ones_are_reported() -> None:
    result = seller_events(ORDER, SELLER_CONNECTION, [ful("F1", order_ref="S-10"), ful("F2", lines=())], {})
    assert result.events == ()
    assert sorted(p.reason for p in result.problems) == ["no_lines", "wrong_order"]


def test_a_ref_listed_twice_uses_its_newest_copy() -> None:
    result = seller_events(ORDER, SELLER_CONNECTION, [ful(minute=4, numbers=("new",)), ful(minute=2)], {})
    assert [p.reason for p in result.problems] == ["duplicate_fulfillment"]
    event = result.events[0]
    assert isinstance(event, FulfillmentRecorded) and event.tracking_numbers == ["new"]


def test_another_connection_cannot_produce_events_for_the_order() -> None:
    other = Connection(id="other-shop", partner="acme", role="seller", platform="manual")
    with pytest.raises(ValueError, match="not the seller"):
        seller_events(ORDER, other, [ful()], {})
    with pytest.raises(ValueError, match="one seller line ref"):
        seller_events(StoredSellerOrder(PLACED, "S-9", {"b1": "s1", "b2": "s1"}), SELLER_CONNECTION, [], {})


# -- buyer side: unit tests ----------------------------------------------------------------------------------


def recorded_view(numbers: Sequence[str] = ("1Z1",), lines: Sequence[tuple[str, int]] = (("s1", 1),),
                  minute: int = 1) -> FulfillmentRecorded:
    return only_recorded([ful(lines=lines, numbers=numbers, minute=minute)])


def cancelled_view() -> FulfillmentCancelled:
    event = seller_events(ORDER, SELLER_CONNECTION, [ful(cancelled=True, minute=9)], {}).events[0]
    assert isinstance(event, FulfillmentCancelled)
    return event


def test_a_new_fulfillment_is_created_with_the_buyers_line_refs() -> None:
    action = buyer_action(recorded_view(lines=[("s2", 2), ("s1", 1)]), None, notify_customer=True)
    assert isinstance(action, Create)
    assert [(line.line_ref, line.quantity) for line in action.request.lines] == [("b1", 1), ("b2", 2)]
    assert action.request.tracking.numbers == ("1Z1",) and action.request.notify_customer


def test_written_and_unchanged_needs_nothing_changed_tracking_needs_an_update() -> None:
    view = recorded_view()
    create = buyer_action(view, None)
    assert isinstance(create, Create)
    written = written_after(create, written_before(create, None), "buyer-f-1")
    assert buyer_action(view, written) is None
    action = buyer_action(recorded_view(numbers=("1Z2",), minute=2), written)
    assert isinstance(action, UpdateTracking)
    assert action.fulfillment_ref == "buyer-f-1" and action.tracking.numbers == ("1Z2",)


def test_a_create_with_an_unknown_outcome_is_retried_with_the_same_request() -> None:
    view = recorded_view()
    create = buyer_action(view, None)
    assert isinstance(create, Create)
    pending = written_before(create, None)
    assert pending is not None and pending.fulfillment_ref is None
    assert buyer_action(view, pending) == create


def test_cancellations() -> None:
    create = buyer_action(recorded_view(), None)
    assert isinstance(create, Create)
    assert buyer_action(cancelled_view(), None) is None
    pending = written_before(create, None)
    assert buyer_action(cancelled_view(), pending) == Cancel(None, create.request)
    written = written_after(create, pending, "buyer-f-1")
    cancel = buyer_action(cancelled_view(), written)
    assert cancel == Cancel("buyer-f-1", create.request)
    done = written_after(cancel, written, None)
    assert buyer_action(cancelled_view(), done) is None
    assert buyer_action(recorded_view(minute=20), done) is None


def test_changed_lines_replace_the_buyer_fulfillment_under_a_new_id() -> None:
    create = buyer_action(recorded_view(), None)
    assert isinstance(create, Create)
    written = written_after(create, None, "buyer-f-1")
    action = buyer_action(recorded_view(lines=[("s1", 2)], minute=3), written)
    assert isinstance(action, Replace)
    assert action.cancel == Cancel("buyer-f-1", create.request)
    assert action.request.our_fulfillment_id != create.request.our_fulfillment_id


def test_our_fulfillment_id_is_stable_across_tracking_changes() -> None:
    assert (buyer_request(recorded_view()).our_fulfillment_id
            == buyer_request(recorded_view(numbers=("other",), minute=8)).our_fulfillment_id)


def test_written_after_refuses_a_missing_ref() -> None:
    create = buyer_action(recorded_view(), None)
    assert create is not None
    with pytest.raises(ValueError):
        written_after(create, None, None)


# -- properties ----------------------------------------------------------------------------------------------

FIDS = ("F1", "F2", "F3")


@dataclass
class SellerFulfillment:
    """One seller fulfillment over time: it covers seller line s<i> only (1 or 2 units of 3), so the order can
    never be over-fulfilled; once cancelled it stays cancelled (or vanishes, reported cancelled)."""

    index: int
    units: int = 1
    numbers: tuple[str, ...] = ()
    carrier: str | None = None
    cancelled: bool = False


@st.composite
def seller_histories(draw: st.DrawFn) -> list[list[PlatformFulfillment]]:
    """A sequence of seller states (what `fulfillments()` returns at each poll)."""
    alive: dict[str, SellerFulfillment] = {}
    states: list[list[PlatformFulfillment]] = []
    versions: dict[str, int] = {}
    for step in range(draw(st.integers(1, 8))):
        for fid in draw(st.lists(st.sampled_from(FIDS), unique=True, max_size=3)):
            current = alive.get(fid)
            if current is not None and current.cancelled:
                continue
            if current is None:
                current = alive[fid] = SellerFulfillment(index=FIDS.index(fid) + 1)
            move = draw(st.sampled_from(("tracking", "tracking", "units", "cancel", "touch")))
            if move == "tracking":
                current.numbers = tuple(draw(st.lists(st.sampled_from(("T1", "T2")), unique=True,
                                                      max_size=current.units)))
                current.carrier = draw(st.sampled_from((None, "UPS", "Acme Freight")))
            elif move == "units":
                current.units = draw(st.integers(1, 2))
                current.numbers = current.numbers[:current.units]
            elif move == "cancel":
                current.cancelled = True
            # a platform that does not move the version on tracking edits: sometimes keep it
            if draw(st.booleans()) or fid not in versions:
                versions[fid] = step
        states.append([
            PlatformFulfillment(
                fulfillment_ref=fid, order_ref="S-9", updated_at=at(versions[fid]), cancelled=item.cancelled,
                lines=() if item.cancelled else (FulfillmentLine(line_ref=f"s{item.index}", quantity=item.units),),
                tracking=Tracking(carrier=item.carrier, numbers=item.numbers))
            for fid, item in sorted(alive.items())])
    return states


@dataclass
class Buyer:
    """A simulated buyer store: fulfillments by ref; `find` by our marker, as the connectors do."""

    fulfillments: dict[str, tuple[FulfillmentLine, ...]] = field(default_factory=dict)
    tracking: dict[str, Tracking] = field(default_factory=dict)
    marker: dict[str, str] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    creates: list[str] = field(default_factory=list)

    def find_or_create(self, request: object) -> str:
        from schemas.platform import FulfillmentRequest
        assert isinstance(request, FulfillmentRequest)
        for ref, ours in self.marker.items():
            if ours == request.our_fulfillment_id:
                return ref
        ref = f"buyer-{len(self.fulfillments)}"
        self.fulfillments[ref], self.tracking[ref] = request.lines, request.tracking
        self.marker[ref] = request.our_fulfillment_id
        self.creates.append(request.our_fulfillment_id)
        return ref

    def cancel(self, action: Cancel) -> None:
        ref = action.fulfillment_ref
        if ref is None:
            ref = next((r for r, ours in self.marker.items() if ours == action.find_with.our_fulfillment_id), None)
        if ref is not None:
            self.cancelled.add(ref)

    def active(self) -> set[tuple[tuple[FulfillmentLine, ...], Tracking]]:
        return {(lines, self.tracking[ref]) for ref, lines in self.fulfillments.items() if ref not in self.cancelled}


def perform(buyer: Buyer, action: BuyerAction, written: BuyerWritten | None, crash: bool) -> BuyerWritten | None:
    """The sink: record intent, write to the buyer, record the outcome; `crash` loses the final record."""
    if isinstance(action, Replace):
        buyer.cancel(action.cancel)
        written = written_before(action, written)
        ref: str | None = buyer.find_or_create(action.request)
    elif isinstance(action, Create):
        written = written_before(action, written) or written
        ref = buyer.find_or_create(action.request)
    elif isinstance(action, Cancel):
        buyer.cancel(action)
        ref = None
    else:
        written = written_before(action, written)
        buyer.tracking[action.fulfillment_ref] = action.tracking
        ref = action.fulfillment_ref
    return written if crash else written_after(action, written, ref)


Fault = int
"""What happens to one buyer write: 0 it succeeds and is recorded; 1 the sink dies after the write, before
recording it, and is restarted at once; 2 the same, but the sink stays down until the next poll."""


def sync_buyer(buyer: Buyer, views: dict[str, FulfillmentRecorded | FulfillmentCancelled],
               written: dict[str, BuyerWritten | None], faults: Iterator[Fault], creates: Counter[str]) -> None:
    """The sink over every seller fulfillment, counting the buyer fulfillments created for each in `creates`."""
    for fid, view in sorted(views.items()):
        for attempt in range(8):  # up to 3 faults in a row, then the decisions must converge
            action = buyer_action(view, written.get(fid))
            if action is None:
                break
            fault = next(faults, 0) if attempt < 3 else 0
            before = len(buyer.creates)
            written[fid] = perform(buyer, action, written.get(fid), crash=fault > 0)
            creates[fid] += len(buyer.creates) - before
            if fault == 2:
                return
        else:
            raise AssertionError(f"no convergence for {fid}")


@settings(max_examples=300, deadline=None)
@given(seller_histories(), st.lists(st.sampled_from((0, 0, 0, 1, 2)), min_size=50, max_size=50))
def test_any_seller_history_ends_with_the_buyer_showing_the_sellers_active_fulfillments(
    history: list[list[PlatformFulfillment]], faults: list[Fault]
) -> None:
    state = apply(new_state(PLACED.order_id), PLACED).state
    published: dict[str, LastPublished] = {}
    views: dict[str, FulfillmentRecorded | FulfillmentCancelled] = {}
    written: dict[str, BuyerWritten | None] = {}
    buyer, fault_stream = Buyer(), iter(faults)
    creates: Counter[str] = Counter()
    line_sets: defaultdict[str, list[list[FulfilledLine]]] = defaultdict(list)
    for found in history:
        result = seller_events(ORDER, SELLER_CONNECTION, found, published)
        assert result.problems == ()
        for event in result.events:
            applied = apply(state, event)
            assert applied.status == "applied", applied.detail
            state, views[event.fulfillment_id] = applied.state, event
            if isinstance(event, FulfillmentRecorded) and line_sets[event.fulfillment_id][-1:] != [event.lines]:
                line_sets[event.fulfillment_id].append(event.lines)
        published |= result.published
        # replaying the same poll yields nothing new
        assert seller_events(ORDER, SELLER_CONNECTION, found, published).events == ()
        sync_buyer(buyer, views, written, fault_stream, creates)
    sync_buyer(buyer, views, written, iter(()), creates)
    assert all(buyer_action(view, written.get(fid)) is None for fid, view in views.items())

    final = history[-1]
    expected = {(tuple(FulfillmentLine(line_ref=f"b{line.line_ref[1:]}", quantity=line.quantity)
                       for line in item.lines),
                 Tracking(carrier=item.tracking.carrier, numbers=item.tracking.numbers,
                          urls=tuple(tracking_url(item.tracking.carrier, number) for number in item.tracking.numbers)))
                for item in final if not item.cancelled}
    assert buyer.active() == expected
    assert len(buyer.creates) == len(set(buyer.creates)), "two creates for one buyer fulfillment id"
    for fid, count in creates.items():  # one create per seller fulfillment, plus one per change of its lines
        assert count <= len(line_sets[fid]), (fid, count, line_sets[fid])
    active_per_seller_fulfillment = [buyer.marker[ref] for ref in buyer.fulfillments if ref not in buyer.cancelled]
    assert len(active_per_seller_fulfillment) == len({i for i in final if not i.cancelled})


@settings(max_examples=200, deadline=None)
@given(seller_histories())
def test_replaying_any_history_with_what_was_published_yields_no_new_events(
    history: list[list[PlatformFulfillment]]
) -> None:
    published: dict[str, LastPublished] = {}
    seen: set[str] = set()
    for found in history:
        result = seller_events(ORDER, SELLER_CONNECTION, found, published)
        published |= result.published
        for event in result.events:
            assert event.event_id not in seen
            seen.add(event.event_id)
    assert seller_events(ORDER, SELLER_CONNECTION, history[-1], published).events == ()


def test_a_stale_read_older_than_what_was_published_gives_nothing() -> None:
    first = seller_events(ORDER, SELLER_CONNECTION, [ful(minute=5, numbers=("new",))], {})
    stale = seller_events(ORDER, SELLER_CONNECTION, [ful(minute=2, numbers=("old",))], dict(first.published))
    assert stale.events == ()


def test_repeated_edits_in_place_are_each_published_newer() -> None:
    published: dict[str, LastPublished] = {}
    versions = []
    for number in ("A", "B", "C"):
        result = seller_events(ORDER, SELLER_CONNECTION, [ful(minute=5, numbers=(number,))], published)
        published |= result.published
        versions.append(result.events[0].source_version)
    assert versions == [at(5), at(5) + VERSION_BUMP, at(5) + 2 * VERSION_BUMP]


def test_an_update_whose_outcome_is_unknown_is_written_again_even_if_the_view_reverts() -> None:
    first = recorded_view(numbers=("A",))
    create = buyer_action(first, None)
    assert isinstance(create, Create)
    written = written_after(create, None, "buyer-f-1")
    update = buyer_action(recorded_view(numbers=("B",), minute=2), written)
    assert isinstance(update, UpdateTracking)
    in_flight = written_before(update, written)  # the sink dies after the platform took the update
    assert in_flight is not None and in_flight.tracking is None
    again = buyer_action(first, in_flight)  # the seller reverted to "A" meanwhile
    assert again == UpdateTracking("buyer-f-1", create.request.tracking)

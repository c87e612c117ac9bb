"""`webapp.readmodel.order_view`: what the pages show of one order, from states built by the real `ledger.apply`,
buyer writes decided by the real `buyer_action`, and dead letters built as the ledger agent builds them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from ledger import OrderState, Rejection, apply, new_state
from ledger.fulfillment_sync import BuyerWritten, Create, buyer_action
from schemas.events import (
    CancelledLine,
    DeadLetter,
    FulfilledLine,
    FulfillmentCancelled,
    FulfillmentRecorded,
    OrderBuyerCancelled,
    OrderLine,
    OrderPlaced,
    PartyRef,
    SourceRef,
)
from schemas.factories import fulfillment_cancelled, fulfillment_recorded, order_buyer_cancelled, order_placed
from streams.buyers.sink import ledger_view
from streams.buyers.tables import BuyerWrites
from streams.kit.dead_letters import dead_letter
from streams.kit.records import RebuiltMessage
from webapp.model import FulfillmentView, OrderView
from webapp.readmodel import Observed, order_view

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BUYER = PartyRef(partner="northwind", connection="northwind-shop", platform="shopify", order_ref="#1001")
SELLER = PartyRef(partner="acme", connection="acme-web", platform="manual")
SELLER_SOURCE = SourceRef(partner="acme", connection="acme-web", platform="manual")
BUYER_SOURCE = SourceRef(partner="northwind", connection="northwind-shop", platform="shopify")
Input = OrderPlaced | OrderBuyerCancelled | FulfillmentRecorded | FulfillmentCancelled


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def placed(lines: Sequence[tuple[str, int]] = (("MUG", 3), ("CAP", 2))) -> OrderPlaced:
    return order_placed(buyer=BUYER, seller=SELLER, occurred_at=T0,
                        lines=[OrderLine(line_id=f"L{index}", sku=sku, quantity=quantity, title=sku.title())
                               for index, (sku, quantity) in enumerate(lines, start=1)])


ORDER = placed()


def recorded(fulfillment_id: str, units: dict[str, int], minute: int, numbers: Sequence[str] = (),
             carrier: str | None = "UPS", source: SourceRef = SELLER_SOURCE) -> FulfillmentRecorded:
    return fulfillment_recorded(order_id=ORDER.order_id, source=source, fulfillment_id=fulfillment_id,
                                source_version=at(minute), carrier=carrier, tracking_numbers=numbers,
                                lines=[FulfilledLine(line_id=line_id, quantity=qty) for line_id, qty in units.items()])


def cancelled(fulfillment_id: str, minute: int) -> FulfillmentCancelled:
    return fulfillment_cancelled(order_id=ORDER.order_id, source=SELLER_SOURCE, fulfillment_id=fulfillment_id,
                                 source_version=at(minute))


def buyer_cancelled(line_id: str, sku: str, cancelled: int, remaining: int, minute: int) -> OrderBuyerCancelled:
    return order_buyer_cancelled(order_id=ORDER.order_id, source=BUYER_SOURCE, whole_order=False,
                                 occurred_at=at(minute),
                                 lines=[CancelledLine(line_id=line_id, sku=sku, cancelled_quantity=cancelled,
                                                      remaining_quantity=remaining)])


class Ledger:
    """Feeds events to the real `ledger.apply`, keeping the state and the dead letters the agent would publish."""

    def __init__(self, *events: Input) -> None:
        self.state: OrderState = new_state(ORDER.order_id)
        self.letters: list[DeadLetter] = []
        self.offset = 0
        for event in events:
            self.feed(event)

    def feed(self, event: Input, minute: int | None = None) -> Ledger:
        self.offset += 1
        result = apply(self.state, event, f"fulfillment-events:0:{self.offset}")
        self.state = result.state
        for output in result.outputs:
            if isinstance(output, Rejection):
                message = RebuiltMessage(topic="fulfillment-events", partition=0, offset=self.offset,
                                         key=event.order_id.encode(), value=event.model_dump_json().encode(),
                                         headers=[])
                self.letters.append(dead_letter(message, reason=output.reason, text=output.message,
                                                order_id=event.order_id, rejected_event_id=output.event_id,
                                                at=at(minute if minute is not None else self.offset)))
        return self

    def view(self, writes: BuyerWrites | None = None, sent: dict[str, datetime] | None = None,
             observed: Observed | None = None) -> OrderView:
        return order_view(self.state, writes, self.letters, sent or {}, observed=observed)


def pushed(ledger: Ledger, *fulfillment_ids: str) -> BuyerWrites:
    """What the buyer tracking sink records once it created each fulfillment's current version on the buyer."""
    writes = BuyerWrites()
    assert ledger.state.order is not None
    for fulfillment_id in fulfillment_ids:
        action = buyer_action(ledger_view(ledger.state.order, ledger.state.fulfillments[fulfillment_id]), None)
        assert isinstance(action, Create)
        writes.record(fulfillment_id, BuyerWritten(action.request, f"gid://buyer/{fulfillment_id}",
                                                   action.request.tracking))
    return writes


def by_id(view: OrderView) -> dict[str, FulfillmentView]:
    return {fulfillment.fulfillment_id: fulfillment for fulfillment in view.fulfillments}


def lines(view: OrderView) -> list[tuple[str, int, int, int, int]]:
    return [(line.sku, line.ordered, line.fulfilled, line.cancelled, line.remaining) for line in view.lines]


# -- the order and its lines ----------------------------------------------------------------------------------


def test_a_placed_order_shows_its_parties_address_and_every_unit_remaining() -> None:
    view = Ledger(ORDER).view()
    assert (view.order_id, view.buyer, view.seller, view.placed_at) == (ORDER.order_id, BUYER, SELLER, T0)
    assert lines(view) == [("MUG", 3, 0, 0, 3), ("CAP", 2, 0, 0, 2)]
    assert [line.title for line in view.lines] == ["Mug", "Cap"]
    assert view.fulfillments == () and not view.shipped and view.shipped_at is None
    assert [(entry.at, entry.what) for entry in view.timeline] == [(T0, "placed")]


def test_lines_count_active_fulfillments_and_buyer_cancellations_but_not_cancelled_fulfillments() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L1": 2}, 1, ["1Z999AA10123456784"]), recorded("F2", {"L2": 1}, 2),
                    cancelled("F2", 3))
    ledger.feed(buyer_cancelled("L2", "CAP", 1, 1, 4))
    assert lines(ledger.view()) == [("MUG", 3, 2, 0, 1), ("CAP", 2, 0, 1, 1)]


def test_remaining_never_goes_below_zero_when_the_seller_shipped_what_the_buyer_cancelled() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L2": 2}, 1))
    ledger.feed(buyer_cancelled("L2", "CAP", 2, 0, 2))
    assert lines(ledger.view())[1] == ("CAP", 2, 2, 2, 0)


def test_a_state_without_its_order_placed_has_no_view() -> None:
    ledger = Ledger(recorded("F1", {"L1": 1}, 1))
    assert ledger.state.held, "the ledger holds the fulfillment until its order arrives"
    with pytest.raises(ValueError, match=r"no order\.placed"):
        ledger.view()


# -- fulfillment statuses --------------------------------------------------------------------------------------


def test_a_fulfillment_the_app_sent_is_pending_until_the_ledger_applied_it_then_pushed_once_the_buyer_has_it() -> None:
    ledger = Ledger(ORDER)
    sent = {"web-1": at(5)}
    [pending] = ledger.view(sent=sent).fulfillments
    assert (pending.fulfillment_id, pending.status, pending.recorded_at, pending.lines) == ("web-1", "pending",
                                                                                           at(5), {})

    ledger.feed(recorded("web-1", {"L1": 1}, 5, ["1Z999AA10123456784"]))
    [applied] = ledger.view(sent=sent).fulfillments
    assert (applied.status, applied.carrier, applied.numbers, applied.lines) == (
        "applied", "UPS", ("1Z999AA10123456784",), {"L1": 1})
    assert applied.urls[0] is not None and "1Z999AA10123456784" in applied.urls[0], "URL built for a known carrier"
    assert applied.buyer_ref is None

    [done] = ledger.view(pushed(ledger, "web-1"), sent=sent).fulfillments
    assert (done.status, done.buyer_ref) == ("pushed", "gid://buyer/web-1")


def test_a_buyer_write_in_progress_or_of_an_older_version_is_not_pushed() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L1": 1}, 1, ["1Z999AA10123456784"]))
    writes = pushed(ledger, "F1")
    in_progress = BuyerWrites()
    old = writes.get("F1")
    assert old is not None
    in_progress.record("F1", BuyerWritten(old.request, None, old.request.tracking))  # create's outcome unknown
    assert by_id(ledger.view(in_progress))["F1"].status == "applied"

    ledger.feed(recorded("F1", {"L1": 1}, 2, ["1Z999AA10123456791"]))  # tracking edited; buyer has the old one
    edited = by_id(ledger.view(writes))["F1"]
    assert (edited.status, edited.numbers) == ("applied", ("1Z999AA10123456791",))
    assert by_id(ledger.view(pushed(ledger, "F1")))["F1"].status == "pushed"


def test_an_edit_the_app_sent_is_pending_until_the_ledger_holds_that_version() -> None:
    ledger = Ledger(ORDER, recorded("web-1", {"L1": 1}, 1, ["1Z999AA10123456784"]))
    writes = pushed(ledger, "web-1")
    sent = {"web-1": at(7)}
    pending = by_id(ledger.view(writes, sent))["web-1"]
    assert (pending.status, pending.numbers, pending.recorded_at) == ("pending", ("1Z999AA10123456784",), at(7))
    ledger.feed(recorded("web-1", {"L1": 1}, 7, ["1Z999AA10123456791"]))
    assert by_id(ledger.view(writes, sent))["web-1"].status == "applied"


def test_a_cancelled_fulfillment_is_shown_as_cancelled_even_after_the_buyer_had_it() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L1": 1}, 1))
    writes = pushed(ledger, "F1")
    ledger.feed(cancelled("F1", 2))
    [view] = ledger.view(writes, {"F1": at(2)}).fulfillments
    assert (view.status, view.lines) == ("cancelled", {"L1": 1})


def test_a_cancellation_seen_before_its_fulfillment_is_cancelled_without_lines() -> None:
    [view] = Ledger(ORDER, cancelled("F9", 1)).view().fulfillments
    assert (view.status, view.lines, view.numbers) == ("cancelled", {}, ())


def test_a_fulfillment_the_ledger_refused_is_rejected_with_its_reason_and_what_was_sent() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L1": 3}, 1))
    ledger.feed(recorded("web-2", {"L1": 1}, 5), minute=6)  # a 4th unit of 3
    view = by_id(ledger.view(sent={"web-2": at(5)}))["web-2"]
    assert (view.status, view.lines, view.recorded_at) == ("rejected", {"L1": 1}, at(5))
    assert view.reason is not None and "3 ordered" in view.reason
    assert lines(ledger.view())[0] == ("MUG", 3, 3, 0, 0)


def test_several_tracking_numbers_for_one_unit_are_rejected() -> None:
    ledger = Ledger(ORDER, recorded("web-1", {"L2": 1}, 1, ["1Z999AA10123456784", "1Z999AA10123456791"]))
    view = by_id(ledger.view(sent={"web-1": at(1)}))["web-1"]
    assert view.status == "rejected" and view.numbers == ("1Z999AA10123456784", "1Z999AA10123456791")
    assert view.reason is not None and "one tracking number per unit" in view.reason


def test_a_refused_edit_leaves_the_fulfillment_standing_with_the_reason_while_a_later_edit_is_pending() -> None:
    ledger = Ledger(ORDER, recorded("web-1", {"L1": 2}, 1, ["1Z999AA10123456784"]))
    ledger.feed(recorded("web-1", {"L1": 4}, 3), minute=4)  # more than ordered: refused, version 1 stands
    sent = {"web-1": at(3)}
    refused = by_id(ledger.view(sent=sent))["web-1"]
    assert (refused.status, refused.lines, refused.numbers) == ("applied", {"L1": 2}, ("1Z999AA10123456784",))
    assert refused.reason is not None and "last change was refused" in refused.reason and "3 ordered" in refused.reason
    assert by_id(ledger.view(pushed(ledger, "web-1"), sent))["web-1"].status == "pushed"
    assert lines(ledger.view(sent=sent))[0] == ("MUG", 3, 2, 0, 1), "the refused edit does not count"
    assert by_id(ledger.view(sent={"web-1": at(8)}))["web-1"].status == "pending", "a newer edit is pending again"


def test_a_rejection_of_an_older_version_does_not_hide_a_later_accepted_one() -> None:
    ledger = Ledger(ORDER)
    ledger.feed(recorded("F1", {"L1": 5}, 1), minute=1)  # refused
    ledger.feed(recorded("F1", {"L1": 2}, 2))  # accepted
    assert by_id(ledger.view())["F1"].status == "applied"


def test_a_fulfillment_the_buyer_platform_refused_for_good_stays_applied_with_the_sinks_message() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L1": 1}, 1))
    record = ledger.state.fulfillments["F1"]
    writes = BuyerWrites(refused={"F1": f"{record.digest}:{record.cancelled}"})
    ledger.letters.append(dead_letter(
        RebuiltMessage(topic="buyer-pushes", partition=0, offset=3, key=ORDER.order_id.encode(),
                       value=b'{"order_id": "x"}', headers=[]),
        reason="platform_rejected", order_id=ORDER.order_id, rejected_event_id=None, at=at(2), stage="buyer_push",
        text="northwind-shop refused to create for seller fulfillment F1 on buyer order #1001: line closed; not tried "
             "again until the seller's fulfillment changes"))
    view = by_id(ledger.view(writes))["F1"]
    assert view.status == "applied" and view.reason is not None and "line closed" in view.reason
    ledger.feed(recorded("F1", {"L1": 1}, 3, ["1Z999AA10123456784"]))
    assert by_id(ledger.view(writes))["F1"].reason is None, "a changed fulfillment is tried again"


def test_fulfillments_are_listed_oldest_first() -> None:
    ledger = Ledger(ORDER, recorded("B", {"L1": 1}, 2), recorded("A", {"L1": 1}, 3))
    view = ledger.view(sent={"web-x": at(9)})
    assert [f.fulfillment_id for f in view.fulfillments] == ["B", "A", "web-x"]


# -- shipped, reopened and the timeline -----------------------------------------------------------------------


def test_shipped_at_is_the_time_of_the_order_shipped_that_holds_now() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L1": 3}, 1), recorded("F2", {"L2": 2}, 2))
    assert ledger.view().shipped_at == at(2)
    ledger.feed(cancelled("F2", 3))
    assert ledger.view().shipped_at is None
    ledger.feed(recorded("F3", {"L2": 2}, 4))
    assert ledger.view().shipped_at == at(4)


def test_the_timeline_tells_the_whole_story_oldest_first() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L1": 3}, 1, ["1Z999AA10123456784"]), recorded("F2", {"L2": 2}, 2))
    writes = pushed(ledger, "F1")
    ledger.feed(cancelled("F2", 4))
    ledger.feed(recorded("F3", {"L2": 3}, 5), minute=5)  # over-fulfillment: dead-lettered
    ledger.feed(recorded("F4", {"L2": 2}, 6, ["1Z999AA10123456791"]))
    view = ledger.view(writes, observed=Observed(pushed_at={"F1": at(3)}))
    assert [(entry.at, entry.what) for entry in view.timeline] == [
        (T0, "placed"),
        (at(1), "fulfilled 3 of MUG (UPS 1Z999AA10123456784)"),
        (at(2), "fulfilled 2 of CAP (UPS no tracking)"),
        (at(2), "shipped"),
        (at(3), "pushed to the buyer: 3 of MUG (UPS 1Z999AA10123456784)"),
        (at(4), "fulfillment F2 cancelled"),
        (at(4), "reopened: fulfillment F2 was cancelled"),
        (at(5), f"dead-lettered (over_fulfillment): {ledger.letters[0].message}"),
        (at(6), "fulfilled 2 of CAP (UPS 1Z999AA10123456791)"),
        (at(6), "shipped"),
    ]
    assert view.shipped_at == at(6)


def test_a_cancellation_that_reopened_nothing_is_timed_when_the_read_model_saw_it() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L1": 1}, 1), cancelled("F1", 2))
    entries = [(e.at, e.what) for e in ledger.view(observed=Observed(cancelled_at={"F1": at(7)})).timeline]
    assert entries[-1] == (at(7), "fulfillment F1 cancelled")
    unknown = [(e.at, e.what) for e in ledger.view().timeline]
    assert unknown[-1] == (at(1), "fulfillment F1 cancelled"), "no later than the fulfillment when nothing says when"


def test_a_tracking_edit_after_shipping_is_in_the_timeline() -> None:
    ledger = Ledger(ORDER, recorded("F1", {"L1": 3, "L2": 2}, 1, ["1Z999AA10123456784"]))
    ledger.feed(recorded("F1", {"L1": 3, "L2": 2}, 2, ["1Z999AA10123456791"]))
    assert ledger.view().timeline[-1].what == "tracking updated: UPS 1Z999AA10123456791"


def test_outputs_of_inputs_held_before_their_order_appear_once() -> None:
    ledger = Ledger(recorded("F1", {"L1": 3, "L2": 2}, 1), ORDER)
    view = ledger.view()
    assert [entry.what for entry in view.timeline].count("shipped") == 1
    assert view.shipped_at == at(1) and by_id(view)["F1"].status == "applied"

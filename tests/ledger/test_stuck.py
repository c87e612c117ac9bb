"""`ledger.stuck`: which orders wait to ship, their last change, and the ages they are stuck for."""

from __future__ import annotations

from datetime import timedelta

from ledger.stuck import STUCK_AGES, count_stuck, is_stuck, last_change, stuck_ages, waiting_since
from tests.support.ledger_builders import T0, Ledger, at, buyer_cancelled, cancelled, order_placed, recorded

DAY = timedelta(days=1)


def test_the_ages_are_the_documented_labels_shortest_first() -> None:
    assert [age.label for age in STUCK_AGES] == ["1d", "3d", "7d", "14d", "30d"]
    assert [age.age for age in STUCK_AGES] == sorted(age.age for age in STUCK_AGES)


def test_an_order_waits_from_its_placement_until_something_changes() -> None:
    ledger = Ledger()
    ledger.feed(order_placed({"L1": 2}))
    assert last_change(ledger.state) == T0
    assert waiting_since(ledger.state) == T0
    ledger.feed(recorded({"L1": 1}, version=90))  # a partial fulfillment 90 minutes later
    assert waiting_since(ledger.state) == at(90)


def test_a_cancelled_fulfillment_and_a_reopening_count_as_changes() -> None:
    ledger = Ledger()
    ledger.feed(order_placed({"L1": 1}))
    ledger.feed(recorded({"L1": 1}, version=10))
    assert ledger.state.is_shipped and waiting_since(ledger.state) is None
    ledger.feed(cancelled(version=30))  # reopened at the cancellation's time
    assert not ledger.state.is_shipped
    assert waiting_since(ledger.state) == at(30)


def test_unknown_shipped_and_wholly_cancelled_orders_do_not_wait() -> None:
    unknown = Ledger()
    unknown.feed(recorded({"L1": 1}))  # held: its order is not known yet
    assert last_change(unknown.state) is None and waiting_since(unknown.state) is None
    shipped = Ledger()
    shipped.feed(order_placed({"L1": 1}))
    shipped.feed(recorded({"L1": 1}))
    assert waiting_since(shipped.state) is None
    withdrawn = Ledger()
    order = order_placed({"L1": 2})
    withdrawn.feed(order)
    withdrawn.feed(buyer_cancelled(order, whole_order=True))
    assert waiting_since(withdrawn.state) is None


def test_the_ages_are_cumulative_and_inclusive() -> None:
    assert stuck_ages(T0, T0 + DAY - timedelta(seconds=1)) == []
    assert stuck_ages(T0, T0 + DAY) == ["1d"]
    assert stuck_ages(T0, T0 + 8 * DAY) == ["1d", "3d", "7d"]
    assert stuck_ages(T0, T0 + 365 * DAY) == ["1d", "3d", "7d", "14d", "30d"]
    assert stuck_ages(T0, T0 - DAY) == []  # a last change ahead of our clock is not stuck


def test_is_stuck_and_count_stuck() -> None:
    quiet, busy, shipped = Ledger(), Ledger(), Ledger()
    quiet.feed(order_placed({"L1": 1}))
    busy.feed(order_placed({"L1": 2}))
    busy.feed(recorded({"L1": 1}, version=5 * 24 * 60))  # 5 days after T0
    shipped.feed(order_placed({"L1": 1}))
    shipped.feed(recorded({"L1": 1}))
    now = T0 + 8 * DAY
    assert is_stuck(quiet.state, now, 7 * DAY) and not is_stuck(busy.state, now, 7 * DAY)
    assert is_stuck(busy.state, now, 3 * DAY) and not is_stuck(shipped.state, now, DAY)
    assert count_stuck([quiet.state, busy.state, shipped.state], now) == {"1d": 2, "3d": 2, "7d": 1, "14d": 0,
                                                                           "30d": 0}
    assert count_stuck([], now) == dict.fromkeys(["1d", "3d", "7d", "14d", "30d"], 0)

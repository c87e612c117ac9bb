"""Checks over an order's lines are linear in its size: duplicate-line detection counts each line once.

A check that compares every line with every other (`list.count` per line) needs about n² comparisons: 25 million
for 5,000 lines, 2.5 billion (minutes) for 50,000. These tests count comparisons where they can, and otherwise run
the real checks on 50,000-line orders, which only a linear check finishes in a test run.
"""

from __future__ import annotations

from ledger import apply, new_state
from ledger.apply import repeated
from ledger.routing import route_order
from schemas.platform import PlatformLine, PlatformOrder
from tests.ledger.test_routing import BUYER, CONNECTIONS, ROUTES, T0
from tests.support.ledger_builders import ORDER_ID, buyer_cancelled, order_placed, position

BIG = 50_000


class CountingStr(str):
    """A string that counts how often it is compared for equality."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountingStr.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_repeated_compares_each_of_5000_line_ids_about_once() -> None:
    ids = [CountingStr(f"line-{n}") for n in range(5_000)] + [CountingStr("line-7")]
    CountingStr.comparisons = 0
    assert repeated(ids) == ["line-7"]
    assert CountingStr.comparisons <= 2 * len(ids)  # a pairwise check would make about 25 million


def test_an_order_of_50000_lines_is_checked_and_applied() -> None:
    lines = [(f"L{n}", 1) for n in range(BIG)]
    result = apply(new_state(ORDER_ID), order_placed(lines), position(1))
    assert result.status == "applied"
    doubled = apply(new_state(ORDER_ID), order_placed([*lines, ("L123", 1)]), position(1))
    assert doubled.status == "rejected" and "repeated: L123" in doubled.detail


def test_a_cancellation_of_50000_lines_is_checked() -> None:
    placed = order_placed([(f"L{n}", 2) for n in range(BIG)])
    state = apply(new_state(ORDER_ID), placed, position(1)).state
    result = apply(state, buyer_cancelled(placed, {f"L{n}": 1 for n in range(BIG)}), position(2))
    assert result.status == "applied"


def test_routing_checks_an_order_of_50000_lines() -> None:
    order = PlatformOrder(order_ref="9001", updated_at=T0, lines=tuple(
        PlatformLine(line_ref=str(n), sku=f"ACME-{n}", quantity=1) for n in range(BIG)))
    routing = route_order(BUYER, order, routes=ROUTES, connections=CONNECTIONS, observed_at=T0)
    assert [len(placed.lines) for placed in routing.placed] == [BIG]

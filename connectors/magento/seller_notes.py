"""The order comments fulfillsync writes on a Magento seller's order it created, and how they are read back
(pure functions). Each names our order id, so a retry of `create_order` finds what an earlier attempt wrote.

- `fulfillsync: custom lines, not products of this store's catalog: <SKU>, …`: the order holds lines linked to no
  catalog product (the route's `unknown_sku: custom_line`); the same text is in the order's `customer_note`.
- The stock move, in two comments, because `POST /V1/orders` moves no stock and Magento's REST API can only SET a
  stock quantity (no decrement, no reservation):
  1. the plan, written before any stock is touched: `fulfillsync is moving the stock of this order's catalog
     items (units on hand before -> after):`, one `<SKU>: <before> -> <after>` line per SKU, the SKUs it cannot
     move (a `/` in them: Magento's REST paths cannot carry it reliably), then
     `[stock plan fulfillsync:<our_order_id>]`;
  2. `Stock moved by fulfillsync for this order's catalog items [stock moved fulfillsync:<our_order_id>]`, written
     once every quantity of the plan is set.
  A retry that finds the plan but not the second comment reads each planned SKU's quantity again
  (`on_retry`): still `before`, it is set to `after`; already `after`, it is left alone; anything else (a sale or a
  restock since the plan, which may be hours old after backoff or a requeue) is not overwritten but named in a
  third comment (`changed`) for the seller to check by hand. So a crash at any point neither skips nor doubles the
  move. One that finds the second comment does nothing. The cost is the read-modify-write of a quantity: a sale on
  the seller's store between our read and our write, in the same attempt, is overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

UNLINKED_PREFIX = "fulfillsync: custom lines, not products of this store's catalog: "
_PLAN_HEAD = "fulfillsync is moving the stock of this order's catalog items (units on hand before -> after):"
_SKIPPED = "Not moved (a '/' in a SKU cannot be sent in Magento's REST paths), adjust by hand: "
_MOVE_LINE = re.compile(r"^(?P<sku>.+): (?P<before>-?\d+) -> (?P<after>-?\d+)$")


@dataclass(frozen=True)
class StockMove:
    """One SKU's stock quantity before the order and the quantity to set (`before` minus the units ordered)."""

    sku: str
    before: int
    after: int


def unlinked(skus: Sequence[str]) -> str:
    """The flag naming the order's lines that are no catalog products."""
    return UNLINKED_PREFIX + ", ".join(skus)


def plan(our_order_id: str, moves: Sequence[StockMove], unreachable: Sequence[str] = ()) -> str:
    """The comment written before the stock is set; `unreachable`: SKUs whose stock cannot be set through
    Magento's REST paths (a `/` in them), for the seller to adjust by hand."""
    skipped = [f"{_SKIPPED}{', '.join(unreachable)}"] if unreachable else []
    return "\n".join([_PLAN_HEAD, *(f"{move.sku}: {move.before} -> {move.after}" for move in moves), *skipped,
                      _plan_marker(our_order_id)])


def on_retry(move: StockMove, quantity: int) -> Literal["set", "skip", "changed"]:
    """What a retry does with a planned move whose SKU now has `quantity` on hand (module docstring)."""
    if quantity == move.after:
        return "skip"
    return "set" if quantity == move.before else "changed"


def changed(moves: Sequence[tuple[StockMove, int]]) -> str:
    """The comment naming planned moves not made because the quantity changed since the plan: (move, now)."""
    named = "; ".join(f"{move.sku}: planned {move.before} -> {move.after}, now {now}" for move, now in moves)
    return (f"fulfillsync did not set the stock of these catalog items, which changed since its plan: {named}. "
            "Take this order's units off by hand if the change did not include them.")


def done(our_order_id: str) -> str:
    """The comment written once the stock of the plan is set."""
    return f"Stock moved by fulfillsync for this order's catalog items {_done_marker(our_order_id)}"


def read_plan(texts: Iterable[str], our_order_id: str) -> tuple[StockMove, ...] | None:
    """The moves of our plan among the order's comments, None when there is none."""
    marker = _plan_marker(our_order_id)
    for text in texts:
        if marker in text:
            moves = (_MOVE_LINE.match(line.strip()) for line in text.splitlines())
            return tuple(StockMove(m["sku"], int(m["before"]), int(m["after"])) for m in moves if m)
    return None


def stock_moved(texts: Iterable[str], our_order_id: str) -> bool:
    """Whether the order's comments say the stock of this order was moved."""
    marker = _done_marker(our_order_id)
    return any(marker in text for text in texts)


def _plan_marker(our_order_id: str) -> str:
    return f"[stock plan fulfillsync:{our_order_id}]"


def _done_marker(our_order_id: str) -> str:
    return f"[stock moved fulfillsync:{our_order_id}]"

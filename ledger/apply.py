"""Applying one input to one order's state: the ledger rules (README.md, "The ledger rules"), as a pure function.

`apply(state, event, position)` never raises for bad input and never mutates `state`: it returns the new state,
what happened (`status`) and the outputs to publish. Every input is applied, recognised as a duplicate or
stale, held until its order arrives, or rejected with a reason code; nothing is dropped silently.

Rules:
- A fulfillment names lines of its order with positive integer quantities; the active units of a line never
  exceed its ordered quantity. A fulfillment that would over-fulfill is rejected whole; the state is unchanged.
- Tracking numbers <= units in the fulfillment. URLs pair with numbers by position; carriers are normalised
  and a URL is built for a known carrier when none is given.
- Same fulfillment, same content: no-op. Newer source version: replaces the fulfillment (tracking, carrier and
  even lines), publishing `order.tracking_updated` when a shipped order's tracking changes. Older: ignored.
  Equal versions with different content are ordered by content digest, so every replay converges.
- A cancellation is final for that fulfillment id. A shipped order no longer covered is reopened; covered
  again, it is shipped again under a new deterministic event id (derived from the covering fulfillments).
- Shipped exactly when every line is fully covered by active fulfillments, counting only the units the buyer
  has not cancelled.
- A buyer cancellation (`order.buyer_cancelled`, from the order's buyer connection only) states totals since
  placement; per line the ledger keeps the most units any cancellation said, so an older total changes nothing
  (`stale`). It can complete an order, which then ships. Once every unit is cancelled, the Shipped status no
  longer changes: a shipped order stays shipped (the goods left), an unshipped one never ships. Fulfillments are
  still accepted up to the *ordered* quantity: the seller may have shipped before it saw the cancellation.

Remembering inputs (what idempotence needs, bounded whatever the number of inputs):
- An accepted input needs no memory: applied again, the rules above make it a no-op (the same or an older
  version of a fulfillment is `duplicate` or `stale`, a cancellation is final, buyer cancellations keep the
  largest totals, an order placed again without a reference the stored order has is `duplicate`). So a replay
  of every input changes nothing and publishes nothing, and the state does not grow with corrections.
- A rejected input is remembered by a digest of its event id (the last `REJECTED_INPUTS` of them): applied again,
  it would be judged on the order as it is then (an over-fulfillment may fit after a cancellation), so a
  redelivery is `duplicate` instead. Past that bound the oldest is forgotten and a redelivery is judged again.
- An input held before its order is `duplicate` while it is held (compared with the held inputs' ids).
- The last `RECENT_INPUTS` inputs that had outputs are remembered by their record (event id and `position`) with
  what each output was (`ledger.state.Mark`): a redelivery of the very same record returns its outputs again with
  the same ids, because the first delivery may have died before publishing them. Their content is rendered from
  the order's current state (`ledger.outputs`): the same as the first time unless a later input of the order
  changed it, and that input's own outputs follow it when it is redelivered too (an order.placed that released
  several held inputs renders all their outputs from the state after the last of them). The records read again after a
  crash are those since the last committed offset, and the worker publishes before it commits, so only an order
  with more than `RECENT_INPUTS` output-producing inputs in one commit interval could lose one.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ledger.outputs import mark_of, published_again, reopened, shipped, tracking_updated
from ledger.state import FulfillmentRecord, HeldInput, LineUnits, OrderState, Output, RecentInput, Rejection
from schemas.carriers import canonical_carrier, tracking_url
from schemas.events import (
    FulfillmentCancelled,
    FulfillmentRecorded,
    InputEvent,
    OrderBuyerCancelled,
    OrderPlaced,
    PartyRef,
)

MAX_HELD_INPUTS = 100
"""Inputs kept per unknown order (fulfillments, buyer cancellations); past this, further ones are rejected as
`unknown_order`."""

RECENT_INPUTS = 4
"""Inputs with outputs remembered per order, so that a redelivered record publishes its outputs again."""

REJECTED_INPUTS = 64
"""Rejected inputs remembered per order (a digest of each event id), so that a redelivery is not judged again."""

Status = Literal["applied", "duplicate", "stale", "held", "rejected"]


@dataclass(frozen=True)
class Result:
    """The outcome of one `apply`: the new state, what happened, and the outputs to publish (in order)."""

    state: OrderState
    status: Status
    outputs: list[Output] = field(default_factory=list)
    detail: str = ""


def new_state(order_id: str) -> OrderState:
    """The state of an order id the ledger has never seen."""
    return OrderState(order_id=order_id)


def apply(state: OrderState, event: InputEvent, position: str | None = None) -> Result:
    """Apply `event` (whose order id must be `state.order_id`) read at `position` (e.g. `topic:partition:offset`).
    An input that changes nothing (`duplicate`, `stale`) returns `state` itself."""
    key = record_key(event.event_id, position) if position is not None and state.recent else None
    for entry in state.recent:  # a redelivery of one of the last records with outputs
        if entry.key == key:
            return Result(state, "duplicate", published_again(state, entry.outputs),
                          "this very record was already processed; its outputs are published again")
    if event.order_id != state.order_id:
        rejection = _reject(event, "invalid_payload", f"event for order {event.order_id} applied to {state.order_id}")
        return Result(state, "rejected", [rejection], rejection.message)
    if state.rejected and input_key(event.event_id) in state.rejected:
        return Result(state, "duplicate", [], "this event id was rejected before")
    if any(item.event.event_id == event.event_id for item in state.held):
        return Result(state, "duplicate", [], "this event id is already held until its order arrives")

    working = _private_copy(state)
    result = _apply_new(working, event)
    if result.status in ("duplicate", "stale"):
        return Result(state, result.status, [], result.detail)
    outputs = list(result.outputs)
    if isinstance(event, OrderPlaced) and result.status == "applied" and working.held:
        outputs += _release_held(working)
    if result.status == "held":
        assert not isinstance(event, OrderPlaced)
        working.held.append(HeldInput(event=event, position=position))
    _remember(working, event.event_id, position, rejected=result.status == "rejected", outputs=outputs)
    return Result(working, result.status, outputs, result.detail)


def record_key(event_id: str, position: str) -> str:
    """What identifies one record of an input: a digest of its event id and position."""
    return _short_digest(f"{event_id}@{position}")


def input_key(event_id: str) -> str:
    """What identifies an input whatever record carries it: a digest of its event id."""
    return _short_digest(event_id)


def _short_digest(text: str) -> str:
    # 72 bits: two of the few hundred keys one order keeps collide with odds below one in 10^17.
    return base64.urlsafe_b64encode(hashlib.blake2b(text.encode(), digest_size=9).digest()).decode()


def _remember(state: OrderState, event_id: str, position: str | None, *, rejected: bool,
              outputs: list[Output]) -> None:
    """What the state keeps of an input it did not have (module docstring, "Remembering inputs")."""
    if rejected:
        state.rejected = [*state.rejected[-(REJECTED_INPUTS - 1):], input_key(event_id)]
    if position is not None and outputs:
        entry = RecentInput(key=record_key(event_id, position), outputs=[mark_of(output) for output in outputs])
        state.recent = [*state.recent[-(RECENT_INPUTS - 1):], entry]


def _private_copy(state: OrderState) -> OrderState:
    """A copy that `_apply_new` may change: its containers are new; the records in them are never changed in
    place (they are replaced), so sharing them with `state` is safe and much cheaper than a deep copy."""
    return state.model_copy(update={"fulfillments": dict(state.fulfillments), "recent": list(state.recent),
                                    "rejected": list(state.rejected), "held": list(state.held)})


def _release_held(state: OrderState) -> list[Output]:
    outputs: list[Output] = []
    held, state.held = state.held, []
    for item in held:
        result = _apply_new(state, item.event)
        _remember(state, item.event.event_id, item.position, rejected=result.status == "rejected",
                  outputs=list(result.outputs))
        outputs += result.outputs
    return outputs


def _apply_new(state: OrderState, event: InputEvent) -> Result:
    """Apply an input not seen before, mutating `state` (a private copy) only when the input is accepted."""
    if isinstance(event, OrderPlaced):
        return _place(state, event)
    if state.order is None:
        if len(state.held) >= MAX_HELD_INPUTS:
            return _rejected(state, event, "unknown_order",
                             f"order {event.order_id} is unknown and already has {MAX_HELD_INPUTS} inputs waiting")
        return Result(state, "held", [], "order not known yet; held until its order.placed arrives")
    side = "buyer" if isinstance(event, OrderBuyerCancelled) else "seller"
    owner: PartyRef = getattr(state.order, side)
    if (event.source.partner, event.source.connection) != (owner.partner, owner.connection):
        return _rejected(state, event, "tenant_mismatch",
                         f"connection {event.source.connection} (partner {event.source.partner}) cannot change order "
                         f"{state.order_id}, which belongs to {side} connection {owner.connection}")
    if isinstance(event, OrderBuyerCancelled):
        return _buyer_cancel(state, event)
    if isinstance(event, FulfillmentCancelled):
        return _cancel(state, event)
    return _record(state, event)


# -- order.placed --------------------------------------------------------------------------------------------


def _place(state: OrderState, event: OrderPlaced) -> Result:
    problem = _order_problem(event)
    if problem:
        return _rejected(state, event, "invalid_order", problem)
    if state.order is None:
        state.order = event
        return Result(state, "applied", [], "order placed")
    if _order_lines(state.order) != _order_lines(event):
        return _rejected(state, event, "order_conflict",
                         f"order {state.order_id} was already placed with other lines; a stored order's lines "
                         "cannot be replaced by a second order.placed")
    if all(_is_copy(getattr(state.order, side), getattr(event, side)) for side in ("buyer", "seller")):
        return Result(state, "duplicate", [], "same order placed again")
    moved = [side for side in ("buyer", "seller") if not _may_replace(getattr(state.order, side),
                                                                      getattr(event, side))]
    if moved:
        return _rejected(state, event, "order_conflict",
                         f"order {state.order_id} belongs to {' and '.join(moved)} "
                         f"{', '.join(getattr(state.order, side).connection for side in moved)}; a second "
                         "order.placed may add a missing order reference but cannot change a party or a known "
                         "reference")
    state.order = state.order.model_copy(update={"buyer": event.buyer, "seller": event.seller})
    return Result(state, "applied", [], "order references updated")


def _is_copy(known: PartyRef, given: PartyRef) -> bool:
    """`given` is the known party, or the known party as it was before its order reference was known."""
    return given == known or given == known.model_copy(update={"order_ref": None})


def _may_replace(old: PartyRef, new: PartyRef) -> bool:
    """A later order.placed may fill in a reference that was unknown, and change nothing else of a party."""
    same_party = (old.partner, old.connection, old.platform) == (new.partner, new.connection, new.platform)
    return same_party and old.order_ref in (None, new.order_ref)


def repeated(values: Iterable[str]) -> list[str]:
    """The values that occur more than once, sorted. One pass with a counter: linear in the number of values
    (an order of 50,000 lines is checked in one pass, not 50,000 passes)."""
    return sorted(value for value, times in Counter(values).items() if times > 1)


def _order_problem(event: OrderPlaced) -> str:
    duplicates = repeated(line.line_id for line in event.lines)
    if duplicates:
        return f"line ids must be unique within an order; repeated: {', '.join(duplicates)}"
    for line in event.lines:
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or line.quantity < 1:
            return f"line {line.line_id}: ordered quantity must be a positive integer, got {line.quantity!r}"
    return ""


def _order_lines(event: OrderPlaced) -> list[tuple[str, str, int]]:
    return sorted((line.line_id, line.sku, line.quantity) for line in event.lines)


# -- fulfillment.recorded ------------------------------------------------------------------------------------


def _record(state: OrderState, event: FulfillmentRecorded) -> Result:
    candidate = _normalise(state, event)
    if isinstance(candidate, Rejection):
        return Result(state, "rejected", [candidate], candidate.message)
    existing = state.fulfillments.get(event.fulfillment_id)
    if existing is not None:
        if existing.cancelled:
            return Result(state, "stale", [],
                          f"fulfillment {event.fulfillment_id} was cancelled; it never counts again")
        ordering = _compare(candidate, existing)
        if ordering == 0:
            return Result(state, "duplicate", [], "same fulfillment, same content")
        if ordering < 0:
            return Result(state, "stale", [], f"older version of fulfillment {event.fulfillment_id} ignored")
    over = _over_fulfillment(state, candidate, replacing=existing)
    if over:
        return _rejected(state, event, "over_fulfillment", over)

    was_shipped_id = state.shipped_event_id
    state.fulfillments[candidate.fulfillment_id] = candidate
    outputs = _coverage_change(state, event.occurred_at, candidate.fulfillment_id, "fulfillment_changed")
    if existing is not None and not outputs and was_shipped_id is not None and _tracking_changed(existing, candidate):
        outputs.append(tracking_updated(state, candidate, event.occurred_at))
    detail = "fulfillment updated" if existing else "fulfillment recorded"
    return Result(state, "applied", outputs, detail)


def _normalise(state: OrderState, event: FulfillmentRecorded) -> FulfillmentRecord | Rejection:
    assert state.order is not None
    ordered = {line.line_id: line for line in state.order.lines}
    units: dict[str, int] = {}
    for line in event.lines:
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or line.quantity < 1:
            return _reject(event, "invalid_quantity",
                           f"line {line.line_id}: quantity must be a positive integer, got {line.quantity!r}")
        order_line = ordered.get(line.line_id)
        if order_line is None:
            return _reject(event, "unknown_line",
                           f"line {line.line_id} is not a line of order {state.order_id} "
                           f"(its lines: {', '.join(sorted(ordered))})")
        if line.sku is not None and line.sku != order_line.sku:
            return _reject(event, "unknown_line",
                           f"line {line.line_id} has SKU {order_line.sku} on the order, but the fulfillment says "
                           f"{line.sku}")
        units[line.line_id] = units.get(line.line_id, 0) + line.quantity

    if len(event.tracking_urls) > len(event.tracking_numbers):
        return _reject(event, "invalid_payload",
                       f"{len(event.tracking_urls)} tracking URLs for {len(event.tracking_numbers)} tracking "
                       "number(s); URLs pair with numbers by position")
    given = _urls_by_number(event.tracking_numbers, event.tracking_urls)
    numbers = list(given)
    total_units = sum(units.values())
    if len(numbers) > total_units:
        return _reject(event, "multi_tracking_single_unit",
                       f"{len(numbers)} tracking numbers for {total_units} unit(s): a fulfillment may carry at most "
                       "one tracking number per unit")
    carrier = canonical_carrier(event.carrier)
    urls = [given[number] or tracking_url(carrier, number) for number in numbers]
    # Built without validation: every value comes from the validated event and order, checked above.
    lines = [LineUnits.model_construct(line_id=line_id, sku=ordered[line_id].sku, quantity=quantity)
             for line_id, quantity in sorted(units.items())]
    return FulfillmentRecord.model_construct(
        fulfillment_id=event.fulfillment_id, source_version=event.source_version,
        digest=content_digest(carrier, numbers, urls, lines),
        carrier=carrier, tracking_numbers=numbers, tracking_urls=urls, lines=lines, cancelled=False,
    )


def _urls_by_number(numbers: list[str], urls: list[str | None]) -> dict[str, str | None]:
    """Distinct tracking numbers (whitespace removed, as people type `7946 1234 5670`; blanks dropped; first
    occurrence first), each with the first URL given beside it by position."""
    paired: dict[str, str | None] = {}
    for index, raw in enumerate(numbers):
        number = "".join(raw.split())
        if not number:
            continue
        url = (urls[index] or "").strip() if index < len(urls) else ""
        if paired.get(number) is None:
            paired[number] = url or None
    return paired


def content_digest(carrier: str | None, numbers: list[str], urls: list[str | None], lines: list[LineUnits]) -> str:
    """What a fulfillment's content is, as a digest: equal versions are ordered by it."""
    # Separators below 0x20 cannot occur in the normalised values; None and "" cannot both occur either.
    content = "\x1f".join((carrier or "", "\x1e".join(numbers), "\x1e".join(url or "" for url in urls),
                           "\x1e".join(f"{x.line_id}\x1d{x.quantity}" for x in lines)))
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def _compare(candidate: FulfillmentRecord, existing: FulfillmentRecord) -> int:
    """-1, 0 or 1 as `candidate` is older than, the same as, or newer than `existing`."""
    if candidate.digest == existing.digest:
        return 0 if candidate.source_version <= existing.source_version else 1
    mine, theirs = (candidate.source_version, candidate.digest), (existing.source_version, existing.digest)
    return 1 if mine > theirs else -1


def _over_fulfillment(state: OrderState, candidate: FulfillmentRecord, replacing: FulfillmentRecord | None) -> str:
    assert state.order is not None
    units = state.active_units()
    if replacing is not None and replacing.active:
        for line in replacing.lines:
            units[line.line_id] -= line.quantity
    ordered = {line.line_id: line.quantity for line in state.order.lines}
    for line in candidate.lines:
        already = units.get(line.line_id, 0)
        if already + line.quantity > ordered[line.line_id]:
            return (f"line {line.line_id}: {line.quantity} more unit(s) would make {already + line.quantity} "
                    f"fulfilled of {ordered[line.line_id]} ordered ({already} already fulfilled); "
                    "the whole fulfillment was rejected")
    return ""


def _tracking_changed(old: FulfillmentRecord, new: FulfillmentRecord) -> bool:
    return (old.carrier, old.tracking_numbers, old.tracking_urls) != (new.carrier, new.tracking_numbers,
                                                                       new.tracking_urls)


# -- fulfillment.cancelled -----------------------------------------------------------------------------------


def _cancel(state: OrderState, event: FulfillmentCancelled) -> Result:
    existing = state.fulfillments.get(event.fulfillment_id)
    if existing is not None and existing.cancelled:
        return Result(state, "duplicate", [], f"fulfillment {event.fulfillment_id} is already cancelled")
    if existing is None:
        state.fulfillments[event.fulfillment_id] = FulfillmentRecord(
            fulfillment_id=event.fulfillment_id, source_version=event.source_version, digest="", cancelled=True)
        return Result(state, "applied", [], "cancellation recorded before its fulfillment")
    state.fulfillments[event.fulfillment_id] = existing.model_copy(update={"cancelled": True})
    outputs = _coverage_change(state, event.occurred_at, event.fulfillment_id, "fulfillment_cancelled")
    return Result(state, "applied", outputs, "fulfillment cancelled")


# -- order.buyer_cancelled -----------------------------------------------------------------------------------


def _buyer_cancel(state: OrderState, event: OrderBuyerCancelled) -> Result:
    assert state.order is not None
    problem = _cancellation_problem(state.order, event)
    if problem is not None:
        return _rejected(state, event, *problem)
    totals = dict(state.buyer_cancelled)
    for line in event.lines:
        totals[line.line_id] = max(totals.get(line.line_id, 0), line.cancelled_quantity)
    if event.whole_order:
        totals.update({line.line_id: line.quantity for line in state.order.lines})
    totals = {line_id: units for line_id, units in totals.items() if units > 0}
    if totals == state.buyer_cancelled:
        if all(state.buyer_cancelled.get(line.line_id, 0) == line.cancelled_quantity for line in event.lines):
            return Result(state, "duplicate", [], "the buyer had already cancelled exactly these units")
        return Result(state, "stale", [], "the buyer had already cancelled at least these units")
    state.buyer_cancelled = totals
    outputs = _ship_if_covered(state, event.occurred_at)
    if state.nothing_to_ship():
        detail = "whole order cancelled by the buyer" + (" after it shipped" if state.is_shipped else "")
    else:
        detail = "units cancelled by the buyer"
    return Result(state, "applied", outputs, detail)


def _cancellation_problem(order: OrderPlaced, event: OrderBuyerCancelled) -> tuple[str, str] | None:
    """(reason, message) when `event` does not fit the order it names, else None."""
    ordered = {line.line_id: line for line in order.lines}
    twice = repeated(line.line_id for line in event.lines)
    if twice:
        return "invalid_payload", f"a cancellation lists each line once; repeated: {', '.join(twice)}"
    for line in event.lines:
        order_line = ordered.get(line.line_id)
        if order_line is None or order_line.sku != line.sku:
            return "unknown_line", (f"line {line.line_id} (SKU {line.sku}) is not a line of order {order.order_id} "
                                    f"(its lines: {', '.join(sorted(ordered))})")
        counts = (line.cancelled_quantity, line.remaining_quantity)
        if any(isinstance(n, bool) or n < 0 for n in counts) or sum(counts) != order_line.quantity:
            return "invalid_quantity", (f"line {line.line_id}: {line.cancelled_quantity} cancelled and "
                                        f"{line.remaining_quantity} remaining must be non-negative and add up to "
                                        f"the {order_line.quantity} placed")
        if event.whole_order and line.remaining_quantity:
            return "invalid_quantity", (f"a whole-order cancellation leaves nothing to ship, but line {line.line_id} "
                                        f"keeps {line.remaining_quantity} unit(s)")
    return None


# -- shipped / reopened --------------------------------------------------------------------------------------


def _ship_if_covered(state: OrderState, at: datetime) -> list[Output]:
    """`order.shipped` when the order has just become covered (never once the buyer cancelled all of it)."""
    if state.is_covered() and not state.is_shipped:
        return _ship(state, at)
    return []


def _ship(state: OrderState, at: datetime) -> list[Output]:
    output = shipped(state, at)
    state.shipped_event_id, state.shipped_at = output.event_id, at
    return [output]


def _coverage_change(
    state: OrderState, at: datetime, cause_fulfillment_id: str,
    cause: Literal["fulfillment_cancelled", "fulfillment_changed"],
) -> list[Output]:
    if state.nothing_to_ship():
        return []  # the buyer cancelled every unit: shipped stays shipped, unshipped never ships
    covered = state.is_covered()
    if covered and not state.is_shipped:
        return _ship(state, at)
    if not covered and state.shipped_event_id is not None:
        output = reopened(state, at, state.shipped_event_id, cause_fulfillment_id, cause)
        state.shipped_event_id, state.shipped_at = None, None
        return [output]
    return []


# -- rejections ----------------------------------------------------------------------------------------------


def _reject(event: InputEvent, reason: str, message: str) -> Rejection:
    return Rejection(event_id=event.event_id, reason=reason, message=message)


def _rejected(state: OrderState, event: InputEvent, reason: str, message: str) -> Result:
    return Result(state, "rejected", [_reject(event, reason, message)], message)

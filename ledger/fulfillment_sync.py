"""Fulfillment sync, as pure rules: what a seller's fulfillments become (events), and what to write to the buyer.

Two decisions, no Kafka, HTTP, clock or randomness (docs/fulfillment-sync.md):

- `seller_events(order, seller, found, published)`: the seller poller hands in the stored order, the seller
  connection, the fulfillments a connector returned (active and cancelled) and what it last published per
  fulfillment ref; it gets back the `fulfillment.recorded` / `fulfillment.cancelled` events for what is new or
  changed, what to remember as published once they are sent, and the problems to log and count.
- `buyer_action(view, written)`: the buyer tracking sink hands in the ledger's view of one seller fulfillment and
  what was already written to the buyer for it; it gets back the one action that moves the buyer towards that
  view (create, update tracking, replace, cancel) or None. Re-deciding after a crash gives the same action or None.

Neither raises for data a platform sent; `ValueError` only for caller bugs (a seller connection that is not the
order's seller, a line mapping that sends two seller lines to one of ours). Messages name refs, never secrets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from pydantic import ValidationError

from schemas.carriers import tracking_url
from schemas.config import Connection
from schemas.events import (
    FulfilledLine,
    FulfillmentCancelled,
    FulfillmentRecorded,
    OrderPlaced,
    SourceRef,
    is_tracking_url,
)
from schemas.factories import fulfillment_cancelled, fulfillment_recorded
from schemas.ids import event_id
from schemas.platform import FulfillmentLine, FulfillmentRequest, PlatformFulfillment, Tracking

VERSION_BUMP = timedelta(microseconds=1)
"""Added to the last published version when a fulfillment's content changed without its platform version moving
forward (platforms whose tracking edits do not touch `updated_at`), so the ledger takes the change as newer."""

MAX_TRACKING_NUMBER = 50
"""The longest tracking number passed on (after stripping). Every platform must be able to store what we publish,
since any of them may be the buyer: BigCommerce's shipment `tracking_number` is the tightest documented limit, 50
characters (its orders V2 specification, `maxLength: 50`; `connectors/bigcommerce/plan.py` refuses longer ones);
Shopify documents no limit on `FulfillmentTrackingInput.numbers`, Magento stores `track_number` as text and
WooCommerce keeps tracking in post meta (docs/fulfillment-sync.md). Real carriers' numbers are at most about 35
characters, so a longer one is a seller's data error: the fulfillment is refused (`invalid_tracking`)."""

ProblemReason = Literal["unknown_line", "no_lines", "wrong_order", "duplicate_fulfillment", "reactivated",
                        "invalid_tracking", "unsafe_tracking_url", "invalid_fulfillment"]

# -- seller side in ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSellerOrder:
    """A stored order as it exists on the seller's platform: its `order.placed`, the seller's order ref, and our
    line id -> the seller's line ref (`CreatedOrder.line_refs`, recorded when the order was created there)."""

    placed: OrderPlaced
    seller_order_ref: str
    seller_line_refs: Mapping[str, str]


@dataclass(frozen=True)
class LastPublished:
    """What was last published for one fulfillment ref: the version the event carried (`source_version`, possibly
    bumped), the platform's own version it was read at, the content digest, and whether it was the cancellation.
    The caller stores it only after the event was sent."""

    source_version: datetime
    platform_version: datetime
    digest: str
    cancelled: bool = False


@dataclass(frozen=True)
class Problem:
    """Something wrong with one seller fulfillment, for the caller to log and count by reason. Every reason means
    the fulfillment produced no event, except `unsafe_tracking_url`: its event is published without that URL."""

    fulfillment_ref: str
    reason: ProblemReason
    message: str


@dataclass(frozen=True)
class SellerSync:
    """The events to publish (in order), what to remember per fulfillment ref once they are published (only the
    refs that changed), and the fulfillments that produced nothing. All empty: nothing changed."""

    events: tuple[FulfillmentRecorded | FulfillmentCancelled, ...] = ()
    published: Mapping[str, LastPublished] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def seller_events(
    order: StoredSellerOrder,
    seller: Connection,
    found: Iterable[PlatformFulfillment],
    published: Mapping[str, LastPublished],
) -> SellerSync:
    """The events for the fulfillments in `found` that are new or changed since `published`.

    Rules:
    - An active fulfillment whose content (lines, carrier, tracking numbers and URLs) equals what was published
      yields nothing, whatever its version; one read at a platform version older than the last published one is
      a stale read and yields nothing. A changed one yields `fulfillment.recorded` with the platform's version,
      or with the last published version plus `VERSION_BUMP` when that is not newer (a platform whose tracking
      edits keep `updated_at`: the equal version is taken as an edit in place).
    - A cancelled fulfillment yields `fulfillment.cancelled` once (also for a ref never published: the ledger
      then keeps it cancelled, so a late copy of an older version can never count). A cancelled ref that comes
      back active is reported `reactivated` (a cancellation is final) and yields nothing.
    - Seller line refs map back to our line ids through `order.seller_line_refs`; a line ref not in it makes
      the whole fulfillment `unknown_line` (nothing is invented). Quantities of one line are added up; they are
      not checked here: the ledger rejects bad ones with a reason (and the record is dead-lettered).
    - A tracking number without a URL gets `schemas.carriers.tracking_url(carrier, number)` (None for an
      unknown carrier); the carrier is taken as given (connectors return canonical names).
    - A fulfillment of another order ref is `wrong_order`; an active one with no lines is `no_lines`; a ref
      listed twice is `duplicate_fulfillment` and its newest copy (cancelled first on equal times) is used.
    - Each fulfillment is handled on its own: whatever one of them holds, the others' events are the same.
      Tracking numbers are stripped and blank ones dropped (with the URL at their position); a number longer than
      `MAX_TRACKING_NUMBER` refuses the fulfillment (`invalid_tracking`). A URL that is not an absolute http(s)
      URL (`schemas.events.is_tracking_url`: `javascript:`, `data:`, relative, with spaces...) is never copied:
      it is dropped (its number then gets a built URL, as one without a URL) and reported `unsafe_tracking_url`,
      the event still published. Anything else the event model refuses for one fulfillment (a ref too long for
      an event, say) is reported `invalid_fulfillment`; no pydantic ValidationError escapes.
    - Event ids come from `schemas.factories`, so the same inputs give the same events on every worker.

    Raises `ValueError` when `seller` is not the order's seller connection (a caller bug: events of one
    connection may only touch that partner's orders) or the line mapping is not one-to-one.
    """
    placed = order.placed
    if (seller.id, seller.partner, seller.role) != (placed.seller.connection, placed.seller.partner, "seller"):
        raise ValueError(f"connection {seller.id} is not the seller of order {placed.order_id} "
                         f"(its seller is connection {placed.seller.connection})")
    ours_by_ref = {ref: line_id for line_id, ref in order.seller_line_refs.items()}
    if len(ours_by_ref) != len(order.seller_line_refs):
        raise ValueError(f"order {placed.order_id}: two of our lines map to one seller line ref")
    source = SourceRef(partner=seller.partner, connection=seller.id, platform=seller.platform)

    problems: list[Problem] = []
    latest: dict[str, PlatformFulfillment] = {}
    for item in found:
        ref = item.fulfillment_ref
        if item.order_ref != order.seller_order_ref:
            problems.append(Problem(ref, "wrong_order", f"fulfillment {ref} belongs to seller order "
                                    f"{item.order_ref}, not {order.seller_order_ref}"))
            continue
        if ref in latest:
            problems.append(Problem(ref, "duplicate_fulfillment", f"fulfillment {ref} listed twice; the newest "
                                    "copy is used"))
            item = max(latest[ref], item, key=lambda x: (x.updated_at, x.cancelled))
        latest[ref] = item

    events: list[FulfillmentRecorded | FulfillmentCancelled] = []
    remembered: dict[str, LastPublished] = {}
    for ref in sorted(latest):
        item, last = latest[ref], published.get(ref)
        try:
            outcome = _one(placed.order_id, source, item, ours_by_ref, last)
        except ValidationError as error:  # one fulfillment's data never stops the others
            where = ", ".join(".".join(str(part) for part in detail["loc"]) or "event" for detail in error.errors())
            problems.append(Problem(ref[:100], "invalid_fulfillment", f"fulfillment {ref[:100]} cannot become an "
                                    f"event: {where} refused by the event schema"))
            continue
        problems.extend(outcome.problems)
        if outcome.event is not None:
            events.append(outcome.event)
            remembered[ref] = outcome.remembered
    return SellerSync(tuple(events), remembered, tuple(problems))


@dataclass(frozen=True)
class _Outcome:
    event: FulfillmentRecorded | FulfillmentCancelled | None = None
    remembered: LastPublished = LastPublished(datetime.min, datetime.min, "")
    problems: tuple[Problem, ...] = ()


def _one(order_id: str, source: SourceRef, item: PlatformFulfillment, ours_by_ref: Mapping[str, str],
         last: LastPublished | None) -> _Outcome:
    """What one fulfillment gives. Raises pydantic's ValidationError when the event model refuses its data."""
    ref = item.fulfillment_ref
    if item.cancelled:
        if last is not None and last.cancelled:
            return _Outcome()
        cancelled = fulfillment_cancelled(order_id=order_id, source=source, fulfillment_id=ref,
                                          source_version=_newer(item.updated_at, last))
        return _Outcome(cancelled, LastPublished(cancelled.source_version, item.updated_at, "", cancelled=True))
    if last is not None and last.cancelled:
        return _Outcome(problems=(Problem(ref, "reactivated", f"fulfillment {ref} was cancelled and is listed "
                                          "active again; a cancellation is final, so the seller must fulfill anew"),))
    recorded, problems = _recorded(order_id, source, item, ours_by_ref, last)
    if recorded is None:
        return _Outcome(problems=problems)
    return _Outcome(recorded, LastPublished(recorded.source_version, item.updated_at, content_digest(recorded)),
                    problems)


def clean_tracking(ref: str, numbers: Sequence[str], urls: Sequence[str | None]
                   ) -> tuple[list[str], list[str | None], list[Problem]]:
    """A fulfillment's tracking numbers and URLs as they may be published: numbers stripped, blank ones dropped
    with the URL at their position; URLs stripped, and any that is not an absolute http(s) URL replaced by None
    (within the numbers) or left out (beyond them), each reported `unsafe_tracking_url` (the message shows no more
    than the URL's scheme). URLs beyond the numbers that are acceptable are kept, for the ledger to reject with its
    reason. A number longer than `MAX_TRACKING_NUMBER` gives an `invalid_tracking` problem: the caller refuses the
    fulfillment. Pure; linear in the input's size."""
    problems: list[Problem] = []
    kept_numbers: list[str] = []
    kept_urls: list[str | None] = []

    def safe(index: int, url: str | None) -> str | None:
        url = url.strip() if url is not None else None
        if not url:
            return None
        if is_tracking_url(url):
            return url
        scheme = url.split(":", 1)[0][:20] if ":" in url else "no scheme"
        problems.append(Problem(ref, "unsafe_tracking_url", f"fulfillment {ref}: tracking URL {index + 1} is not "
                                f"an absolute http(s) URL ({scheme!r}); it is not passed on"))
        return None

    for index, raw in enumerate(numbers):
        number = raw.strip()
        url = urls[index] if index < len(urls) else None
        if not number:
            continue
        if len(number) > MAX_TRACKING_NUMBER:
            problems.append(Problem(ref, "invalid_tracking", f"fulfillment {ref}: tracking number {number[:20]!r}... "
                                    f"is {len(number)} characters, more than the {MAX_TRACKING_NUMBER} every "
                                    "platform can store; the seller must correct it"))
            continue
        kept_numbers.append(number)
        kept_urls.append(safe(index, url))
    for index in range(len(numbers), len(urls)):
        extra = safe(index, urls[index])
        if extra is not None:
            kept_urls.append(extra)
    return kept_numbers, kept_urls, problems


def _recorded(order_id: str, source: SourceRef, item: PlatformFulfillment, ours_by_ref: Mapping[str, str],
              last: LastPublished | None) -> tuple[FulfillmentRecorded | None, tuple[Problem, ...]]:
    ref = item.fulfillment_ref
    unknown = sorted({line.line_ref for line in item.lines} - set(ours_by_ref))
    if unknown:
        return None, (Problem(ref, "unknown_line", f"fulfillment {ref} names seller line(s) {', '.join(unknown)} "
                              "that are not lines of the order we created"),)
    if not item.lines:
        return None, (Problem(ref, "no_lines", f"fulfillment {ref} is active but covers no line"),)
    numbers, given_urls, problems = clean_tracking(ref, item.tracking.numbers, item.tracking.urls)
    if any(problem.reason == "invalid_tracking" for problem in problems):
        return None, tuple(problems)
    units: dict[str, int] = {}
    for line in item.lines:
        units[ours_by_ref[line.line_ref]] = units.get(ours_by_ref[line.line_ref], 0) + line.quantity
    carrier = item.tracking.carrier
    urls = [(given_urls[i] if i < len(given_urls) else None) or _built_url(carrier, number)
            for i, number in enumerate(numbers)]
    urls += [url for url in given_urls[len(numbers):] if url is not None]  # the ledger rejects these
    lines = [FulfilledLine(line_id=line_id, quantity=quantity) for line_id, quantity in sorted(units.items())]
    event = fulfillment_recorded(order_id=order_id, source=source, fulfillment_id=ref,
                                 source_version=item.updated_at, lines=lines, carrier=carrier,
                                 tracking_numbers=numbers, tracking_urls=urls)
    if last is not None and (content_digest(event) == last.digest or item.updated_at < last.platform_version):
        return None, tuple(problems)
    if last is not None and event.source_version <= last.source_version:
        event = fulfillment_recorded(order_id=order_id, source=source, fulfillment_id=ref,
                                     source_version=last.source_version + VERSION_BUMP, lines=lines,
                                     carrier=carrier, tracking_numbers=numbers, tracking_urls=urls)
    return event, tuple(problems)


def _built_url(carrier: str | None, number: str) -> str | None:
    """The carrier's URL for `number`, when it is one an event may carry (templates quote the number, but a
    carrier table entry is data: it is checked like any URL)."""
    url = tracking_url(carrier, number)
    return url if url is not None and is_tracking_url(url) else None


def _newer(version: datetime, last: LastPublished | None) -> datetime:
    return version if last is None or version > last.source_version else last.source_version + VERSION_BUMP


def content_digest(event: FulfillmentRecorded) -> str:
    """A digest of what a buyer can see of a fulfillment: carrier, tracking numbers and URLs, lines."""
    content = [event.carrier, event.tracking_numbers, event.tracking_urls,
               sorted((line.line_id, line.quantity) for line in event.lines)]
    return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()[:32]


# -- buyer side out ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuyerWritten:
    """What was written to the buyer for one seller fulfillment. The sink records it with `fulfillment_ref`
    None *before* a create (the create's outcome is unknown until the platform answers), and with the ref after.
    `tracking` is the tracking the buyer's fulfillment now carries; None while an update's outcome is unknown
    (it may or may not have been written), so the next decision writes the tracking again."""

    request: FulfillmentRequest
    fulfillment_ref: str | None
    tracking: Tracking | None
    cancelled: bool = False


@dataclass(frozen=True)
class Create:
    """Find the buyer fulfillment an earlier attempt created (`find_fulfillment`), else create `request`."""

    request: FulfillmentRequest


@dataclass(frozen=True)
class UpdateTracking:
    """Replace the carrier and tracking of buyer fulfillment `fulfillment_ref` with `tracking`."""

    fulfillment_ref: str
    tracking: Tracking


@dataclass(frozen=True)
class Cancel:
    """Cancel buyer fulfillment `fulfillment_ref`; when it is None (a create whose outcome is unknown), find it
    with `find_with` first and cancel it if it exists."""

    fulfillment_ref: str | None
    find_with: FulfillmentRequest


@dataclass(frozen=True)
class Replace:
    """The seller changed the lines of a fulfillment: cancel the old buyer fulfillment (`cancel`), then find or
    create `request` (a new `our_fulfillment_id`, so the cancelled one is never found for it)."""

    cancel: Cancel
    request: FulfillmentRequest


BuyerAction = Create | UpdateTracking | Cancel | Replace


def buyer_request(view: FulfillmentRecorded, *, notify_customer: bool = False) -> FulfillmentRequest:
    """The buyer-side fulfillment for `view` when none was written yet: our line ids are the buyer's line refs
    (docs/routing.md), and `our_fulfillment_id` is derived from the order and the seller fulfillment, so it is the
    same on every retry. A replacement (the seller changed the lines) gets an id derived from the one it
    replaces and its lines (`buyer_action`), so a cancelled buyer fulfillment is never found for it."""
    units: dict[str, int] = {}
    for line in view.lines:
        units[line.line_id] = units.get(line.line_id, 0) + line.quantity
    lines = tuple(FulfillmentLine(line_ref=line_id, quantity=quantity) for line_id, quantity in sorted(units.items()))
    return FulfillmentRequest(our_fulfillment_id=event_id("buyer.fulfillment", view.order_id, view.fulfillment_id),
                              lines=lines, tracking=buyer_tracking(view), notify_customer=notify_customer)


def _replacement(request: FulfillmentRequest, replaced: FulfillmentRequest) -> FulfillmentRequest:
    lines_key = ",".join(f"{line.line_ref}={line.quantity}" for line in request.lines)
    return request.model_copy(update={"our_fulfillment_id": event_id(
        "buyer.fulfillment.replacement", replaced.our_fulfillment_id, lines_key)})


def buyer_tracking(view: FulfillmentRecorded) -> Tracking:
    """The tracking of `view` as the buyer's fulfillment should carry it (URLs by position, as recorded)."""
    return Tracking(carrier=view.carrier, numbers=tuple(view.tracking_numbers), urls=tuple(view.tracking_urls))


def buyer_action(
    view: FulfillmentRecorded | FulfillmentCancelled, written: BuyerWritten | None, *, notify_customer: bool = False
) -> BuyerAction | None:
    """The next write that makes the buyer's fulfillment for this seller fulfillment match the ledger's `view`
    (the `fulfillment.recorded` the ledger applied last for it, or its cancellation), or None when it matches.

    - Never written: create (a cancelled view: nothing). Written with an unknown outcome: the same create again
      (found by its `our_fulfillment_id`), or, for a cancelled view, a cancel that finds it first.
    - Written: lines changed -> replace; tracking changed -> update tracking; cancelled view -> cancel;
      otherwise None. A buyer fulfillment we cancelled stays cancelled (None): the ledger never revives one.

    Idempotent: the caller records `written_before` before the write and `written_after` only once the platform
    accepted it, so a crash in between re-decides the same action (or the one a newer view needs, never missing a
    write that may have landed), and every action is safe to repeat (find before create, cancel of a cancelled
    fulfillment is a no-op, an update writes the same values). Never raises.
    """
    if written is not None and written.cancelled:
        return None
    if isinstance(view, FulfillmentCancelled):
        if written is None:
            return None
        return Cancel(written.fulfillment_ref, written.request)
    request = buyer_request(view, notify_customer=notify_customer)
    if written is None:
        return Create(request)
    if written.request.lines != request.lines:
        return Replace(Cancel(written.fulfillment_ref, written.request), _replacement(request, written.request))
    if written.fulfillment_ref is None:
        return Create(written.request)
    if written.tracking != request.tracking:
        return UpdateTracking(written.fulfillment_ref, request.tracking)
    return None


def written_before(action: BuyerAction, written: BuyerWritten | None) -> BuyerWritten | None:
    """What to record before the write of `action`, so that a crash during it is resumed correctly whatever the
    ledger says next: a create's intent (resumed by a find; a cancellation arriving meanwhile finds what it must
    cancel), an update's unknown outcome (the tracking is written again). For a `Replace`, record it after its
    cancel succeeded and before its create. None: nothing to record (a cancel is safe to repeat)."""
    if isinstance(action, UpdateTracking) and written is not None:
        return replace(written, tracking=None)
    if isinstance(action, Replace):
        return BuyerWritten(action.request, None, action.request.tracking)
    if isinstance(action, Create) and (written is None or written.fulfillment_ref is not None):
        return BuyerWritten(action.request, None, action.request.tracking)
    return None


def written_after(action: BuyerAction, written: BuyerWritten | None, fulfillment_ref: str | None) -> BuyerWritten:
    """What to record once the platform accepted `action`. `fulfillment_ref` is the buyer-side ref the platform
    returned (create, replace, update — WooCommerce's update gives a new one); ignored for a cancel.

    Raises `ValueError` when a create, replace or update has no ref, or a cancel has nothing written before it.
    """
    if isinstance(action, Cancel):
        if written is None:
            raise ValueError("a cancel needs what was written before it")
        return BuyerWritten(written.request, written.fulfillment_ref, written.tracking, cancelled=True)
    if fulfillment_ref is None:
        raise ValueError("the platform's fulfillment ref is required after a create, replace or update")
    if isinstance(action, UpdateTracking):
        if written is None:
            raise ValueError("an update needs what was written before it")
        return BuyerWritten(written.request, fulfillment_ref, action.tracking)
    return BuyerWritten(action.request, fulfillment_ref, action.request.tracking)

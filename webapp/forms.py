"""The fulfillment form: reading what was typed, checking it against the ledger's own rules, and explaining a
refusal in plain words next to the field it concerns. Pure: no I/O; the time and the new fulfillment id come in.

Field names: `qty-<i>` (units of the order's i-th line), `carrier` (a canonical carrier, `other`, or empty),
`carrier_other` (the name when `other`), `number-<i>` / `url-<i>` (tracking rows), `confirm_tracking` (ship
anyway although a number does not look like the carrier's), `form_key` (the form's idempotency key, read by
`webapp.app`, not here). Errors and warnings are keyed by field name; the key `lines` stands for the quantities as a
whole. A value longer than its field allows (`MAX_TRACKING_NUMBER`, `MAX_URL`, `MAX_CARRIER`) or more tracking rows
than `MAX_TRACKING_ROWS` is an error next to that field, never an exception.

The check runs `ledger.apply` on the order's state, after applying the fulfillments this app sent that the ledger
has not applied yet (a second form sent before the first one is applied must not over-fulfill either).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger import OrderState, apply
from schemas import tracking_numbers
from schemas.carriers import CARRIERS, canonical_carrier, carrier_for_detection, find_carrier, tracking_url
from schemas.events import FulfilledLine, FulfillmentCancelled, FulfillmentRecorded, SourceRef
from schemas.factories import fulfillment_recorded
from webapp.model import FulfillmentView, OrderView

CARRIER_NAMES: tuple[str, ...] = tuple(carrier.name for carrier in CARRIERS)
OTHER = "other"
MIN_TRACKING_ROWS = 3
MAX_TRACKING_ROWS = 50
MAX_TRACKING_NUMBER = 100  # characters; real ones have at most about 40 (the event schema allows 512)
MAX_URL = 2000
MAX_CARRIER = 100
_INTEGER = re.compile(r"^\s*\d{1,6}\s*$")

FormData = Mapping[str, Sequence[str]]
"""A posted form: every field name with its values in order (`urllib.parse.parse_qs` gives this shape)."""


@dataclass
class FulfillmentForm:
    """What the form shows: the values typed (or the defaults), errors and warnings by field."""

    quantities: list[str]
    carrier: str = ""
    carrier_other: str = ""
    numbers: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    confirmed: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)

    @property
    def tracking_rows(self) -> list[tuple[int, str, str]]:
        """(index, number, url) for every row the form shows: those typed and at least one empty one."""
        count = max(MIN_TRACKING_ROWS, len(self.numbers) + 1)
        numbers = self.numbers + [""] * (count - len(self.numbers))
        urls = self.urls + [""] * (count - len(self.urls))
        return list(zip(range(count), numbers, urls, strict=True))


def blank_form(order: OrderView) -> FulfillmentForm:
    """A new fulfillment's form: every line's quantity defaults to what remains of it."""
    return FulfillmentForm(quantities=[str(line.remaining) for line in order.lines])


def edit_form(fulfillment: FulfillmentView) -> FulfillmentForm:
    """The tracking of an existing fulfillment, for editing in place (its lines do not change)."""
    carrier = fulfillment.carrier or ""
    known = find_carrier(carrier)
    urls = [url if url and url != tracking_url(carrier, number) else ""  # built ones follow a carrier change
            for number, url in zip(fulfillment.numbers, fulfillment.urls, strict=False)]
    return FulfillmentForm(
        quantities=[], carrier=known.name if known else (OTHER if carrier else ""),
        carrier_other="" if known else carrier, numbers=list(fulfillment.numbers),
        urls=urls + [""] * (len(fulfillment.numbers) - len(urls)))


def read_form(data: FormData, line_count: int) -> FulfillmentForm:
    """The values of a posted form (missing fields read as empty)."""
    def one(name: str) -> str:
        values = data.get(name) or [""]
        return values[0].strip()

    rows = sorted({int(name.split("-", 1)[1]) for name in data
                   if re.fullmatch(r"(number|url)-\d{1,3}", name)})
    pairs = [(one(f"number-{index}"), one(f"url-{index}")) for index in rows]
    pairs = [(number, url) for number, url in pairs if number or url]
    return FulfillmentForm(
        quantities=[one(f"qty-{index}") for index in range(line_count)],
        carrier=one("carrier"), carrier_other=one("carrier_other"),
        numbers=[number for number, _ in pairs], urls=[url for _, url in pairs],
        confirmed=one("confirm_tracking") in ("1", "on", "yes"))


@dataclass(frozen=True)
class Draft:
    """Where the fulfillment comes from and which it is: a new one, or a new version of `replaces`; `pending`: the
    events sent for this order that the read model does not show applied yet."""

    source: SourceRef
    fulfillment_id: str
    at: datetime
    replaces: FulfillmentView | None = None
    pending: tuple[FulfillmentRecorded | FulfillmentCancelled, ...] = ()


def check(order: OrderView, form: FulfillmentForm, draft: Draft) -> FulfillmentRecorded | None:
    """The event to send, or None with `form.errors` / `form.warnings` filled in. A warning alone blocks the
    send until the form comes back with `confirm_tracking` ticked. A new fulfillment the order's state already holds
    exactly (the same form sent again after its first sending was applied) is returned too: `already_recorded`
    tells that case apart. Never raises for what was typed (too long values are errors next to their field)."""
    lines = _lines(order, form) if draft.replaces is None else _same_lines(draft.replaces)
    carrier = _carrier(form)
    _check_urls(form)
    _check_lengths(form)
    if not form.numbers:
        form.errors["number-0"] = "Enter the tracking number of the parcel."
    if form.errors or lines is None:
        return None
    if draft.replaces is not None and _unchanged(draft.replaces, carrier, form):
        form.errors["number-0"] = "Nothing changed: the fulfillment already has this carrier and tracking."
        return None
    version = draft.at if draft.replaces is None else max(draft.at, _next_version(draft.replaces))
    event = fulfillment_recorded(
        order_id=order.order_id, source=draft.source, fulfillment_id=draft.fulfillment_id, source_version=version,
        lines=lines, carrier=carrier, tracking_numbers=form.numbers,
        tracking_urls=[url or None for url in form.urls])
    result = apply(_with_pending(order, draft), event)
    if result.status == "rejected":
        _explain(order, form, event, result.detail, _reason(result.outputs))
        return None
    if result.status == "duplicate" and draft.replaces is None:
        return event  # this very form was recorded already (a resubmission): the same event, the ledger drops it
    if result.status in ("duplicate", "stale"):
        form.errors["number-0"] = "Nothing changed: the fulfillment already has this carrier and tracking."
        return None
    _warn_on_format(form, carrier)
    if form.warnings and not form.confirmed:
        return None
    return event


def already_recorded(order: OrderView, event: FulfillmentRecorded) -> bool:
    """Whether the order's state already holds exactly this event's fulfillment (same version and content): a
    resubmitted form whose first sending reached the ledger."""
    return apply(order.state, event).status == "duplicate"


def at_version(event: FulfillmentRecorded, version: datetime) -> FulfillmentRecorded:
    """`event` as another version of the same fulfillment (a new event id, the same content)."""
    return fulfillment_recorded(
        order_id=event.order_id, source=event.source, fulfillment_id=event.fulfillment_id, source_version=version,
        lines=event.lines, carrier=event.carrier, tracking_numbers=event.tracking_numbers,
        tracking_urls=event.tracking_urls)


def _lines(order: OrderView, form: FulfillmentForm) -> list[FulfilledLine] | None:
    lines: list[FulfilledLine] = []
    for index, (line, typed) in enumerate(zip(order.lines, form.quantities, strict=True)):
        if typed == "":
            continue
        if not _INTEGER.match(typed):
            form.errors[f"qty-{index}"] = "Enter a whole number of units (0 or more)."
            continue
        if int(typed) > 0:
            lines.append(FulfilledLine(line_id=line.line_id, sku=line.sku, quantity=int(typed)))
    if not lines and not form.errors:
        form.errors["lines"] = "Choose at least one unit to ship."
    return lines or None


def _same_lines(fulfillment: FulfillmentView) -> list[FulfilledLine]:
    return [FulfilledLine(line_id=line_id, quantity=units) for line_id, units in fulfillment.lines.items()]


def _unchanged(fulfillment: FulfillmentView, carrier: str | None, form: FulfillmentForm) -> bool:
    numbers = ["".join(number.split()) for number in form.numbers]
    urls = [url or tracking_url(carrier, number) for number, url in zip(numbers, form.urls, strict=True)]
    return (canonical_carrier(carrier), numbers, urls) == (
        fulfillment.carrier, list(fulfillment.numbers), list(fulfillment.urls))


def _next_version(fulfillment: FulfillmentView) -> datetime:
    return fulfillment.recorded_at + timedelta(milliseconds=1)


def _carrier(form: FulfillmentForm) -> str | None:
    if form.carrier == OTHER:
        if not form.carrier_other:
            form.errors["carrier_other"] = "Enter the carrier's name, or choose it from the list."
        return canonical_carrier(form.carrier_other)
    if form.carrier and form.carrier not in CARRIER_NAMES:
        form.errors["carrier"] = "Choose a carrier from the list, or “Other” and type its name."
        return None
    return form.carrier or None


def _check_urls(form: FulfillmentForm) -> None:
    for index, (number, url) in enumerate(zip(form.numbers, form.urls, strict=True)):
        if url and not re.match(r"^https?://[^\s/]+\S*$", url):
            form.errors[f"url-{index}"] = "A tracking link starts with https:// (or leave it empty)."
        if url and not number:
            form.errors[f"number-{index}"] = "Enter the tracking number this link belongs to."


def _check_lengths(form: FulfillmentForm) -> None:
    """Values too long for their field, and too many tracking rows, as errors next to them (the event schema would
    refuse some of them; none of them can be real)."""
    if len(form.carrier_other) > MAX_CARRIER:
        form.errors["carrier_other"] = f"A carrier's name has at most {MAX_CARRIER} characters."
    if len(form.numbers) > MAX_TRACKING_ROWS:
        form.errors["number-0"] = f"At most {MAX_TRACKING_ROWS} tracking numbers in one fulfillment."
    for index, (number, url) in enumerate(zip(form.numbers, form.urls, strict=True)):
        if len(number) > MAX_TRACKING_NUMBER:
            form.errors[f"number-{index}"] = (
                f"A tracking number has at most {MAX_TRACKING_NUMBER} characters; this one has {len(number)}.")
        if len(url) > MAX_URL:
            form.errors[f"url-{index}"] = f"A tracking link has at most {MAX_URL} characters."


def _with_pending(order: OrderView, draft: Draft) -> OrderState:
    """The order's state with the events this app sent that the ledger has not applied yet."""
    state = order.state
    for event in draft.pending:
        if event.fulfillment_id != draft.fulfillment_id:
            result = apply(state, event)
            state = result.state if result.status == "applied" else state
    return state


def _reason(outputs: Sequence[object]) -> str:
    return next((str(getattr(output, "reason", "")) for output in outputs if getattr(output, "reason", None)), "")


def _explain(order: OrderView, form: FulfillmentForm, event: FulfillmentRecorded, detail: str, reason: str) -> None:
    """A ledger rejection in the words of the person filling the form, next to the field it concerns."""
    units = sum(line.quantity for line in event.lines)
    if reason == "over_fulfillment":
        wanted = {line.line_id: line.quantity for line in event.lines}
        for index, line in enumerate(order.lines):
            if wanted.get(line.line_id, 0) > line.remaining:
                form.errors[f"qty-{index}"] = (
                    f"Only {line.remaining} unit{'s' if line.remaining != 1 else ''} of {line.sku} remain to ship.")
        if not any(name.startswith("qty-") for name in form.errors):
            form.errors["lines"] = ("More units than remain to ship: another fulfillment sent moments ago already "
                                    "covers some of them.")
    elif reason == "multi_tracking_single_unit":
        form.errors["number-0"] = (
            f"{len(form.numbers)} tracking numbers for {units} unit{'s' if units != 1 else ''}: each parcel holds at "
            "least one unit, so give at most one tracking number per unit shipped.")
    else:
        form.errors["lines"] = f"This fulfillment cannot be recorded: {detail}"


def _warn_on_format(form: FulfillmentForm, carrier: str | None) -> None:
    """A warning for each number that does not have the format of the chosen carrier (when we know its formats)."""
    known = find_carrier(carrier)
    if known is None or known.data_courier is None:
        return
    for index, number in enumerate(form.numbers):
        found = {carrier_for_detection(detection) for detection in tracking_numbers.candidates(number)}
        if known.name in found:
            continue
        others = sorted(name for name in found if name)
        looks = f" It looks like a {others[0]} number." if len(others) == 1 else ""
        form.warnings[f"number-{index}"] = (
            f"This does not look like a {known.name} tracking number.{looks} Check it, or tick “Send anyway”.")

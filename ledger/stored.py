"""The order state as the order table stores it: compact JSON, positional where the layout is fixed.

    {"v": 3, "id": order id,
     "k": [fulfillment id, ...]        the fulfillments cancelled (a copy of "f"'s flags, for `outline`; see below)
     "o": [event id, occurred at, buyer, seller, lines, shipping?]      the order as placed (absent until placed)
          party: [partner, connection, platform, order ref?]; line: [line id, sku, quantity, title?];
          shipping: the `ShippingDetails` object without its empty fields
     "f": [[fulfillment id, source version, carrier, tracking numbers, [[line index, units], ...],
            URLs?, cancelled?], ...]
          URLs: 0 when every URL is the one the carrier's template builds (`schemas.carriers.tracking_url`),
          else one entry per number: null for the built one, the URL given, or false for none (false even
          where no template builds one, so a template added later gives no stored number a URL)
     "c": [[line index, units], ...]    units the buyer cancelled        "s": [shipped event id, shipped at?]
     "r": [[record key, [mark, ...]], ...]   recent inputs with outputs; a mark is ["s", id, at],
          ["o", id, at, cause, cause fulfillment id, reopened shipped id], ["t", id, at, fulfillment id] or
          ["x", id, reason, message]; ["s"] alone is the order.shipped of "s"
     "x": [rejected input digest, ...]   "h": [[held event, position], ...]}

Optional members are left out when empty, trailing optional items of a list too. The members come in the order
above, without whitespace, so what an index needs (`outline`) is read from the first few hundred bytes without
parsing the rest. Times are ISO 8601 with their own offset ("Z" for UTC), so an output rendered from a decoded
state is byte for byte the one rendered before. Line ids inside fulfillments are indexes into the order's lines
(their SKUs are the order's); fulfillment digests are computed again on decoding (`ledger.apply.content_digest`).

"k" is always written, empty when nothing is cancelled; values written before it existed lack it, and `outline`
reads those whole. It needs no new form number: a version that reads form 3 but not "k" ignores it, so versions
before and after it read each other's values (a rolling update, a rollback).

`decode` also reads form 2 (form 3 written while "no URL" for a number of a carrier without a URL template was left
out as "built": read with the templates of then, `_NO_TEMPLATE_IN_FORM_2`, so a template added since gives no stored
number a URL it never had) and the first stored form (the pydantic JSON of the state with every input's outputs,
"seen"), keeping of it what this form keeps (`ledger.apply`, "Remembering inputs"). Values that are none of these
raise `ValueError` with what is wrong.
"""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.apply import RECENT_INPUTS, REJECTED_INPUTS, content_digest, input_key, record_key
from ledger.outputs import mark_of
from ledger.state import (
    FulfillmentRecord,
    HeldInput,
    LineUnits,
    Mark,
    OrderState,
    Output,
    RecentInput,
    Rejection,
    ReopenedMark,
    ShippedMark,
    TrackingMark,
)
from schemas.carriers import tracking_url
from schemas.events import OrderPlaced, OrderShipped, PartyRef, ShippingDetails

FORM = 3
"""The stored form written: the value of "v"."""

_FORMS = (2, FORM)
"""The forms with a "v" that `decode` reads."""

_NO_TEMPLATE_IN_FORM_2 = frozenset({"Purolator", "Canpar", "Yodel", "YunExpress", "Old Dominion",
                                    "Spee-Dee Delivery", "GOFO Express"})
"""Carriers that had no URL template while form 2 was written (they have one since)."""

_START = b'{"v":%d,"id":' % FORM
"""How a value of this form starts (`outline` reads on from there)."""

_scan = json.JSONDecoder().raw_decode

Json = Any
T = TypeVar("T")


def encode(state: OrderState) -> bytes:
    """The stored form of `state` (UTF-8 JSON)."""
    parts = [_START.decode(), _dumps(state.order_id)]
    parts += [',"k":', _dumps([fulfillment_id for fulfillment_id, record in state.fulfillments.items()
                               if record.cancelled])]
    index: dict[str, int] = {}
    if state.order is not None:
        parts += [',"o":', _memoised(state.order, _order)]
        index = {line.line_id: n for n, line in enumerate(state.order.lines)}
    if state.fulfillments:
        fragments = [_memoised(record, lambda record: _dumps(_fulfillment(record, index)))
                     for record in state.fulfillments.values()]
        parts += [',"f":[', ",".join(fragments), "]"]
    value: dict[str, Json] = {}
    if state.buyer_cancelled:
        value["c"] = [[index[line_id], units] for line_id, units in state.buyer_cancelled.items()]
    if state.shipped_event_id is not None:
        value["s"] = [state.shipped_event_id] + ([] if state.shipped_at is None else [_time(state.shipped_at)])
    if state.recent:
        value["r"] = [[entry.key, [_mark(mark, state) for mark in entry.outputs]] for entry in state.recent]
    if state.rejected:
        value["x"] = state.rejected
    if state.held:
        value["h"] = [[item.event.model_dump(mode="json"), item.position] for item in state.held]
    if value:
        parts += [",", _dumps(value)[1:-1]]
    parts.append("}")
    return "".join(parts).encode()


def decode(raw: bytes) -> OrderState:
    """The state stored in `raw` (this form or the first one). Raises `ValueError` saying what is wrong."""
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"not a stored order state: a JSON {type(value).__name__}")
    if "v" not in value:
        return _from_first_form(value)
    if value["v"] not in _FORMS:
        raise ValueError(f"stored form {value['v']!r} is not one this version reads (it reads "
                         f"{', '.join(map(str, reversed(_FORMS)))} and the first)")
    try:
        return _state(value)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"a stored order state of form {value['v']} that does not fit it: "
                         f"{type(error).__name__}: {str(error)[:200]}") from None


@dataclass(frozen=True)
class Outline:
    """What an index of orders needs of a stored state, read without building the state: when and between which
    connections the order was placed (None before its order.placed), and its cancelled fulfillments."""

    placed_at: datetime | None
    seller_connection: str | None
    buyer_connection: str | None
    cancelled: frozenset[str]


def outline(raw: bytes) -> Outline:
    """The `Outline` of the state stored in `raw`: from its first members alone when it has "k", else from the whole
    value. Raises `ValueError` as `decode` does, and when the first members of a value with "k" are not as `encode`
    writes them."""
    if raw.startswith(_START):
        found = _outline_of_start(raw.decode())
        if found is not None:
            return found
    try:
        value = json.loads(raw)
        if isinstance(value, dict) and value.get("v") in _FORMS:
            order = value.get("o")
            cancelled = frozenset(fields[0] for fields in value.get("f", ()) if len(fields) > 6 and fields[6] == 1)
            if order is None:
                return Outline(None, None, None, cancelled)
            return Outline(datetime.fromisoformat(order[1]), order[3][1], order[2][1], cancelled)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ValueError(f"not a stored order state: {type(error).__name__}: {str(error)[:200]}") from None
    return outline_of(decode(raw))


def outline_of(state: OrderState) -> Outline:
    """The `Outline` of `state`."""
    placed = state.order
    cancelled = frozenset(fid for fid, record in state.fulfillments.items() if record.cancelled)
    if placed is None:
        return Outline(None, None, None, cancelled)
    return Outline(placed.occurred_at, placed.seller.connection, placed.buyer.connection, cancelled)


def _outline_of_start(text: str) -> Outline | None:
    """The outline from "id", "k" and the first four fields of "o" (event id, placed at, buyer, seller) as `encode`
    writes them, what follows unread; None when no "k" follows "id" (a value written before "k" existed)."""
    try:
        _order_id, at = _scan(text, len(_START))
        if not text.startswith(',"k":', at):
            return None
        cancelled, at = _scan(text, at + len(',"k":'))
        if not text.startswith(',"o":[', at):
            return Outline(None, None, None, frozenset(cancelled))
        at += len(',"o":[')
        fields: list[Json] = []
        for _ in range(4):
            value, at = _scan(text, at)
            if text[at] != ",":
                raise ValueError(f"',' expected at {at}")
            fields.append(value)
            at += 1
        return Outline(datetime.fromisoformat(fields[1]), fields[3][1], fields[2][1], frozenset(cancelled))
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ValueError(f"not a stored order state: {type(error).__name__}: {str(error)[:200]}") from None


# -- encoding --------------------------------------------------------------------------------------------------

_memo: dict[int, tuple[weakref.ref[Any], str]] = {}


def _memoised(value: T, build: Callable[[T], str]) -> str:
    """`build(value)`, remembered while the very object `value` lives: the order and the fulfillment records of a
    state are never changed in place (`ledger.apply` replaces them), and each state shares them with the one
    before, so storing an order after an input encodes only what the input changed."""
    key = id(value)
    known = _memo.get(key)
    if known is not None and known[0]() is value:
        return known[1]
    text = build(value)
    _memo[key] = (weakref.ref(value, functools.partial(_forget, key)), text)
    return text


def _forget(key: int, _: object) -> None:
    _memo.pop(key, None)


def _dumps(value: Json) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)



def _time(at: datetime) -> str:
    text = at.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _party(party: PartyRef) -> list[Json]:
    fields = [party.partner, party.connection, party.platform]
    return fields if party.order_ref is None else [*fields, party.order_ref]


def _order(order: OrderPlaced) -> str:
    lines = [[line.line_id, line.sku, line.quantity] if line.title is None
             else [line.line_id, line.sku, line.quantity, line.title] for line in order.lines]
    fields: list[Json] = [order.event_id, _time(order.occurred_at), _party(order.buyer), _party(order.seller), lines]
    if order.shipping is not None:
        fields.append(order.shipping.model_dump(mode="json", exclude_defaults=True))
    return _dumps(fields)


def _fulfillment(record: FulfillmentRecord, index: dict[str, int]) -> list[Json]:
    built = [tracking_url(record.carrier, number) for number in record.tracking_numbers]
    urls: Json = 0
    if record.tracking_urls != built or None in built:
        urls = [None if url == default and default is not None else (url if url is not None else False)
                for url, default in zip(record.tracking_urls, built, strict=True)]
    fields: list[Json] = [record.fulfillment_id, _time(record.source_version), record.carrier,
                          record.tracking_numbers, [[index[line.line_id], line.quantity] for line in record.lines],
                          urls, 1 if record.cancelled else 0]
    while fields[-1] == 0 and len(fields) > 5:
        fields.pop()
    return fields


def _mark(mark: Mark, state: OrderState) -> list[Json]:
    if isinstance(mark, Rejection):
        return ["x", mark.event_id, mark.reason, mark.message]
    if isinstance(mark, ShippedMark):
        current = (mark.event_id, mark.at) == (state.shipped_event_id, state.shipped_at)
        return ["s"] if current else ["s", mark.event_id, _time(mark.at)]
    if isinstance(mark, ReopenedMark):
        return ["o", mark.event_id, _time(mark.at), mark.cause, mark.cause_fulfillment_id, mark.reopens_event_id]
    return ["t", mark.event_id, _time(mark.at), mark.fulfillment_id]


# -- decoding --------------------------------------------------------------------------------------------------


def _state(value: dict[str, Json]) -> OrderState:
    order = _order_of(value["o"], value["id"]) if "o" in value else None
    lines = order.lines if order is not None else []
    shipped = value.get("s")
    return OrderState(
        order_id=value["id"], order=order,
        fulfillments={fields[0]: _fulfillment_of(fields, lines, value["v"]) for fields in value.get("f", ())},
        buyer_cancelled={lines[n].line_id: units for n, units in value.get("c", ())},
        shipped_event_id=shipped[0] if shipped else None,
        shipped_at=datetime.fromisoformat(shipped[1]) if shipped and len(shipped) > 1 else None,
        recent=[RecentInput(key=key, outputs=[_mark_of(mark, shipped) for mark in marks])
                for key, marks in value.get("r", ())],
        rejected=list(value.get("x", ())),
        held=[HeldInput.model_validate({"event": event, "position": position})
              for event, position in value.get("h", ())],
    )


def _party_of(fields: list[Json]) -> dict[str, Json]:
    return {"partner": fields[0], "connection": fields[1], "platform": fields[2],
            "order_ref": fields[3] if len(fields) > 3 else None}


def _order_of(fields: list[Json], order_id: str) -> OrderPlaced:
    return OrderPlaced.model_validate({
        "event_id": fields[0], "order_id": order_id, "occurred_at": fields[1], "buyer": _party_of(fields[2]),
        "seller": _party_of(fields[3]),
        "lines": [{"line_id": line[0], "sku": line[1], "quantity": line[2],
                   "title": line[3] if len(line) > 3 else None} for line in fields[4]],
        "shipping": ShippingDetails.model_validate(fields[5]) if len(fields) > 5 else None,
    })


def _fulfillment_of(fields: list[Json], order_lines: list[Any], form: Json) -> FulfillmentRecord:
    fulfillment_id, version, carrier, numbers, units = fields[:5]
    urls: Json = fields[5] if len(fields) > 5 else 0
    templated = form != 2 or carrier not in _NO_TEMPLATE_IN_FORM_2
    built = [tracking_url(carrier, number) if templated else None for number in numbers]
    tracking_urls = built if urls == 0 else [
        default if url is None else (None if url is False else url) for url, default in zip(urls, built, strict=True)]
    lines = [LineUnits(line_id=order_lines[n].line_id, sku=order_lines[n].sku, quantity=quantity)
             for n, quantity in units]
    return FulfillmentRecord(
        fulfillment_id=fulfillment_id, source_version=datetime.fromisoformat(version),
        digest=content_digest(carrier, numbers, tracking_urls, lines) if lines else "",
        carrier=carrier, tracking_numbers=numbers, tracking_urls=tracking_urls, lines=lines,
        cancelled=len(fields) > 6 and fields[6] == 1,
    )


def _mark_of(fields: list[Json], shipped: list[Json] | None) -> Mark:
    kind = fields[0]
    if kind == "x":
        return Rejection(event_id=fields[1], reason=fields[2], message=fields[3])
    if fields == ["s"] and shipped is not None:
        fields = ["s", *shipped]
    at = datetime.fromisoformat(fields[2])
    if kind == "s":
        return ShippedMark(event_id=fields[1], at=at)
    if kind == "o":
        return ReopenedMark(event_id=fields[1], at=at, cause=fields[3], cause_fulfillment_id=fields[4],
                            reopens_event_id=fields[5])
    if kind == "t":
        return TrackingMark(event_id=fields[1], at=at, fulfillment_id=fields[3])
    raise ValueError(f"unknown output mark {kind!r}")


# -- the first stored form -------------------------------------------------------------------------------------


class _FirstSeen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: str | None
    outputs: list[Output] = Field(default_factory=list)


class _FirstForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str
    order: OrderPlaced | None = None
    fulfillments: dict[str, FulfillmentRecord] = Field(default_factory=dict)
    buyer_cancelled: dict[str, int] = Field(default_factory=dict)
    shipped_event_id: str | None = None
    seen: dict[str, _FirstSeen] = Field(default_factory=dict)
    held: list[HeldInput] = Field(default_factory=list)


def _from_first_form(value: dict[str, Json]) -> OrderState:
    try:
        first = _FirstForm.model_validate(value)
    except ValidationError as error:
        raise ValueError(f"neither stored form of an order state: {str(error)[:200]}") from None
    rejected = [input_key(event_id) for event_id, seen in first.seen.items()
                if any(isinstance(output, Rejection) and output.event_id == event_id for output in seen.outputs)]
    recent = [RecentInput(key=record_key(event_id, seen.position), outputs=[mark_of(o) for o in seen.outputs])
              for event_id, seen in first.seen.items() if seen.outputs and seen.position is not None]
    shipped_at = next((output.shipped_at for seen in first.seen.values() for output in seen.outputs
                       if isinstance(output, OrderShipped) and output.event_id == first.shipped_event_id), None)
    return OrderState(
        order_id=first.order_id, order=first.order, fulfillments=first.fulfillments,
        buyer_cancelled=first.buyer_cancelled, shipped_event_id=first.shipped_event_id,
        shipped_at=shipped_at if first.shipped_event_id is not None else None,
        recent=recent[-RECENT_INPUTS:], rejected=rejected[-REJECTED_INPUTS:], held=first.held,
    )

"""Shopify's search syntax for the `orders(query:)` argument, the subset the simulated store implements.

Supported: terms joined by spaces or `AND` (all must match), each `field:value` or `field:<op>value` with `op` one
of `>`, `>=`, `<`, `<=`, values bare or in single or double quotes; a leading `-` negates a term. Fields:
`updated_at`, `created_at` (ISO 8601 times), `id` (number or GID, with comparators), `name` (`#1001` or `1001`),
`source_identifier`, `email`, `tag`, `tag_not`, `sku`, `status` (`open`, `cancelled`, `closed`, `any`),
`fulfillment_status` (`unfulfilled`, `partial`, `shipped`, `fulfilled`, `unshipped`). A bare word matches the
name, email or a SKU case-insensitively.

Like Shopify, a term it cannot read (an unknown field, a time that does not parse) is ignored rather than
refused; `parse_search` reports those in `warnings` (the store returns them under `extensions.search`). `OR` and
parentheses are not supported and are reported the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox.shopify.store import Order, gid_number

_QUOTED = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+"""
_TERM = re.compile(rf"""(-?)(?:(\w+):(>=|<=|>|<)?({_QUOTED})|({_QUOTED}))""")
Predicate = Callable[[Order], bool]


@dataclass
class Search:
    predicates: list[Predicate] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def matches(self, order: Order) -> bool:
        return all(predicate(order) for predicate in self.predicates)


def parse_search(query: str | None) -> Search:
    """The predicates of `query` (None or blank: everything matches). Never raises."""
    search = Search()
    for match in _TERM.finditer(query or ""):
        negate, name, op, value, bare = match.groups()
        if bare is not None:
            word = _unquote(bare)
            if word in ("AND",):
                continue
            if word in ("OR", "(", ")") or word.startswith("(") or word.endswith(")"):
                search.warnings.append(f"unsupported search syntax {word!r} ignored")
                continue
            predicate: Predicate | None = _bare(word.lower())
        else:
            predicate = _field(name.lower(), op or "", _unquote(value), search.warnings)
        if predicate is None:
            continue
        if negate:
            search.predicates.append(_negated(predicate))
        else:
            search.predicates.append(predicate)
    return search


def _negated(predicate: Predicate) -> Predicate:
    return lambda order: not predicate(order)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _bare(word: str) -> Predicate:
    return lambda order: (word in order.name.lower() or word in (order.email or "").lower()
                          or any(word in (line.sku or "").lower() for line in order.line_items))


def _compare(op: str, left: float, right: float) -> bool:
    return {"": left == right, ">": left > right, ">=": left >= right, "<": left < right,
            "<=": left <= right}[op]


def _time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _field(name: str, op: str, value: str, warnings: list[str]) -> Predicate | None:
    if name in ("updated_at", "created_at"):
        moment = _time(value)
        if moment is None:
            warnings.append(f"invalid time {value!r} for {name}: term ignored")
            return None
        if name == "updated_at":
            return lambda order: _compare(op, order.updated_at.timestamp(), moment.timestamp())
        return lambda order: _compare(op, order.created_at.timestamp(), moment.timestamp())
    if name == "id":
        number = int(value) if value.isdigit() else gid_number(value, "Order")
        if number is None:
            warnings.append(f"invalid id {value!r}: term ignored")
            return None
        return lambda order: _compare(op, order.id, number)
    if op:
        warnings.append(f"comparator {op!r} is not supported on {name}: term ignored")
        return None
    lowered = value.lower()
    simple: dict[str, Predicate] = {
        "name": lambda order: order.name.lower() in (lowered, f"#{lowered}"),
        "source_identifier": lambda order: order.source_identifier == value,
        "email": lambda order: (order.email or "").lower() == lowered,
        "tag": lambda order: lowered in (tag.lower() for tag in order.tags),
        "tag_not": lambda order: lowered not in (tag.lower() for tag in order.tags),
        "sku": lambda order: any((line.sku or "").lower() == lowered for line in order.line_items),
        "status": lambda order: _status(order, lowered),
        "fulfillment_status": lambda order: _fulfillment_status(order, lowered),
    }
    predicate = simple.get(name)
    if predicate is None:
        warnings.append(f"unknown search field {name!r}: term ignored")
    return predicate


def _status(order: Order, wanted: str) -> bool:
    if wanted == "any":
        return True
    if wanted == "cancelled":
        return order.cancelled_at is not None
    if wanted in ("open", "not_closed"):
        return order.cancelled_at is None and order.closed_at is None
    return wanted == "closed" and order.closed_at is not None


def _fulfillment_status(order: Order, wanted: str) -> bool:
    status = order.display_fulfillment_status()
    return {"unfulfilled": status == "UNFULFILLED", "partial": status == "PARTIALLY_FULFILLED",
            "shipped": status == "FULFILLED", "fulfilled": status == "FULFILLED",
            "unshipped": status == "UNFULFILLED"}.get(wanted, False)

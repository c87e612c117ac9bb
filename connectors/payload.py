"""Reading platform JSON defensively: the one error type and the readers every connector's parser uses.

A parser raises `PayloadError` naming the part of the payload that is not the documented shape; the connector
turns it into a `MalformedResponseError` for the request that returned it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any


class PayloadError(ValueError):
    """A platform's JSON is not the shape its documentation promises; the message names the offending part."""


def json_object(value: object, where: str) -> Mapping[str, Any]:
    """`value` if it is a JSON object. Raises PayloadError naming `where` otherwise."""
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def json_array(value: object, where: str) -> list[Any]:
    """`value` if it is a JSON array. Raises PayloadError naming `where` otherwise."""
    if not isinstance(value, list):
        raise PayloadError(f"{where}: expected an array, got {type(value).__name__}")
    return value


def json_decimal(value: object) -> Decimal | None:
    """`value` as a Decimal when it is a JSON number or a string that reads as one (NaN and infinities included:
    the caller decides which amounts it takes); None for anything else, booleans included. Never raises."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


MONEY_LIMIT = Decimal(10) ** 10
"""Every amount is below this: `schemas.platform.Money` holds 14 digits, 4 of them decimals."""


def json_money(value: object, where: str) -> Decimal | None:
    """A price as a platform sends it (a JSON number or a numeric string; null: None), as given, not rounded
    (each connector rounds as its platform does). PayloadError naming `where` and the value for anything that is
    not a finite amount of 0 or more below `MONEY_LIMIT`."""
    if value is None:
        return None
    amount = json_decimal(value)
    if amount is None or not amount.is_finite() or amount < 0 or amount >= MONEY_LIMIT:
        raise PayloadError(f"{where}: {value!r} is not a price (a number of 0 or more, below {MONEY_LIMIT:,})")
    return amount


def numeric_id(value: object) -> str | None:
    """A positive integer id (a JSON number, or digits in a string) as text; None for anything else (booleans,
    negative numbers, other text). Never raises: webhook payloads are read with it before anything is trusted."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return value.strip()
    return None


BODY_MAX_DEPTH = 200
"""Nesting past this depth of a whole body is cut by `lenient_json` before decoding (Python's decoder raises
RecursionError near 1,000 levels); every order sits within a few levels of the body, so a cut part is always deeper
than `connectors.rejects.MAX_DEPTH` inside its order, and rejected as such."""

TOO_DEEP = "\ud800fulfillsync:nested-too-deep"
"""What `lenient_json` puts where it cut nesting: a string no valid JSON text can produce (an unpaired surrogate),
so `connectors.rejects.payload_problem` tells it apart from any value a platform sent."""

_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


def lenient_json(body: bytes) -> Any:
    """`body` decoded as JSON, tolerating what one order can carry: bytes that are not UTF-8 (kept as surrogate
    escapes, found again by `connectors.rejects.payload_problem`) and nesting deeper than `BODY_MAX_DEPTH`
    (replaced by `TOO_DEEP`). Raises ValueError (`json.JSONDecodeError`) when the body is not JSON or is truncated."""
    text = body.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return json.loads(text)
    except RecursionError:
        return json.loads(_cut_deep(text, BODY_MAX_DEPTH))


def _cut_deep(text: str, limit: int) -> str:
    """`text` with every array or object that starts deeper than `limit` replaced by the `TOO_DEEP` string. Never
    raises; text that is not JSON stays not JSON."""
    out: list[str] = []
    depth = 0
    last = 0
    cut_at: int | None = None
    for match in _TOKEN.finditer(text):
        lexeme = match.group()
        if lexeme[0] == '"':
            continue
        if lexeme in "[{":
            depth += 1
            if depth == limit + 1 and cut_at is None:
                cut_at = match.start()
        else:
            if depth == limit + 1 and cut_at is not None:
                out.append(text[last:cut_at])
                out.append(json.dumps(TOO_DEEP))
                last = match.end()
                cut_at = None
            depth -= 1
    out.append(text[last:])
    return "".join(out)

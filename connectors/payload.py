"""Reading platform JSON defensively: the one error type and the readers every connector's parser uses.

A parser raises `PayloadError` naming the part of the payload that is not the documented shape; the connector
turns it into a `MalformedResponseError` for the request that returned it.
"""

from __future__ import annotations

from collections.abc import Mapping
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

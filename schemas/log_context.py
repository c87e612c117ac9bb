"""The context of a log line: which order, connection, event and Kafka record the code logging it is working on.

The fields (`FIELDS`) are part of the JSON log contract (README.md, "Logs"): every JSON line carries those bound
where it was logged, and only those (a field nobody bound is absent, never null). They live in a `contextvars`
variable, so they follow the code that bound them into the tasks it starts (`asyncio.create_task` copies the
context) and never leak into another task's lines.

- `bound(**fields)`: a context manager binding fields for the code inside it (restored on the way out);
- `bind(**fields)`: binds fields until they are bound again in the same context (for a loop that handles one
  record after another and cannot wrap each in a `with`);
- `ContextFilter`: a `logging.Filter` for a handler, copying the bound fields onto each record it sees as
  attributes (a field the logging call passed itself through `extra=` is kept).

This module lives in `schemas/` because every part that logs may import `schemas/` (tests/test_layering.py):
connectors bind the connection they call, the worker the record it handles.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Final

FieldValue = str | int
FIELDS: Final = ("order_id", "connection", "event_id", "topic", "partition", "offset")
"""The context fields, in the order a JSON line shows them."""
MAX_CHARS: Final = 200
"""A text field is cut to this many characters: record keys and headers are whatever a producer wrote."""

_EMPTY: Mapping[str, FieldValue] = MappingProxyType({})
_fields: ContextVar[Mapping[str, FieldValue]] = ContextVar("fulfillsync_log_context", default=_EMPTY)


def _merged(fields: Mapping[str, FieldValue | None]) -> Mapping[str, FieldValue]:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field(s) {sorted(unknown)}; the fields are {', '.join(FIELDS)}")
    merged = dict(_fields.get())
    for name, value in fields.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value[:MAX_CHARS] if isinstance(value, str) else value
    return MappingProxyType(merged)


@contextmanager
def bound(**fields: FieldValue | None) -> Iterator[None]:
    """Bind `fields` (names from `FIELDS`; None unbinds one) on top of those already bound, for the block.
    Raises ValueError for a name not in `FIELDS`."""
    token = _fields.set(_merged(fields))
    try:
        yield
    finally:
        _fields.reset(token)


def bind(**fields: FieldValue | None) -> None:
    """Bind `fields` as `bound` does, in the current context, until the next `bind` (no block to leave). Raises
    ValueError for a name not in `FIELDS`."""
    _fields.set(_merged(fields))


def clear() -> None:
    """Unbind every field in the current context."""
    _fields.set(_EMPTY)


def current() -> Mapping[str, FieldValue]:
    """The fields bound here, read-only."""
    return _fields.get()


class ContextFilter(logging.Filter):
    """Adds the bound fields to every record as attributes (never replacing one the record already has, such as
    one given through `extra=`). Lets every record through; never raises."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _fields.get().items():
            if name not in record.__dict__:
                setattr(record, name, value)
        return True

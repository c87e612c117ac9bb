"""Reading a page of orders one order at a time, so that one bad order is reported instead of failing the page.

A listing's body is loaded with `connectors.payload.lenient_json`: invalid UTF-8 inside a string does not fail the
body (the bytes are kept as surrogate escapes), nor does nesting too deep for Python's JSON decoder (the too-deep
part is replaced by a marker). A body that is not JSON at all, or is truncated, still raises (`ValueError`): that is
the platform failing, and the connector reports it for the whole page (`MalformedResponseError`, retried at the next
tick).

Each order is then checked on its own (`payload_problem`: a string that was not valid UTF-8, nesting deeper than
`MAX_DEPTH`), parsed, and held to the bounds our events accept (`check_order`: references and SKUs of at most
`MAX_TEXT` characters, `schemas.events.NonEmptyStr`). `PageReader.read` does all of it and returns the parsed orders
and a `RejectedOrder` for each one that failed, with its reason code, a message naming the field, and its raw JSON
(as sent, secrets redacted, at most `MAX_RAW_CHARS` characters).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from connectors.http import redact
from connectors.payload import TOO_DEEP, PayloadError
from schemas.platform import ChangedOrder, PlatformOrder, RejectedOrder, RejectReason

T = TypeVar("T")

MAX_DEPTH = 64
"""The deepest nesting accepted inside one order (objects and arrays). Platforms' orders nest a handful of levels;
deeper means a broken or hostile payload."""
MAX_TEXT = 512
"""The longest reference or SKU an order may carry: what `schemas.events` accepts in an `order.placed`."""
MAX_RAW_CHARS = 16_384
"""How much of a rejected order's JSON its `RejectedOrder.raw` (and so its dead letter) keeps."""


def _unclean(text: str) -> bool:
    """Whether `text` holds a surrogate: a byte that was not UTF-8, or an unpaired `\\ud8xx` escape."""
    return any("\ud800" <= char <= "\udfff" for char in text)


def payload_problem(value: Any, where: str) -> str | None:
    """What makes one order's JSON unusable, naming the field (`where` names the order); None when nothing does.
    Checks every key and string for invalid UTF-8 and every container for nesting deeper than `MAX_DEPTH`.
    Iterative: never raises, however deep `value` is."""
    stack: list[tuple[Any, str, int]] = [(value, where, 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if item == TOO_DEEP:
                return f"{path}: nested deeper than {MAX_DEPTH} levels"
            if _unclean(item):
                return f"{path}: text that is not valid UTF-8"
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            return f"{path}: nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if _unclean(key):
                    return f"{path}: a key that is not valid UTF-8"
                stack.append((child, f"{path}.{key}", depth + 1))
        else:
            for index in range(len(item) - 1, -1, -1):
                stack.append((item[index], f"{path}[{index}]", depth + 1))
    return None


def check_order(order: PlatformOrder | ChangedOrder, where: str) -> None:
    """Raise PayloadError when `order` carries a reference or SKU longer than `MAX_TEXT` characters (what an event
    accepts), naming the field. Returns None otherwise."""
    if len(order.order_ref) > MAX_TEXT:
        raise PayloadError(f"{where}: order id of {len(order.order_ref)} characters (at most {MAX_TEXT})")
    if isinstance(order, ChangedOrder):
        return
    for index, line in enumerate(order.lines):
        if len(line.line_ref) > MAX_TEXT:
            raise PayloadError(f"{where}.lines[{index}]: line id of {len(line.line_ref)} characters "
                               f"(at most {MAX_TEXT})")
        if line.sku is not None and len(line.sku) > MAX_TEXT:
            raise PayloadError(f"{where}.lines[{index}]: sku of {len(line.sku)} characters (at most {MAX_TEXT}): "
                               f"{line.sku[:40]!r}…")


def raw_json(value: Any, secrets: Iterable[str]) -> bytes:
    """One order's JSON as the platform sent it: bytes that were not UTF-8 restored, the secrets redacted, cut to
    `MAX_RAW_CHARS` characters (the cut said at the end), nesting past `MAX_DEPTH` shown as `"…"`. Never raises."""
    try:
        text = json.dumps(_pruned(value, 0), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)[:MAX_RAW_CHARS]
    text = redact(text, secrets)
    if len(text) > MAX_RAW_CHARS:
        text = f"{text[:MAX_RAW_CHARS]}… [cut: {len(text)} characters in all]"
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


def _pruned(value: Any, depth: int) -> Any:
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {key: _pruned(child, depth + 1) for key, child in value.items()}
    if isinstance(value, list):
        return [_pruned(child, depth + 1) for child in value]
    return value


def validation_summary(error: ValidationError, where: str) -> str:
    """A pydantic error on building an order, as one line naming the fields."""
    problems = [f"{'.'.join(str(part) for part in item['loc']) or '(value)'}: {item['msg']}"
                for item in error.errors()[:3]]
    return f"{where}: " + "; ".join(problems)


@dataclass
class PageReader(Generic[T]):
    """Parses a page's raw orders one by one. `ref_of` and `updated_of` read an order's id and modification time
    on their own (they may raise anything: the order is then reported without them); `secrets` are redacted from
    raw payloads."""

    ref_of: Callable[[Any], object]
    updated_of: Callable[[Any], datetime]
    secrets: Iterable[str] = ()
    rejected: list[RejectedOrder] = field(default_factory=list)

    def ref(self, raw: Any) -> str | None:
        """The order's id as text when it is readable, clean and within `MAX_TEXT`; None otherwise."""
        try:
            ref = self.ref_of(raw)
        except Exception:  # noqa: BLE001 - an unreadable id only means the rejection names no order
            return None
        text = str(ref) if isinstance(ref, str | int) and not isinstance(ref, bool) else None
        return text if text and len(text) <= MAX_TEXT and not _unclean(text) else None

    def updated(self, raw: Any) -> datetime | None:
        try:
            return self.updated_of(raw)
        except Exception:  # noqa: BLE001 - an unreadable time only means the cursor cannot use it
            return None

    def problem(self, raw: Any, index: int) -> bool:
        """Whether `raw`'s JSON is unusable (invalid UTF-8, too deep); if so it is added to `rejected`."""
        where = self.where(raw, index)
        problem = payload_problem(raw, where)
        if problem is not None:
            self.reject(raw, "invalid_payload", problem)
        return problem is not None

    def where(self, raw: Any, index: int) -> str:
        ref = self.ref(raw)
        return f"order {ref}" if ref is not None else f"order at position {index} of the page"

    def reject(self, raw: Any, reason: RejectReason, message: str) -> None:
        self.rejected.append(RejectedOrder(order_ref=self.ref(raw), reason=reason, message=message,
                                           raw=raw_json(raw, self.secrets), updated_at=self.updated(raw)))

    def parse(self, raw: Any, index: int, parse: Callable[[Any], T]) -> T | None:
        """`parse(raw)` held to `check_order` when it gives an order; None (and the order rejected) when the JSON
        is unusable or parsing raises PayloadError or a pydantic ValidationError. Other exceptions propagate."""
        if self.problem(raw, index):
            return None
        where = self.where(raw, index)
        try:
            parsed = parse(raw)
            if isinstance(parsed, PlatformOrder | ChangedOrder):
                check_order(parsed, where)
        except PayloadError as error:
            message = str(error)
            self.reject(raw, "invalid_order", message if message.startswith(where) else f"{where}: {message}")
            return None
        except ValidationError as error:
            self.reject(raw, "invalid_order", validation_summary(error, where))
            return None
        return parsed

    def read(self, raws: Iterable[Any], parse: Callable[[Any], T]) -> Iterator[T]:
        """The orders of `raws` that parse (`parse`), in order; the others land in `rejected`."""
        for index, raw in enumerate(raws):
            parsed = self.parse(raw, index, parse)
            if parsed is not None:
                yield parsed

    def rejected_items(self) -> list[tuple[str, datetime]]:
        """(ref, updated_at) of the rejected orders that have both, for the cursor's memory of what it saw."""
        return [(item.order_ref, item.updated_at) for item in self.rejected
                if item.order_ref is not None and item.updated_at is not None]

    def unseen(self, seen_before: Callable[[str, datetime], bool]) -> tuple[RejectedOrder, ...]:
        """The rejected orders the cursor did not already report at the same modification time."""
        return tuple(item for item in self.rejected if item.order_ref is None or item.updated_at is None
                     or not seen_before(item.order_ref, item.updated_at))

"""Magento's `searchCriteria` query parameters: parsing, filtering, sorting and paging of plain JSON rows.

Accepted keys (snake_case and camelCase, as Magento's web API converts both):
`searchCriteria[filter_groups][g][filters][f][field|value|condition_type]`,
`searchCriteria[sort_orders][s][field|direction]`, `searchCriteria[pageSize]`, `searchCriteria[currentPage]`.
Filters within a group are OR'ed, groups AND'ed. Values compare as numbers when both sides are numeric, else as
strings (Magento's `Y-m-d H:i:s` timestamps sort correctly as strings).

Failure: `parse_criteria` raises `MagentoError` (400) for a missing `searchCriteria`, a non-integer page field, an
unknown condition type, and, with input limits enabled, a `pageSize` above the maximum.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.magento.errors import MagentoError, invalid_value, required

_FILTER = re.compile(
    r"^searchCriteria\[(?:filter_groups|filterGroups)\]\[(\d+)\]\[filters\]\[(\d+)\]"
    r"\[(field|value|condition_type|conditionType)\]$")
_SORT = re.compile(r"^searchCriteria\[(?:sort_orders|sortOrders)\]\[(\d+)\]\[(field|direction)\]$")
_PAGE = re.compile(r"^searchCriteria\[(pageSize|page_size|currentPage|current_page)\]$")
CONDITIONS = frozenset({"eq", "neq", "gt", "gteq", "lt", "lteq", "moreq", "from", "to", "in", "nin", "like",
                        "nlike", "null", "notnull", "finset", "nfinset"})


@dataclass(frozen=True)
class Filter:
    field: str
    value: str
    condition: str = "eq"


@dataclass
class SearchCriteria:
    groups: list[list[Filter]] = field(default_factory=list)
    sort: list[tuple[str, str]] = field(default_factory=list)
    page_size: int | None = None
    current_page: int = 1

    def echo(self) -> dict[str, Any]:
        """The `search_criteria` part of a search result."""
        body: dict[str, Any] = {
            "filter_groups": [{"filters": [{"field": f.field, "value": f.value, "condition_type": f.condition}
                                           for f in group]} for group in self.groups],
            "sort_orders": [{"field": name, "direction": direction} for name, direction in self.sort],
            "current_page": self.current_page,
        }
        if self.page_size is not None:
            body["page_size"] = self.page_size
        return body


def parse_criteria(params: Iterable[tuple[str, str]], *, input_limit: int | None,
                   default_page_size: int | None) -> SearchCriteria:
    """The criteria in a query string. `input_limit`: the maximum pageSize (None: input limits disabled, as by
    default in Magento); `default_page_size`: the page size when none is given (None: everything)."""
    filters: dict[int, dict[int, dict[str, str]]] = {}
    sorts: dict[int, dict[str, str]] = {}
    pages: dict[str, str] = {}
    seen = False
    for key, value in params:
        if not key.startswith("searchCriteria"):
            continue
        seen = True
        if match := _FILTER.match(key):
            part = "condition_type" if match[3] == "conditionType" else match[3]
            filters.setdefault(int(match[1]), {}).setdefault(int(match[2]), {})[part] = value
        elif match := _SORT.match(key):
            sorts.setdefault(int(match[1]), {})[match[2]] = value
        elif match := _PAGE.match(key):
            pages["page_size" if match[1] in ("pageSize", "page_size") else "current_page"] = value
    if not seen:
        raise required("searchCriteria")
    criteria = SearchCriteria()
    for g in sorted(filters):
        group = []
        for f in sorted(filters[g]):
            raw = filters[g][f]
            if "field" not in raw:
                raise required(f"searchCriteria.filter_groups[{g}].filters[{f}].field")
            condition = raw.get("condition_type", "eq").lower()
            if condition not in CONDITIONS:
                raise MagentoError(400, 'Invalid condition type "%1"', [condition])
            group.append(Filter(raw["field"], raw.get("value", ""), condition))
        criteria.groups.append(group)
    for s in sorted(sorts):
        direction = sorts[s].get("direction", "ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise invalid_value(direction, "direction")
        criteria.sort.append((sorts[s].get("field", ""), direction))
    criteria.page_size = _integer(pages["page_size"], "pageSize") if "page_size" in pages else default_page_size
    criteria.current_page = max(_integer(pages.get("current_page", "1"), "currentPage"), 1)
    if input_limit is not None and criteria.page_size is not None and criteria.page_size > input_limit:
        raise MagentoError(400, "Maximum SearchCriteria pageSize is %max", {"max": str(input_limit)})
    return criteria


def _integer(value: str, name: str) -> int:
    if not re.fullmatch(r"-?\d+", value.strip()):
        raise invalid_value(value, name)
    return int(value)


def search(rows: Sequence[Mapping[str, Any]], criteria: SearchCriteria, *, repeat_last_page: bool,
           fold_case: bool = False) -> tuple[list[Mapping[str, Any]], int]:
    """The rows on the requested page and the total count matching. Past the last page: an empty page, or the
    last page again with `repeat_last_page` (Magento before 2.4.x did that). `fold_case`: strings compare as a
    case-insensitive MySQL collation does (trailing spaces ignored), as for product SKUs."""
    if fold_case:
        criteria = SearchCriteria([[Filter(f.field, _folded(f.value), f.condition) for f in group]
                                   for group in criteria.groups], criteria.sort, criteria.page_size,
                                  criteria.current_page)
        folded = [{key: _folded(value) for key, value in row.items()} for row in rows]
        matching = [row for row, fold in zip(rows, folded, strict=True)
                    if all(any(_matches(fold, f) for f in group) for group in criteria.groups)]
    else:
        matching = [row for row in rows if all(any(_matches(row, f) for f in group) for group in criteria.groups)]
    for name, direction in reversed(criteria.sort):
        matching.sort(key=_by(name), reverse=direction == "DESC")
    total = len(matching)
    size = criteria.page_size
    if not size or size <= 0:
        return matching, total
    start = (criteria.current_page - 1) * size
    if start >= total and total and repeat_last_page:
        start = ((total - 1) // size) * size
    return matching[start:start + size], total


def _folded(value: Any) -> Any:
    return value.rstrip(" ").casefold() if isinstance(value, str) else value


def _by(name: str) -> Callable[[Mapping[str, Any]], tuple[int, float, str]]:
    return lambda row: _sort_key(row.get(name))


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    number = _number(value)
    return (1, number, "") if number is not None else (2, 0.0, str(value))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _compare(left: Any, right: str) -> int:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    text = "" if left is None else str(left)
    return (text > right) - (text < right)


def _like(value: Any, pattern: str) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$"
    return re.match(regex, "" if value is None else str(value), re.IGNORECASE | re.DOTALL) is not None


def _matches(row: Mapping[str, Any], item: Filter) -> bool:
    value = row.get(item.field)
    options = [part.strip() for part in item.value.split(",")]
    checks = {
        "eq": lambda: value is not None and _compare(value, item.value) == 0,
        "neq": lambda: value is None or _compare(value, item.value) != 0,
        "gt": lambda: value is not None and _compare(value, item.value) > 0,
        "gteq": lambda: value is not None and _compare(value, item.value) >= 0,
        "moreq": lambda: value is not None and _compare(value, item.value) >= 0,
        "from": lambda: value is not None and _compare(value, item.value) >= 0,
        "lt": lambda: value is not None and _compare(value, item.value) < 0,
        "lteq": lambda: value is not None and _compare(value, item.value) <= 0,
        "to": lambda: value is not None and _compare(value, item.value) <= 0,
        "in": lambda: value is not None and any(_compare(value, option) == 0 for option in options),
        "nin": lambda: value is None or all(_compare(value, option) != 0 for option in options),
        "like": lambda: _like(value, item.value),
        "nlike": lambda: not _like(value, item.value),
        "null": lambda: value is None,
        "notnull": lambda: value is not None,
        "finset": lambda: item.value in str(value or "").split(","),
        "nfinset": lambda: item.value not in str(value or "").split(","),
    }
    return bool(checks[item.condition]())

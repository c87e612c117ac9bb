"""Properties of the simulated shop's building blocks: cursor pagination visits every item exactly once in order,
whatever the page size; the search parser never raises on any text (Shopify ignores what it cannot read)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.shopify.resolvers import connection
from sandbox.shopify.search import parse_search


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), unique=True, max_size=60),
       st.integers(min_value=1, max_value=25), st.booleans())
def test_walking_a_connection_visits_every_item_once(keys: list[int], size: int, backwards: bool) -> None:
    items = sorted(keys)
    seen: list[Any] = []
    cursor = None
    for _ in range(len(items) + 2):
        if backwards:
            page = connection(items, lambda item: {"id": item}, lambda item: item, last=size, before=cursor)
            seen = [node["id"] for node in page["nodes"]] + seen
            more, cursor = page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["startCursor"]
        else:
            page = connection(items, lambda item: {"id": item}, lambda item: item, first=size, after=cursor)
            seen += [node["id"] for node in page["nodes"]]
            more, cursor = page["pageInfo"]["hasNextPage"], page["pageInfo"]["endCursor"]
        assert len(page["nodes"]) <= size
        if not more:
            break
    assert seen == items


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_search_text_parses_without_raising(text: str) -> None:
    search = parse_search(text)
    assert all(isinstance(warning, str) for warning in search.warnings)

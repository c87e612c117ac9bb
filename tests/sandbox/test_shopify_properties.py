"""Properties of the simulated shop's building blocks: cursor pagination visits every item exactly once in order,
whatever the page size; the search parsers never raise on any text (Shopify ignores what it cannot read); the
loose SKU search finds every SKU the connector's quoted searches name."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.shopify.catalog import search_batches
from sandbox.shopify.catalog import Product, Variant
from sandbox.shopify.resolvers import connection
from sandbox.shopify.search import parse_search
from sandbox.shopify.variant_search import parse_variant_search


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



def _variant(sku: str | None) -> tuple[Product, Variant]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    variant = Variant(id=2, product_id=1, sku=sku, title="Default Title", price=Decimal(1), inventory_quantity=1)
    return Product(1, "T", "ACTIVE", [variant], now, now), variant


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_variant_search_text_parses_and_filters_without_raising(text: str) -> None:
    search = parse_variant_search(text)
    assert all(isinstance(warning, str) for warning in search.warnings)
    assert isinstance(search.matches(_variant(text[:10] or None)), bool)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5))
def test_the_connectors_sku_searches_find_each_sku(skus: list[str]) -> None:
    for _, text in search_batches(skus):
        search = parse_variant_search(text)
        assert all(search.matches(_variant(sku)) for sku in skus), text

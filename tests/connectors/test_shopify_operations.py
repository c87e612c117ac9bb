"""Every GraphQL document the connector sends validates against the 2026-07 SDL and the 2025-01 introspection
(graphql-core `validate`), and stays under Shopify's 1000-point single-query limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import FragmentDefinitionNode, GraphQLSchema, OperationDefinitionNode, parse, validate

from connectors.shopify import operations as ops
from sandbox.shopify.cost import MAX_QUERY_COST, query_cost
from sandbox.shopify.schema import load_schema

SDL = Path("shopify/admin-graphql/2026-07/schema.graphql")


@pytest.fixture(scope="module")
def sdl_2026_07(platform_specs: Path) -> GraphQLSchema:
    return load_schema(str(platform_specs / SDL))


@pytest.mark.parametrize("operation", ops.ALL, ids=lambda op: op.name)
def test_validates_against_2026_07(operation: ops.Operation, sdl_2026_07: GraphQLSchema) -> None:
    assert [error.message for error in validate(sdl_2026_07, parse(operation.text))] == []


@pytest.mark.parametrize("operation", ops.ALL, ids=lambda op: op.name)
def test_validates_against_2025_01(operation: ops.Operation) -> None:
    assert [error.message for error in validate(load_schema(None), parse(operation.text))] == []


@pytest.mark.parametrize("operation", ops.ALL, ids=lambda op: op.name)
def test_costs_less_than_shopifys_limit(operation: ops.Operation) -> None:
    document = parse(operation.text)
    (definition,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert definition.name is not None and definition.name.value == operation.name
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    cost = query_cost(load_schema(None), definition, fragments, _variables(ops.LISTING_PAGE_SIZE, ops.ORDER_BATCH))
    assert 0 < cost <= MAX_QUERY_COST


def _variables(first: int, ids: int) -> dict[str, object]:
    return {"first": first, "ids": [f"gid://shopify/Order/{n}" for n in range(ids)]}


def _cost(operation: ops.Operation, first: int, ids: int = 0) -> int:
    document = parse(operation.text)
    (definition,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return query_cost(load_schema(None), definition, fragments, _variables(first, ids))


def test_the_listing_costs_a_point_per_order_a_fiftieth_of_a_full_read() -> None:
    light = _cost(ops.ORDERS_CHANGED_SINCE, ops.LISTING_PAGE_SIZE) / ops.LISTING_PAGE_SIZE
    full = _cost(ops.ORDERS_BY_ID, 0, ops.ORDER_BATCH) / ops.ORDER_BATCH
    assert light <= 1.1 and full / light >= 45


def test_the_deprecated_v2_mutations_are_never_used() -> None:
    for operation in ops.ALL:
        assert "V2(" not in operation.text and "fulfillmentCreateV2" not in operation.text

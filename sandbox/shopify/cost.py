"""Shopify's calculated query cost and the leaky bucket it is charged against (docs/platforms/shopify.md).

Cost of a query, computed before it runs from the document and its variables:
- a scalar or enum field costs 0, an object field 1 plus its selections;
- a connection (a type named `…Connection`) costs `first` (or `last`, default 1) × the cost of its `nodes` /
  `edges` selection, plus its other selections (`pageInfo` 1);
- a plain list of objects (e.g. `Order.fulfillments`, `Fulfillment.trackingInfo`) costs what one element does, as
  the real captures show (`order { fulfillments(first: 5) { trackingInfo(first: 5) {…} } }` is 3 points), except
  a list asked for by `ids` (`nodes(ids:)`), which costs each id's object (assumed: no capture shows it, and
  charging per id is the cautious side);
- a mutation field costs 10 plus its selections;
- fragments add the cost of their selections.
So a catalog read `productVariants(first: 50) { pageInfo {…} nodes { … inventoryItem {…} product {…} } }` costs
50 × 3 + 1, `shop { currencyCode }` 1, and an order's `totalPriceSet { shopMoney {…} }` 2 (a `MoneyBag` and its
`MoneyV2` are objects).
Queries over `MAX_QUERY_COST` are refused before they run. After a query runs, `actual_cost` recomputes the cost
with the number of nodes each connection really returned (a null object costs nothing), and the bucket refunds
the difference, as Shopify does.

The bucket holds `maximum` points and regains `restore_rate` per second of the injected monotonic clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

MAX_QUERY_COST = 1000
MUTATION_COST = 10


def query_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
               fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]) -> int:
    """The requested cost of `operation` (which must already have passed validation)."""
    if operation.operation == OperationType.MUTATION:
        root, field_cost = schema.mutation_type, MUTATION_COST
    else:
        root, field_cost = schema.query_type, 1
    if root is None:
        return 0
    return _selections(schema, root, operation.selection_set, fragments, variables, field_cost)


def _selections(schema: GraphQLSchema, parent: GraphQLObjectType | GraphQLInterfaceType,
                selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode],
                variables: Mapping[str, Any], field_cost: int = 1) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += _field(schema, parent, selection, fragments, variables, field_cost)
            continue
        if isinstance(selection, InlineFragmentNode):
            condition, sub = selection.type_condition, selection.selection_set
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None:
                continue
            condition, sub = fragment.type_condition, fragment.selection_set
        else:  # pragma: no cover - no other selection kinds exist
            continue
        target = schema.get_type(condition.name.value) if condition is not None else parent
        if isinstance(target, GraphQLObjectType | GraphQLInterfaceType):
            total += _selections(schema, target, sub, fragments, variables)
    return total


def _field(schema: GraphQLSchema, parent: GraphQLObjectType | GraphQLInterfaceType, node: FieldNode,
           fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any], field_cost: int) -> int:
    definition = parent.fields.get(node.name.value)
    if definition is None:  # __typename and friends
        return 0
    named = get_named_type(definition.type)
    if is_leaf_type(named) or not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        return 0
    if not named.name.endswith("Connection"):
        each = field_cost + _selections(schema, named, node.selection_set, fragments, variables)
        return each * max(_ids(node, variables), 1)
    size = _size(node, variables)
    total = 0
    for selection in node.selection_set.selections if node.selection_set else ():
        if isinstance(selection, FieldNode) and selection.name.value in ("nodes", "edges"):
            total += size * _field(schema, named, selection, fragments, variables, 1)
        elif isinstance(selection, FieldNode):
            total += _field(schema, named, selection, fragments, variables, 1)
    return total


def _size(node: FieldNode, variables: Mapping[str, Any]) -> int:
    for argument in node.arguments or ():
        if argument.name.value in ("first", "last"):
            if isinstance(argument.value, VariableNode):
                value = variables.get(argument.value.name.value)
            else:
                value = value_from_ast_untyped(argument.value, dict(variables))
            if isinstance(value, int) and value > 0:
                return value
    return 1


def _ids(node: FieldNode, variables: Mapping[str, Any]) -> int:
    """How many ids an `ids:` argument asks for (0 when the field has none)."""
    for argument in node.arguments or ():
        if argument.name.value == "ids":
            value = value_from_ast_untyped(argument.value, dict(variables))
            return len(value) if isinstance(value, list) else 0
    return 0


def actual_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
                fragments: Mapping[str, FragmentDefinitionNode], data: Any) -> int:
    """The cost of `operation` given the `data` it returned (same rules, real connection sizes)."""
    if operation.operation == OperationType.MUTATION:
        root, field_cost = schema.mutation_type, MUTATION_COST
    else:
        root, field_cost = schema.query_type, 1
    if root is None or not isinstance(data, dict):
        return 0
    return _actual(schema, root, operation.selection_set, fragments, data, field_cost)


def _actual(schema: GraphQLSchema, parent: GraphQLObjectType | GraphQLInterfaceType,
            selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode],
            data: dict[str, Any], field_cost: int = 1) -> int:
    total = 0
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            definition = parent.fields.get(selection.name.value)
            value = data.get(selection.alias.value if selection.alias else selection.name.value)
            if definition is None or value is None:
                continue
            named = get_named_type(definition.type)
            if is_leaf_type(named) or not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                continue
            items = value if isinstance(value, list) else [value]
            objects = [item for item in items if isinstance(item, dict)]
            if named.name.endswith("Connection"):
                total += _actual_connection(schema, named, selection, fragments, objects)
            elif objects and any(argument.name.value == "ids" for argument in selection.arguments or ()):
                total += sum(field_cost + _actual(schema, named, selection.selection_set, fragments, item)
                             for item in objects)
            elif objects:  # a plain list costs what one element does
                total += field_cost + _actual(schema, named, selection.selection_set, fragments, objects[0])
            continue
        if isinstance(selection, InlineFragmentNode):
            condition, sub = selection.type_condition, selection.selection_set
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            fragment = fragments[selection.name.value]
            condition, sub = fragment.type_condition, fragment.selection_set
        else:
            continue
        target = schema.get_type(condition.name.value) if condition is not None else parent
        if isinstance(target, GraphQLObjectType | GraphQLInterfaceType):
            total += _actual(schema, target, sub, fragments, data)
    return total


def _actual_connection(schema: GraphQLSchema, connection: GraphQLObjectType | GraphQLInterfaceType,
                       node: FieldNode, fragments: Mapping[str, FragmentDefinitionNode],
                       objects: list[dict[str, Any]]) -> int:
    total = 0
    for value in objects:
        for selection in node.selection_set.selections if node.selection_set else ():
            if not isinstance(selection, FieldNode):
                continue
            definition = connection.fields.get(selection.name.value)
            returned = value.get(selection.alias.value if selection.alias else selection.name.value)
            if definition is None or returned is None:
                continue
            named = get_named_type(definition.type)
            if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                continue
            for item in returned if isinstance(returned, list) else [returned]:
                if isinstance(item, dict):
                    total += 1 + _actual(schema, named, selection.selection_set, fragments, item)
    return total


class LeakyBucket:
    """Points available to one app on one shop."""

    def __init__(self, maximum: float, restore_rate: float, now: Callable[[], float] = time.monotonic) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.now = now
        self._available = maximum
        self._at = now()

    def available(self) -> float:
        current = self.now()
        self._available = min(self.maximum, self._available + (current - self._at) * self.restore_rate)
        self._at = current
        return self._available

    def take(self, cost: float) -> bool:
        """Charge `cost` if the bucket holds it; False (nothing charged) when it does not."""
        if self.available() < cost:
            return False
        self._available -= cost
        return True

    def refund(self, points: float) -> None:
        """Give back what a query was charged but did not use."""
        self._available = min(self.maximum, self.available() + max(points, 0.0))

    def status(self) -> dict[str, int]:
        return {"maximumAvailable": int(self.maximum), "currentlyAvailable": int(self.available()),
                "restoreRate": int(self.restore_rate)}

"""What simulated stores served over HTTP were asked to create or change: REST requests other than GET, counted by
each store itself (`GET /_sandbox/requests`; `DELETE /_sandbox/requests` resets the count), and Shopify GraphQL
mutations. Every Shopify request is a POST to `graphql.json`, whether it reads or writes, so the Shopify stores'
GraphQL layer (`sandbox/shopify/app.py`, `execute`) is wrapped to record each mutation it is asked to run (the
approach of tests/upgrade/test_resume_from_v0_1_0.py, `Writes`). Merchant actions go through the stores' admin
routes (`/_sandbox/...`), which are neither counted nor executed as GraphQL: only what a client of the API asked
for is recorded.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse

from sandbox.common import SandboxApp

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
GRAPHQL_PATH_SUFFIX = "/graphql.json"


def mutation_fields(query: str, operation_name: str | None) -> list[str]:
    """The root fields of the mutation `query` runs (the operation `operation_name` names, or its only one); [] for
    a query, or for a document that does not parse."""
    try:
        document = parse(query)
    except GraphQLError:
        return []
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)
                  and (operation_name is None or (node.name is not None and node.name.value == operation_name))]
    return [selection.name.value for node in operations if node.operation == OperationType.MUTATION
            for selection in node.selection_set.selections if isinstance(selection, FieldNode)]


class StoreWrites:
    """The stores watched (by connection id) and the writes they received since the last `reset`."""

    def __init__(self) -> None:
        self.roots: dict[str, str] = {}
        self._mutations: list[str] = []
        self._lock = threading.Lock()

    def watch(self, connection: str, platform: str, root: str, app: SandboxApp) -> None:
        """Count the writes of the store served at `root` (its admin routes' origin); for Shopify, record the
        mutations its GraphQL layer runs from now on."""
        self.roots[connection] = root
        if platform != "shopify":
            return
        shop = app.store
        execute = shop.execute

        def recording(query: str, variables: dict[str, Any] | None, operation_name: str | None) -> dict[str, Any]:
            fields = mutation_fields(query, operation_name)
            if fields:
                with self._lock:
                    self._mutations.append(f"{connection}: mutation {', '.join(fields)}")
            result: dict[str, Any] = execute(query, variables, operation_name)
            return result

        shop.execute = recording

    def reset(self) -> None:
        """Forget every request and mutation so far."""
        for root in self.roots.values():
            httpx.delete(f"{root}/_sandbox/requests", timeout=5).raise_for_status()
        with self._lock:
            self._mutations.clear()

    def requests(self, connection: str) -> dict[str, int]:
        """`METHOD path` -> how many API requests the store served since the last reset."""
        answer = httpx.get(f"{self.roots[connection]}/_sandbox/requests", timeout=5)
        answer.raise_for_status()
        counts: dict[str, int] = answer.json()["by_route"]
        return counts

    def made(self) -> list[str]:
        """Every write since the last reset, one line each: REST writes with their count, Shopify mutations."""
        with self._lock:
            found = list(self._mutations)
        for connection in self.roots:
            found += [f"{connection}: {route} x{count}" for route, count in sorted(self.requests(connection).items())
                      if route.split(" ", 1)[0] in WRITE_METHODS and not route.endswith(GRAPHQL_PATH_SUFFIX)]
        return found

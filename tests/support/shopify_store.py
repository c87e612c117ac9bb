"""Shared helpers for the Shopify connector and store tests: a simulated shop and a connector wired to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values

from connectors.http import RetryPolicy
from connectors.shopify import ShopifyConnector
from sandbox.common import SandboxApp
from sandbox.settings import StoreSettings
from sandbox.shopify.app import create_app
from sandbox.shopify.schema import load_schema
from sandbox.shopify.store import ShopifyStore
from schemas.config import Connection

TOKEN = "shpat_test_3f9c2a77d1e04b6b8a51"
FAST = RetryPolicy(initial_delay_s=0.01, max_delay_s=0.05)
SDL = Path("shopify/admin-graphql/2026-07/schema.graphql")


def sdl_path(request: pytest.FixtureRequest) -> str | None:
    """The 2026-07 SDL when FULFILLSYNC_PLATFORM_SPECS provides it, else None (the vendored 2025-01 schema)."""
    try:
        specs: Path = request.getfixturevalue("platform_specs")
    except pytest.skip.Exception:
        return None
    return str(specs / SDL)


def make_app(schema_sdl: str | None = None, **options: Any) -> SandboxApp:
    if schema_sdl is not None:
        options["schema_sdl"] = schema_sdl
    return create_app(StoreSettings(platform="shopify", name="test-shop", credentials={"access_token": TOKEN},
                                    options=options))


def connection(token: str = TOKEN, **extra: Any) -> Connection:
    return Connection(id="acme-shopify", partner="acme", role="seller", platform="shopify",
                      base_url="http://test-shop.myshopify.com", credentials={"access_token": token}, **extra)


@dataclass
class CheckingTransport(httpx.AsyncBaseTransport):
    """Forwards to the shop and checks every GraphQL request on the way: its document must validate, and its
    variables coerce, against every schema in `schemas` (the 2026-07 SDL when available and the 2025-01
    introspection). Findings go to `problems`; `sent` keeps each request body."""

    inner: httpx.AsyncBaseTransport
    schemas: dict[str, GraphQLSchema]
    problems: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read())
        self.sent.append(body)
        self.problems += check_operation(body["query"], body.get("variables") or {}, self.schemas)
        return await self.inner.handle_async_request(request)

    def operations(self) -> list[str]:
        return [str(body.get("operationName")) for body in self.sent]


def check_operation(text: str, variables: dict[str, Any], schemas: dict[str, GraphQLSchema]) -> list[str]:
    """Every way `text` with `variables` fails against `schemas` (empty when it is valid everywhere)."""
    problems = []
    document = parse(text)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    name = operation.name.value if operation.name else "anonymous"
    for version, schema in schemas.items():
        problems += [f"{name} @ {version}: {error.message}" for error in validate(schema, document)]
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            problems += [f"{name} @ {version} variables: {error.message}" for error in coerced]
    return problems


def schemas_for(sdl: str | None) -> dict[str, GraphQLSchema]:
    found = {"2025-01": load_schema(None)}
    if sdl is not None:
        found["2026-07"] = load_schema(sdl)
    return found


@contextmanager
def checked_shop(request: pytest.FixtureRequest, **options: Any) -> Iterator[tuple[SandboxApp, CheckingTransport]]:
    """A shop (`make_app` with `options`, on the 2026-07 SDL when available) and a CheckingTransport to it; on
    leaving, asserts that every request the transport saw was valid."""
    sdl = sdl_path(request)
    app = make_app(sdl, **options)
    transport = CheckingTransport(httpx.ASGITransport(app=app), schemas_for(sdl))
    yield app, transport
    assert transport.problems == [], "\n".join(transport.problems)


def connector(app: SandboxApp, *, token: str = TOKEN, retry: RetryPolicy = FAST,
              transport: httpx.AsyncBaseTransport | None = None, **extra: Any) -> ShopifyConnector:
    options = {key: extra.pop(key) for key in ("sleep", "page_size", "start_window", "now") if key in extra}
    return ShopifyConnector(connection(token, **extra), transport=transport or httpx.ASGITransport(app=app),
                            retry=retry, **options)


def store(app: SandboxApp) -> ShopifyStore:
    found: ShopifyStore = app.store.store
    return found

"""Shared by the Magento tests: the official Swagger 2.0 schema as a validator, an httpx transport that checks
every request the connector sends and every JSON answer the simulated store gives, and a store + connector pair.

openapi-core reads OpenAPI 3 only, so the operation is found here by matching the schema's path templates, and
its body / response schema is validated with jsonschema's Draft 4 validator against a document holding the
schema's `#/definitions` (so every `$ref` resolves). Two deliberate deviations from the schema, because real
Magento answers differ from it: `error-response.parameters` is declared as an array of objects, but Magento sends
an object for named placeholders (`{"resources": "Magento_Sales::sales"}`, the documented 401) and an array of
strings for positional ones (`["abc", "pageSize"]`); both are accepted. A stock item's `low_stock_date` is declared
a string, but Magento answers null for an item that never ran low; null is accepted.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml

from connectors.http import RetryPolicy
from connectors.magento import MagentoConnector
from sandbox.common import SandboxApp
from sandbox.magento.app import base_path, create_app
from sandbox.settings import StoreSettings
from schemas.config import Connection

SPEC_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "platform-specs" / "magento" / \
    "admin-schema-2.4.9.yaml.gz"
SHIP_EXAMPLE = SPEC_FILE.parent / "order-ship.request.example.json"
TOKEN = "mgt-3f9c2b7e5a1d4c88-secret"
START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(initial_delay_s=0.01, max_delay_s=0.05)


class SpecViolation(AssertionError):
    """A request or response that the official schema does not allow."""


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: Mapping[str, Any]


class MagentoSpec:
    """The official admin REST schema, loaded once per session (see `magento_spec`)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.definitions = copy.deepcopy(dict(document["definitions"]))
        self.definitions["error-response"]["properties"]["parameters"] = {"type": ["array", "object"]}
        self.definitions["catalog-inventory-data-stock-item-interface"]["properties"]["low_stock_date"] = {
            "type": ["string", "null"]}
        self.operations: list[Operation] = []
        for template, methods in document["paths"].items():
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            for method, spec in methods.items():
                self.operations.append(Operation(method.upper(), template, re.compile(regex), spec))
        self.operations.sort(key=lambda op: (op.template.count("{"), op.template))

    def operation(self, method: str, path: str) -> Operation:
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        raise SpecViolation(f"{method} {path} is not an operation of the Magento admin schema")

    def validate(self, schema: Mapping[str, Any], instance: Any, what: str) -> None:
        validator = jsonschema.Draft4Validator({"definitions": self.definitions, "allOf": [schema]})
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            details = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}"
                                for e in errors[:5])
            raise SpecViolation(f"{what} violates the Magento schema: {details}")

    def check_request(self, method: str, path: str, query: list[tuple[str, str]], body: Any) -> None:
        op = self.operation(method, path)
        declared = {p["name"]: p for p in op.spec.get("parameters", []) if p.get("in") == "query"}
        for name, value in query:
            normal = _camel_query(name)
            if normal not in declared:
                raise SpecViolation(f"{method} {path}: query parameter {name} is not in the schema")
            if declared[normal].get("type") == "integer" and not re.fullmatch(r"-?\d+", value):
                raise SpecViolation(f"{method} {path}: query parameter {name}={value!r} is not an integer")
        bodies = [p for p in op.spec.get("parameters", []) if p.get("in") == "body"]
        if bodies:
            if body is None:
                raise SpecViolation(f"{method} {path}: the schema wants a body, none was sent")
            self.validate(bodies[0]["schema"], body, f"{method} {op.template} request body")
        elif body is not None:
            raise SpecViolation(f"{method} {path}: a body was sent but the operation takes none")

    def check_response(self, method: str, path: str, status: int, body: Any) -> None:
        """The answer against the operation's declared response; for a path that is no operation (Magento's
        `Request does not match any route.`), against `error-response`."""
        try:
            op = self.operation(method, path)
        except SpecViolation:
            self.validate({"$ref": "#/definitions/error-response"}, body, f"{method} {path} {status} response")
            return
        responses = op.spec.get("responses", {})
        declared = responses.get(str(status)) or responses.get("default")
        if declared is None:
            raise SpecViolation(f"{method} {path}: status {status} is not declared")
        if "schema" in declared:
            self.validate(declared["schema"], body, f"{method} {op.template} {status} response")


def _camel_query(name: str) -> str:
    """`searchCriteria[filter_groups][2][filters][1][condition_type]` as the schema spells its one example."""
    name = name.replace("[filter_groups]", "[filterGroups]").replace("[condition_type]", "[conditionType]")
    name = name.replace("[sort_orders]", "[sortOrders]")
    return re.sub(r"\[\d+\]", "[0]", name)


@cache
def magento_spec() -> MagentoSpec:
    """The 2.4.9 schema, parsed once per test session."""
    with gzip.open(SPEC_FILE) as raw:
        return MagentoSpec(yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


@dataclass
class Sent:
    method: str
    path: str
    query: list[tuple[str, str]]
    body: Any


class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """ASGITransport to the store that validates every `/V1` request body and JSON answer against the schema.
    Bodies that are not JSON (the truncation and HTML faults) are passed through for the connector to refuse."""

    def __init__(self, app: SandboxApp, prefix: str, spec: MagentoSpec) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.prefix = prefix
        self.spec = spec
        self.sent: list[Sent] = []
        self.checked_responses = 0
        self.check_responses = True  # off only in tests that inject answers the schema forbids on purpose
        self.check_requests = True  # off only in tests that send requests the schema forbids on purpose

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(self.prefix)
        api = path.startswith("/V1/")
        query = list(request.url.params.multi_items())
        if api:
            body = json.loads(request.content) if request.content and self.check_requests else None
            self.sent.append(Sent(request.method, path, query, body))
            if self.check_requests:
                self.spec.check_request(request.method, path, query, body)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if api:
            try:
                answer = json.loads(content)
            except ValueError:
                answer = _NOT_JSON
            if answer is not _NOT_JSON and self.check_responses:
                self.spec.check_response(request.method, path, response.status_code, answer)
                self.checked_responses += 1
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)

    def bodies(self, method: str, pattern: str) -> list[Any]:
        return [s.body for s in self.sent if s.method == method and re.fullmatch(pattern, s.path)]


_NOT_JSON = object()


@dataclass
class Harness:
    """A simulated store and connectors to it, every exchange checked against the schema."""

    app: SandboxApp
    transport: SpecCheckingTransport
    base_url: str
    connectors: list[MagentoConnector] = field(default_factory=list)

    @property
    def store(self) -> Any:
        return self.app.store

    def connector(self, *, token: str = TOKEN, role: str = "buyer", page_size: int = 100,
                  sleep: Callable[[float], Any] | None = None) -> MagentoConnector:
        connection = Connection.model_validate({
            "id": f"mg-{role}", "partner": "acme", "role": role, "platform": "magento2",
            "base_url": self.base_url, "credentials": {"access_token": token}, "requests_per_s": 1000})
        connector = MagentoConnector(connection, transport=self.transport, retry=FAST, page_size=page_size,
                                     now=self.app.sandbox.clock.now, sleep=sleep)
        self.connectors.append(connector)
        return connector

    def requests(self, key: str) -> int:
        return self.app.sandbox.requests[key]

    async def close(self) -> None:
        for connector in self.connectors:
            await connector.aclose()


def make_harness(*, credentials: Mapping[str, str] | None = None, **options: Any) -> Harness:
    """A store (clock at START, input limits on, sandbox `options`) accepting `credentials` (default: the access
    token TOKEN), every exchange checked against the schema."""
    settings = StoreSettings(platform="magento2", name="default",
                             credentials=dict(credentials) if credentials is not None else {"access_token": TOKEN},
                             options={"input_limit_enabled": True, **options})
    app = create_app(settings)
    app.sandbox.clock.set(START)
    prefix = base_path(settings)
    return Harness(app=app, transport=SpecCheckingTransport(app, prefix, magento_spec()),
                   base_url=f"http://magento.test{prefix}")

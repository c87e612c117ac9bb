"""Shared by the BigCommerce tests: the simulated store, a connector wired to it in-process, and an httpx
transport that checks every exchange against the official `orders.v2.oas2.yml` (read from the platform specs
folder, never copied: it carries no licence).

Two documented deviations of the spec are allowed, and only these:
- `sort=date_modified:asc`: the `sort` enum lists bare field names while its own description
  asks for a `:asc`/`:desc` suffix, so the suffix is removed before the enum is checked;
- 204 No Content on a collection whose spec lists only 200 (`/orders`, `/products`, `/shipping_addresses`):
  BigCommerce answers 204 for every empty collection ; the body must then be empty (checked by
  hand for every 204, since openapi-core reads the spec's `content: {}` as a body that must be present).
Error responses (4xx/5xx) are not in the spec; their body must be BigCommerce's `[{"status", "message"}]`.

`catalog_harness` checks the Catalog V3 reads too, against `catalog-variants.v3.yml` / `catalog-products.v3.yml`
(`CatalogCheckingTransport`: a spec per path, V3 errors as `{"status", "title"}`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from pydantic import SecretStr
from werkzeug.datastructures import Headers, ImmutableMultiDict

from connectors.bigcommerce import BigCommerceConnector
from connectors.http import RetryPolicy
from sandbox.bigcommerce.app import create_app
from sandbox.common import SandboxApp
from sandbox.settings import StoreSettings
from schemas.config import Connection

TOKEN = "bc-test-token-7f3a9c"
STORE = "abc123"
BASE_URL = f"http://bigcommerce.test/stores/{STORE}"
FAST = RetryPolicy(initial_delay_s=0.01, max_delay_s=0.05)
_COLLECTIONS = ("/orders", "/products", "/shipping_addresses", "/shipments")


@lru_cache(maxsize=1)
def load_spec(folder: Path) -> OpenAPI:
    """The official V2 orders spec (OpenAPI 3.0) from the platform specs folder."""
    with (folder / "bigcommerce" / "orders.v2.oas2.yml").open(encoding="utf-8") as handle:
        return OpenAPI.from_dict(yaml.safe_load(handle))


class _SpecRequest:
    """An httpx request as openapi-core sees it, on the spec's own host."""

    def __init__(self, request: httpx.Request, body: bytes) -> None:
        query = {key: [value.split(":")[0] if key == "sort" else value for value in values]
                 for key, values in parse_qs(request.url.query.decode(), keep_blank_values=True).items()}
        self.parameters = RequestParameters(query=ImmutableMultiDict(query),
                                            header=Headers(dict(request.headers)), cookie=ImmutableMultiDict())
        self._request = request
        self._body = body

    @property
    def host_url(self) -> str:
        return "https://api.bigcommerce.com"

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._body or None

    @property
    def content_type(self) -> str:
        return str(self._request.headers.get("content-type", "application/json"))


class _SpecResponse:
    def __init__(self, response: httpx.Response, body: bytes) -> None:
        self.status_code = response.status_code
        self.headers = Headers(dict(response.headers))
        self.content_type = response.headers.get("content-type", "application/json")
        self.data = body


@dataclass
class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """Forwards to `inner` and records every way an exchange departs from the spec in `problems`.
    `checked` counts the exchanges whose request and response were both validated."""

    inner: httpx.AsyncBaseTransport
    spec: OpenAPI | None
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    allow_unreadable_bodies: bool = False  # set by tests that inject truncated or non-JSON bodies
    sent: list[httpx.Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.sent.append(request)
        where = f"{request.method} {request.url.path}"
        spec_request = _SpecRequest(request, body)
        if self.spec is not None:
            try:
                self.spec.validate_request(spec_request)
            except Exception as error:
                self.problems.append(f"request {where}: {error!r} {getattr(error, '__cause__', '')!r}")
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.statuses.append(response.status_code)
        copy = httpx.Response(response.status_code, headers=response.headers, content=content, request=request)
        self._check_response(where, spec_request, copy, content)
        return copy

    def _check_response(self, where: str, request: _SpecRequest, response: httpx.Response, content: bytes) -> None:
        status = response.status_code
        if status >= 400:
            self._check_error(where, response, content)
            return
        if self.spec is None:
            return
        if status == 204:
            # openapi-core reads the spec's `content: {}` on 204s as a body that must be there; check by hand
            if content:
                self.problems.append(f"response {where}: 204 with a body")
            if not (request.method == "delete" or (request.method == "get" and request.path.endswith(_COLLECTIONS))):
                self.problems.append(f"response {where}: 204 where neither the spec nor BigCommerce's docs have one")
            return
        try:
            self.spec.validate_response(request, _SpecResponse(response, content))
            self.checked += 1
        except Exception as error:
            if not self.allow_unreadable_bodies:
                self.problems.append(f"response {where} {status}: {error!r} {getattr(error, '__cause__', '')!r}")

    def _check_error(self, where: str, response: httpx.Response, content: bytes) -> None:
        if "x-rate-limit-requests-quota" not in response.headers:
            return  # a scripted fault (sandbox middleware), not the store speaking
        try:
            body = json.loads(content)
        except ValueError:
            self.problems.append(f"error {where}: body is not JSON")
            return
        if not (isinstance(body, list) and body and all(
                isinstance(item, dict) and item.get("status") == response.status_code
                and isinstance(item.get("message"), str) and item["message"] for item in body)):
            self.problems.append(f"error {where}: body {body!r} is not [{{status, message}}]")

    async def aclose(self) -> None:
        await self.inner.aclose()


def settings(**options: Any) -> StoreSettings:
    return StoreSettings(platform="bigcommerce", name=STORE, credentials={"access_token": TOKEN}, options=options)


def new_store(**options: Any) -> SandboxApp:
    return create_app(settings(**options))


def connection(token: str = TOKEN, role: Literal["seller", "buyer"] = "seller") -> Connection:
    return Connection(id=f"bc-{role}", partner="acme", role=role, platform="bigcommerce",
                      base_url=BASE_URL, credentials={"access_token": SecretStr(token)}, requests_per_s=1000)


@dataclass
class Harness:
    app: SandboxApp
    transport: SpecCheckingTransport
    slept: list[float]

    def connector(self, token: str = TOKEN, role: Literal["seller", "buyer"] = "seller",
                  **kwargs: Any) -> BigCommerceConnector:
        """A new connector instance on the same store (as after a restart)."""
        return BigCommerceConnector(connection(token, role), transport=self.transport, retry=FAST,
                                    sleep=self.sleep, **kwargs)

    async def sleep(self, seconds: float) -> None:
        """What the connector's waits do here: note the wait and move the store's clock on by it."""
        self.slept.append(seconds)
        self.app.sandbox.clock.advance(seconds)

    @property
    def store(self) -> Any:
        return self.app.store


def harness(spec: OpenAPI | None, **options: Any) -> Harness:
    app = new_store(**options)
    transport = SpecCheckingTransport(httpx.ASGITransport(app=app), spec)
    return Harness(app=app, transport=transport, slept=[])


def _nullable(node: Any) -> Any:
    """The spec with `x-nullable: true` (Swagger 2 wording, left in the V3 catalog files) read as OpenAPI 3's
    `nullable: true`: BigCommerce sends null for a variant without a price of its own, as the files describe."""
    if isinstance(node, dict):
        if node.get("x-nullable") is True:
            node["nullable"] = True
        for value in node.values():
            _nullable(value)
    elif isinstance(node, list):
        for value in node:
            _nullable(value)
    return node


@lru_cache(maxsize=4)
def catalog_spec(folder: Path, name: str) -> OpenAPI:
    """The official Catalog V3 spec file `name` (e.g. `catalog-variants.v3.yml`) from the platform specs folder, its
    `x-nullable` read as `nullable`."""
    with (folder / "bigcommerce" / name).open(encoding="utf-8") as handle:
        return OpenAPI.from_dict(_nullable(yaml.safe_load(handle)))


@dataclass
class CatalogCheckingTransport(SpecCheckingTransport):
    """`SpecCheckingTransport` with a spec per path: `by_path` (regex -> spec; None: no saved spec, such as
    `/v2/store`, whose answer the tests read themselves, or the sandbox's admin routes), else the V2 orders spec.
    V3 errors must be `{"status", "title"}` with the response's status."""

    by_path: dict[str, OpenAPI | None] = field(default_factory=dict)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        orders = self.spec
        self.spec = next((spec for pattern, spec in self.by_path.items() if re.search(pattern, request.url.path)),
                         orders)
        try:
            return await super().handle_async_request(request)
        finally:
            self.spec = orders

    def _check_error(self, where: str, response: httpx.Response, content: bytes) -> None:
        if "/v3/" not in where:
            super()._check_error(where, response, content)
            return
        body = json.loads(content)
        if not (isinstance(body, dict) and body.get("status") == response.status_code
                and isinstance(body.get("title"), str) and body["title"]):
            self.problems.append(f"error {where}: body {body!r} is not {{status, title}}")


def catalog_harness(folder: Path, **options: Any) -> Harness:
    """A BigCommerce store and a transport checking every exchange against the spec it belongs to."""
    app = new_store(**options)
    transport = CatalogCheckingTransport(httpx.ASGITransport(app=app), load_spec(folder), by_path={
        r"/v3/catalog/variants$": catalog_spec(folder, "catalog-variants.v3.yml"),
        r"/v3/catalog/products$": catalog_spec(folder, "catalog-products.v3.yml"),
        r"/v2/store$": None, r"^/_sandbox/": None})
    return Harness(app=app, transport=transport, slept=[])


ADDRESS = {"first_name": "Ada", "last_name": "Lovelace", "company": "", "street_1": "1 Main St", "street_2": "",
           "city": "Austin", "state": "Texas", "zip": "78751", "country": "United States", "country_iso2": "US",
           "phone": "555-0100", "email": "ada@example.com"}


def place(h: Harness, *lines: tuple[str, int], **kwargs: Any) -> Any:
    """A storefront order with (sku, quantity) lines."""
    products = [{"name": f"Item {sku}", "sku": sku, "quantity": quantity, "price_inc_tax": 10} for sku, quantity
                in lines]
    return h.store.place_order(products, billing_address=ADDRESS, shipping_addresses=[ADDRESS], **kwargs)


Sleep = Callable[[float], Awaitable[None]]

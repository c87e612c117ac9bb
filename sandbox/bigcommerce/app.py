"""The simulated BigCommerce store's HTTP API: the real V2 paths under `/stores/{store_hash}/v2`, and the Catalog
V3 reads under `/stores/{store_hash}/v3` (`sandbox.bigcommerce.catalog_api`).

What it reproduces (BigCommerce's V2 documentation, `orders.v2.oas2.yml`):
- auth: `X-Auth-Token` must equal `settings.credentials["access_token"]`, else 401
  `[{"status": 401, "message": ...}]` (the token is never echoed); every error has that shape;
- `GET /v2/orders` with `min_/max_date_modified`, `min_/max_date_created` (RFC-2822 or ISO-8601), `min_id`,
  `max_id`, `status_id`, `external_order_id`, `sort` (`field[:asc|:desc]`), `page`, `limit` (default 50, max 250);
  `POST /v2/orders` (catalog or custom products, shipping cost; `sandbox.bigcommerce.store` has the rules);
  `GET /v2/orders/{id}`; `PUT /v2/orders/{id}` (`status_id`, `staff_notes`); `GET /v2/store`;
  `GET /v3/catalog/variants`, `GET /v3/catalog/products` (errors there in the V3 shape);
  `GET …/products`, `GET …/shipping_addresses`;
  `GET/POST/DELETE …/shipments`, `GET/PUT/DELETE …/shipments/{id}`, `GET …/shipments/count`;
- 204 No Content for every empty collection (including a page past the end);
- rate limits: a fixed window per store (options `quota`, default 150, and `window_ms`, default 30000, on the
  store's clock); every API response carries `X-Rate-Limit-Time-Window-Ms`, `X-Rate-Limit-Time-Reset-Ms`,
  `X-Rate-Limit-Requests-Quota`, `X-Rate-Limit-Requests-Left`; a request over quota gets 429.

Admin routes (no credentials; the merchant's control panel), all JSON:
`POST /_sandbox/bigcommerce/orders` (body as `POST /v2/orders`), `GET /_sandbox/bigcommerce/orders/{id}`,
`POST /_sandbox/bigcommerce/orders/{id}/shipments` (`items`, tracking fields, optional `order_address_id`),
`PUT|DELETE /_sandbox/bigcommerce/orders/{id}/shipments/{shipment_id}`,
`POST /_sandbox/bigcommerce/orders/{id}/cancel`, `POST /_sandbox/bigcommerce/orders/{id}/refunds`
(`order_product_id`, `quantity`), `GET /_sandbox/bigcommerce/orders?external_order_id=` (a list of orders);
the catalog (`sandbox.bigcommerce.admin` lists them): `POST /_sandbox/bigcommerce/catalog/products`,
`POST /_sandbox/bigcommerce/catalog/stock`, `GET /_sandbox/bigcommerce/catalog/variants?sku=`,
`PUT /_sandbox/bigcommerce/catalog/inventory`.
"""

from __future__ import annotations

import email.utils
import hmac
import json
import operator
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.bigcommerce import catalog_api, views
from sandbox.bigcommerce.admin import admin_routes
from sandbox.bigcommerce.store import BigCommerceStore, Order, StoreError
from sandbox.bigcommerce.views import error_response, int_path
from sandbox.common import SandboxApp, SandboxState, create_sandbox_app
from sandbox.settings import StoreSettings

Handler = Callable[[Request], Awaitable[Response]]
OPTIONS: dict[str, Any] = {"quota": 150, "window_ms": 30000, "currency": "USD"}
SORT_KEYS = {"id", "customer_id", "date_created", "date_modified", "status_id", "channel_id", "external_id"}


def create_app(settings: StoreSettings) -> SandboxApp:
    """The store, empty, accepting `settings.credentials["access_token"]` (required). Options: `quota`,
    `window_ms` (see the module docstring), `currency` (the store's default currency, ISO 4217; USD). Raises
    ValueError for unknown options or a missing token."""
    unknown = set(settings.options) - set(OPTIONS)
    if unknown:
        raise ValueError(f"bigcommerce sandbox: unknown options {sorted(unknown)}; known: {sorted(OPTIONS)}")
    options = {**OPTIONS, **settings.options}
    for key in ("quota", "window_ms"):
        value = options[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"bigcommerce sandbox: option {key} must be a positive integer")
    currency = options["currency"]
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise ValueError("bigcommerce sandbox: option currency must be an ISO 4217 code such as USD")
    token = settings.credentials.get("access_token")
    if not token:
        raise ValueError("bigcommerce sandbox: credentials.access_token is required")
    state = SandboxState()
    store = BigCommerceStore(state.clock, currency)
    api = _Api(store, state, token, _Window(state, options["quota"], options["window_ms"]),
               f"https://api.bigcommerce.com/stores/{settings.name}/v2", settings.name)
    return create_sandbox_app([*api.routes(base_path(settings)), *admin_routes(store, api.api_base)], store, state)


def base_path(settings: StoreSettings) -> str:
    """What follows host:port in a connection's base_url: `/stores/{store_hash}`."""
    return f"/stores/{settings.name}"


@dataclass
class _Window:
    """A fixed rate-limit window on the store's clock."""

    state: SandboxState
    quota: int
    window_ms: int
    started: datetime | None = None
    used: int = 0

    def take(self) -> tuple[bool, dict[str, str]]:
        """Count one request; (allowed, the rate-limit headers to send)."""
        now = self.state.clock.now()
        elapsed_ms = (now - self.started).total_seconds() * 1000 if self.started else self.window_ms
        if elapsed_ms >= self.window_ms or elapsed_ms < 0:
            self.started, self.used, elapsed_ms = now, 0, 0.0
        allowed = self.used < self.quota
        if allowed:
            self.used += 1
        headers = {"X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
                   "X-Rate-Limit-Time-Reset-Ms": str(max(int(self.window_ms - elapsed_ms), 1)),
                   "X-Rate-Limit-Requests-Quota": str(self.quota),
                   "X-Rate-Limit-Requests-Left": str(self.quota - self.used)}
        return allowed, headers


def _date(value: str, name: str) -> datetime:
    """RFC-2822 or ISO-8601, as the V2 date filters accept; StoreError 400 otherwise."""
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            raise StoreError(400, f"The field '{name}' is invalid. Use RFC-2822 or ISO-8601.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise StoreError(400, f"The field '{name}' is invalid.") from None
    if value < 1:
        raise StoreError(400, f"The field '{name}' is invalid.")
    return min(value, maximum) if maximum else value


def _paged(request: Request, items: list[Any], default_limit: int = 50) -> list[Any]:
    page, limit = _number(request, "page", 1), _number(request, "limit", default_limit, 250)
    return items[(page - 1) * limit: page * limit]


def _listing(items: list[Any], headers: dict[str, str]) -> Response:
    """A V2 collection: the items, or 204 No Content when there are none."""
    if not items:
        return Response(status_code=204, headers=headers)
    return JSONResponse(items, headers=headers)


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise StoreError(415, "The request must have Content-Type: application/json.")
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise StoreError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise StoreError(400, "The request body must be a JSON object.")
    return body


def _status(raw: str) -> int:
    if not raw.strip().isdigit():
        raise StoreError(400, "The field 'status_id' is invalid.")
    return int(raw)


class _Api:
    """The V2 routes; each runs through `_guard` (auth, rate limit, error shape, headers)."""

    def __init__(self, store: BigCommerceStore, state: SandboxState, token: str, window: _Window,
                 api_base: str, store_hash: str) -> None:
        self.store, self.state, self.token, self.window, self.api_base = store, state, token, window, api_base
        self.store_hash = store_hash

    def routes(self, base: str) -> list[BaseRoute]:
        v2 = f"{base}/v2"
        order = v2 + "/orders/{order_id:int}"
        shipment = order + "/shipments/{shipment_id:int}"
        v3 = f"{base}/v3"
        return [
            Route(f"{v2}/store", self._guard(self.store_information), methods=["GET"]),
            Route(f"{v3}/catalog/variants", self._guard(self.catalog_variants, v3=True), methods=["GET"]),
            Route(f"{v3}/catalog/products", self._guard(self.catalog_products, v3=True), methods=["GET"]),
            Route(f"{v2}/orders", self._guard(self.list_orders, self.create_order), methods=["GET", "POST"]),
            Route(order, self._guard(self.get_order, put=self.update_order), methods=["GET", "PUT"]),
            Route(f"{order}/products", self._guard(self.products), methods=["GET"]),
            Route(f"{order}/shipping_addresses", self._guard(self.addresses), methods=["GET"]),
            Route(f"{order}/shipments/count", self._guard(self.count_shipments), methods=["GET"]),
            Route(f"{order}/shipments", self._guard(self.list_shipments, self.create_shipment,
                                                    delete=self.delete_shipments), methods=["GET", "POST", "DELETE"]),
            Route(shipment, self._guard(self.get_shipment, put=self.update_shipment, delete=self.delete_shipment),
                  methods=["GET", "PUT", "DELETE"]),
        ]

    def _guard(self, get: Handler, post: Handler | None = None, *, put: Handler | None = None,
               delete: Handler | None = None, v3: bool = False) -> Handler:
        handlers = {"GET": get, "POST": post, "PUT": put, "DELETE": delete}
        error = catalog_api.v3_error if v3 else error_response

        async def endpoint(request: Request) -> Response:
            allowed, headers = self.window.take()
            if not allowed:
                return error(429, "You have exceeded your request quota; wait for the window to reset "
                             "(X-Rate-Limit-Time-Reset-Ms).", headers)
            given = request.headers.get("x-auth-token", "")
            if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
                return error(401, "You have not been authorized to access this resource: missing or invalid "
                             "X-Auth-Token.", headers)
            handler = handlers[request.method]
            assert handler is not None
            try:
                response = await handler(request)
            except StoreError as refused:
                return error(refused.status, refused.message, headers)
            response.headers.update(headers)
            return response

        return endpoint

    # -- catalog and store information -----------------------------------------------------------------------

    async def catalog_variants(self, request: Request) -> Response:
        return catalog_api.list_variants(self.store.catalog, request)

    async def catalog_products(self, request: Request) -> Response:
        return catalog_api.list_products(self.store.catalog, request)

    async def store_information(self, request: Request) -> Response:
        return JSONResponse(catalog_api.store_json(self.store_hash, self.store.currency))

    # -- orders ----------------------------------------------------------------------------------------------

    async def list_orders(self, request: Request) -> Response:
        query = request.query_params
        orders = list(self.store.orders.values())
        for name, attribute, keep in (
                ("min_date_modified", "date_modified", operator.ge),
                ("max_date_modified", "date_modified", operator.le),
                ("min_date_created", "date_created", operator.ge),
                ("max_date_created", "date_created", operator.le)):
            if name in query:
                bound = _date(query[name], name)
                orders = [o for o in orders if keep(getattr(o, attribute), bound)]
        for name, attribute, keep in (("min_id", "id", operator.ge), ("max_id", "id", operator.le),
                                      ("status_id", "status_id", operator.eq)):
            if name in query:
                number = _number(request, name, 0) if name != "status_id" else _status(query[name])
                orders = [o for o in orders if keep(getattr(o, attribute), number)]
        if "external_order_id" in query:
            orders = [o for o in orders if o.external_order_id == query["external_order_id"]]
        field, _, direction = query.get("sort", "id").partition(":")
        if field not in SORT_KEYS or direction not in ("", "asc", "desc"):
            raise StoreError(400, "The field 'sort' is invalid.")
        key = {"external_id": "external_order_id"}.get(field, field)
        orders.sort(key=lambda o: (getattr(o, key) if key != "external_order_id" else o.external_order_id or "",
                                   o.id), reverse=direction == "desc")
        return _listing([views.order_json(o, self.api_base) for o in _paged(request, orders)], {})

    async def create_order(self, request: Request) -> Response:
        body = await _body(request)
        if "consignments" in body:
            raise StoreError(400, "Consignments (pickup orders) are not supported by this sandbox.")
        order = self.store.place_order(
            body.get("products") or [], billing_address=body.get("billing_address") or {},
            shipping_addresses=body.get("shipping_addresses") or [], status_id=int(body.get("status_id", 1)),
            external_order_id=body.get("external_order_id"), external_source=body.get("external_source"),
            staff_notes=str(body.get("staff_notes") or ""), customer_id=int(body.get("customer_id") or 0),
            shipping_cost=body)
        return JSONResponse(views.order_json(order, self.api_base))

    def _order(self, request: Request) -> Order:
        return self.store.order(int_path(request, "order_id"))

    async def get_order(self, request: Request) -> Response:
        return JSONResponse(views.order_json(self._order(request), self.api_base))

    async def update_order(self, request: Request) -> Response:
        """`PUT /v2/orders/{id}`: `status_id` and `staff_notes` (products, addresses and the rest: 400)."""
        body = await _body(request)
        unsupported = sorted(set(body) - {"status_id", "staff_notes"})
        if unsupported:
            raise StoreError(400, f"This sandbox updates only status_id and staff_notes, not {', '.join(unsupported)}.")
        order = self._order(request)
        if "staff_notes" in body:
            self.store.set_staff_notes(order.id, str(body["staff_notes"] or ""))
        if "status_id" in body:
            self.store.set_status(order.id, _status(str(body["status_id"])))
        return JSONResponse(views.order_json(order, self.api_base))

    async def products(self, request: Request) -> Response:
        order = self._order(request)
        return _listing([views.product_json(p) for p in _paged(request, order.products)], {})

    async def addresses(self, request: Request) -> Response:
        order = self._order(request)
        rows = [views.address_json(self.store, order, i, self.api_base) for i in range(len(order.addresses))]
        return _listing(_paged(request, rows), {})

    # -- shipments -------------------------------------------------------------------------------------------

    async def list_shipments(self, request: Request) -> Response:
        order = self._order(request)
        shipments = [order.shipments[i] for i in sorted(order.shipments)]
        return _listing([views.shipment_json(self.store, s) for s in _paged(request, shipments)], {})

    async def count_shipments(self, request: Request) -> Response:
        return JSONResponse({"count": len(self._order(request).shipments)})

    async def create_shipment(self, request: Request) -> Response:
        order = self._order(request)
        body = await _body(request)
        if "order_address_id" not in body:
            raise StoreError(400, "The field 'order_address_id' is required.")
        items = body.pop("items", None)
        address = body.pop("order_address_id")
        shipment = self.store.ship(order.id, items or [], order_address_id=address, **body)
        return JSONResponse(views.shipment_json(self.store, shipment), status_code=201)

    async def get_shipment(self, request: Request) -> Response:
        shipment = self.store.shipment(int_path(request, "order_id"), int_path(request, "shipment_id"))
        return JSONResponse(views.shipment_json(self.store, shipment))

    async def update_shipment(self, request: Request) -> Response:
        body = await _body(request)
        if "items" in body:
            raise StoreError(400, "The field 'items' cannot be updated; delete the shipment and create another.")
        shipment = self.store.edit_shipment(int_path(request, "order_id"), int_path(request, "shipment_id"),
                                            **body)
        return JSONResponse(views.shipment_json(self.store, shipment))

    async def delete_shipment(self, request: Request) -> Response:
        self.store.delete_shipment(int_path(request, "order_id"), int_path(request, "shipment_id"))
        return Response(status_code=204)

    async def delete_shipments(self, request: Request) -> Response:
        order = self._order(request)
        for shipment_id in sorted(order.shipments):
            self.store.delete_shipment(order.id, shipment_id)
        return Response(status_code=204)

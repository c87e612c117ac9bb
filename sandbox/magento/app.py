"""The simulated Magento store over HTTP: Magento's REST paths under `/rest/{store_code}/V1`, and admin routes.

API (what the connector uses; paths, bodies and answers as in the official `admin-schema-2.4.9.yaml`):
`GET|POST /V1/orders`, `GET /V1/orders/{id}`, `POST /V1/orders/{id}/comments`, `POST /V1/orders/{id}/cancel`,
`POST /V1/order/{id}/ship` (answers the shipment id), `GET /V1/shipments`, `GET /V1/shipment/{id}`,
`POST /V1/shipment/track`, `DELETE /V1/shipment/track/{id}`, `POST /V1/shipment/{id}/comments`,
`GET /V1/products` (searchCriteria), `GET /V1/stockItems/{sku}`, `PUT /V1/products/{sku}/stockItems/{itemId}`
(`sandbox.magento.catalog`), `GET /V1/directory/currency` (anonymous, as in Magento).
The store code in the path must be the store's `name` (or `all`). Auth (`sandbox.magento.oauth`): every other
API request needs `Authorization: Bearer <credentials.access_token>` or, when the settings' credentials hold the
integration's four (`consumer_key`, `consumer_secret`, `access_token`, `access_token_secret`), an OAuth 1.0a
signature made with them; else 401 `The consumer isn't authorized to access %resources.` naming the route's ACL
resource, or OAuth's own answer. Unknown paths answer Magento's 404 `Request does not match any route.`; errors
are `{"message", "parameters"}`.

Options (`StoreSettings.options`; unknown ones raise ValueError):
- `input_limit_enabled` (bool, default False as in Magento): pageSize above `max_page_size` (300) is refused with
  400, and a search without pageSize gets `default_page_size` (20) items instead of everything;
- `repeat_last_page` (bool, default False): emulate Magento before 2.4.x, which answered the last page again
  for a `currentPage` past the end;
- `requests_per_s` (number, default none): answer 429 with `Retry-After` beyond that many requests per second of
  the store clock (Magento core has no REST rate limit; hosts and WAFs do);
- `enable_integration_as_bearer` (bool, default True): False behaves like a store on Magento 2.4.4+ with its
  default configuration: the integration's access token is refused as a bearer token (Magento's 401 body), so
  a connection must sign with OAuth 1.0a;
- `oauth_signature_methods` (list, default `["HMAC-SHA256", "HMAC-SHA1"]`): the OAuth signature methods accepted
  (Magento 2.4.8: `["HMAC-SHA256"]`);
- `base_currency` (ISO 4217 code, default `USD`): the store's base currency (catalog prices, orders, the currency
  endpoint).

Admin (no credentials), to act as the merchant with curl:
`POST /_sandbox/magento/products` `{"products": [{"sku", "price"?, "qty"?, "name"?, "type_id"?, "status"?,
"manage_stock"?}], "skip_existing"?}` (a list of the products made; 400 for a SKU in use unless `skip_existing`);
`POST /_sandbox/magento/configurables` `{"sku", "name"?, "children": [{"sku", "price"?, "qty"?, "options"?}]}`;
`GET /_sandbox/magento/products?sku=` (a list of `{"product", "stock_item"}`, exact SKU);
`POST /_sandbox/magento/stock` `{"sku", "qty"}` (the merchant sets a quantity);
`POST /_sandbox/magento/orders` `{"lines": [{"sku", "qty", "name"?, "price"?, "child_sku"?}], "email"?,
"shipping_address"?}` (a storefront order: catalog SKUs take stock); `POST /_sandbox/magento/orders/{id}/ship`
(the ship request body);
`POST /_sandbox/magento/orders/{id}/cancel`; `PUT /_sandbox/magento/shipments/{id}/tracks`
`{"tracks": [{"track_number", "carrier_code", "title"?}]}`; `POST /_sandbox/magento/shipments/{id}/cancel`
`{"reason"?}`; `GET /_sandbox/magento/orders/{id}`, `GET /_sandbox/magento/orders/{id}/shipments` (a list),
`GET /_sandbox/magento/shipments/{id}`; `GET /_sandbox/magento/orders?ext_order_id=` (a list of orders).
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.common import ADMIN_PREFIX, SandboxApp, SandboxState, create_sandbox_app
from sandbox.magento.errors import MagentoError, invalid_value, required
from sandbox.magento.oauth import SIGNERS, Integration, OAuthVerifier, is_oauth, request_url
from sandbox.magento.search import parse_criteria
from sandbox.magento.store import MagentoStore
from sandbox.settings import StoreSettings

SALES = "Magento_Sales::sales"
PRODUCTS = "Magento_Catalog::products"
INVENTORY = "Magento_CatalogInventory::cataloginventory"
ANONYMOUS = "anonymous"
NO_ROUTE = MagentoError(404, "Request does not match any route.")
ADMIN = f"{ADMIN_PREFIX}/magento"
Handler = Callable[[Request], Awaitable[Any]]


def unauthorized(resource: str) -> MagentoError:
    """Magento's 401 for a request without a valid user context (no or a refused token)."""
    return MagentoError(401, "The consumer isn't authorized to access %resources.", {"resources": resource})


@dataclass(frozen=True)
class MagentoOptions:
    input_limit_enabled: bool = False
    max_page_size: int = 300
    default_page_size: int = 20
    repeat_last_page: bool = False
    requests_per_s: float | None = None
    enable_integration_as_bearer: bool = True
    oauth_signature_methods: tuple[str, ...] = tuple(SIGNERS)
    base_currency: str = "USD"

    @classmethod
    def from_settings(cls, options: Mapping[str, Any]) -> MagentoOptions:
        """The options of a store. Raises ValueError naming an unknown option or a value of the wrong type."""
        known: dict[str, type | tuple[type, ...]] = {
            "input_limit_enabled": bool, "max_page_size": int, "default_page_size": int, "repeat_last_page": bool,
            "requests_per_s": (int, float), "enable_integration_as_bearer": bool, "oauth_signature_methods": list,
            "base_currency": str}
        for name, value in options.items():
            if name not in known:
                raise ValueError(f"magento2 store option {name!r} is unknown; known: {', '.join(sorted(known))}")
            if isinstance(value, bool) is not (known[name] is bool) or not isinstance(value, known[name]):
                raise ValueError(f"magento2 store option {name!r}: {value!r} is not a {known[name]}")
        methods = options.get("oauth_signature_methods", list(SIGNERS))
        if not methods or any(method not in SIGNERS for method in methods):
            raise ValueError(f"magento2 store option 'oauth_signature_methods': {methods!r} is not a non-empty list "
                             f"of {', '.join(SIGNERS)}")
        currency = options.get("base_currency", "USD")
        if len(currency) != 3 or not currency.isalpha():
            raise ValueError(f"magento2 store option 'base_currency': {currency!r} is not an ISO 4217 code")
        return cls(**{**options, "oauth_signature_methods": tuple(methods), "base_currency": currency.upper()})


def integration_of(credentials: Mapping[str, str]) -> Integration | None:
    """The store's integration when the credentials hold its four keys, else None (OAuth then knows no consumer)."""
    keys = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
    if not all(credentials.get(key) for key in keys):
        return None
    return Integration(*(credentials[key] for key in keys))


def base_path(settings: StoreSettings) -> str:
    """`/rest/{store code}`: what follows host:port in a connection's base_url."""
    return f"/rest/{settings.name}"


def parse_ship_request(body: Any) -> tuple[list[tuple[int, float]] | None, list[Mapping[str, Any]],
                                           Mapping[str, Any] | None, bool]:
    """The `POST /V1/order/{id}/ship` body as (items or None for everything, tracks, comment, notify).
    Raises MagentoError (400) for a field of the wrong type, as Magento's web API does."""
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise invalid_value(body, "request")
    items: list[tuple[int, float]] | None = None
    if body.get("items") is not None:
        if not isinstance(body["items"], list):
            raise invalid_value(body["items"], "items")
        items = []
        for index, item in enumerate(body["items"]):
            if not isinstance(item, Mapping):
                raise invalid_value(item, f"items[{index}]")
            item_id, qty = item.get("order_item_id"), item.get("qty")
            if item_id is None or qty is None:
                raise required(f"items[{index}].{'order_item_id' if item_id is None else 'qty'}")
            if isinstance(item_id, bool) or not isinstance(item_id, int | str) or not str(item_id).isdigit():
                raise invalid_value(item_id, "order_item_id")
            if isinstance(qty, bool) or not isinstance(qty, int | float | str):
                raise invalid_value(qty, "qty")
            try:
                items.append((int(item_id), float(qty)))
            except ValueError:
                raise invalid_value(qty, "qty") from None
    tracks = body.get("tracks") or []
    if not isinstance(tracks, list) or not all(isinstance(track, Mapping) for track in tracks):
        raise invalid_value(tracks, "tracks")
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, Mapping):
        raise invalid_value(comment, "comment")
    notify = body.get("notify", False)
    if not isinstance(notify, bool):
        raise invalid_value(notify, "notify")
    return items, tracks, comment, notify


def create_app(settings: StoreSettings) -> SandboxApp:
    """An empty Magento store accepting `settings.credentials['access_token']` as a bearer token and, when the
    credentials hold the integration's four, OAuth 1.0a signatures made with them; configured by
    `settings.options` (see the module docstring). Raises ValueError for an unknown option."""
    options = MagentoOptions.from_settings(settings.options)
    state = SandboxState()
    store = MagentoStore(state.clock.now, options.base_currency)
    api = _Api(settings, options, state, store)
    routes = [*_admin_routes(store), *api.routes()]
    return create_sandbox_app(routes, store, state)


class _Api:
    """Magento's REST routes over one store: auth, store code, rate limit, JSON in and out, error shapes."""

    def __init__(self, settings: StoreSettings, options: MagentoOptions, state: SandboxState,
                 store: MagentoStore) -> None:
        credentials = settings.credentials
        self.token = credentials.get("access_token")
        self.oauth = OAuthVerifier(integration_of(credentials), frozenset(options.oauth_signature_methods))
        self.codes = {settings.name, "all"}
        self.options = options
        self.state = state
        self.store = store
        self._window = (0, 0)  # (second of the store clock, requests served in it)

    def routes(self) -> list[BaseRoute]:
        v1 = "/rest/{store}/V1"
        table: list[tuple[str, str, Handler, str]] = [
            ("GET", "/orders", self.search_orders, SALES), ("POST", "/orders", self.create_order, SALES),
            ("GET", "/orders/{id}", self.get_order, SALES),
            ("POST", "/orders/{id}/comments", self.order_comment, SALES),
            ("POST", "/orders/{id}/cancel", self.cancel_order, SALES), ("POST", "/order/{id}/ship", self.ship, SALES),
            ("GET", "/shipments", self.search_shipments, SALES), ("POST", "/shipment/track", self.save_track, SALES),
            ("GET", "/shipment/{id}", self.get_shipment, SALES),
            ("DELETE", "/shipment/track/{id}", self.delete_track, SALES),
            ("POST", "/shipment/{id}/comments", self.shipment_comment, SALES),
            ("GET", "/products", self.search_products, PRODUCTS),
            ("GET", "/stockItems/{sku}", self.get_stock_item, INVENTORY),
            ("PUT", "/products/{sku}/stockItems/{item}", self.update_stock_item, INVENTORY),
            ("GET", "/directory/currency", self.currency, ANONYMOUS),
        ]
        routes: list[BaseRoute] = [Route(v1 + path, self._endpoint(handler, resource), methods=[method])
                                   for method, path, handler, resource in table]
        routes.append(Route("/rest/{path:path}", self._endpoint(self.no_route, SALES),
                            methods=["GET", "POST", "PUT", "DELETE", "PATCH"]))
        return routes

    def _endpoint(self, handler: Handler, resource: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                self._admit(request, resource)
                return JSONResponse(await handler(request))
            except MagentoError as error:
                headers = {"Retry-After": str(error.retry_after)} if isinstance(error, _TooMany) else None
                return JSONResponse(error.body(), status_code=error.status, headers=headers)
        return endpoint

    def _admit(self, request: Request, resource: str) -> None:
        """Rate limit, then auth, then the store code (Magento checks the token before routing)."""
        if self.options.requests_per_s is not None:
            now = self.state.clock.now().timestamp()
            second, served = self._window
            if int(now) != second:
                second, served = int(now), 0
            if served >= self.options.requests_per_s:
                raise _TooMany(max(1, math.ceil(second + 1 - now)))
            self._window = (second, served + 1)
        if resource != ANONYMOUS:
            self._authenticate(request, resource)
        store = request.path_params.get("store")
        if store is not None and store not in self.codes:
            raise MagentoError(404, "Requested store is not found")

    def _authenticate(self, request: Request, resource: str) -> None:
        """An OAuth 1.0a signature (checked like Magento), else the bearer token; 401 otherwise."""
        header = request.headers.get("authorization", "")
        if is_oauth(header):
            url = request_url(request.url.scheme, request.headers.get("host", request.url.netloc),
                              request.scope.get("raw_path") or request.url.path.encode())
            self.oauth.verify(request.method, url, request.scope.get("query_string", b"").decode("latin-1"), header)
            return
        scheme, _, token = header.partition(" ")
        given = token.strip().encode()
        if not self.token or scheme.lower() != "bearer" or not hmac.compare_digest(given, self.token.encode()):
            raise unauthorized(resource)
        if not self.options.enable_integration_as_bearer:
            raise unauthorized(resource)  # 2.4.4+: an integration's token is no standalone bearer token

    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as error:
            raise MagentoError(400, "Decoding error: %1", [str(error)]) from None

    def _criteria_options(self) -> dict[str, Any]:
        on = self.options.input_limit_enabled
        return {"input_limit": self.options.max_page_size if on else None,
                "default_page_size": self.options.default_page_size if on else None}

    async def no_route(self, request: Request) -> Any:
        raise NO_ROUTE

    async def search_orders(self, request: Request) -> Any:
        criteria = parse_criteria(request.query_params.multi_items(), **self._criteria_options())
        return self.store.search_orders(criteria, repeat_last_page=self.options.repeat_last_page)

    async def search_shipments(self, request: Request) -> Any:
        criteria = parse_criteria(request.query_params.multi_items(), **self._criteria_options())
        return self.store.search_shipments(criteria, repeat_last_page=self.options.repeat_last_page)

    async def search_products(self, request: Request) -> Any:
        criteria = parse_criteria(request.query_params.multi_items(), **self._criteria_options())
        return self.store.catalog.search(criteria, repeat_last_page=self.options.repeat_last_page)

    async def get_stock_item(self, request: Request) -> Any:
        return self.store.catalog.stock_item(str(request.path_params["sku"])).to_json()

    async def update_stock_item(self, request: Request) -> Any:
        return self.store.catalog.update_stock_item(str(request.path_params["sku"]), await self._body(request))

    async def currency(self, request: Request) -> Any:
        code = self.options.base_currency
        return {"base_currency_code": code, "base_currency_symbol": code, "default_display_currency_code": code,
                "default_display_currency_symbol": code, "available_currency_codes": [code],
                "exchange_rates": [{"currency_to": code, "rate": 1}]}

    async def create_order(self, request: Request) -> Any:
        body = await self._body(request)
        entity = body.get("entity") if isinstance(body, Mapping) else None
        return self.store.create_order(entity).to_json()

    async def get_order(self, request: Request) -> Any:
        return self.store.order(_id(request)).to_json()

    async def order_comment(self, request: Request) -> Any:
        body = await self._body(request)
        history = body.get("statusHistory") if isinstance(body, Mapping) else None
        if history is None:
            raise required("statusHistory")
        return self.store.add_order_comment(_id(request), history)

    async def cancel_order(self, request: Request) -> Any:
        """Magento's `OrderManagement::cancel`: true, or false when the order cannot be cancelled."""
        try:
            self.store.cancel_order(_id(request))
        except MagentoError as error:
            if error.status == 404:
                raise
            return False
        return True

    async def ship(self, request: Request) -> Any:
        items, tracks, comment, notify = parse_ship_request(await self._body(request))
        return self.store.ship(_id(request), items, tracks=tracks, comment=comment, notify=notify).entity_id

    async def get_shipment(self, request: Request) -> Any:
        return self.store.shipment(_id(request)).to_json()

    async def save_track(self, request: Request) -> Any:
        body = await self._body(request)
        return self.store.save_track(body.get("entity") if isinstance(body, Mapping) else None).to_json()

    async def delete_track(self, request: Request) -> Any:
        return self.store.delete_track(_id(request))

    async def shipment_comment(self, request: Request) -> Any:
        body = await self._body(request)
        return self.store.add_shipment_comment(_id(request), body.get("entity") if isinstance(body, Mapping) else None)


class _TooMany(MagentoError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "Too many requests. Try again in %1 seconds.", [str(retry_after)])
        self.retry_after = retry_after


def _id(request: Request) -> int:
    value = str(request.path_params["id"])
    if not value.isdigit():
        raise invalid_value(value, "id")
    return int(value)


def _admin_routes(store: MagentoStore) -> list[BaseRoute]:
    def admin(action: Callable[[Request, Any], Any]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                raw = await request.body()
                body = json.loads(raw) if raw else {}
                return JSONResponse(action(request, body))
            except MagentoError as error:
                return JSONResponse(error.body(), status_code=error.status)
            except (ValueError, TypeError, AttributeError) as error:
                return JSONResponse({"message": f"bad admin request: {error}"}, status_code=400)
        return endpoint

    def place(request: Request, body: Any) -> Any:
        return store.place_order(list(body.get("lines") or []), email=body.get("email", "customer@example.com"),
                                 shipping_address=body.get("shipping_address"),
                                 shipping_description=body.get("shipping_description")).to_json()

    def ship(request: Request, body: Any) -> Any:
        items, tracks, comment, notify = parse_ship_request(body)
        return store.ship(_id(request), items, tracks=tracks, comment=comment, notify=notify).to_json()

    def find_orders(request: Request, body: Any) -> Any:
        wanted = request.query_params.get("ext_order_id")
        return [order.to_json() for order in store.orders.values() if wanted in (None, order.ext_order_id)]

    def shipments(request: Request, body: Any) -> Any:
        order = store.order(_id(request))
        return [shipment.to_json() for shipment in store.shipments.values() if shipment.order_id == order.entity_id]

    def add_products(request: Request, body: Any) -> Any:
        made = []
        for product in list(body.get("products") or []):
            if body.get("skip_existing") and store.catalog.by_sku(str(product.get("sku") or "")) is not None:
                continue
            made.append(store.catalog.add_product(
                product.get("sku"), price=product.get("price", 10.0), qty=product.get("qty", 100),
                type_id=product.get("type_id", "simple"), name=product.get("name"), status=product.get("status", 1),
                manage_stock=product.get("manage_stock", True)).to_json())
        return made

    def add_configurable(request: Request, body: Any) -> Any:
        return store.catalog.add_configurable(body.get("sku"), list(body.get("children") or []),
                                              name=body.get("name")).to_json()

    def find_products(request: Request, body: Any) -> Any:
        wanted = request.query_params.get("sku")
        return [{"product": product.to_json(), "stock_item": store.catalog.stock[product.entity_id].to_json()}
                for product in store.catalog.products.values() if wanted in (None, product.sku)]

    def set_stock(request: Request, body: Any) -> Any:
        return store.catalog.set_quantity(str(body.get("sku") or ""), body.get("qty")).to_json()

    return [
        Route(f"{ADMIN}/products", admin(add_products), methods=["POST"]),
        Route(f"{ADMIN}/products", admin(find_products), methods=["GET"]),
        Route(f"{ADMIN}/configurables", admin(add_configurable), methods=["POST"]),
        Route(f"{ADMIN}/stock", admin(set_stock), methods=["POST"]),
        Route(f"{ADMIN}/orders", admin(place), methods=["POST"]),
        Route(f"{ADMIN}/orders", admin(find_orders), methods=["GET"]),
        Route(f"{ADMIN}/orders/{{id}}", admin(lambda r, b: store.order(_id(r)).to_json()), methods=["GET"]),
        Route(f"{ADMIN}/orders/{{id}}/ship", admin(ship), methods=["POST"]),
        Route(f"{ADMIN}/orders/{{id}}/shipments", admin(shipments), methods=["GET"]),
        Route(f"{ADMIN}/orders/{{id}}/cancel", admin(lambda r, b: store.cancel_order(_id(r)).to_json()),
              methods=["POST"]),
        Route(f"{ADMIN}/shipments/{{id}}", admin(lambda r, b: store.shipment(_id(r)).to_json()), methods=["GET"]),
        Route(f"{ADMIN}/shipments/{{id}}/tracks",
              admin(lambda r, b: store.edit_tracking(_id(r), list(b.get("tracks") or [])).to_json()),
              methods=["PUT"]),
        Route(f"{ADMIN}/shipments/{{id}}/cancel",
              admin(lambda r, b: store.cancel_shipment(_id(r), b.get("reason") or "by the merchant").to_json()),
              methods=["POST"]),
    ]

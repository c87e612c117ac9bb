"""The simulated WooCommerce store over HTTP: WooCommerce's real REST paths, auth, pagination and error shapes.

Served (base_url is the site root, so `base_path` is ""):
- `GET /wp-json` and `/wp-json/`: the REST route index (`namespaces`, `routes`), without auth, listing only the
  routes this store has (so a client can detect its tracking API);
- `GET|POST /wp-json/wc/v3/orders`, `GET|PUT /wp-json/wc/v3/orders/{id}`, `GET|POST …/orders/{id}/notes`,
  `GET /wp-json/wc/v3/products`, `GET /wp-json/wc/v3/data/currencies/current`;
  lists take `page`, `per_page` (1-100, default 10), `orderby` (date, id, include, title, slug, modified), `order`,
  `modified_after`/`modified_before`/`after`/`before` (exclusive; GMT when `dates_are_gmt=true`, else site time),
  `status`, `search`, `include`, `sku` (products: `catalog.py` says how it matches) and `_fields`, and answer with
  `X-WP-Total`, `X-WP-TotalPages` and an RFC 5988 `Link` header;
- option `tracking` = "shipment-tracking" (default): `GET|POST /wp-json/wc-shipment-tracking/v3/orders/{id}/
  shipment-trackings`, `GET|DELETE …/{tracking_id}`, `GET …/providers`; "fulfillments": `GET|POST
  /wp-json/wc/v3/orders/{id}/fulfillments`, `GET|PUT|DELETE …/{fulfillment_id}` (`?notify_customer=`); "both";
  "none". A route the store lacks answers 404 `rest_no_route`, like WordPress.

Auth: HTTP Basic `consumer_key:consumer_secret` (or the `consumer_key`/`consumer_secret` query parameters).
None: 401 `woocommerce_rest_cannot_view` (`…_cannot_create`/`_edit`/`_delete` by method); an unknown key or a
wrong secret: 401 `woocommerce_rest_authentication_error` ("Consumer key is invalid." / "Consumer secret is
invalid."). Errors are `{"code", "message", "data": {"status"}}`.

Rate limit: WooCommerce has none; option `rate_limit` = {"requests": N, "per_s": S} adds a host/WAF-style fixed
window that answers 429 with `Retry-After` and an HTML body (as a WAF does), before auth. Other options:
`utc_offset_minutes` (the site's timezone, default 0), `currency` (the store's, default USD; one of
`catalog.CURRENCIES`). Unknown options raise ValueError.

Admin (no auth), as the merchant: under `/_sandbox/woocommerce/`: `POST products` {sku, name?, price?,
parent_sku?, status?, stock_quantity?, manage_stock?} (a duplicate SKU: 400 `product_invalid_sku`);
`GET products?sku=` (the items with exactly that SKU, any status); `PUT products/{id}` {name?, price?, status?,
stock_quantity?, manage_stock?}; `DELETE products/{id}` (for good, variations included);
`POST orders` {line_items: [{sku, quantity}], billing?, shipping?, shipping_lines?, status?};
`GET orders?meta_key=&meta_value=` (orders whose meta has that value); `GET orders/{id}`;
`GET orders/{id}/fulfillments` ({tracking_api, tracking_items, tracking_meta, fulfillments});
`POST orders/{id}/cancel`; `POST orders/{id}/touch`; `POST orders/{id}/tracking`
{tracking_number, tracking_provider? | custom_tracking_provider?, custom_tracking_link?};
`PUT|DELETE orders/{id}/tracking/{tracking_id}`; `POST orders/{id}/fulfillments` {items: [{item_id, qty}],
tracking_number?, shipping_provider?, tracking_url?}; `PUT|DELETE orders/{id}/fulfillments/{fulfillment_id}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.common import ADMIN_PREFIX, SandboxApp, SandboxState, create_sandbox_app
from sandbox.settings import StoreSettings
from sandbox.woocommerce import render
from sandbox.woocommerce.store import PROVIDERS, TRACKING_META_KEY, StoreError, WooStore

TRACKING_OPTIONS = ("shipment-tracking", "fulfillments", "both", "none")
_OPTIONS = {"tracking", "rate_limit", "utc_offset_minutes", "currency"}
_PRODUCT_STATUSES = ("any", "draft", "pending", "private", "publish", "future", "trash")
_ORDERBY = ("date", "id", "include", "title", "slug", "modified")
_NO_AUTH = {"GET": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
            "POST": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
            "PUT": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
            "DELETE": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")}
Handler = Callable[[Request], Awaitable[Response]]


def base_path(settings: StoreSettings) -> str:
    """WooCommerce's base_url is the site root."""
    return ""


class _RateLimit:
    """A fixed window of `requests` per `per_s` seconds on the store's clock."""

    def __init__(self, requests: int, per_s: float, state: SandboxState) -> None:
        if requests < 1 or per_s <= 0:
            raise ValueError("option rate_limit: requests must be >= 1 and per_s > 0")
        self.requests, self.per_s, self._state = requests, per_s, state
        self._window_start: datetime | None = None
        self._used = 0

    def retry_after(self) -> float | None:
        """None when the request may pass (and counts it), else the seconds until the window resets."""
        now = self._state.clock.now()
        if self._window_start is None or (now - self._window_start).total_seconds() >= self.per_s:
            self._window_start, self._used = now, 0
        if self._used < self.requests:
            self._used += 1
            return None
        return max(self.per_s - (now - self._window_start).total_seconds(), 0.001)


def create_app(settings: StoreSettings) -> SandboxApp:
    """The store, empty, accepting `settings.credentials` (`consumer_key`, `consumer_secret`); options in the
    module docstring. Raises ValueError for unknown or invalid options."""
    unknown = set(settings.options) - _OPTIONS
    if unknown:
        raise ValueError(f"woocommerce sandbox: unknown option(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(_OPTIONS))}")
    tracking = settings.options.get("tracking", "shipment-tracking")
    if tracking not in TRACKING_OPTIONS:
        raise ValueError(f"woocommerce sandbox: option tracking must be one of {', '.join(TRACKING_OPTIONS)}")
    state = SandboxState()
    store = WooStore(state.clock.now, tracking=tracking, currency=str(settings.options.get("currency", "USD")))
    limit_option = settings.options.get("rate_limit")
    limit = (_RateLimit(int(limit_option["requests"]), float(limit_option["per_s"]), state)
             if limit_option else None)
    api = _Api(store, settings, limit, timedelta(minutes=int(settings.options.get("utc_offset_minutes", 0))))
    return create_sandbox_app([*api.routes(), *_admin_routes(store, api)], store, state)


class _Api:
    def __init__(self, store: WooStore, settings: StoreSettings, limit: _RateLimit | None,
                 offset: timedelta) -> None:
        self.store, self.settings, self.limit, self.offset = store, settings, limit, offset

    # -- plumbing ------------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        orders = "/wp-json/wc/v3/orders"
        wcst = "/wp-json/wc-shipment-tracking/v3/orders/{order_id:int}/shipment-trackings"
        routes: list[BaseRoute] = [
            Route("/wp-json", self.index, methods=["GET"]), Route("/wp-json/", self.index, methods=["GET"]),
            Route(orders, self._api(self.list_orders), methods=["GET"]),
            Route(orders, self._api(self.create_order), methods=["POST"]),
            Route(orders + "/{order_id:int}", self._api(self.get_order), methods=["GET"]),
            Route(orders + "/{order_id:int}", self._api(self.update_order), methods=["PUT", "PATCH", "POST"]),
            Route(orders + "/{order_id:int}/notes", self._api(self.list_notes), methods=["GET"]),
            Route(orders + "/{order_id:int}/notes", self._api(self.add_note), methods=["POST"]),
            Route("/wp-json/wc/v3/products", self._api(self.list_products), methods=["GET"]),
            Route("/wp-json/wc/v3/data/currencies/current", self._api(self.current_currency), methods=["GET"]),
        ]
        if self.store.has_shipment_tracking:
            routes += [
                Route(wcst, self._api(self.list_tracking), methods=["GET"]),
                Route(wcst, self._api(self.add_tracking), methods=["POST"]),
                Route(wcst + "/providers", self._api(self.providers), methods=["GET"]),
                Route(wcst + "/{tracking_id}", self._api(self.get_tracking), methods=["GET"]),
                Route(wcst + "/{tracking_id}", self._api(self.delete_tracking), methods=["DELETE"]),
            ]
        if self.store.has_fulfillments:
            path = orders + "/{order_id:int}/fulfillments"
            routes += [
                Route(path, self._api(self.list_fulfillments), methods=["GET"]),
                Route(path, self._api(self.add_fulfillment), methods=["POST"]),
                Route(path + "/{fulfillment_id:int}", self._api(self.get_fulfillment), methods=["GET"]),
                Route(path + "/{fulfillment_id:int}", self._api(self.update_fulfillment), methods=["PUT"]),
                Route(path + "/{fulfillment_id:int}", self._api(self.delete_fulfillment), methods=["DELETE"]),
            ]
        routes.append(Route("/wp-json/{rest:path}", self._no_route,
                            methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
        return routes

    def _api(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            if self.limit is not None and (wait := self.limit.retry_after()) is not None:
                return Response("<html><head><title>429 Too Many Requests</title></head><body><h1>429 Too Many "
                                "Requests</h1></body></html>", status_code=429, media_type="text/html",
                                headers={"Retry-After": str(math.ceil(wait))})
            refused = self._auth_error(request)
            if refused is not None:
                return _error(refused)
            try:
                return await handler(request)
            except StoreError as error:
                return _error(error)
        return endpoint

    def _auth_error(self, request: Request) -> StoreError | None:
        key = request.query_params.get("consumer_key")
        secret = request.query_params.get("consumer_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                key, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                key = secret = None
        if not key:
            code, message = _NO_AUTH.get(request.method, _NO_AUTH["GET"])
            return StoreError(401, code, message)
        if key != self.settings.credentials.get("consumer_key"):
            return StoreError(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        if secret != self.settings.credentials.get("consumer_secret"):
            return StoreError(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
        return None

    async def _no_route(self, request: Request) -> Response:
        return _error(StoreError(404, "rest_no_route", "No route was found matching the URL and request method."))

    def root(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    # -- index ---------------------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        namespaces = ["wp/v2", "wc/v3"]
        routes: dict[str, Any] = {
            "/wc/v3/orders": {"namespace": "wc/v3", "methods": ["GET", "POST"]},
            "/wc/v3/orders/(?P<id>[\\d]+)": {"namespace": "wc/v3", "methods": ["GET", "POST", "PUT", "PATCH"]},
            "/wc/v3/orders/(?P<order_id>[\\d]+)/notes": {"namespace": "wc/v3", "methods": ["GET", "POST"]},
            "/wc/v3/products": {"namespace": "wc/v3", "methods": ["GET", "POST"]},
            "/wc/v3/data/currencies/current": {"namespace": "wc/v3", "methods": ["GET"]},
        }
        if self.store.has_fulfillments:
            routes["/wc/v3/orders/(?P<order_id>[\\d]+)/fulfillments"] = {
                "namespace": "wc/v3", "methods": ["GET", "POST"]}
            routes["/wc/v3/orders/(?P<order_id>[\\d]+)/fulfillments/(?P<fulfillment_id>[\\d]+)"] = {
                "namespace": "wc/v3", "methods": ["GET", "PUT", "DELETE"]}
        if self.store.has_shipment_tracking:
            namespaces.append("wc-shipment-tracking/v3")
            base = "/wc-shipment-tracking/v3/orders/(?P<order_id>[\\d]+)/shipment-trackings"
            routes[base] = {"namespace": "wc-shipment-tracking/v3", "methods": ["GET", "POST"]}
            routes[base + "/(?P<id>[\\w-]+)"] = {"namespace": "wc-shipment-tracking/v3",
                                                 "methods": ["GET", "DELETE"]}
        return JSONResponse({"name": self.settings.name, "description": "A simulated WooCommerce store",
                             "url": self.root(request), "home": self.root(request), "gmt_offset":
                             self.offset.total_seconds() / 3600, "namespaces": namespaces, "routes": routes})

    # -- orders --------------------------------------------------------------------------------------------

    async def list_orders(self, request: Request) -> Response:
        params = request.query_params
        gmt = params.get("dates_are_gmt", "false").lower() in ("1", "true")
        dates = {name: self._date(params, name, gmt) for name in ("modified_after", "modified_before", "after",
                                                                  "before")}
        orderby = params.get("orderby", "date")
        order = params.get("order", "desc")
        if orderby not in _ORDERBY:
            raise _invalid("orderby", f"orderby is not one of {', '.join(_ORDERBY)}.")
        if order not in ("asc", "desc"):
            raise _invalid("order", "order is not one of asc, desc.")
        include = tuple(_ints(params.get("include", ""), "include"))
        statuses = tuple(s for s in params.get("status", "").split(",") if s)
        found = self.store.query_orders(statuses=statuses, search=params.get("search", ""), include=include,
                                        orderby=orderby, order=order, **dates)
        root = self.root(request)
        return self._page(request, [render.order_json(o, root, self.offset) for o in found])

    def _date(self, params: Any, name: str, gmt: bool) -> datetime | None:
        value = params.get(name)
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid(name, "Invalid date.") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC) - (timedelta() if gmt else self.offset)
        return moment.astimezone(UTC)

    def _page(self, request: Request, documents: list[dict[str, Any]]) -> Response:
        params = request.query_params
        per_page = (_ints(params.get("per_page", "10"), "per_page") or [10])[0]
        page = (_ints(params.get("page", "1"), "page") or [1])[0]
        if not 1 <= per_page <= 100:
            raise _invalid("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
        if page < 1:
            raise _invalid("page", "page must be greater than or equal to 1")
        total = len(documents)
        pages = math.ceil(total / per_page)
        chunk = documents[(page - 1) * per_page: page * per_page]
        fields = params.get("_fields")
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = []
        base = f"{self.root(request)}{request.url.path}"
        query = {k: v for k, v in params.items() if k not in ("consumer_key", "consumer_secret")}
        if page > 1:
            links.append(f'<{base}?{urlencode({**query, "page": page - 1})}>; rel="prev"')
        if page < pages:
            links.append(f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return JSONResponse([render.pick_fields(d, fields) for d in chunk], headers=headers)

    async def get_order(self, request: Request) -> Response:
        order = self.store.order(request.path_params["order_id"])
        return JSONResponse(render.pick_fields(render.order_json(order, self.root(request), self.offset),
                                               request.query_params.get("_fields")))

    async def create_order(self, request: Request) -> Response:
        order = self.store.create_order(await _body(request))
        return JSONResponse(render.order_json(order, self.root(request), self.offset), status_code=201)

    async def update_order(self, request: Request) -> Response:
        order = self.store.update_order(request.path_params["order_id"], await _body(request))
        return JSONResponse(render.order_json(order, self.root(request), self.offset))

    async def list_products(self, request: Request) -> Response:
        params = request.query_params
        statuses = [s for s in params.get("status", "any").split(",") if s]
        unknown = [s for s in statuses if s not in _PRODUCT_STATUSES]
        if unknown:
            raise _invalid("status", f"status is not one of {', '.join(_PRODUCT_STATUSES)}.")
        found = self.store.catalog.query(sku=params.get("sku") or None, statuses=statuses,
                                         include=_ints(params.get("include", ""), "include"))
        root = self.root(request)
        return self._page(request, [render.product_json(p, self.store.catalog, root) for p in found])

    async def current_currency(self, request: Request) -> Response:
        return JSONResponse(render.currency_json(self.store.currency, self.root(request)))

    async def list_notes(self, request: Request) -> Response:
        order = self.store.order(request.path_params["order_id"])
        root = self.root(request)
        return JSONResponse([render.note_json(order.id, note, root, self.offset) for note in reversed(order.notes)])

    async def add_note(self, request: Request) -> Response:
        body = await _body(request)
        order_id = request.path_params["order_id"]
        note = self.store.add_note(order_id, str(body.get("note") or ""),
                                   customer_note=body.get("customer_note") is True,
                                   added_by_user=body.get("added_by_user") is True)
        return JSONResponse(render.note_json(order_id, note, self.root(request), self.offset), status_code=201)

    # -- Shipment Tracking ---------------------------------------------------------------------------------

    async def list_tracking(self, request: Request) -> Response:
        order = self.store.order(request.path_params["order_id"])
        root = self.root(request)
        return JSONResponse([render.tracking_json(order.id, item, root) for item in order.tracking])

    async def add_tracking(self, request: Request) -> Response:
        body = await _body(request)
        order_id = request.path_params["order_id"]
        item = self.store.add_tracking(
            order_id, str(body.get("tracking_number") or ""), str(body.get("tracking_provider") or ""),
            str(body.get("custom_tracking_provider") or ""), str(body.get("custom_tracking_link") or ""),
            str(body["date_shipped"]) if body.get("date_shipped") else None)
        return JSONResponse(render.tracking_json(order_id, item, self.root(request)), status_code=201)

    async def get_tracking(self, request: Request) -> Response:
        order_id, tracking_id = request.path_params["order_id"], request.path_params["tracking_id"]
        item = self.store.tracking_item(order_id, tracking_id)
        return JSONResponse(render.tracking_json(order_id, item, self.root(request)))

    async def delete_tracking(self, request: Request) -> Response:
        order_id, tracking_id = request.path_params["order_id"], request.path_params["tracking_id"]
        item = self.store.delete_tracking(order_id, tracking_id)
        return JSONResponse(render.tracking_json(order_id, item, self.root(request)))

    async def providers(self, request: Request) -> Response:
        self.store.order(request.path_params["order_id"])
        return JSONResponse({"United States": {name: url for name, url in PROVIDERS.items()}})

    # -- core fulfillments ---------------------------------------------------------------------------------

    def _notify(self, request: Request, order_id: int) -> None:
        if request.query_params.get("notify_customer", "false").lower() in ("1", "true"):
            self.store.customer_notifications.append(order_id)

    async def list_fulfillments(self, request: Request) -> Response:
        order = self.store.order(request.path_params["order_id"])
        return JSONResponse([render.fulfillment_json(f) for f in order.fulfillments])

    async def add_fulfillment(self, request: Request) -> Response:
        body = await _body(request)
        order_id = request.path_params["order_id"]
        fulfillment = self.store.add_fulfillment(order_id, body.get("meta_data") or [],
                                                 str(body.get("status") or "fulfilled"), body.get("is_fulfilled"))
        self._notify(request, order_id)
        return JSONResponse(render.fulfillment_json(fulfillment), status_code=201)

    async def get_fulfillment(self, request: Request) -> Response:
        fulfillment = self.store.fulfillment(request.path_params["order_id"], request.path_params["fulfillment_id"])
        return JSONResponse(render.fulfillment_json(fulfillment))

    async def update_fulfillment(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        fulfillment = self.store.update_fulfillment(order_id, request.path_params["fulfillment_id"],
                                                    await _body(request))
        self._notify(request, order_id)
        return JSONResponse(render.fulfillment_json(fulfillment))

    async def delete_fulfillment(self, request: Request) -> Response:
        self.store.delete_fulfillment(request.path_params["order_id"], request.path_params["fulfillment_id"])
        return JSONResponse({"message": "Fulfillment deleted successfully."})


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StoreError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
    if not isinstance(body, dict):
        raise StoreError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return body


def _ints(value: str, name: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise _invalid(name, f"{name} is not of type integer.") from None


def _invalid(name: str, why: str) -> StoreError:
    return StoreError(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why})


def _error(error: StoreError) -> Response:
    return JSONResponse(render.error_json(error), status_code=error.status)


# -- admin -----------------------------------------------------------------------------------------------------


def _admin_routes(store: WooStore, api: _Api) -> list[BaseRoute]:
    prefix = f"{ADMIN_PREFIX}/woocommerce"

    def admin(action: Callable[[Request, dict[str, Any]], Any]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                body = await _body(request) if request.method in ("POST", "PUT") else {}
                result = action(request, body)
            except StoreError as error:
                return _error(error)
            except (TypeError, KeyError, ValueError) as error:
                return _error(StoreError(400, "sandbox_invalid_request", f"Invalid admin request: {error}"))
            return JSONResponse(result, status_code=201 if request.method == "POST" else 200)
        return endpoint

    def order_doc(request: Request, order_id: int) -> dict[str, Any]:
        return render.order_json(store.order(order_id), api.root(request), api.offset)

    def oid(request: Request) -> int:
        return int(request.path_params["order_id"])

    def add_product(request: Request, body: dict[str, Any]) -> Any:
        return render.product_json(store.add_product(**body), store.catalog, api.root(request))

    def find_products(request: Request, body: dict[str, Any]) -> Any:
        sku = request.query_params.get("sku", "")
        return [render.product_json(p, store.catalog, api.root(request)) for p in store.products.values()
                if p.sku == sku]

    def edit_product(request: Request, body: dict[str, Any]) -> Any:
        product_id = int(request.path_params["product_id"])
        if request.method == "DELETE":
            return render.product_json(store.catalog.delete(product_id), store.catalog, api.root(request))
        return render.product_json(store.catalog.update(product_id, **body), store.catalog, api.root(request))

    def place_order(request: Request, body: dict[str, Any]) -> Any:
        return order_doc(request, store.place_order(**body).id)

    def find_orders(request: Request, body: dict[str, Any]) -> Any:
        key, value = request.query_params.get("meta_key"), request.query_params.get("meta_value")
        return [order_doc(request, order.id) for order in store.orders.values()
                if key is None or any(meta.key == key and str(meta.value) == value for meta in order.meta)]

    def shipping(request: Request, body: dict[str, Any]) -> Any:
        order = store.order(oid(request))
        return {"tracking_api": store.tracking,
                "tracking_items": [render.tracking_json(order.id, item, api.root(request)) for item in order.tracking],
                "tracking_meta": any(meta.key == TRACKING_META_KEY for meta in order.meta),
                "fulfillments": [render.fulfillment_json(fulfillment) for fulfillment in order.fulfillments]}

    def add_tracking(request: Request, body: dict[str, Any]) -> Any:
        return render.tracking_json(oid(request), store.add_tracking(oid(request), **body), api.root(request))

    def edit_tracking(request: Request, body: dict[str, Any]) -> Any:
        if request.method == "DELETE":
            store.delete_tracking(oid(request), request.path_params["tracking_id"])
            return {"deleted": True}
        item = store.edit_tracking(oid(request), request.path_params["tracking_id"], **body)
        return render.tracking_json(oid(request), item, api.root(request))

    def add_fulfillment(request: Request, body: dict[str, Any]) -> Any:
        meta = [{"key": "_items", "value": body.pop("items")}]
        meta += [{"key": f"_{name}", "value": value} for name, value in body.items()]
        return render.fulfillment_json(store.add_fulfillment(oid(request), meta))

    def edit_fulfillment(request: Request, body: dict[str, Any]) -> Any:
        fulfillment_id = int(request.path_params["fulfillment_id"])
        if request.method == "DELETE":
            return render.fulfillment_json(store.delete_fulfillment(oid(request), fulfillment_id))
        return render.fulfillment_json(store.edit_fulfillment_tracking(oid(request), fulfillment_id, **body))

    order = prefix + "/orders/{order_id:int}"
    return [
        Route(prefix + "/products", admin(add_product), methods=["POST"]),
        Route(prefix + "/products", admin(find_products), methods=["GET"]),
        Route(prefix + "/products/{product_id:int}", admin(edit_product), methods=["PUT", "DELETE"]),
        Route(prefix + "/orders", admin(place_order), methods=["POST"]),
        Route(prefix + "/orders", admin(find_orders), methods=["GET"]),
        Route(order, admin(lambda request, body: order_doc(request, oid(request))), methods=["GET"]),
        Route(order + "/cancel", admin(lambda request, body: order_doc(request, store.cancel_order(
            oid(request)).id)), methods=["POST"]),
        Route(order + "/touch", admin(lambda request, body: order_doc(request, store.touch_order(
            oid(request)).id)), methods=["POST"]),
        Route(order + "/tracking", admin(add_tracking), methods=["POST"]),
        Route(order + "/tracking/{tracking_id}", admin(edit_tracking), methods=["PUT", "DELETE"]),
        Route(order + "/fulfillments", admin(add_fulfillment), methods=["POST"]),
        Route(order + "/fulfillments", admin(shipping), methods=["GET"]),
        Route(order + "/fulfillments/{fulfillment_id:int}", admin(edit_fulfillment), methods=["PUT", "DELETE"]),
    ]

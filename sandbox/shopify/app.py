"""The simulated Shopify store over HTTP: the GraphQL Admin API endpoint plus merchant admin routes.

API (what a connection's `base_url` + path reaches; `base_path` is ""):
- `POST /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token`; any `YYYY-MM` or `unstable` version is
  served, a retired one as the oldest supported (`X-Shopify-API-Version` says which); another path segment
  answers 404 `{"errors": "Not Found"}`.
- A wrong or missing token: 401 `{"errors": "[API] Invalid API key or access token (unrecognized login or wrong
  password)"}`. A body that is not JSON with a `query` string: 400 `{"errors": {"query": "Required parameter
  missing or invalid"}}`.
- Everything else answers HTTP 200, like Shopify: syntax and validation errors against the real schema, a query
  over 1000 points (`MAX_COST_EXCEEDED`) and a throttled one (`THROTTLED`, nothing executed) come back as
  top-level `errors`; refusals of mutations as `userErrors`. Each executed response carries `extensions.cost`.

Options (`StoreSettings.options`; unknown keys are refused): `schema_sdl` (path of an Admin SDL file, e.g. the
2026-07 capture; default the vendored 2025-01 introspection), `bucket_max` (default 2000 points),
`restore_rate` (default 100 points/s), `oldest_version` (default 2025-10: older versions are answered as this one,
named in `X-Shopify-API-Version`, as Shopify falls forward), `currency` (the shop's, ISO 4217; default USD).

Admin routes (no token; JSON in and out; ids are numeric legacy ids) under `/_sandbox/shopify`:
- `POST /orders` `{"lines": [{"title", "sku", "quantity", "price"}], "email", "phone", "shipping_address":
  {MailingAddressInput}, "shipping_title"}` places a customer's order (custom lines; `price` a decimal string,
  default 0, in the shop's currency; no inventory moves); `GET /orders/{id}` shows one; `GET /orders
  ?source_identifier=` lists `{"orders": [...]}` (all without the filter);
- `POST /orders/{id}/fulfillments` `{"lines": {"<line item id>": quantity} | null, "tracking": {"company",
  "numbers", "urls"}}` fulfills (null: everything left);
- `POST /fulfillments/{id}/tracking` `{"company", "numbers", "urls"}` edits tracking;
- `POST /fulfillments/{id}/cancel`, `POST /orders/{id}/cancel`;
- `POST /orders/{id}/lines/{line id}/remove` `{"quantity", "restock"}` removes unfulfilled units (an order edit;
  `restock` false by default); `POST /orders/{id}/cancel` takes `{"restock"}` too;
- the catalog (`sandbox.shopify.catalog`): `POST /products` `{"title", "status": "ACTIVE", "variants": [{"sku",
  "price", "inventory", "title", "inventory_policy"}]}` adds a product (201, the product); `GET /products/{id}`;
  `POST /products/{id}/status` `{"status"}` archives, drafts or reactivates it; `GET /variants?sku=` lists
  `{"variants": [...]}` whose SKU is exactly the one given (all without it), by id; `POST
  /variants/{id}/inventory` `{"quantity"}` sets the units on hand; `GET /shop` shows `{"name", "currency"}`. A
  variant shows `{"id", "gid", "product_id", "product_gid", "product_status", "sku", "title", "price" (a decimal
  string), "inventory_quantity", "inventory_policy"}`;
- an order shows, besides its lines and fulfillments, its `currency`, `tags`, `note`, each line's `unit_price`
  (a decimal string) and `variant_id` (null: a custom line), `shipping_lines` `[{"title", "price"}]`, and the
  decimal strings `subtotal`, `shipping` and `total` (current units);
- `GET /throttle` shows the cost bucket.
Refusals answer 422 `{"error": message, "field": [...]}`; unknown ids 404; a body that is not the JSON above
400 naming the problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, execute_sync, parse, validate
from graphql.language import FragmentDefinitionNode
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.common import ADMIN_PREFIX, SandboxApp, SandboxState, create_sandbox_app
from sandbox.settings import StoreSettings
from sandbox.shopify.catalog_routes import catalog_routes
from sandbox.shopify.cost import MAX_QUERY_COST, LeakyBucket, actual_cost, query_cost
from sandbox.shopify.resolvers import amount, mutation_root, query_root
from sandbox.shopify.schema import load_schema
from sandbox.shopify.store import NewLine, ShopifyStore, StoreError, TrackingInfo

ADMIN = f"{ADMIN_PREFIX}/shopify"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105
_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")
_OPTIONS = frozenset({"schema_sdl", "bucket_max", "restore_rate", "oldest_version", "currency"})


class ShopifySandbox:
    """What the routes share: the store, its schema and its cost bucket."""

    def __init__(self, settings: StoreSettings, state: SandboxState) -> None:
        unknown = set(settings.options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown Shopify sandbox options {sorted(unknown)}; known: {sorted(_OPTIONS)}")
        self.token = settings.credentials.get("access_token", "")
        self.store = ShopifyStore(state.clock, settings.name, str(settings.options.get("currency", "USD")))
        self.operations = state.operations
        sdl = settings.options.get("schema_sdl")
        self.schema: GraphQLSchema = load_schema(str(sdl) if sdl else None)
        self.bucket = LeakyBucket(float(settings.options.get("bucket_max", 2000)),
                                  float(settings.options.get("restore_rate", 100)))
        self.oldest_version = str(settings.options.get("oldest_version", "2025-10"))
        self.throttled = 0  # THROTTLED answers so far (tests check a client never runs the bucket dry)

    def served_version(self, asked: str) -> str:
        """The version Shopify answers with: the one asked for, or the oldest supported when it is retired."""
        return asked if asked == "unstable" or asked >= self.oldest_version else self.oldest_version

    def execute(self, query: str, variables: dict[str, Any] | None, operation_name: str | None) -> dict[str, Any]:
        """One GraphQL request as Shopify answers it (always a dict for an HTTP 200)."""
        try:
            document = parse(query)
        except GraphQLError as error:
            return {"errors": [error.formatted]}
        errors = validate(self.schema, document)
        if errors:
            return {"errors": [error.formatted for error in errors]}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [d for d in operations if operation_name is None or (d.name and d.name.value == operation_name)]
        if len(chosen) != 1:
            message = (f"Unknown operation named \"{operation_name}\"." if operation_name
                       else "An operation name is required when several operations are sent.")
            return {"errors": [{"message": message}]}
        operation = chosen[0]
        self.operations[operation.name.value if operation.name else "(anonymous)"] += 1
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        cost = query_cost(self.schema, operation, fragments, variables or {})
        if cost > MAX_QUERY_COST:
            return {"errors": [{
                "message": f"Query cost is {cost}, which exceeds the single query max cost limit "
                           f"({MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for "
                           "more information on how the\ncost of a query is calculated.\n\nTo query larger "
                           "amounts of data with fewer limits, bulk operations should be used instead.",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST}}]}
        if not self.bucket.take(cost):
            self.throttled += 1
            return {"errors": [{"message": "Throttled", "extensions": {
                        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                            "throttleStatus": self.bucket.status()}}}
        warnings: list[str] = []
        is_mutation = operation.operation.value == "mutation"
        root = mutation_root(self.store) if is_mutation else query_root(self.store, warnings)
        result = execute_sync(self.schema, document, root_value=root, variable_values=variables,
                              operation_name=operation_name)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        body["data"] = result.data
        actual = min(actual_cost(self.schema, operation, fragments, result.data), cost)
        self.bucket.refund(cost - actual)
        extensions: dict[str, Any] = {"cost": {"requestedQueryCost": cost, "actualQueryCost": actual,
                                               "throttleStatus": self.bucket.status()}}
        if warnings:
            extensions["search"] = [{"path": ["orders"], "query": "", "warnings": [
                {"field": None, "message": warning} for warning in warnings]}]
        body["extensions"] = extensions
        return body


def base_path(settings: StoreSettings) -> str:
    """Shopify's `base_url` is the shop's origin: nothing follows host and port."""
    return ""


def create_app(settings: StoreSettings) -> SandboxApp:
    """An empty shop accepting `settings.credentials["access_token"]`; see the module docstring for options.
    Raises ValueError for unknown options, OSError when `schema_sdl` cannot be read."""
    state = SandboxState()
    shop = ShopifySandbox(settings, state)
    return create_sandbox_app([*_api_routes(shop), *_admin_routes(shop), *catalog_routes(shop.store, ADMIN, _checked)],
                              shop, state)


def _api_routes(shop: ShopifySandbox) -> list[BaseRoute]:
    async def graphql(request: Request) -> Response:
        if not _VERSION.match(request.path_params["version"]):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if not shop.token or request.headers.get("x-shopify-access-token") != shop.token:
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, status_code=400)
        variables = body.get("variables")
        operation = body.get("operationName")
        return JSONResponse(shop.execute(body["query"], variables if isinstance(variables, dict) else None,
                                         operation if isinstance(operation, str) else None),
                            headers={"X-Shopify-API-Version": shop.served_version(request.path_params["version"])})

    return [Route("/admin/api/{version}/graphql.json", graphql, methods=["POST"])]


def _admin_routes(shop: ShopifySandbox) -> list[BaseRoute]:
    store = shop.store

    def show(order_id: int) -> Response:
        order = store.order(order_id)
        if order is None:
            return JSONResponse({"error": f"no order {order_id}"}, status_code=404)
        return JSONResponse(admin_json(store, order_id))

    async def place(request: Request) -> Response:
        body = await request.json()
        try:
            order = store.place_order(
                [NewLine(title=line.get("title") or line.get("sku") or "item", quantity=int(line["quantity"]),
                         sku=line.get("sku"), price=Decimal(str(line["price"])) if "price" in line else None)
                 for line in body.get("lines", [])],
                email=body.get("email"), phone=body.get("phone"), shipping_address=body.get("shipping_address"),
                shipping_title=body.get("shipping_title"), tags=body.get("tags", ()))
        except StoreError as error:
            return _refusal(error)
        return JSONResponse(admin_json(store, order.id), status_code=201)

    async def get_order(request: Request) -> Response:
        return show(int(request.path_params["id"]))

    async def find_orders(request: Request) -> Response:
        wanted = request.query_params.get("source_identifier")
        return JSONResponse({"orders": [admin_json(store, order.id) for order in store.orders.values()
                                        if wanted is None or order.source_identifier == wanted]})

    async def fulfill(request: Request) -> Response:
        body = await request.json()
        lines = body.get("lines")
        try:
            store.fulfill_lines(int(request.path_params["id"]),
                                None if lines is None else {int(k): int(v) for k, v in lines.items()},
                                tracking=_tracking(body.get("tracking")))
        except StoreError as error:
            return _refusal(error)
        return show(int(request.path_params["id"]))

    async def edit_tracking(request: Request) -> Response:
        try:
            fulfillment = store.update_tracking(int(request.path_params["id"]), _tracking(await request.json()))
        except StoreError as error:
            return _refusal(error)
        return show(fulfillment.order_id)

    async def cancel_fulfillment(request: Request) -> Response:
        try:
            fulfillment = store.cancel_fulfillment(int(request.path_params["id"]))
        except StoreError as error:
            return _refusal(error)
        return show(fulfillment.order_id)

    async def cancel_order(request: Request) -> Response:
        body = await request.json() if await request.body() else {}
        try:
            order = store.cancel_order(int(request.path_params["id"]), restock=bool(body.get("restock")))
        except StoreError as error:
            return _refusal(error)
        return show(order.id)

    async def remove_units(request: Request) -> Response:
        body = await request.json()
        try:
            order = store.remove_units(int(request.path_params["id"]), int(request.path_params["line"]),
                                       int(body["quantity"]), restock=bool(body.get("restock")))
        except StoreError as error:
            return _refusal(error)
        return show(order.id)

    async def throttle(request: Request) -> Response:
        return JSONResponse(shop.bucket.status())

    return [
        Route(f"{ADMIN}/orders", _checked(place), methods=["POST"]),
        Route(f"{ADMIN}/orders", _checked(find_orders), methods=["GET"]),
        Route(f"{ADMIN}/orders/{{id:int}}", _checked(get_order), methods=["GET"]),
        Route(f"{ADMIN}/orders/{{id:int}}/fulfillments", _checked(fulfill), methods=["POST"]),
        Route(f"{ADMIN}/orders/{{id:int}}/cancel", _checked(cancel_order), methods=["POST"]),
        Route(f"{ADMIN}/orders/{{id:int}}/lines/{{line:int}}/remove", _checked(remove_units), methods=["POST"]),
        Route(f"{ADMIN}/fulfillments/{{id:int}}/tracking", _checked(edit_tracking), methods=["POST"]),
        Route(f"{ADMIN}/fulfillments/{{id:int}}/cancel", _checked(cancel_fulfillment), methods=["POST"]),
        Route(f"{ADMIN}/throttle", _checked(throttle), methods=["GET"]),
    ]


def _checked(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """An admin handler that answers 400 naming the problem when the body is not the documented JSON."""
    async def checked(request: Request) -> Response:
        try:
            return await handler(request)
        except (ValueError, ArithmeticError, KeyError, TypeError, AttributeError) as error:
            return JSONResponse({"error": f"bad request body for {request.url.path}: {type(error).__name__}: "
                                          f"{error}; see sandbox/shopify/app.py for the expected JSON"},
                                status_code=400)
    return checked


def admin_json(store: ShopifyStore, order_id: int) -> dict[str, Any]:
    """An order as the admin routes show it: numeric ids, lines, FOs and fulfillments."""
    order = store.orders[order_id]
    return {
        "id": order.id, "gid": f"gid://shopify/Order/{order.id}", "name": order.name,
        "updated_at": order.updated_at.isoformat(), "cancelled": order.cancelled_at is not None,
        "source_identifier": order.source_identifier,
        "display_fulfillment_status": order.display_fulfillment_status(),
        "currency": order.currency, "tags": list(order.tags), "note": order.note,
        "lines": [{"id": line.id, "gid": f"gid://shopify/LineItem/{line.id}", "sku": line.sku,
                   "title": line.title, "quantity": line.quantity, "current_quantity": line.current_quantity,
                   "unit_price": amount(line.unit_price), "variant_id": line.variant_id}
                  for line in order.line_items],
        "shipping_lines": [{"title": line.title, "price": amount(line.price)} for line in order.shipping_lines],
        "subtotal": amount(order.subtotal()), "shipping": amount(order.shipping()),
        "total": amount(order.subtotal() + order.shipping()),
        "fulfillment_orders": [{"id": fo.id, "status": fo.status, "lines": [
            {"id": line.id, "line_item_id": line.line_item_id, "remaining": line.remaining_quantity}
            for line in fo.lines]} for fo in order.fulfillment_orders],
        "fulfillments": [{"id": f.id, "gid": f"gid://shopify/Fulfillment/{f.id}", "status": f.status,
                          "lines": {str(line.line_item_id): line.quantity for line in f.lines},
                          "tracking": [{"company": t.company, "number": t.number, "url": t.url}
                                       for t in f.tracking]} for f in order.fulfillments],
    }


def _tracking(body: dict[str, Any] | None) -> list[TrackingInfo]:
    if not body:
        return []
    numbers = list(body.get("numbers") or ())
    urls = list(body.get("urls") or ())
    return [TrackingInfo(body.get("company"), number, urls[index] if index < len(urls) else None)
            for index, number in enumerate(numbers)]


def _refusal(error: StoreError) -> Response:
    return JSONResponse({"error": error.message, "field": error.field}, status_code=422)

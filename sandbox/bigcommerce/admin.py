"""The simulated BigCommerce store's admin routes: what a merchant does in the control panel (place an order,
ship lines with tracking, edit or delete a shipment, refund, cancel, find orders by `?external_order_id=`), with no
credentials, for tests and curl."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.bigcommerce import views
from sandbox.bigcommerce.store import BigCommerceStore, Order, StoreError
from sandbox.bigcommerce.views import error_response, int_path
from sandbox.common import ADMIN_PREFIX

Handler = Callable[[Request], Awaitable[Response]]


def admin_routes(store: BigCommerceStore, api_base: str) -> list[BaseRoute]:
    """The merchant's actions as JSON routes under `/_sandbox/bigcommerce/orders` (see the app's docstring);
    errors come back in the platform's `[{"status", "message"}]` shape."""
    prefix = f"{ADMIN_PREFIX}/bigcommerce/orders"

    def admin(handler: Callable[[Request, dict[str, Any]], Any], status: int = 200) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                body: dict[str, Any] = {}
                if request.method in ("POST", "PUT"):
                    raw = await request.body()
                    body = json.loads(raw) if raw else {}
                    if not isinstance(body, dict):
                        raise StoreError(400, "The request body must be a JSON object.")
                result = handler(request, body)
            except StoreError as error:
                return error_response(error.status, error.message)
            except (ValueError, TypeError) as error:
                return error_response(400, f"invalid admin request: {error}")
            return Response(status_code=204) if result is None else JSONResponse(result, status_code=status)

        return endpoint

    def order_id(request: Request) -> int:
        return int_path(request, "order_id")

    def dump(order: Order) -> dict[str, Any]:
        return {**views.order_json(order, api_base),
                "products": [views.product_json(p) for p in order.products],
                "shipping_addresses": [views.address_json(store, order, i, api_base)
                                       for i in range(len(order.addresses))],
                "shipments": [views.shipment_json(store, order.shipments[i]) for i in sorted(order.shipments)]}

    def place(request: Request, body: dict[str, Any]) -> Any:
        return dump(store.place_order(
            body.get("products") or [], billing_address=body.get("billing_address") or {},
            shipping_addresses=body.get("shipping_addresses") or [], status_id=int(body.get("status_id", 11)),
            external_order_id=body.get("external_order_id"), staff_notes=str(body.get("staff_notes") or "")))

    def ship(request: Request, body: dict[str, Any]) -> Any:
        items = body.pop("items", None) or []
        address = body.pop("order_address_id", None)
        return views.shipment_json(store, store.ship(order_id(request), items, order_address_id=address, **body))

    def edit(request: Request, body: dict[str, Any]) -> Any:
        if request.method == "DELETE":
            store.delete_shipment(order_id(request), int_path(request, "shipment_id"))
            return None
        return views.shipment_json(store, store.edit_shipment(order_id(request), int_path(request, "shipment_id"),
                                                              **body))

    def find(request: Request, body: dict[str, Any]) -> Any:
        wanted = request.query_params.get("external_order_id")
        return [dump(order) for order in store.orders.values()
                if wanted is None or order.external_order_id == wanted]

    def refund(request: Request, body: dict[str, Any]) -> Any:
        return dump(store.refund(order_id(request), int(body["order_product_id"]), int(body["quantity"])))

    return [
        Route(prefix, admin(place, 201), methods=["POST"]),
        Route(prefix, admin(find), methods=["GET"]),
        Route(prefix + "/{order_id:int}", admin(lambda r, b: dump(store.order(order_id(r)))), methods=["GET"]),
        Route(prefix + "/{order_id:int}/shipments", admin(ship, 201), methods=["POST"]),
        Route(prefix + "/{order_id:int}/shipments/{shipment_id:int}", admin(edit), methods=["PUT", "DELETE"]),
        Route(prefix + "/{order_id:int}/cancel", admin(lambda r, b: dump(store.cancel_order(order_id(r)))),
              methods=["POST"]),
        Route(prefix + "/{order_id:int}/refunds", admin(refund), methods=["POST"]),
    ]

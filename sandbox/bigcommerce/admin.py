"""The simulated BigCommerce store's admin routes: what a merchant does in the control panel (place an order,
ship lines with tracking, edit or delete a shipment, refund, cancel, find orders by `?external_order_id=`; add
products, stock SKUs, read and set inventory), with no credentials, for tests and curl.

Catalog routes, under `/_sandbox/bigcommerce/catalog`:
- `POST /products` `{name, sku, price, inventory, variants: [{sku, options: {name: label}, price, inventory}],
  inventory_tracking, availability, is_visible}`: one product (409 for a SKU the store has);
- `POST /stock` `{skus, price, inventory}`: a simple product for each SKU the catalog lacks;
- `POST /variants` `{sku, price, inventory}`: one more item with `sku` (refused with 409 when one has it:
  BigCommerce keeps SKUs unique);
- `GET /variants?sku=`: the variants with that SKU, each with its product's name and its units on hand;
- `PUT /inventory` `{sku, inventory_level}`: set the units on hand.
An order placed here may send products to several of its `shipping_addresses` (`shipping_address_index` on a
product), as a storefront checkout to several addresses does."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.bigcommerce import catalog_api, views
from sandbox.bigcommerce.catalog import DEFAULT_INVENTORY, DEFAULT_PRICE, Product
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
            external_order_id=body.get("external_order_id"), staff_notes=str(body.get("staff_notes") or ""),
            shipping_cost=body, multi_address=True))

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

    catalog = store.catalog

    def product(item: Product) -> dict[str, Any]:
        return {**catalog_api.product_json(item),
                "variants": [catalog_api.variant_json(catalog, item, variant) for variant in item.variants]}

    def add_product(request: Request, body: dict[str, Any]) -> Any:
        return product(catalog.add_product(
            name=body.get("name") or f"Product {body.get('sku')}", sku=body.get("sku"),  # type: ignore[arg-type]
            price=body.get("price", DEFAULT_PRICE), inventory=body.get("inventory", DEFAULT_INVENTORY),
            variants=body.get("variants") or (), inventory_tracking=body.get("inventory_tracking"),
            availability=body.get("availability", "available"), is_visible=bool(body.get("is_visible", True))))

    def stock(request: Request, body: dict[str, Any]) -> Any:
        return [product(item) for item in catalog.stock(
            body.get("skus") or [], price=body.get("price", DEFAULT_PRICE),
            inventory=body.get("inventory", DEFAULT_INVENTORY))]

    def add_variant(request: Request, body: dict[str, Any]) -> Any:
        return product(catalog.add_product(
            name=f"Product {body.get('sku')}", sku=body.get("sku"),  # type: ignore[arg-type]
            price=body.get("price", DEFAULT_PRICE), inventory=body.get("inventory", DEFAULT_INVENTORY)))

    def variants(request: Request, body: dict[str, Any]) -> Any:
        wanted = request.query_params.get("sku")
        return [{**catalog_api.variant_json(catalog, item, variant), "product_name": item.name}
                for item, variant in catalog.variants() if wanted is None or variant.sku == wanted]

    def inventory(request: Request, body: dict[str, Any]) -> Any:
        variant = catalog.set_inventory(str(body.get("sku")), body.get("inventory_level"))
        return {"sku": variant.sku, "inventory_level": variant.inventory_level}

    shop = f"{ADMIN_PREFIX}/bigcommerce/catalog"
    return [
        Route(f"{shop}/products", admin(add_product, 201), methods=["POST"]),
        Route(f"{shop}/stock", admin(stock, 201), methods=["POST"]),
        Route(f"{shop}/variants", admin(add_variant, 201), methods=["POST"]),
        Route(f"{shop}/variants", admin(variants), methods=["GET"]),
        Route(f"{shop}/inventory", admin(inventory), methods=["PUT"]),
        Route(prefix, admin(place, 201), methods=["POST"]),
        Route(prefix, admin(find), methods=["GET"]),
        Route(prefix + "/{order_id:int}", admin(lambda r, b: dump(store.order(order_id(r)))), methods=["GET"]),
        Route(prefix + "/{order_id:int}/shipments", admin(ship, 201), methods=["POST"]),
        Route(prefix + "/{order_id:int}/shipments/{shipment_id:int}", admin(edit), methods=["PUT", "DELETE"]),
        Route(prefix + "/{order_id:int}/cancel", admin(lambda r, b: dump(store.cancel_order(order_id(r)))),
              methods=["POST"]),
        Route(prefix + "/{order_id:int}/refunds", admin(refund), methods=["POST"]),
    ]

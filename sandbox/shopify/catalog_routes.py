"""The merchant's catalog routes of the simulated Shopify store (`/_sandbox/shopify/products`, `/variants`,
`/shop`); the JSON they take and give is described in `sandbox/shopify/app.py`'s docstring.

Failure: a refused change answers 422 `{"error", "field"}`, an unknown id 404, a body that is not the documented
JSON 400 (through the app's `checked` wrapper).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.shopify.catalog import CatalogError, NewVariant, Product, Variant, money
from sandbox.shopify.resolvers import amount
from sandbox.shopify.store import ShopifyStore

Handler = Callable[[Request], Awaitable[Response]]


def variant_json(product: Product, variant: Variant) -> dict[str, Any]:
    return {"id": variant.id, "gid": f"gid://shopify/ProductVariant/{variant.id}", "product_id": product.id,
            "product_gid": f"gid://shopify/Product/{product.id}", "product_status": product.status,
            "sku": variant.sku, "title": variant.title, "price": amount(variant.price),
            "inventory_quantity": variant.inventory_quantity, "inventory_policy": variant.inventory_policy}


def product_json(product: Product) -> dict[str, Any]:
    return {"id": product.id, "gid": f"gid://shopify/Product/{product.id}", "title": product.title,
            "status": product.status, "variants": [variant_json(product, variant) for variant in product.variants]}


def catalog_routes(store: ShopifyStore, prefix: str, checked: Callable[[Handler], Handler]) -> list[BaseRoute]:
    """The routes under `prefix` (`/_sandbox/shopify`), each wrapped by `checked`."""
    catalog = store.catalog

    async def add_product(request: Request) -> Response:
        body = await request.json()
        try:
            variants = [NewVariant(sku=entry.get("sku"), price=money(entry.get("price", "0"), ["variants", str(i),
                                                                                              "price"]),
                                   inventory=int(entry.get("inventory", 0)),
                                   title=entry.get("title") or "Default Title",
                                   inventory_policy=entry.get("inventory_policy", "DENY"))
                        for i, entry in enumerate(body.get("variants") or [])]
            product = catalog.add_product(str(body.get("title") or ""), variants, str(body.get("status", "ACTIVE")))
        except CatalogError as error:
            return _refusal(error)
        return JSONResponse(product_json(product), status_code=201)

    async def get_product(request: Request) -> Response:
        product = catalog.products.get(int(request.path_params["id"]))
        if product is None:
            return JSONResponse({"error": f"no product {request.path_params['id']}"}, status_code=404)
        return JSONResponse(product_json(product))

    async def set_status(request: Request) -> Response:
        body = await request.json()
        try:
            product = catalog.set_status(int(request.path_params["id"]), str(body["status"]))
        except CatalogError as error:
            return _refusal(error, missing=error.code == "PRODUCT_DOES_NOT_EXIST")
        return JSONResponse(product_json(product))

    async def variants(request: Request) -> Response:
        sku = request.query_params.get("sku")
        found = catalog.with_sku(sku) if sku is not None else catalog.variants()
        return JSONResponse({"variants": [variant_json(product, variant) for product, variant in found]})

    async def set_inventory(request: Request) -> Response:
        body = await request.json()
        try:
            variant = catalog.set_inventory(int(request.path_params["id"]), int(body["quantity"]))
        except CatalogError as error:
            return _refusal(error, missing=True)
        found = catalog.variant(variant.id)
        assert found is not None
        return JSONResponse(variant_json(*found))

    async def shop(request: Request) -> Response:
        return JSONResponse({"name": store.name, "currency": store.currency})

    return [
        Route(f"{prefix}/products", checked(add_product), methods=["POST"]),
        Route(f"{prefix}/products/{{id:int}}", checked(get_product), methods=["GET"]),
        Route(f"{prefix}/products/{{id:int}}/status", checked(set_status), methods=["POST"]),
        Route(f"{prefix}/variants", checked(variants), methods=["GET"]),
        Route(f"{prefix}/variants/{{id:int}}/inventory", checked(set_inventory), methods=["POST"]),
        Route(f"{prefix}/shop", checked(shop), methods=["GET"]),
    ]


def _refusal(error: CatalogError, *, missing: bool = False) -> Response:
    return JSONResponse({"error": error.message, "field": error.field}, status_code=404 if missing else 422)

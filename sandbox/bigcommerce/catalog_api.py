"""The simulated BigCommerce store's Catalog V3 reads and its store information, as the real API answers them.

- `GET /v3/catalog/variants` (`catalog-variants.v3.yml`): filters `id`, `sku`, `sku:in` (comma-separated),
  `upc`, `product_id:in`; `include_fields`/`exclude_fields` (the `id` always stays); `page`, `limit` (default 50,
  at most 250); the body is `{"data": [...], "meta": {"pagination": {...}}}`, with `data: []` (a 200, not a 204)
  when nothing matches;
- `GET /v3/catalog/products` (`catalog-products.v3.yml`): filters `id`, `id:in`, `sku`, `sku:in`, `name`,
  `is_visible`, `availability`; fields, paging and body as above;
- `GET /v2/store`: the store information, whose `currency` is the store's default currency;
- V3 errors are `{"status", "title", "type"}` (422 for a query parameter it cannot read, with `errors` naming
  it); query parameters it does not know are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.bigcommerce.catalog import Catalog, Product, Variant
from sandbox.bigcommerce.errors import StoreError

STATUS_CODES_DOC = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
DEFAULT_LIMIT, MAX_LIMIT = 50, 250


def v3_error(status: int, title: str, headers: dict[str, str] | None = None,
             errors: Mapping[str, str] | None = None) -> JSONResponse:
    """BigCommerce's V3 error shape."""
    body: dict[str, Any] = {"status": status, "title": title, "type": STATUS_CODES_DOC}
    if errors:
        body["errors"] = dict(errors)
    return JSONResponse(body, status_code=status, headers=headers)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def variant_json(catalog: Catalog, product: Product, variant: Variant) -> dict[str, Any]:
    """A variant as `GET /v3/catalog/variants` shows it."""
    return {
        "id": variant.id, "product_id": product.id, "sku": variant.sku, "sku_id": variant.sku_id,
        "price": _number(variant.price), "calculated_price": float(catalog.price_of(product, variant)),
        "sale_price": None, "retail_price": None, "map_price": None, "weight": None, "calculated_weight": 1.0,
        "width": None, "height": None, "depth": None, "is_free_shipping": False, "fixed_cost_shipping_price": None,
        "purchasing_disabled": variant.purchasing_disabled, "purchasing_disabled_message": "", "image_url": "",
        "cost_price": 0.0, "upc": "", "mpn": "", "gtin": "", "inventory_level": variant.inventory_level,
        "inventory_warning_level": 0, "bin_picking_number": "",
        "option_values": [{"id": value.id, "label": value.label, "option_id": value.option_id,
                           "option_display_name": value.option_display_name} for value in variant.option_values],
    }


def product_json(product: Product) -> dict[str, Any]:
    """A product as `GET /v3/catalog/products` shows it (the fields a catalog client reads, and the usual rest)."""
    return {
        "id": product.id, "name": product.name, "type": "physical", "sku": product.sku, "description": "",
        "weight": 1.0, "width": 0.0, "depth": 0.0, "height": 0.0, "price": float(product.price),
        "cost_price": 0.0, "retail_price": 0.0, "sale_price": 0.0, "map_price": 0.0, "tax_class_id": 0,
        "product_tax_code": "", "calculated_price": float(product.price), "categories": [], "brand_id": 0,
        "inventory_level": product.inventory_level, "inventory_warning_level": 0,
        "inventory_tracking": product.inventory_tracking, "fixed_cost_shipping_price": 0.0,
        "is_free_shipping": False, "is_visible": product.is_visible, "is_featured": False, "warranty": "",
        "bin_picking_number": "", "layout_file": "", "upc": "", "mpn": "", "gtin": "", "search_keywords": "",
        "availability": product.availability, "availability_description": "", "sort_order": 0,
        "condition": "New", "is_condition_shown": False, "order_quantity_minimum": 0, "order_quantity_maximum": 0,
        "page_title": "", "meta_description": "", "view_count": 0, "preorder_message": "",
        "is_preorder_only": False, "is_price_hidden": False, "price_hidden_label": "",
        "date_created": product.date_created.isoformat(), "date_modified": product.date_modified.isoformat(),
        # null for a product with options, say the docs, but the spec's integer is not nullable: left out then
        **({"base_variant_id": product.base_variant_id} if product.base_variant_id is not None else {}),
    }


def _int(raw: str, name: str) -> int:
    if not raw.strip().isdigit():
        raise StoreError(422, f"The query parameter '{name}' must be an integer.")
    return int(raw)


def _ints(raw: str, name: str) -> set[int]:
    return {_int(part, name) for part in raw.split(",") if part.strip()}


def _fields(item: dict[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    include = [f for f in query.get("include_fields", "").split(",") if f.strip()]
    exclude = {f.strip() for f in query.get("exclude_fields", "").split(",") if f.strip()}
    if include:
        item = {key: value for key, value in item.items() if key == "id" or key in include}
    return {key: value for key, value in item.items() if key == "id" or key not in exclude}


def _page(items: list[dict[str, Any]], query: Mapping[str, str]) -> JSONResponse:
    """One page of `items` in the V3 collection shape."""
    page = _int(query["page"], "page") if "page" in query else 1
    limit = min(_int(query["limit"], "limit"), MAX_LIMIT) if "limit" in query else DEFAULT_LIMIT
    if page < 1 or limit < 1:
        raise StoreError(422, "The query parameters 'page' and 'limit' must be positive.")
    pages = max(1, -(-len(items) // limit))
    shown = [_fields(item, query) for item in items[(page - 1) * limit: page * limit]]
    kept = {key: value for key, value in query.items() if key not in ("page", "limit")}

    def link(number: int) -> str:
        return "?" + urlencode({**kept, "page": number, "limit": limit})

    links = {"current": link(page)}
    if page > 1:
        links["previous"] = link(page - 1)
    if page < pages:
        links["next"] = link(page + 1)
    return JSONResponse({"data": shown, "meta": {"pagination": {
        "total": len(items), "count": len(shown), "per_page": limit, "current_page": page, "total_pages": pages,
        "links": links, "too_many": False}}})


def _skus(query: Mapping[str, str]) -> set[str] | None:
    """The SKUs `sku` and `sku:in` ask for (casefolded), or None when neither is given."""
    wanted: set[str] | None = None
    if "sku" in query:
        wanted = {query["sku"].casefold()}
    if "sku:in" in query:
        listed = {part.casefold() for part in query["sku:in"].split(",") if part}
        wanted = listed if wanted is None else wanted & listed
    return wanted


def list_variants(catalog: Catalog, request: Request) -> Response:
    """`GET /v3/catalog/variants`."""
    query = request.query_params
    keep: list[Callable[[Product, Variant], bool]] = []
    if "id" in query:
        variant_id = _int(query["id"], "id")
        keep.append(lambda p, v: v.id == variant_id)
    skus = _skus(query)
    if skus is not None:
        keep.append(lambda p, v: v.sku.casefold() in skus)
    if "upc" in query:
        keep.append(lambda p, v: query["upc"] == "")
    if "product_id:in" in query:
        products = _ints(query["product_id:in"], "product_id:in")
        keep.append(lambda p, v: p.id in products)
    rows = [variant_json(catalog, p, v) for p, v in catalog.variants() if all(test(p, v) for test in keep)]
    return _page(rows, query)


def list_products(catalog: Catalog, request: Request) -> Response:
    """`GET /v3/catalog/products`."""
    query = request.query_params
    keep: list[Callable[[Product], bool]] = []
    if "id" in query:
        product_id = _int(query["id"], "id")
        keep.append(lambda p: p.id == product_id)
    if "id:in" in query:
        ids = _ints(query["id:in"], "id:in")
        keep.append(lambda p: p.id in ids)
    skus = _skus(query)
    if skus is not None:
        keep.append(lambda p: p.sku.casefold() in skus)
    if "name" in query:
        keep.append(lambda p: p.name == query["name"])
    if "is_visible" in query:
        visible = query["is_visible"].lower() in ("1", "true")
        keep.append(lambda p: p.is_visible == visible)
    if "availability" in query:
        keep.append(lambda p: p.availability == query["availability"])
    rows = [product_json(p) for _, p in sorted(catalog.products.items()) if all(test(p) for test in keep)]
    return _page(rows, query)


def store_json(store_hash: str, currency: str) -> dict[str, Any]:
    """`GET /v2/store`: the store information (its default currency in `currency`)."""
    return {
        "id": store_hash, "domain": f"{store_hash}.example.com", "secure_url": f"https://{store_hash}.example.com",
        "control_panel_base_url": f"https://store-{store_hash}.mybigcommerce.com", "status": "live",
        "name": f"Sandbox store {store_hash}", "first_name": "Sam", "last_name": "Seller", "address": "",
        "country": "United States", "country_code": "US", "phone": "", "admin_email": "seller@example.com",
        "order_email": "orders@example.com", "language": "en", "currency": currency,
        "currency_symbol": "$" if currency == "USD" else currency, "decimal_separator": ".",
        "thousands_separator": ",", "decimal_places": 2, "currency_symbol_location": "left",
        "weight_units": "Ounces", "dimension_units": "Inches", "plan_name": "Standard", "plan_level": "Standard",
        "is_price_entered_with_tax": False, "features": {"multi_storefront_enabled": False},
    }

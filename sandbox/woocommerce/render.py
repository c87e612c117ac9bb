"""The simulated store's objects as WooCommerce's REST JSON (wc/v3 orders and products, Shipment Tracking v3
items, core fulfillments), shaped after the documented responses (tests/fixtures/platform-specs/woocommerce/).

Dates: `date_*_gmt` fields are GMT, the others the site's local time; both without an offset, as WooCommerce
writes them (`2017-03-22T19:28:08`). Pure functions; nothing here raises for store objects.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox.woocommerce.catalog import CURRENCIES, Catalog
from sandbox.woocommerce.store import (
    PROVIDERS,
    Fulfillment,
    LineItem,
    Meta,
    Note,
    Order,
    Product,
    StoreError,
    TrackingItem,
    money,
    sanitize_title,
)


def wp_date(moment: datetime | None, offset: timedelta = timedelta()) -> str | None:
    """WordPress's REST date format (no offset) of a GMT moment shifted by `offset`."""
    return None if moment is None else (moment + offset).strftime("%Y-%m-%dT%H:%M:%S")


def error_json(error: StoreError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message, "data": {"status": error.status, **error.data}}


def meta_json(meta: Meta) -> dict[str, Any]:
    return {"id": meta.id, "key": meta.key, "value": meta.value}


def order_json(order: Order, base_url: str, offset: timedelta) -> dict[str, Any]:
    """GET /orders/{id}."""
    completed = order.date_modified if order.status == "completed" else None
    return {
        "id": order.id, "parent_id": 0, "number": str(order.id), "order_key": order.order_key,
        "created_via": order.created_via, "version": "9.9.0", "status": order.status, "currency": order.currency,
        "date_created": wp_date(order.date_created, offset), "date_created_gmt": wp_date(order.date_created),
        "date_modified": wp_date(order.date_modified, offset), "date_modified_gmt": wp_date(order.date_modified),
        "discount_total": "0.00", "discount_tax": "0.00", "shipping_total": money(order.shipping_total),
        "shipping_tax": "0.00", "cart_tax": "0.00", "total": money(order.total), "total_tax": "0.00",
        "prices_include_tax": False, "customer_id": 0, "customer_note": order.customer_note,
        "billing": dict(order.billing), "shipping": dict(order.shipping),
        "payment_method": "bacs", "payment_method_title": "Direct Bank Transfer", "transaction_id": "",
        "date_completed": wp_date(completed, offset), "date_completed_gmt": wp_date(completed),
        "meta_data": [meta_json(m) for m in order.meta],
        "line_items": [_line_json(line) for line in order.line_items],
        "tax_lines": [], "shipping_lines": [{**line, "taxes": [], "meta_data": []} for line in order.shipping_lines],
        "fee_lines": [], "coupon_lines": [], "refunds": [],
        "_links": {"self": [{"href": f"{base_url}/wp-json/wc/v3/orders/{order.id}"}],
                   "collection": [{"href": f"{base_url}/wp-json/wc/v3/orders"}]},
    }


def _line_json(line: LineItem) -> dict[str, Any]:
    """A line item; one without a product has product_id 0 and sku null. `price` is total / quantity (a number)."""
    price = float(line.total / line.quantity) if line.quantity else 0
    return {"id": line.id, "name": line.name, "product_id": line.product_id, "variation_id": line.variation_id,
            "quantity": line.quantity, "tax_class": "", "subtotal": money(line.subtotal), "subtotal_tax": "0.00",
            "total": money(line.total), "total_tax": "0.00", "taxes": [],
            "meta_data": [meta_json(m) for m in line.meta], "sku": line.sku or None, "price": price}


def product_json(product: Product, catalog: Catalog, base_url: str) -> dict[str, Any]:
    """GET /products (a product or, under a `sku` filter, a variation): `manage_stock`/`stock_quantity` are what
    the item's orders move (a variation under its parent's stock shows the parent's)."""
    holder = catalog.stock_holder(product)
    quantity = holder.stock_quantity if holder is not None else None
    in_stock = holder is None or (quantity or 0) > 0
    variations = [p.id for p in catalog.products.values() if p.parent_id == product.id]
    return {"id": product.id, "name": product.name, "slug": sanitize_title(product.name),
            "permalink": f"{base_url}/?p={product.id}", "type": product.type, "status": product.status,
            "sku": product.sku, "price": catalog.price(product), "regular_price": product.regular_price,
            "sale_price": "", "on_sale": False, "purchasable": catalog.purchasable(product),
            "parent_id": product.parent_id, "manage_stock": holder is not None, "stock_quantity": quantity,
            "stock_status": "instock" if in_stock else "outofstock", "backorders": "no",
            "variations": variations,
            "_links": {"self": [{"href": f"{base_url}/wp-json/wc/v3/products/{product.id}"}],
                       "collection": [{"href": f"{base_url}/wp-json/wc/v3/products"}]}}


def note_json(order_id: int, note: Note, base_url: str, offset: timedelta) -> dict[str, Any]:
    """GET /orders/{id}/notes: a note by a person names its author; the store's own are by "WooCommerce"."""
    route = f"{base_url}/wp-json/wc/v3/orders/{order_id}/notes"
    return {"id": note.id, "author": "admin" if note.added_by_user else "WooCommerce",
            "date_created": wp_date(note.date_created, offset), "date_created_gmt": wp_date(note.date_created),
            "note": note.note, "customer_note": note.customer_note,
            "_links": {"self": [{"href": f"{route}/{note.id}"}], "collection": [{"href": route}],
                       "up": [{"href": f"{base_url}/wp-json/wc/v3/orders/{order_id}"}]}}


def currency_json(code: str, base_url: str) -> dict[str, Any]:
    """GET /data/currencies/current and /data/currencies/{code}."""
    name, symbol = CURRENCIES[code]
    route = f"{base_url}/wp-json/wc/v3/data/currencies"
    return {"code": code, "name": name, "symbol": symbol,
            "_links": {"self": [{"href": f"{route}/{code}"}], "collection": [{"href": route}]}}


def tracking_json(order_id: int, item: TrackingItem, base_url: str) -> dict[str, Any]:
    """A Shipment Tracking item: `tracking_provider` is the provider's display name (or the custom name) and
    `tracking_link` the link built from the provider's template (or the custom link)."""
    name = next((n for n in PROVIDERS if sanitize_title(n) == item.provider_slug), "") if item.provider_slug else ""
    link = PROVIDERS[name].replace("%1$s", item.tracking_number).replace("%2$s", "") if name else item.custom_link
    route = f"{base_url}/wp-json/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings"
    return {"tracking_id": item.tracking_id, "tracking_provider": name or item.custom_provider,
            "tracking_link": link, "tracking_number": item.tracking_number,
            "date_shipped": item.date_shipped.isoformat(),
            "_links": {"self": [{"href": f"{route}/{item.tracking_id}"}], "collection": [{"href": route}],
                       "up": [{"href": f"{base_url}/wp-json/wc/v3/orders/{order_id}"}]}}


def fulfillment_json(fulfillment: Fulfillment) -> dict[str, Any]:
    """A core fulfillment; dates are GMT (the fulfillments table stores GMT)."""
    return {"id": fulfillment.id, "entity_type": "WC_Order", "entity_id": str(fulfillment.order_id),
            "status": fulfillment.status, "is_fulfilled": fulfillment.is_fulfilled,
            "date_updated": wp_date(fulfillment.date_updated), "date_deleted": wp_date(fulfillment.date_deleted),
            "meta_data": [meta_json(m) for m in fulfillment.meta]}


def pick_fields(document: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """WordPress's `_fields` parameter: keep only the named top-level fields (all when unset)."""
    if not fields:
        return document
    wanted = {name.strip().split(".")[0] for name in fields.split(",") if name.strip()}
    return {key: value for key, value in document.items() if key in wanted}

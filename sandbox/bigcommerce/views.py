"""The store's objects as BigCommerce V2 JSON (the shapes of `orders.v2.oas2.yml`: order_Resp, orderProducts,
orderShippingAddress, orderShipment). Dates are RFC-2822 in UTC, money is a string with four decimals."""

from __future__ import annotations

import email.utils
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.bigcommerce.store import PROVIDER_NAMES, STATUS_NAMES, BigCommerceStore, Order, OrderProduct, Shipment


def rfc2822(moment: datetime | None) -> str:
    return email.utils.format_datetime(moment) if moment is not None else ""


def order_json(order: Order, api_base: str) -> dict[str, Any]:
    total = sum(float(p.price) * p.quantity for p in order.products)
    money = f"{total:.4f}"
    return {
        "id": order.id, "customer_id": order.customer_id, "date_created": rfc2822(order.date_created),
        "date_modified": rfc2822(order.date_modified), "date_shipped": rfc2822(order.date_shipped),
        "status_id": order.status_id, "status": STATUS_NAMES[order.status_id], "subtotal_ex_tax": money,
        "subtotal_inc_tax": money, "subtotal_tax": "0.0000", "total_ex_tax": money, "total_inc_tax": money,
        "total_tax": "0.0000", "items_total": sum(p.quantity for p in order.products),
        "items_shipped": sum(p.quantity_shipped for p in order.products), "payment_method": "Manual",
        "payment_status": "captured", "refunded_amount": "0.0000", "order_is_digital": False,
        "staff_notes": order.staff_notes, "customer_message": "", "external_source": order.external_source,
        "external_id": None, "external_order_id": order.external_order_id or "", "channel_id": 1,
        "currency_code": "USD", "default_currency_code": "USD", "is_deleted": False,
        "billing_address": dict(order.billing_address), "shipping_address_count": len(order.addresses),
        "products": {"url": f"{api_base}/orders/{order.id}/products", "resource": f"/orders/{order.id}/products"},
        "shipping_addresses": {"url": f"{api_base}/orders/{order.id}/shipping_addresses",
                               "resource": f"/orders/{order.id}/shipping_addresses"},
        "coupons": {"url": f"{api_base}/orders/{order.id}/coupons", "resource": f"/orders/{order.id}/coupons"},
    }


def product_json(product: OrderProduct) -> dict[str, Any]:
    line_total = f"{float(product.price) * product.quantity:.4f}"
    return {
        "id": product.id, "order_id": product.order_id, "product_id": product.product_id,
        "order_address_id": product.order_address_id, "name": product.name, "name_customer": product.name,
        "name_merchant": product.name, "sku": product.sku, "type": "physical", "base_price": product.price,
        "price_ex_tax": product.price, "price_inc_tax": product.price, "price_tax": "0.0000",
        "base_total": line_total, "total_ex_tax": line_total, "total_inc_tax": line_total, "total_tax": "0.0000",
        "quantity": product.quantity, "is_refunded": product.quantity_refunded > 0,
        "quantity_refunded": product.quantity_refunded, "refund_amount": "0.0000", "return_id": 0,
        "quantity_shipped": product.quantity_shipped, "parent_order_product_id": None, "is_bundled_product": False,
        "external_id": None, "applied_discounts": [], "product_options": [], "configurable_fields": [],
    }


def address_json(store: BigCommerceStore, order: Order, index: int, api_base: str) -> dict[str, Any]:
    address = order.addresses[index]
    lines = [p for p in order.products if p.order_address_id == address.id]
    quotes = f"/orders/{order.id}/shipping_addresses/{address.id}/shipping_quotes"
    return {"id": address.id, "order_id": order.id, **address.fields,
            "items_total": sum(p.quantity for p in lines), "items_shipped": sum(p.quantity_shipped for p in lines),
            "shipping_method": address.shipping_method, "base_cost": "0.0000", "cost_ex_tax": "0.0000",
            "cost_inc_tax": "0.0000", "cost_tax": "0.0000", "cost_tax_class_id": 0, "base_handling_cost": "0.0000",
            "handling_cost_ex_tax": "0.0000", "handling_cost_inc_tax": "0.0000", "handling_cost_tax": "0.0000",
            "handling_cost_tax_class_id": 0, "shipping_zone_id": 1, "shipping_zone_name": "Everywhere",
            "shipping_quotes": {"url": f"{api_base}{quotes}", "resource": quotes}, "form_fields": []}


def shipment_json(store: BigCommerceStore, shipment: Shipment) -> dict[str, Any]:
    order = store.order(shipment.order_id)
    address = next((a for a in order.addresses if a.id == shipment.order_address_id), None)
    provider = shipment.tracking.get("shipping_provider", "")
    products = {p.id: p for p in order.products}
    return {
        "id": shipment.id, "order_id": order.id, "customer_id": order.customer_id,
        "order_address_id": shipment.order_address_id, "date_created": rfc2822(shipment.date_created),
        "tracking_number": shipment.tracking.get("tracking_number", ""),
        "merchant_shipping_cost": shipment.tracking.get("merchant_shipping_cost", "0.0000"),
        "shipping_method": shipment.tracking.get("shipping_method", "") or "None",
        "comments": shipment.tracking.get("comments", ""), "shipping_provider": provider,
        "tracking_carrier": shipment.tracking.get("tracking_carrier", ""),
        "tracking_link": shipment.tracking.get("tracking_link", ""),
        "billing_address": dict(order.billing_address),
        "shipping_address": dict(address.fields) if address else {},
        "items": [{"order_product_id": line, "product_id": products[line].product_id if line in products else 0,
                   "quantity": quantity} for line, quantity in shipment.items],
        "shipping_provider_display_name": PROVIDER_NAMES.get(provider, provider),
        "generated_tracking_link": store.generated_link(shipment),
    }


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """BigCommerce's V2 error shape: `[{"status": 4xx, "message": "..."}]`."""
    return JSONResponse([{"status": status, "message": message}], status_code=status, headers=headers)


def int_path(request: Request, name: str) -> int:
    """A path parameter the route declared as `{name:int}`."""
    return int(request.path_params[name])

"""The store's objects as BigCommerce V2 JSON (the shapes of `orders.v2.oas2.yml`: order_Resp, orderProducts,
orderShippingAddress, orderShipment). Dates are RFC-2822 in UTC, money is a string with four decimals."""

from __future__ import annotations

import email.utils
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.bigcommerce.store import PROVIDER_NAMES, STATUS_NAMES, BigCommerceStore, Order, OrderProduct, Shipment


def rfc2822(moment: datetime | None) -> str:
    return email.utils.format_datetime(moment) if moment is not None else ""


def _sum(amounts: list[Decimal]) -> str:
    return f"{sum(amounts, Decimal(0)):.4f}"


def order_json(order: Order, api_base: str) -> dict[str, Any]:
    subtotal_inc = _sum([Decimal(p.price) * p.quantity for p in order.products])
    subtotal_ex = _sum([Decimal(p.unit_ex_tax) * p.quantity for p in order.products])
    total_inc = _sum([Decimal(subtotal_inc), Decimal(order.shipping_inc_tax)])
    total_ex = _sum([Decimal(subtotal_ex), Decimal(order.shipping_ex_tax)])
    tax = _sum([Decimal(total_inc) - Decimal(total_ex)])
    return {
        "id": order.id, "customer_id": order.customer_id, "date_created": rfc2822(order.date_created),
        "date_modified": rfc2822(order.date_modified), "date_shipped": rfc2822(order.date_shipped),
        "status_id": order.status_id, "status": STATUS_NAMES[order.status_id], "subtotal_ex_tax": subtotal_ex,
        "subtotal_inc_tax": subtotal_inc, "subtotal_tax": _sum([Decimal(subtotal_inc) - Decimal(subtotal_ex)]),
        "base_shipping_cost": order.shipping_ex_tax, "shipping_cost_ex_tax": order.shipping_ex_tax,
        "shipping_cost_inc_tax": order.shipping_inc_tax,
        "shipping_cost_tax": _sum([Decimal(order.shipping_inc_tax) - Decimal(order.shipping_ex_tax)]),
        "total_ex_tax": total_ex, "total_inc_tax": total_inc, "total_tax": tax,
        "items_total": sum(p.quantity for p in order.products),
        "items_shipped": sum(p.quantity_shipped for p in order.products), "payment_method": "Manual",
        "payment_status": "captured", "refunded_amount": "0.0000", "order_is_digital": False,
        "staff_notes": order.staff_notes, "customer_message": "", "external_source": order.external_source,
        "external_id": None, "external_order_id": order.external_order_id or "", "channel_id": 1,
        "currency_code": order.currency, "default_currency_code": order.currency, "is_deleted": False,
        "billing_address": dict(order.billing_address), "shipping_address_count": len(order.addresses),
        "products": {"url": f"{api_base}/orders/{order.id}/products", "resource": f"/orders/{order.id}/products"},
        "shipping_addresses": {"url": f"{api_base}/orders/{order.id}/shipping_addresses",
                               "resource": f"/orders/{order.id}/shipping_addresses"},
        "coupons": {"url": f"{api_base}/orders/{order.id}/coupons", "resource": f"/orders/{order.id}/coupons"},
    }


def product_json(product: OrderProduct) -> dict[str, Any]:
    total_inc = _sum([Decimal(product.price) * product.quantity])
    total_ex = _sum([Decimal(product.unit_ex_tax) * product.quantity])
    return {
        "id": product.id, "order_id": product.order_id, "product_id": product.product_id,
        "variant_id": product.variant_id,
        "order_address_id": product.order_address_id, "name": product.name, "name_customer": product.name,
        "name_merchant": product.name, "sku": product.sku, "type": "physical", "base_price": product.unit_ex_tax,
        "price_ex_tax": product.unit_ex_tax, "price_inc_tax": product.price,
        "price_tax": _sum([Decimal(product.price) - Decimal(product.unit_ex_tax)]),
        "base_total": total_ex, "total_ex_tax": total_ex, "total_inc_tax": total_inc,
        "total_tax": _sum([Decimal(total_inc) - Decimal(total_ex)]),
        "quantity": product.quantity, "is_refunded": product.quantity_refunded > 0,
        "quantity_refunded": product.quantity_refunded, "refund_amount": "0.0000", "return_id": 0,
        "quantity_shipped": product.quantity_shipped, "parent_order_product_id": None, "is_bundled_product": False,
        "external_id": None, "applied_discounts": [], "configurable_fields": [],
        "product_options": [{"id": index + 1, "option_id": value.option_id, "order_product_id": product.id,
                             "product_option_id": value.option_id, "display_name": value.option_display_name,
                             "display_name_customer": value.option_display_name,
                             "display_name_merchant": value.option_display_name, "display_value": value.label,
                             "display_value_customer": value.label, "display_value_merchant": value.label,
                             "value": str(value.id), "type": "Multiple choice",
                             "name": value.option_display_name, "display_style": "Rectangle"}
                            for index, value in enumerate(product.options)],
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

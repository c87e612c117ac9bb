"""The affected order of a verified delivery, in the form each platform's connector reports `order_ref`.

Only a reference is taken from a payload: the receiver polls the order through the connector rather than
trusting what the body says about it. Anything unexpected gives None (no order named), never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.bigcommerce.parse import parse_webhook
from connectors.payload import PayloadError
from connectors.shopify.parse import rest_gid

SHOPIFY_ORDER_GID = "gid://shopify/Order/"


def _numeric_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return value.strip()
    return None


def _unwrapped(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The REST shape `{"order": {...}}` (how the examples and REST reads wrap it) or the bare webhook object."""
    if len(payload) == 1:
        inner = next(iter(payload.values()))
        if isinstance(inner, dict):
            return inner
    return payload


def shopify_order_ref(topic: str | None, payload: object) -> str | None:
    """`orders/*`: the order's GID (`admin_graphql_api_id`, else built from `id`), as the Shopify connector's
    parsers report it. Other topics (`fulfillments/*`, `refunds/create`, `fulfillment_orders/*`...): their
    `order_id` (numeric, or already a GID). None when the payload names no order."""
    if not isinstance(payload, dict):
        return None
    body = _unwrapped(payload)
    if topic is not None and topic.startswith("orders/"):
        try:
            ref = rest_gid("Order", body, "order")
        except PayloadError:
            return None
        return ref if ref.startswith(SHOPIFY_ORDER_GID) else None
    order_id = body.get("order_id")
    if isinstance(order_id, str) and order_id.startswith(SHOPIFY_ORDER_GID):
        return order_id
    numeric = _numeric_id(order_id)
    return f"{SHOPIFY_ORDER_GID}{numeric}" if numeric else None


def bigcommerce_order_ref(payload: object) -> str | None:
    """`store/order/*`: `data.id`; `store/shipment/*`: `data.orderId` — the numeric id as the BigCommerce
    connector reports it. None for other scopes or shapes."""
    try:
        return parse_webhook(payload).order_ref
    except PayloadError:
        return None


def woocommerce_order_ref(resource: str | None, topic: str | None, payload: object) -> str | None:
    """An `order.*` delivery (resource `order`): the order's `id` as the WooCommerce connector reports it.
    None for other resources (products, coupons, `action.*` topics) or a payload without an id."""
    is_order = resource == "order" or (resource is None and topic is not None and topic.startswith("order."))
    if not is_order or not isinstance(payload, dict):
        return None
    return _numeric_id(payload.get("id"))

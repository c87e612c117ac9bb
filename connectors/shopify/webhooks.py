"""Shopify webhooks: `X-Shopify-Hmac-Sha256` (or the events variant `shopify-hmac-sha256`) =
base64(HMAC-SHA256(secret, body)); delivery id `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`; topic
`X-Shopify-Topic` (docs/webhooks.md). Pure functions: see `connectors.platform.Webhooks` for the contract.

Shopify signs the body only (its `X-Shopify-Triggered-At` header is not signed), so an authentic delivery carries
the body's digest as `replay_key`: a captured body replayed with a new event id is then a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.payload import PayloadError, numeric_id
from connectors.shopify.parse import rest_gid
from connectors.webhook_signatures import body_digest, body_signature_valid, first_header
from connectors.webhook_verdicts import Authentic, Check, Refused

ORDER_GID = "gid://shopify/Order/"


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, tolerance: timedelta) -> Check:
    """The body's HMAC against `secret` (`now` and `tolerance` unused: Shopify signs no timestamp). The HMAC is
    computed even when the header is missing, so every refusal costs the same time."""
    received = first_header(headers, "x-shopify-hmac-sha256", "shopify-hmac-sha256")
    valid = body_signature_valid(secret, body, received or "")
    if received is None:
        return Refused("missing X-Shopify-Hmac-Sha256")
    if not valid:
        return Refused("X-Shopify-Hmac-Sha256 does not match the body")
    return Authentic(delivery_id=first_header(headers, "x-shopify-event-id", "shopify-event-id",
                                              "x-shopify-webhook-id", "shopify-webhook-id"),
                     topic=first_header(headers, "x-shopify-topic", "shopify-topic"), replay_key=body_digest(body))


def _unwrapped(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The REST shape `{"order": {...}}` (how the examples and REST reads wrap it) or the bare webhook object."""
    if len(payload) == 1:
        inner = next(iter(payload.values()))
        if isinstance(inner, dict):
            return inner
    return payload


def order_ref(topic: str | None, headers: Mapping[str, str], payload: object) -> str | None:
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
        return ref if ref.startswith(ORDER_GID) else None
    order_id = body.get("order_id")
    if isinstance(order_id, str) and order_id.startswith(ORDER_GID):
        return order_id
    numeric = numeric_id(order_id)
    return f"{ORDER_GID}{numeric}" if numeric else None

"""WooCommerce webhooks: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(secret, body)); delivery id
`X-WC-Webhook-Delivery-ID`; topic `X-WC-Webhook-Topic`. An unsigned body that is exactly `webhook_id=<digits>`
is the activation ping: `Ping`, acknowledged and handed nowhere; any other unsigned body is refused
(docs/webhooks.md). Pure functions: see `connectors.platform.Webhooks` for the contract.

WooCommerce signs the body only, so an authentic delivery carries the body's digest as `replay_key`: a captured
body replayed with a new delivery id is then a duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from connectors.payload import numeric_id
from connectors.webhook_signatures import body_digest, body_signature_valid, first_header
from connectors.webhook_verdicts import Authentic, Check, Ping, Refused

_PING = re.compile(rb"^webhook_id=(\d{1,20})$")


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, tolerance: timedelta) -> Check:
    """The body's HMAC against `secret`, or the activation ping (`now`, `tolerance` unused: no timestamp). The
    HMAC is computed even when the header is missing, so every refusal costs the same time."""
    received = first_header(headers, "x-wc-webhook-signature")
    valid = body_signature_valid(secret, body, received or "")
    if received is None:
        ping = _PING.match(body.strip())
        if ping and first_header(headers, "x-wc-webhook-topic") is None:
            return Ping(webhook_id=ping.group(1).decode())
        return Refused("missing X-WC-Webhook-Signature")
    if not valid:
        return Refused("X-WC-Webhook-Signature does not match the body")
    return Authentic(delivery_id=first_header(headers, "x-wc-webhook-delivery-id"),
                     topic=first_header(headers, "x-wc-webhook-topic"), replay_key=body_digest(body))


def order_ref(topic: str | None, headers: Mapping[str, str], payload: object) -> str | None:
    """An `order.*` delivery (`X-WC-Webhook-Resource: order`): the order's `id` as the WooCommerce connector
    reports it. None for other resources (products, coupons, `action.*` topics) or a payload without an id."""
    resource = first_header(headers, "x-wc-webhook-resource")
    is_order = resource == "order" or (resource is None and topic is not None and topic.startswith("order."))
    if not is_order or not isinstance(payload, dict):
        return None
    return numeric_id(payload.get("id"))

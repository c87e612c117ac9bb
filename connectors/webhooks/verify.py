"""`verify_delivery`: one webhook request (headers, raw body) against one connection's secret.

Per platform (API-NOTES §1.7, §2.5, §3.3):
- shopify: `X-Shopify-Hmac-Sha256` (or the events variant `shopify-hmac-sha256`) = base64(HMAC-SHA256(secret,
  body)); delivery id `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`; topic `X-Shopify-Topic`.
- woocommerce: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(secret, body)); delivery id
  `X-WC-Webhook-Delivery-ID`; topic `X-WC-Webhook-Topic`. An unsigned body that is exactly `webhook_id=<digits>`
  is the activation ping: `Ping`, acknowledged and handed nowhere. Any other unsigned body is refused.
- bigcommerce: Standard Webhooks `webhook-id`, `webhook-timestamp`, `webhook-signature`; the timestamp must lie
  within `tolerance` (default 5 minutes) of `now` either way; delivery id `webhook-id`; topic the body's `scope`.
- magento2 and manual connections have no verifiable webhooks: refused, as are unknown connections and those
  without a `webhook_secret`.

Never raises on anything a client can send; every problem is a `Refused` whose reason names no secret and no
signature. The body is parsed as JSON only after its signature is verified; a signed body that is not JSON is
still `Accepted` (it is authentic) with no order named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from connectors.webhooks import refs, signatures
from connectors.webhooks.verdict import Accepted, Ping, Refused, Verdict
from schemas.config import Connection

DEFAULT_TOLERANCE = timedelta(minutes=5)
_WOO_PING = re.compile(rb"^webhook_id=(\d{1,20})$")


def verify_delivery(connection: Connection | None, headers: Mapping[str, str], body: bytes, now: datetime,
                    tolerance: timedelta = DEFAULT_TOLERANCE) -> Verdict:
    """Verify one delivery for `connection` (None: the URL named no configured connection).

    `headers` may use any letter case; `body` is the raw request body, byte for byte; `now` is an aware
    datetime (only Standard Webhooks deliveries use it)."""
    if connection is None:
        return Refused("unknown connection")
    if connection.webhook_secret is None:
        return Refused(f"connection {connection.id} has no webhook_secret")
    secret = connection.webhook_secret.get_secret_value()
    if not secret:
        return Refused(f"connection {connection.id} has an empty webhook_secret")
    lower = {name.lower(): value for name, value in headers.items()}
    if connection.platform == "shopify":
        return _shopify(secret, lower, body)
    if connection.platform == "woocommerce":
        return _woocommerce(secret, lower, body)
    if connection.platform == "bigcommerce":
        return _bigcommerce(secret, lower, body, now, tolerance)
    return Refused(f"platform {connection.platform} sends no webhooks fulfillsync can verify")


def _first(headers: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = headers.get(name, "").strip()
        if value:
            return value
    return None


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None


def _shopify(secret: str, headers: Mapping[str, str], body: bytes) -> Verdict:
    received = _first(headers, "x-shopify-hmac-sha256", "shopify-hmac-sha256")
    if received is None:
        return Refused("missing X-Shopify-Hmac-Sha256")
    if not signatures.body_signature_valid(secret, body, received):
        return Refused("X-Shopify-Hmac-Sha256 does not match the body")
    topic = _first(headers, "x-shopify-topic", "shopify-topic")
    return Accepted(
        delivery_id=_first(headers, "x-shopify-event-id", "shopify-event-id", "x-shopify-webhook-id",
                           "shopify-webhook-id"),
        topic=topic, order_ref=refs.shopify_order_ref(topic, _json(body)))


def _woocommerce(secret: str, headers: Mapping[str, str], body: bytes) -> Verdict:
    received = _first(headers, "x-wc-webhook-signature")
    if received is None:
        ping = _WOO_PING.match(body.strip())
        if ping and _first(headers, "x-wc-webhook-topic") is None:
            return Ping(webhook_id=ping.group(1).decode())
        return Refused("missing X-WC-Webhook-Signature")
    if not signatures.body_signature_valid(secret, body, received):
        return Refused("X-WC-Webhook-Signature does not match the body")
    topic = _first(headers, "x-wc-webhook-topic")
    return Accepted(delivery_id=_first(headers, "x-wc-webhook-delivery-id"), topic=topic,
                    order_ref=refs.woocommerce_order_ref(_first(headers, "x-wc-webhook-resource"), topic,
                                                         _json(body)))


def _bigcommerce(secret: str, headers: Mapping[str, str], body: bytes, now: datetime,
                 tolerance: timedelta) -> Verdict:
    message_id = _first(headers, "webhook-id")
    timestamp = _first(headers, "webhook-timestamp")
    received = _first(headers, "webhook-signature")
    missing = [name for name, value in (("webhook-id", message_id), ("webhook-timestamp", timestamp),
                                        ("webhook-signature", received)) if value is None]
    if message_id is None or timestamp is None or received is None:
        return Refused(f"missing {', '.join(missing)}")
    problem = signatures.timestamp_problem(timestamp, now, tolerance)
    if problem is not None:
        return Refused(problem)
    try:
        key = signatures.standard_webhooks_key(secret)
    except ValueError as error:
        return Refused(f"webhook_secret unusable: {error}")
    if not signatures.standard_webhooks_signature_valid(key, message_id, timestamp, body, received):
        return Refused("no v1 entry of webhook-signature matches")
    payload = _json(body)
    scope = payload.get("scope") if isinstance(payload, dict) else None
    return Accepted(delivery_id=message_id, topic=scope if isinstance(scope, str) else None,
                    order_ref=refs.bigcommerce_order_ref(payload))

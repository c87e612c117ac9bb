"""BigCommerce webhooks: Standard Webhooks `webhook-id`, `webhook-timestamp`, `webhook-signature`; the timestamp
must lie within the tolerance of `now` either way; delivery id `webhook-id`; topic the body's `scope`
(docs/webhooks.md). Pure functions: see `connectors.platform.Webhooks` for the contract.

The signature covers the id and the timestamp, so a replay with a new id fails it and an old one fails the
window: no `replay_key` is needed (and none is set: two genuine deliveries may carry the same body).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from connectors.bigcommerce.parse import parse_webhook
from connectors.payload import PayloadError
from connectors.webhook_signatures import (
    dummy_key,
    first_header,
    standard_webhooks_key,
    standard_webhooks_signature_valid,
    timestamp_problem,
)
from connectors.webhook_verdicts import Authentic, Check, Refused


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, tolerance: timedelta) -> Check:
    """The Standard Webhooks signature against `secret`, and the timestamp within `tolerance` of `now`. The HMAC
    is computed on every path (missing headers, a bad timestamp, an unusable secret), so every refusal costs the
    same time."""
    message_id = first_header(headers, "webhook-id")
    timestamp = first_header(headers, "webhook-timestamp")
    received = first_header(headers, "webhook-signature")
    try:
        key, key_problem = standard_webhooks_key(secret), None
    except ValueError as error:
        key, key_problem = dummy_key(), f"webhook_secret unusable: {error}"
    valid = standard_webhooks_signature_valid(key, message_id or "", timestamp or "", body, received or "")
    if message_id is None or timestamp is None or received is None:
        missing = [name for name, value in (("webhook-id", message_id), ("webhook-timestamp", timestamp),
                                            ("webhook-signature", received)) if value is None]
        return Refused(f"missing {', '.join(missing)}")
    problem = timestamp_problem(timestamp, now, tolerance)
    if problem is not None:
        return Refused(problem)
    if key_problem is not None:
        return Refused(key_problem)
    if not valid:
        return Refused("no v1 entry of webhook-signature matches")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # authentic, but not JSON (or nested too deep to parse): no topic
        payload = None
    scope = payload.get("scope") if isinstance(payload, dict) else None
    return Authentic(delivery_id=message_id, topic=scope if isinstance(scope, str) else None)


def order_ref(topic: str | None, headers: Mapping[str, str], payload: object) -> str | None:
    """`store/order/*`: `data.id`; `store/shipment/*`: `data.orderId`: the numeric id as the BigCommerce
    connector reports it. None for other scopes or shapes, and for numbers no id or time can be (an infinite
    or NaN id, a `created_at` beyond the platform's time range). Never raises."""
    try:
        return parse_webhook(payload).order_ref
    except (PayloadError, ValueError, OverflowError, OSError):  # OverflowError, OSError: datetime.fromtimestamp
        return None

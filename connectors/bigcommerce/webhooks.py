"""BigCommerce webhooks: Standard Webhooks `webhook-id`, `webhook-timestamp`, `webhook-signature`; the timestamp
must lie within the tolerance of `now` either way; delivery id `webhook-id`; topic the body's `scope`
(docs/webhooks.md). Pure functions: see `connectors.platform.Webhooks` for the contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from connectors.bigcommerce.parse import parse_webhook
from connectors.payload import PayloadError
from connectors.webhook_signatures import (
    first_header,
    standard_webhooks_key,
    standard_webhooks_signature_valid,
    timestamp_problem,
)
from connectors.webhook_verdicts import Authentic, Check, Refused


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, tolerance: timedelta) -> Check:
    """The Standard Webhooks signature against `secret`, and the timestamp within `tolerance` of `now`."""
    message_id = first_header(headers, "webhook-id")
    timestamp = first_header(headers, "webhook-timestamp")
    received = first_header(headers, "webhook-signature")
    if message_id is None or timestamp is None or received is None:
        missing = [name for name, value in (("webhook-id", message_id), ("webhook-timestamp", timestamp),
                                            ("webhook-signature", received)) if value is None]
        return Refused(f"missing {', '.join(missing)}")
    problem = timestamp_problem(timestamp, now, tolerance)
    if problem is not None:
        return Refused(problem)
    try:
        key = standard_webhooks_key(secret)
    except ValueError as error:
        return Refused(f"webhook_secret unusable: {error}")
    if not standard_webhooks_signature_valid(key, message_id, timestamp, body, received):
        return Refused("no v1 entry of webhook-signature matches")
    try:
        payload = json.loads(body)
    except ValueError:  # authentic, but not JSON: no topic
        payload = None
    scope = payload.get("scope") if isinstance(payload, dict) else None
    return Authentic(delivery_id=message_id, topic=scope if isinstance(scope, str) else None)


def order_ref(topic: str | None, headers: Mapping[str, str], payload: object) -> str | None:
    """`store/order/*`: `data.id`; `store/shipment/*`: `data.orderId`: the numeric id as the BigCommerce
    connector reports it. None for other scopes or shapes."""
    try:
        return parse_webhook(payload).order_ref
    except PayloadError:
        return None

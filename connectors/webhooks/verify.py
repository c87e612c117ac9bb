"""`verify_delivery`: one webhook request (headers, raw body) against one connection's secret.

Each platform's scheme lives in its package (`connectors/<platform>/webhooks.py`, listed by its
`PlatformDescription.webhooks`); what each platform sends is in docs/webhooks.md. A platform whose description
has no webhooks (Magento 2), `manual` connections, unknown connections and those without a `webhook_secret`
are refused, after the same HMAC work a configured connection does (`dummy_verification`), so the answer time
does not tell which connection ids exist or have a secret.

Never raises on anything a client can send; every problem is a `Refused` whose reason names no secret and no
signature. The body is parsed as JSON only after its signature is verified; a signed body that is not JSON (or
nested too deep to parse) is still `Accepted` (it is authentic) with no order named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from connectors.registry import platform_description
from connectors.webhook_signatures import dummy_verification, first_header
from connectors.webhook_verdicts import Accepted, Authentic, Refused, Verdict
from schemas.config import Connection

DEFAULT_TOLERANCE = timedelta(minutes=5)
"""How far a signed timestamp (Standard Webhooks) may lie from `now`, either way."""

_ANY_SIGNATURE = ("x-shopify-hmac-sha256", "shopify-hmac-sha256", "x-wc-webhook-signature", "webhook-signature")


def verify_delivery(connection: Connection | None, headers: Mapping[str, str], body: bytes, now: datetime,
                    tolerance: timedelta = DEFAULT_TOLERANCE) -> Verdict:
    """Verify one delivery for `connection` (None: the URL named no configured connection).

    `headers` may use any letter case; `body` is the raw request body, byte for byte; `now` is an aware
    datetime (only schemes that sign a timestamp use it). Exactly one HMAC over the body is computed whatever
    the outcome."""
    lower = {name.lower(): value for name, value in headers.items()}
    if connection is None:
        return _without_secret(lower, body, "unknown connection")
    if connection.webhook_secret is None:
        return _without_secret(lower, body, f"connection {connection.id} has no webhook_secret")
    secret = connection.webhook_secret.get_secret_value()
    if not secret:
        return _without_secret(lower, body, f"connection {connection.id} has an empty webhook_secret")
    description = platform_description(connection.platform)
    if description is None or description.webhooks is None:
        return _without_secret(lower, body, f"platform {connection.platform} sends no webhooks fulfillsync can "
                                            "verify")
    check = description.webhooks.verify(secret, lower, body, now, tolerance)
    if not isinstance(check, Authentic):
        return check
    return Accepted(delivery_id=check.delivery_id, topic=check.topic,
                    order_ref=description.webhooks.order_ref(check.topic, lower, _json(body)),
                    replay_key=check.replay_key)


def _without_secret(headers: Mapping[str, str], body: bytes, reason: str) -> Refused:
    """Refuse, after the HMAC work a configured connection would have done."""
    dummy_verification(body, first_header(headers, *_ANY_SIGNATURE))
    return Refused(reason)


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None

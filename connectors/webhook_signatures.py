"""The two webhook signature schemes, as pure functions over bytes, and header lookup. Every comparison is
constant-time. Each platform's verifier (`connectors/<platform>/webhooks.py`) is built from these.

- Shopify and WooCommerce: base64(HMAC-SHA256(secret, raw body)) in one header.
- Standard Webhooks (BigCommerce): base64(HMAC-SHA256(key, f"{id}.{timestamp}.".encode() + body)) in
  `webhook-signature`, a space-separated list of `v1,<base64>` entries (several during a secret rotation).

Written with `hmac` rather than the `standardwebhooks` package: that package reads the wall clock itself and
fixes the tolerance at 5 minutes, while fulfillsync passes the clock in (tests, replays) and keeps the window
configurable; the whole scheme is a dozen lines of the standard library and is checked against the
specification's published test vector in the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 - the documented prefix of Standard Webhooks secrets, not a secret


def first_header(headers: Mapping[str, str], *names: str) -> str | None:
    """The first of `names` (lower case) that `headers` (keys lower-cased) holds with a non-blank value, stripped;
    None when none does."""
    for name in names:
        value = headers.get(name, "").strip()
        if value:
            return value
    return None


def _digest_b64(key: bytes, message: bytes) -> bytes:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())


def _ascii(received: str) -> bytes:
    # Attacker-controlled text: never let an odd character turn into an exception instead of a refusal.
    return received.strip().encode("utf-8", "replace")


def body_signature_valid(secret: str, body: bytes, received: str) -> bool:
    """Whether `received` is base64(HMAC-SHA256(secret, body)) (Shopify, WooCommerce). Constant-time."""
    return hmac.compare_digest(_digest_b64(secret.encode(), body), _ascii(received))


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: `whsec_<base64>` decoded, any other text used as it is (the
    BigCommerce app client secret, which its docs base64-encode only to hand it to the library that decodes it).
    Raises ValueError (without the secret in the message) when a `whsec_` secret is not valid base64."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except binascii.Error:
        raise ValueError("a whsec_ secret must be base64 after its prefix") from None


def standard_webhooks_signature_valid(key: bytes, message_id: str, timestamp: str, body: bytes,
                                      received: str) -> bool:
    """Whether any `v1,<base64>` entry of the `webhook-signature` header `received` signs
    `{message_id}.{timestamp}.{body}` with `key`. Entries of other versions (`v1a` asymmetric) are ignored.
    Every v1 entry is compared in constant time, the loop does not stop at the first match."""
    expected = _digest_b64(key, f"{message_id}.{timestamp}.".encode() + body)
    found = False
    for entry in received.split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(expected, _ascii(signature)):
            found = True
    return found


def timestamp_problem(timestamp: str, now: datetime, tolerance: timedelta) -> str | None:
    """Why the Standard Webhooks `webhook-timestamp` (Unix seconds) is unacceptable at `now`, or None when it
    lies within `tolerance` either side (older: a replay; newer: a clock far ahead, refused too)."""
    text = timestamp.strip()
    if not text.isascii() or not text.isdigit():
        return "webhook-timestamp is not a Unix time in seconds"
    age = now.timestamp() - int(text)
    if age > tolerance.total_seconds():
        return f"webhook-timestamp is {age:.0f}s old, beyond the {tolerance.total_seconds():.0f}s window"
    if -age > tolerance.total_seconds():
        return f"webhook-timestamp is {-age:.0f}s in the future, beyond the {tolerance.total_seconds():.0f}s window"
    return None

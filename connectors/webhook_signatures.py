"""The two webhook signature schemes, as pure functions over bytes, and header lookup. Every comparison is
constant-time. Each platform's verifier (`connectors/<platform>/webhooks.py`) is built from these.

- Shopify and WooCommerce: base64(HMAC-SHA256(secret, raw body)) in one header.
- Standard Webhooks (BigCommerce): base64(HMAC-SHA256(key, f"{id}.{timestamp}.".encode() + body)) in
  `webhook-signature`, a space-separated list of `v1,<base64>` entries (several during a secret rotation).

Every HMAC goes through `hmac_sha256_b64`, and every verification path computes exactly one, whether the
connection exists, has a secret, or the request carries a signature at all (`dummy_verification` for the paths
that have no secret): a caller cannot tell from the answer time which connection ids are configured.

Header text is attacker-controlled: aiohttp decodes header bytes as UTF-8 with `surrogateescape`, so text is
turned back into the bytes received with `wire_bytes`, which never raises.

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
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 - the documented prefix of Standard Webhooks secrets, not a secret

MAX_TIMESTAMP_DIGITS = 12
"""The most digits a `webhook-timestamp` may have (Unix seconds reach 12 digits in the year 33658): longer text
is refused before it is turned into a number, so no length of digits can overflow a float or hit Python's
integer-string limit."""

_DUMMY_KEY = secrets.token_bytes(32)  # per process: the key of the HMAC computed when there is no secret


def first_header(headers: Mapping[str, str], *names: str) -> str | None:
    """The first of `names` (lower case) that `headers` (keys lower-cased) holds with a non-blank value, stripped;
    None when none does."""
    for name in names:
        value = headers.get(name, "").strip()
        if value:
            return value
    return None


def wire_bytes(text: str) -> bytes:
    """`text` as the bytes that were received: UTF-8 with `surrogateescape` (how aiohttp decodes header bytes);
    text that cannot be encoded that way (lone surrogates outside that range) is encoded with replacement
    characters instead, so it can only fail a comparison. Never raises."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def hmac_sha256_b64(key: bytes, message: bytes) -> bytes:
    """base64(HMAC-SHA256(key, message)): the one HMAC computation of every scheme (the tests count its calls)."""
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())


def body_digest(body: bytes) -> str:
    """The SHA-256 of a raw body, hex: how a replayed Shopify or WooCommerce body is recognised."""
    return hashlib.sha256(body).hexdigest()


def dummy_verification(body: bytes, received: str | None) -> bool:
    """The work of `body_signature_valid` against a random per-process key, for the requests that have no secret
    to check against (unknown connection, no or empty secret, a platform fulfillsync cannot verify): they take as
    long as a wrong signature on a configured connection. Always False in practice (the key is never shared)."""
    return hmac.compare_digest(hmac_sha256_b64(_DUMMY_KEY, body), wire_bytes((received or "").strip()))


def body_signature_valid(secret: str, body: bytes, received: str) -> bool:
    """Whether `received` is base64(HMAC-SHA256(secret, body)) (Shopify, WooCommerce). Constant-time; computes
    the HMAC whatever `received` is (an empty string when the header is missing). Never raises."""
    return hmac.compare_digest(hmac_sha256_b64(secret.encode(), body), wire_bytes(received.strip()))


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


def dummy_key() -> bytes:
    """The per-process random key `dummy_verification` uses, for a verifier that must spend one HMAC although
    its secret is unusable."""
    return _DUMMY_KEY


def standard_webhooks_signature_valid(key: bytes, message_id: str, timestamp: str, body: bytes,
                                      received: str) -> bool:
    """Whether any `v1,<base64>` entry of the `webhook-signature` header `received` signs
    `{message_id}.{timestamp}.{body}` with `key`. Entries of other versions (`v1a` asymmetric) are ignored.
    The HMAC is computed once whatever the header holds (empty strings for missing headers); every v1 entry is
    compared in constant time, the loop does not stop at the first match. Never raises."""
    expected = hmac_sha256_b64(key, wire_bytes(message_id) + b"." + wire_bytes(timestamp) + b"." + body)
    found = False
    for entry in received.split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(expected, wire_bytes(signature.strip())):
            found = True
    return found


def timestamp_problem(timestamp: str, now: datetime, tolerance: timedelta) -> str | None:
    """Why the Standard Webhooks `webhook-timestamp` (Unix seconds) is unacceptable at `now`, or None when it
    lies within `tolerance` either side (older: a replay; newer: a clock far ahead, refused too). Text that is
    not ASCII digits, or longer than `MAX_TIMESTAMP_DIGITS`, is a problem, never an exception."""
    text = timestamp.strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_TIMESTAMP_DIGITS:
        return "webhook-timestamp is not a Unix time in seconds"
    age = now.timestamp() - int(text)
    if age > tolerance.total_seconds():
        return f"webhook-timestamp is {age:.0f}s old, beyond the {tolerance.total_seconds():.0f}s window"
    if -age > tolerance.total_seconds():
        return f"webhook-timestamp is {-age:.0f}s in the future, beyond the {tolerance.total_seconds():.0f}s window"
    return None

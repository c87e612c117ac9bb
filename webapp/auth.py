"""Passwords, sessions, form tokens and sign-in throttling for the web app. Pure: the clock and randomness come in
as arguments where they matter, nothing here does I/O.

Password hashes are self-describing text, `scrypt$n=<N>,r=<r>,p=<p>$<salt>$<hash>`: `hashlib.scrypt` with cost N
(a power of two), block size r and parallelism p, a random 16-byte salt and a 32-byte key, both base64url without
padding. The parameters travel with the hash, so raising the cost later leaves existing hashes valid.

A session is a signed cookie, `<payload>.<signature>`: the payload is base64url JSON (connection id or none for a
visitor who has not signed in yet, issue time, a random nonce), the signature HMAC-SHA256 over it with the
configured `web.session_secret`. Nothing is stored server-side; a session expires `session_ttl` after sign-in.
The CSRF token of a session is HMAC(secret, "csrf" + nonce): bound to that session, it cannot be reused with
another one, and a new nonce at sign-in changes it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 128 * 1024 * 1024
_HASH = re.compile(r"^scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)=*\$([A-Za-z0-9_-]+)=*$")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P,
                  salt: bytes | None = None) -> str:
    """The self-describing scrypt hash of `password` (see the module doc). ValueError for an empty password."""
    if not password:
        raise ValueError("the password is empty")
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt$n={n},r={r},p={p}${_b64encode(salt)}${_b64encode(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches `encoded`; False for a wrong password or a malformed hash (never raises)."""
    match = _HASH.match(encoded)
    if match is None:
        return False
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    try:
        salt, expected = _b64decode(match.group(4)), _b64decode(match.group(5))
        key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM,
                             dklen=len(expected))
    except (ValueError, binascii.Error, MemoryError):
        return False
    return hmac.compare_digest(key, expected)


# -- sessions ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """Who holds the cookie: `connection_id` None for a visitor who has not signed in (it still has a nonce, so the
    sign-in form has a CSRF token)."""

    connection_id: str | None
    issued_at: datetime
    nonce: str

    @staticmethod
    def new(connection_id: str | None, now: datetime) -> Session:
        return Session(connection_id, now, secrets.token_urlsafe(16))


def _sign(secret: str, data: bytes) -> str:
    return _b64encode(hmac.new(secret.encode(), data, hashlib.sha256).digest())


def encode_session(session: Session, secret: str) -> str:
    """The cookie value for `session`."""
    payload = json.dumps({"c": session.connection_id, "t": session.issued_at.timestamp(), "n": session.nonce},
                         separators=(",", ":")).encode()
    body = _b64encode(payload)
    return f"{body}.{_sign(secret, body.encode())}"


def decode_session(value: str, secret: str, *, now: datetime, ttl: timedelta) -> Session | None:
    """The session in a cookie value; None when it is malformed, its signature is wrong, or it is older than `ttl`
    (or from the future by more than a minute: a clock step must not make a session immortal)."""
    body, _, signature = value.partition(".")
    if not body or not hmac.compare_digest(signature.encode(), _sign(secret, body.encode()).encode()):
        return None
    try:
        payload = json.loads(_b64decode(body))
        connection_id, issued, nonce = payload["c"], float(payload["t"]), str(payload["n"])
        issued_at = datetime.fromtimestamp(issued, tz=now.tzinfo)
    except (ValueError, KeyError, TypeError, binascii.Error, OverflowError):
        return None
    if connection_id is not None and not isinstance(connection_id, str):
        return None
    if not now - ttl < issued_at <= now + timedelta(minutes=1):
        return None
    return Session(connection_id, issued_at, nonce)


def csrf_token(session: Session, secret: str) -> str:
    """The token every form of this session carries."""
    return _sign(secret, b"csrf\x1f" + session.nonce.encode())


def csrf_valid(session: Session, secret: str, token: str) -> bool:
    return hmac.compare_digest(token.encode(), csrf_token(session, secret).encode())


# -- sign-in throttling --------------------------------------------------------------------------------------------


@dataclass
class _Failures:
    count: int
    last: float  # monotonic seconds


class SignInThrottle:
    """Slows down password guessing: after each failed sign-in for an account or from a client address, that key
    must wait `base_s * 2**(failures - 1)` seconds (at most `max_s`) before its next attempt is even checked.
    A success clears the account's count (not the address's: one right password must not unlock guessing others).
    In memory, per web process; a key forgotten after `forget_s` without failures. Times are monotonic seconds."""

    def __init__(self, *, base_s: float = 1.0, max_s: float = 300.0, forget_s: float = 3600.0,
                 max_keys: int = 100_000) -> None:
        self._base, self._max, self._forget, self._max_keys = base_s, max_s, forget_s, max_keys
        self._failures: dict[str, _Failures] = {}

    def _delay(self, failures: _Failures) -> float:
        return min(self._max, self._base * float(2 ** min(failures.count - 1, 30)))

    def retry_after(self, account: str, address: str, now: float) -> float:
        """Seconds until an attempt for `account` from `address` may be checked; 0 when it may be now."""
        waits = [0.0]
        for key in (f"account:{account}", f"address:{address}"):
            failures = self._failures.get(key)
            if failures is not None:
                waits.append(failures.last + self._delay(failures) - now)
        return max(waits)

    def failed(self, account: str, address: str, now: float) -> None:
        self._prune(now)
        for key in (f"account:{account}", f"address:{address}"):
            failures = self._failures.setdefault(key, _Failures(0, now))
            failures.count += 1
            failures.last = now

    def succeeded(self, account: str) -> None:
        self._failures.pop(f"account:{account}", None)

    def _prune(self, now: float) -> None:
        if len(self._failures) + 2 <= self._max_keys:  # room for the two keys of this failure
            return
        for key, failures in list(self._failures.items()):
            if now - failures.last > self._forget:
                del self._failures[key]
        while self._failures and len(self._failures) + 2 > self._max_keys:  # still full: drop the oldest
            del self._failures[min(self._failures, key=lambda key: self._failures[key].last)]

"""Passwords, sessions, form tokens and sign-in throttling for the web app. Pure: the clock and randomness come in
as arguments where they matter, nothing here does I/O.

Password hashes are self-describing text, `scrypt$n=<N>,r=<r>,p=<p>$<salt>$<hash>`: `hashlib.scrypt` with cost N
(a power of two), block size r and parallelism p, a random 16-byte salt and a 32-byte key, both base64url without
padding. The parameters travel with the hash, so raising the cost later leaves existing hashes valid. New hashes use
N=2^17, r=8, p=1: the minimum OWASP's Password Storage Cheat Sheet recommends for scrypt (about 128 MiB and a few
hundred milliseconds per check).

A session is a signed cookie, `<payload>.<signature>`: the payload is base64url JSON (connection id or none for a
visitor who has not signed in yet, issue time, a random nonce that is also the session's id), the signature
HMAC-SHA256 over it with the configured `web.session_secret`. A session expires `session_ttl` after sign-in; signing
out revokes it on the server (`RevokedSessions`, in memory), so a copy of the cookie stops working too.
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
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SCRYPT_N = 2**17  # OWASP Password Storage Cheat Sheet: scrypt with N at least 2^17, r 8, p 1
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 512 * 1024 * 1024  # room for N=2^18 at r=8 (256 MiB); a hash needing more never verifies
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


def scrypt_parameters(encoded: str) -> tuple[int, int, int] | None:
    """(N, r, p) of a hash in the format above; None when it is malformed."""
    match = _HASH.match(encoded)
    return None if match is None else (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def dummy_hash(encoded_hashes: Iterable[str]) -> str:
    """A hash of a random password with the scrypt parameters most of `encoded_hashes` carry (today's defaults when
    none is well-formed; the strongest among equally common ones): checking a password against it for an unknown
    account costs what checking a known account's costs, so the answer's timing does not tell them apart."""
    counts = Counter(found for encoded in encoded_hashes if (found := scrypt_parameters(encoded)) is not None)
    n, r, p = max(counts, key=lambda params: (counts[params], params)) if counts else (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return hash_password(secrets.token_urlsafe(24), n=n, r=r, p=p)


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


# -- form keys (idempotency) ---------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FORM_KEY = re.compile(r"^([0-9a-f]{32})\.(\d{1,20})\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class FormKey:
    """One rendering of a form: `form_id` (random, 32 hex digits) and when it was rendered. Sending the same
    rendering twice sends the same key, so the web app can make the same event of it."""

    form_id: str
    rendered_at: datetime


def new_form_key(session: Session, secret: str, purpose: str, now: datetime) -> str:
    """The hidden `form_key` of a form rendered now for `session`, `purpose` naming what the form does (e.g. the
    order id and the fulfillment id it edits): `<form id>.<microseconds since 1970>.<HMAC>`. The HMAC binds it to
    the session's nonce and the purpose, so it cannot be made up, nor moved to another session or form."""
    form_id = secrets.token_hex(16)
    micros = (now - _EPOCH) // timedelta(microseconds=1)
    return f"{form_id}.{micros}.{_form_mac(session, secret, purpose, form_id, micros)}"


def read_form_key(value: str, session: Session, secret: str, purpose: str) -> FormKey | None:
    """The key `new_form_key` made for this session and purpose; None when it is missing, malformed, forged, or
    made for another session or purpose (never raises)."""
    match = _FORM_KEY.match(value)
    if match is None:
        return None
    form_id, micros = match.group(1), int(match.group(2))
    if not hmac.compare_digest(match.group(3), _form_mac(session, secret, purpose, form_id, micros)):
        return None
    try:
        return FormKey(form_id, _EPOCH + timedelta(microseconds=micros))
    except OverflowError:
        return None


def _form_mac(session: Session, secret: str, purpose: str, form_id: str, micros: int) -> str:
    return _sign(secret, "\x1f".join(("form", session.nonce, purpose, form_id, str(micros))).encode())


class RevokedSessions:
    """Sessions signed out before they expired, so a copy of their cookie is refused too. In memory, per web process
    (a restart forgets them: their cookies work again until they expire; docs/webapp.md).

    Bounded: at most `max_ids` session ids, each kept until its session would have expired anyway (`issued_at +
    ttl`). When full of unexpired ids, the one expiring first is folded into a per-account cutoff: every session of
    that account issued up to then counts as revoked (it signs out more than asked, never less). There is one cutoff
    per signed-in connection id at most, so the memory stays bounded whatever the number of sign-outs."""

    def __init__(self, *, max_ids: int = 100_000) -> None:
        self._max_ids = max_ids
        self._ids: dict[str, tuple[datetime, str | None, datetime]] = {}  # nonce -> (expires, account, issued)
        self._cutoffs: dict[str, datetime] = {}  # account -> sessions issued up to then are revoked

    def revoke(self, session: Session, *, now: datetime, ttl: timedelta) -> None:
        """Refuse `session` from now on (until `issued_at + ttl`, after which it is refused as expired anyway)."""
        self._prune(now, ttl)
        while len(self._ids) >= self._max_ids:
            nonce = min(self._ids, key=lambda key: self._ids[key][0])
            _, account, issued = self._ids.pop(nonce)
            if account is not None:
                self._cutoffs[account] = max(issued, self._cutoffs.get(account, issued))
        self._ids[session.nonce] = (session.issued_at + ttl, session.connection_id, session.issued_at)

    def is_revoked(self, session: Session) -> bool:
        if session.nonce in self._ids:
            return True
        cutoff = self._cutoffs.get(session.connection_id) if session.connection_id is not None else None
        return cutoff is not None and session.issued_at <= cutoff

    def __len__(self) -> int:
        return len(self._ids) + len(self._cutoffs)

    def _prune(self, now: datetime, ttl: timedelta) -> None:
        if len(self._ids) >= self._max_ids:
            for nonce in [nonce for nonce, (expires, _, _) in self._ids.items() if expires <= now]:
                del self._ids[nonce]
        for account in [account for account, cutoff in self._cutoffs.items() if cutoff + ttl <= now]:
            del self._cutoffs[account]


# -- sign-in throttling --------------------------------------------------------------------------------------------


@dataclass
class _Failures:
    count: int
    last: float  # monotonic seconds


class SignInThrottle:
    """Slows down password guessing: after each failed sign-in for an account or from a client address, that key
    must wait `base_s * 2**(failures - 1)` seconds (at most `max_s`) before its next attempt is even checked.

    An attempt is counted when it starts (`begin`), before its password is checked, so attempts sent at the same
    moment cannot all pass in one window: the first is counted and the others must wait. A success (`succeeded`)
    then clears the account's count and takes back its own count on the address (not the address's earlier
    failures: one right password must not unlock guessing others). In memory, per web process; a key forgotten
    after `forget_s` without failures. Times are monotonic seconds."""

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

    def begin(self, account: str, address: str, now: float) -> float:
        """Start an attempt: 0 when it may be checked now, and it is then already counted as a failure (until
        `succeeded` says otherwise); else the seconds to wait, and nothing is counted. Atomic for asyncio callers
        (no await inside), so concurrent attempts see each other's counts."""
        wait = self.retry_after(account, address, now)
        if wait <= 0:
            self.failed(account, address, now)
        return max(wait, 0.0)

    def failed(self, account: str, address: str, now: float) -> None:
        """Count one failed attempt for `account` and for `address`."""
        self._prune(now)
        for key in (f"account:{account}", f"address:{address}"):
            failures = self._failures.setdefault(key, _Failures(0, now))
            failures.count += 1
            failures.last = now

    def succeeded(self, account: str, address: str | None = None) -> None:
        """The password was right: clear the account's count and, given the `address` of an attempt counted by
        `begin`, take that attempt back from the address's count (its earlier failures stay)."""
        self._failures.pop(f"account:{account}", None)
        failures = self._failures.get(f"address:{address}") if address is not None else None
        if failures is not None:
            failures.count -= 1
            if failures.count <= 0:
                del self._failures[f"address:{address}"]

    def _prune(self, now: float) -> None:
        if len(self._failures) + 2 <= self._max_keys:  # room for the two keys of this failure
            return
        for key, failures in list(self._failures.items()):
            if now - failures.last > self._forget:
                del self._failures[key]
        while self._failures and len(self._failures) + 2 > self._max_keys:  # still full: drop the oldest
            del self._failures[min(self._failures, key=lambda key: self._failures[key].last)]

"""Passwords, signed sessions, CSRF tokens and sign-in throttling (webapp.auth), without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.config import PASSWORD_HASH_FORMAT
from webapp.auth import (
    Session,
    SignInThrottle,
    csrf_token,
    csrf_valid,
    decode_session,
    encode_session,
    hash_password,
    verify_password,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = "s" * 40
TTL = timedelta(hours=12)


def test_a_password_hash_is_self_describing_and_verifies_only_its_password() -> None:
    encoded = hash_password("correct horse", n=2**10)
    assert encoded.startswith("scrypt$n=1024,r=8,p=1$")
    assert PASSWORD_HASH_FORMAT.match(encoded)
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsf", encoded)
    assert hash_password("correct horse", n=2**10) != encoded  # a new salt each time


@pytest.mark.parametrize("encoded", ["", "plain-password", "scrypt$n=1024,r=8,p=1$@@@$abc",
                                     "scrypt$n=3,r=8,p=1$c2FsdA$aGFzaA", "bcrypt$2b$12$abc"])
def test_a_malformed_hash_never_verifies_and_never_raises(encoded: str) -> None:
    assert not verify_password("anything", encoded)


def test_an_empty_password_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_a_session_round_trips_until_it_expires() -> None:
    session = Session.new("maker", NOW)
    cookie = encode_session(session, SECRET)
    assert decode_session(cookie, SECRET, now=NOW + timedelta(hours=11), ttl=TTL) == session
    assert decode_session(cookie, SECRET, now=NOW + TTL + timedelta(seconds=1), ttl=TTL) is None


def test_a_tampered_or_foreign_session_is_refused() -> None:
    cookie = encode_session(Session.new("maker", NOW), SECRET)
    body, _, signature = cookie.partition(".")
    forged = encode_session(Session("other-seller", NOW, "n"), "x" * 40)
    assert decode_session(forged, SECRET, now=NOW, ttl=TTL) is None
    assert decode_session(forged.partition(".")[0] + "." + signature, SECRET, now=NOW, ttl=TTL) is None
    assert decode_session(body, SECRET, now=NOW, ttl=TTL) is None
    assert decode_session("garbage", SECRET, now=NOW, ttl=TTL) is None


def test_a_session_from_the_future_is_refused() -> None:
    cookie = encode_session(Session.new("maker", NOW + timedelta(hours=1)), SECRET)
    assert decode_session(cookie, SECRET, now=NOW, ttl=TTL) is None


def test_the_csrf_token_is_bound_to_its_session() -> None:
    first, second = Session.new("maker", NOW), Session.new("maker", NOW)
    token = csrf_token(first, SECRET)
    assert csrf_valid(first, SECRET, token)
    assert not csrf_valid(second, SECRET, token)
    assert not csrf_valid(first, SECRET, "")


def test_failed_sign_ins_wait_exponentially_per_account_and_per_address() -> None:
    throttle = SignInThrottle(base_s=1.0, max_s=8.0)
    assert throttle.retry_after("maker", "10.0.0.1", 0.0) == 0
    throttle.failed("maker", "10.0.0.1", 0.0)
    assert throttle.retry_after("maker", "10.0.0.2", 0.0) == 1.0  # same account, another address
    assert throttle.retry_after("other", "10.0.0.1", 0.0) == 1.0  # same address, another account
    assert throttle.retry_after("other", "10.0.0.2", 0.0) == 0
    for attempt in range(1, 6):
        throttle.failed("maker", "10.0.0.1", float(attempt * 100))
    assert throttle.retry_after("maker", "10.0.0.9", 500.0) == 8.0  # 2**5 capped at max_s
    throttle.succeeded("maker")
    assert throttle.retry_after("maker", "10.0.0.9", 500.0) == 0
    assert throttle.retry_after("nobody", "10.0.0.1", 500.0) == 8.0  # the address keeps its count


def test_the_throttle_keeps_a_bounded_number_of_keys() -> None:
    throttle = SignInThrottle(max_keys=10, forget_s=5.0)
    for index in range(50):
        throttle.failed(f"account-{index}", f"address-{index}", float(index))
    assert len(throttle._failures) <= 10

"""Passwords, signed sessions, CSRF tokens and sign-in throttling (webapp.auth), without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.config import PASSWORD_HASH_FORMAT
from webapp.auth import (
    RevokedSessions,
    Session,
    SignInThrottle,
    csrf_token,
    csrf_valid,
    decode_session,
    dummy_hash,
    encode_session,
    hash_password,
    new_form_key,
    read_form_key,
    scrypt_parameters,
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


def test_new_hashes_use_the_scrypt_parameters_owasp_recommends() -> None:
    # OWASP Password Storage Cheat Sheet: scrypt with N at least 2^17, r 8, p 1.
    encoded = hash_password("correct horse battery")
    assert scrypt_parameters(encoded) == (2**17, 8, 1)
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterz", encoded)


def test_a_hash_made_with_the_previous_parameters_still_verifies() -> None:
    encoded = hash_password("correct horse", n=2**15)  # the default until the cost was raised
    assert encoded.startswith("scrypt$n=32768,r=8,p=1$") and verify_password("correct horse", encoded)


def test_the_dummy_hash_has_the_parameters_most_accounts_carry() -> None:
    hashes = [hash_password("a", n=2**10), hash_password("b", n=2**10), hash_password("c", n=2**11, r=4)]
    assert scrypt_parameters(dummy_hash(hashes)) == (2**10, 8, 1)
    assert scrypt_parameters(dummy_hash(["not a hash"])) == (2**17, 8, 1)  # none known: today's parameters


def test_an_attempt_is_counted_before_its_password_is_checked() -> None:
    throttle = SignInThrottle(base_s=1.0)
    assert throttle.begin("maker", "10.0.0.1", 0.0) == 0  # may be checked now, and already counted
    assert throttle.begin("maker", "10.0.0.2", 0.0) == 1.0  # a concurrent guess at the account waits
    assert throttle.begin("other", "10.0.0.1", 0.0) == 1.0  # and one from the same address
    throttle.succeeded("maker", "10.0.0.1")  # the password was right: its own count is taken back
    assert throttle.retry_after("maker", "10.0.0.1", 0.0) == 0
    throttle.failed("maker", "10.0.0.1", 0.0)
    assert throttle.begin("maker", "10.0.0.1", 1.0) == 0  # the failure's wait is over: a second attempt
    throttle.succeeded("maker", "10.0.0.1")
    assert throttle.retry_after("nobody", "10.0.0.1", 1.0) == 1.0  # the earlier failure stays on the address


def test_a_revoked_session_stays_revoked_until_it_expires() -> None:
    revoked = RevokedSessions()
    session, other = Session.new("maker", NOW), Session.new("maker", NOW)
    revoked.revoke(session, now=NOW, ttl=TTL)
    assert revoked.is_revoked(session) and not revoked.is_revoked(other)


def test_revoked_sessions_are_bounded_and_never_forget_a_revocation() -> None:
    revoked = RevokedSessions(max_ids=3)
    sessions = [Session.new("maker" if index % 2 else "rival", NOW + timedelta(minutes=index)) for index in range(8)]
    for index, session in enumerate(sessions):
        revoked.revoke(session, now=NOW + timedelta(minutes=index), ttl=TTL)
    assert len(revoked._ids) <= 3 and len(revoked) <= 3 + 2  # three ids and a cutoff per account at most
    assert all(revoked.is_revoked(session) for session in sessions)  # the oldest folded into per-account cutoffs
    assert not revoked.is_revoked(Session.new("maker", NOW + timedelta(hours=1)))  # a later sign-in works
    later = NOW + TTL + timedelta(hours=1)  # every revoked session has expired: they go once room is needed
    revoked.revoke(Session.new("maker", later), now=later, ttl=TTL)
    assert len(revoked) == 1


def test_a_form_key_is_bound_to_its_session_and_purpose_and_keeps_its_time() -> None:
    session, other = Session.new("maker", NOW), Session.new("maker", NOW)
    rendered = NOW + timedelta(microseconds=123_457)
    key = new_form_key(session, SECRET, "order-1/new", rendered)
    read = read_form_key(key, session, SECRET, "order-1/new")
    assert read is not None and read.rendered_at == rendered and len(read.form_id) == 32
    assert read_form_key(key, session, SECRET, "order-1/new") == read  # the same key reads the same every time
    assert new_form_key(session, SECRET, "order-1/new", rendered) != key  # each rendering has its own
    assert read_form_key(key, other, SECRET, "order-1/new") is None
    assert read_form_key(key, session, SECRET, "order-2/new") is None
    assert read_form_key(key, session, "x" * 40, "order-1/new") is None
    form_id, micros, mac = key.split(".")
    assert read_form_key(f"{form_id}.{int(micros) + 1}.{mac}", session, SECRET, "order-1/new") is None
    assert read_form_key("", session, SECRET, "order-1/new") is None

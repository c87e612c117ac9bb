"""The web app's defences over ASGI: sign-in throttling and password checks, sign-out revocation, security headers,
the client address behind trusted proxies, and oversized forms (in-memory fakes, tests/support/webapp_fakes.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

import webapp.app
from tests.support.webapp_fakes import an_order
from tests.webapp.test_app import PASSWORDS, UPS, Site, client_of, config, csrf, open_site
from webapp.app import MAX_FORM_BYTES, MAX_FORM_FIELDS
from webapp.auth import scrypt_parameters, verify_password


@pytest_asyncio.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as opened:
        yield opened


async def sign_in_with(client: httpx.AsyncClient, connection_id: str, password: str | None = None,
                       headers: dict[str, str] | None = None) -> httpx.Response:
    token = csrf(await client.get("/signin"))
    return await client.post("/signin", headers=headers, data={
        "csrf": token, "connection_id": connection_id, "password": password or PASSWORDS.get(connection_id, "x")})


# -- password checks -----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_concurrent_sign_ins_to_one_account_are_checked_one_at_a_time(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release, checked = threading.Event(), threading.Event(), []

    def slow_verify(password: str, encoded: str) -> bool:
        checked.append(password)
        entered.set()
        release.wait(10)
        return verify_password(password, encoded)

    monkeypatch.setattr(webapp.app, "verify_password", slow_verify)
    async with client_of(site.app, "127.0.0.1") as second, client_of(site.app, "10.0.0.3") as third:
        first = asyncio.create_task(site.sign_in("maker", "guess-1"))  # from 127.0.0.1
        while not entered.is_set():
            await asyncio.sleep(0.01)
        at_once = await sign_in_with(second, "rival", "guess-2")  # the same moment, the same address
        assert at_once.status_code == 429 and "Too many failed sign-ins" in at_once.text  # the first was counted
        site.monotonic[0] += 5  # the first attempt's wait is over, but its check still runs
        meanwhile = await sign_in_with(third, "maker", "guess-3")
        assert meanwhile.status_code == 429 and "being checked" in meanwhile.text
        release.set()
        assert (await first).status_code == 401
    assert checked == ["guess-1"]


@pytest.mark.asyncio
async def test_an_unknown_connection_id_is_checked_with_the_accounts_scrypt_parameters(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[tuple[int, int, int] | None] = []

    def spying_verify(password: str, encoded: str) -> bool:
        checked.append(scrypt_parameters(encoded))
        return verify_password(password, encoded)

    monkeypatch.setattr(webapp.app, "verify_password", spying_verify)
    assert (await site.sign_in("maker", "wrong")).status_code == 401
    site.monotonic[0] += 10
    assert (await site.sign_in("nobody", "wrong")).status_code == 401
    assert checked == [(2**10, 8, 1), (2**10, 8, 1)]  # the accounts' hashes use 2^10 here: the dummy does too


@pytest.mark.asyncio
async def test_a_too_long_connection_id_is_refused_next_to_the_field(site: Site) -> None:
    response = await site.sign_in("m" * 5000, "wrong")
    assert response.status_code == 400
    assert 'id="connection_id-error">A connection id has at most 63 characters.' in response.text


# -- sessions ------------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_copied_cookie_stops_working_after_sign_out(site: Site) -> None:
    site.model.place(an_order("1001"))
    await site.sign_in("maker")
    copied = site.client.cookies["fulfillsync_session"]
    async with client_of(site.app) as thief:
        thief.cookies.set("fulfillsync_session", copied)
        assert (await thief.get("/orders")).status_code == 200  # the copy works while the session lasts
        await site.post_form("/orders", {}, action="/signout")
        response = await thief.get("/orders")
        assert response.status_code == 303 and response.headers["location"].startswith("/signin")
    await site.sign_in("maker")  # signing in again makes a new session, which works
    assert (await site.client.get("/orders")).status_code == 200


# -- headers -------------------------------------------------------------------------------------------------------


def assert_security_headers(response: httpx.Response) -> None:
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, response.url
    assert response.headers.get("x-content-type-options") == "nosniff", response.url
    assert response.headers.get("x-frame-options") == "DENY", response.url
    assert response.headers.get("referrer-policy") == "same-origin", response.url


@pytest.mark.asyncio
async def test_every_response_carries_the_security_headers(site: Site) -> None:
    responses = [await site.client.get("/signin"), await site.client.get("/orders"),  # a page, a redirect
                 await site.client.get("/static/style.css"), await site.client.get("/nowhere"),
                 await site.client.post("/signin", content=b"x" * (MAX_FORM_BYTES + 1))]
    assert [response.status_code for response in responses] == [200, 303, 200, 404, 413]
    for response in responses:
        assert_security_headers(response)
        assert "strict-transport-security" not in response.headers  # public_url is not https
    assert responses[0].headers["cache-control"] == "no-store"


@pytest.mark.asyncio
async def test_hsts_is_sent_when_the_public_url_is_https() -> None:
    async with open_site(config(public_url="https://orders.example")) as site:
        for response in (await site.client.get("/signin"), await site.client.get("/orders")):
            assert response.headers["strict-transport-security"] == "max-age=31536000"
            assert_security_headers(response)
        assert "secure" in (await site.client.get("/signin")).headers["set-cookie"].lower()


# -- the client address --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_behind_a_trusted_proxy_the_throttle_counts_the_forwarded_client() -> None:
    async with open_site(config(trusted_proxies=["10.0.0.0/8"]), peer="10.1.2.3") as site:
        first = {"X-Forwarded-For": "203.0.113.5"}
        assert (await sign_in_with(site.client, "maker", "wrong", first)).status_code == 401
        assert (await sign_in_with(site.client, "rival", "wrong", first)).status_code == 429  # same client
        other_client = {"X-Forwarded-For": "198.51.100.7, 10.9.9.9"}  # through two proxies of ours
        assert (await sign_in_with(site.client, "rival", headers=other_client)).status_code == 303


@pytest.mark.asyncio
async def test_an_untrusted_peer_cannot_choose_its_address_with_x_forwarded_for() -> None:
    async with open_site(config(trusted_proxies=["10.0.0.0/8"]), peer="192.0.2.1") as site:
        assert (await sign_in_with(site.client, "maker", "wrong", {"X-Forwarded-For": "203.0.113.5"})
                ).status_code == 401
        again = await sign_in_with(site.client, "rival", "wrong", {"X-Forwarded-For": "203.0.113.6"})
        assert again.status_code == 429  # both counted against 192.0.2.1, the socket peer


@pytest.mark.asyncio
async def test_without_trusted_proxies_the_socket_peer_is_the_client() -> None:
    async with open_site(peer="10.1.2.3") as site:
        assert (await sign_in_with(site.client, "maker", "wrong", {"X-Forwarded-For": "203.0.113.5"})
                ).status_code == 401
        assert (await sign_in_with(site.client, "rival", "wrong", {"X-Forwarded-For": "198.51.100.7"})
                ).status_code == 429


# -- oversized forms -----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_form_with_too_many_fields_answers_413(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    fields = {f"junk-{index}": "1" for index in range(MAX_FORM_FIELDS + 1)}
    response = await site.post_form(f"/orders/{placed.order_id}/fulfill", {"qty-0": "1", "number-0": UPS, **fields})
    assert response.status_code == 413 and "Form too large" in response.text
    assert site.publisher.attempts == []


@pytest.mark.asyncio
async def test_an_oversized_body_answers_413_without_being_read_whole(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:  # no Content-Length: the app must stop reading by itself
        while len(sent) < 1000:
            sent.append(1)
            yield b"number-0=" + b"9" * 8192 + b"&"

    response = await site.client.post(f"/orders/{placed.order_id}/fulfill", content=endless(),
                                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert len(sent) * 8192 < MAX_FORM_BYTES * 2  # it stopped soon after the limit
    declared = await site.client.post(f"/orders/{placed.order_id}/fulfill", content=b"a=" * MAX_FORM_BYTES)
    assert declared.status_code == 413


@pytest.mark.asyncio
async def test_over_long_fields_are_refused_next_to_them(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    response = await site.post_form(f"/orders/{placed.order_id}/fulfill", {
        "qty-0": "1", "carrier": "other", "carrier_other": "C" * 101, "number-0": "1Z" + "9" * 600,
        "url-0": "https://t.example/" + "x" * 2000})
    assert response.status_code == 400, response.text
    assert 'id="number-0-error">A tracking number has at most 100 characters; this one has 602.' in response.text
    assert 'id="url-0-error">A tracking link has at most 2000 characters.' in response.text
    assert 'id="carrier_other-error">A carrier&#39;s name has at most 100 characters.' in response.text
    many = await site.post_form(f"/orders/{placed.order_id}/fulfill", {
        "qty-0": "3", **{f"number-{index}": f"N{index}" for index in range(51)}})
    assert many.status_code == 400 and 'id="number-0-error">At most 50 tracking numbers' in many.text
    assert site.publisher.attempts == []

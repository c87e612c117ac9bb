"""The web app's pages over ASGI (httpx), with an in-memory read model and publisher (tests/support/webapp_fakes.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from starlette.types import ASGIApp

from schemas.config import Config
from schemas.events import FulfillmentCancelled, FulfillmentRecorded
from tests.support.webapp_fakes import FakePublisher, FakeReadModel, an_order, later
from webapp.app import create_app
from webapp.auth import SignInThrottle, hash_password

PASSWORDS = {"maker": "maker-pw", "rival": "rival-pw", "shop": "shop-pw"}
UPS = "1Z999AA10123456784"  # a valid UPS number (its check digit passes)


def config(**web: object) -> Config:
    """The tests' configuration: three accounts; `web` adds to (or replaces) keys of the `web:` section."""
    access = {name: {"password_hash": hash_password(pw, n=2**10)} for name, pw in PASSWORDS.items()}
    return Config.model_validate({
        "web": {"session_secret": "k" * 40, "session_ttl": "1h", **web},
        "connections": [
            {"id": "maker", "partner": "maker-co", "role": "seller", "platform": "manual",
             "web_access": access["maker"]},
            {"id": "rival", "partner": "rival-co", "role": "seller", "platform": "manual",
             "web_access": access["rival"]},
            {"id": "shop", "partner": "retail", "role": "buyer", "platform": "shopify",
             "base_url": "https://shop.example", "credentials": {"access_token": "t"}, "web_access": access["shop"]},
        ],
    })


@dataclass
class Site:
    client: httpx.AsyncClient
    model: FakeReadModel
    publisher: FakePublisher
    clock: list[datetime]
    monotonic: list[float]
    app: ASGIApp

    async def sign_in(self, connection_id: str, password: str | None = None, next_: str = "") -> httpx.Response:
        token = csrf(await self.client.get("/signin"))
        return await self.client.post("/signin", data={
            "csrf": token, "connection_id": connection_id, "password": password or PASSWORDS[connection_id],
            "next": next_})

    async def post_form(self, page: str, data: dict[str, str], action: str | None = None) -> httpx.Response:
        """Open `page`, then post `data` with the page's CSRF token (and its form key, when it has one, as a
        browser would) to `action` (default: the page)."""
        opened = await self.client.get(page)
        hidden = {"csrf": csrf(opened)} | ({"form_key": key} if (key := form_key(opened)) else {})
        return await self.client.post(action or page, data={**hidden, **data})


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def form_key(page: httpx.Response) -> str | None:
    found = re.search(r'name="form_key" value="([^"]*)"', page.text)
    return found.group(1) if found else None


@asynccontextmanager
async def open_site(settings: Config | None = None, peer: str = "127.0.0.1") -> AsyncIterator[Site]:
    """The app on in-memory fakes, with a client whose requests come from socket address `peer`."""
    model, publisher = FakeReadModel(), FakePublisher()
    clock, monotonic = [later(0)], [1000.0]
    app = create_app(settings or config(), model, publisher, clock=lambda: clock[0],
                     monotonic=lambda: monotonic[0], throttle=SignInThrottle(base_s=2.0))
    async with client_of(app, peer) as client:
        yield Site(client, model, publisher, clock, monotonic, app)


def client_of(app: ASGIApp, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of `app` (its own cookies) whose requests come from socket address `peer`."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 50000)),
                             base_url="http://testserver")


@pytest_asyncio.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as opened:
        yield opened


# -- sign-in, sessions, CSRF ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_signing_in_with_the_right_password_opens_the_orders(site: Site) -> None:
    site.model.place(an_order("1001"))
    response = await site.sign_in("maker")
    assert response.status_code == 303 and response.headers["location"] == "/orders"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    page = await site.client.get("/orders")
    assert page.status_code == 200 and "#1001" in page.text


@pytest.mark.asyncio
async def test_a_wrong_password_is_refused_next_to_the_field_and_then_slowed_down(site: Site) -> None:
    response = await site.sign_in("maker", "wrong")
    assert response.status_code == 401
    assert 'id="password-error">Wrong connection id or password.' in response.text
    assert (await site.sign_in("nobody", "wrong")).status_code == 429  # same client address: wait 2 s first
    site.monotonic[0] += 2
    unknown = await site.sign_in("nobody", "wrong")  # an unknown account reads the same, and counts too
    assert unknown.status_code == 401 and "Wrong connection id or password." in unknown.text
    site.monotonic[0] += 3
    assert (await site.sign_in("maker")).status_code == 429  # the address failed twice: 4 s
    site.monotonic[0] += 1
    assert (await site.sign_in("maker")).status_code == 303


@pytest.mark.asyncio
async def test_a_slowed_down_sign_in_is_refused_even_with_the_right_password(site: Site) -> None:
    await site.sign_in("maker", "wrong")
    refused = await site.sign_in("maker")
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    assert (await site.client.get("/orders")).status_code == 303


@pytest.mark.asyncio
async def test_an_expired_session_sends_back_to_the_sign_in_page(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    site.clock[0] += timedelta(minutes=59)
    assert (await site.client.get(f"/orders/{placed.order_id}")).status_code == 200
    site.clock[0] += timedelta(minutes=2)
    response = await site.client.get(f"/orders/{placed.order_id}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/signin?next=%2Forders%2F{placed.order_id}"


@pytest.mark.asyncio
async def test_signing_in_from_an_emailed_link_returns_to_that_order(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    response = await site.sign_in("maker", next_=f"/orders/{placed.order_id}")
    assert response.headers["location"] == f"/orders/{placed.order_id}"
    evil = await site.sign_in("maker", next_="//evil.example/")
    assert evil.headers["location"] == "/orders"


@pytest.mark.asyncio
async def test_a_post_without_the_session_csrf_token_is_refused(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    assert (await site.client.post("/signin", data={"connection_id": "maker", "password": "maker-pw"})
            ).status_code == 403
    await site.sign_in("maker")
    fulfill = f"/orders/{placed.order_id}/fulfill"
    for token in ("", "forged"):
        response = await site.client.post(fulfill, data={"csrf": token, "qty-0": "1", "number-0": UPS})
        assert response.status_code == 403 and "did not come from this site" in response.text
    assert site.publisher.events == []


@pytest.mark.asyncio
async def test_signing_out_ends_the_session(site: Site) -> None:
    await site.sign_in("maker")
    response = await site.post_form("/orders", {}, action="/signout")
    assert response.status_code == 303
    assert (await site.client.get("/orders")).status_code == 303


# -- isolation -----------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_another_sellers_order_is_not_found_exactly_like_a_missing_one(site: Site) -> None:
    theirs = site.model.place(an_order("2001", seller="rival", seller_partner="rival-co"))
    await site.sign_in("maker")
    other = await site.client.get(f"/orders/{theirs.order_id}")
    missing = await site.client.get("/orders/00000000-0000-0000-0000-000000000000")
    assert other.status_code == missing.status_code == 404
    assert other.text == missing.text
    assert "#2001" not in (await site.client.get("/orders")).text
    post = await site.post_form("/orders", {"qty-0": "1", "number-0": UPS},
                                action=f"/orders/{theirs.order_id}/fulfill")
    assert post.status_code == 404 and site.publisher.events == []


# -- lists ---------------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_open_orders_newest_first_paginated_and_searchable(site: Site) -> None:
    for index in range(25):
        site.model.place(an_order(f"{1000 + index}", placed_at=later(index)))
    await site.sign_in("maker")
    first = (await site.client.get("/orders")).text
    assert "25 open orders" in first and "Page 1 of 2" in first
    assert first.index("#1024") < first.index("#1023") and "#1004" not in first
    second = (await site.client.get("/orders?page=2")).text
    assert "#1004" in second and "#1000" in second and "#1024" not in second
    found = (await site.client.get("/orders", params={"q": "#1017"})).text
    assert "1 open order matching" in found and "#1017" in found and "#1016" not in found
    assert "MUG-RED" in found and "A mug-red" in found


@pytest.mark.asyncio
async def test_a_shipped_order_moves_to_recently_shipped(site: Site) -> None:
    placed = site.model.place(an_order("1001", lines=(("MUG-RED", 1),)))
    await site.sign_in("maker")
    await site.post_form(f"/orders/{placed.order_id}/fulfill", {"qty-0": "1", "carrier": "UPS", "number-0": UPS})
    site.model.ledger_applies(site.publisher.events[0])
    page = (await site.client.get("/orders")).text
    open_part, shipped_part = page.split("Recently shipped")
    assert "#1001" not in open_part and "#1001" in shipped_part


# -- recording, refusals, warnings ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_recording_a_fulfillment_sends_the_event_and_shows_it_pending(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    form = (await site.client.get(f"/orders/{placed.order_id}/fulfill")).text
    assert 'name="qty-0" value="3"' in form and 'name="qty-1" value="1"' in form  # defaults: what remains
    response = await site.post_form(f"/orders/{placed.order_id}/fulfill", {
        "qty-0": "2", "qty-1": "0", "carrier": "UPS", "number-0": UPS, "number-1": "1Z999AA10123456793"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/orders/{placed.order_id}?done=recorded"
    [event] = site.publisher.events
    assert isinstance(event, FulfillmentRecorded)
    assert event.fulfillment_id.startswith("web-") and event.source_version == later(0)
    assert (event.source.connection, event.source.partner, event.source.platform) == ("maker", "maker-co", "manual")
    assert [(line.line_id, line.quantity) for line in event.lines] == [("1001-0", 2)]
    assert (event.carrier, event.tracking_numbers) == ("UPS", [UPS, "1Z999AA10123456793"])
    page = (await site.client.get(response.headers["location"])).text
    assert "pending" in page and UPS in page
    site.model.ledger_applies(event)
    assert "status-applied" in (await site.client.get(f"/orders/{placed.order_id}")).text


@pytest.mark.asyncio
async def test_more_units_than_remain_is_refused_in_plain_words(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    response = await site.post_form(f"/orders/{placed.order_id}/fulfill", {
        "qty-0": "4", "qty-1": "1", "carrier": "UPS", "number-0": UPS})
    assert response.status_code == 400
    assert 'id="qty-0-error">Only 3 units of MUG-RED remain to ship.' in response.text
    assert 'name="qty-0" value="4"' in response.text  # what was typed stays
    assert site.publisher.events == []


@pytest.mark.asyncio
async def test_a_second_form_before_the_first_is_applied_cannot_over_fulfill(site: Site) -> None:
    placed = site.model.place(an_order("1001", lines=(("MUG-RED", 1),)))
    await site.sign_in("maker")
    page = f"/orders/{placed.order_id}/fulfill"
    assert (await site.post_form(page, {"qty-0": "1", "number-0": "A1"})).status_code == 303
    again = await site.post_form(page, {"qty-0": "1", "number-0": "A2"})
    assert again.status_code == 400 and "another fulfillment sent moments ago" in again.text
    assert len(site.publisher.events) == 1


@pytest.mark.asyncio
async def test_several_tracking_numbers_for_one_unit_are_refused(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    response = await site.post_form(f"/orders/{placed.order_id}/fulfill", {
        "qty-0": "0", "qty-1": "1", "carrier": "other", "carrier_other": "Bike courier",
        "number-0": "A1", "number-1": "A2"})
    assert response.status_code == 400
    assert "2 tracking numbers for 1 unit: each parcel holds at least one unit" in response.text
    assert site.publisher.events == []


@pytest.mark.asyncio
async def test_missing_fields_are_explained_next_to_them(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    response = await site.post_form(f"/orders/{placed.order_id}/fulfill", {
        "qty-0": "two", "qty-1": "0", "carrier": "other", "url-0": "ftp://x"})
    assert response.status_code == 400
    for field, message in (("qty-0", "Enter a whole number"), ("carrier_other", "Enter the carrier"),
                           ("number-0", "Enter the tracking number"), ("url-0", "A tracking link starts with https://")):
        assert f'id="{field}-error">{message}' in response.text


@pytest.mark.asyncio
async def test_a_number_unlike_the_carriers_is_a_warning_sent_once_confirmed(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    page = f"/orders/{placed.order_id}/fulfill"
    await site.sign_in("maker")
    warned = await site.post_form(page, {"qty-0": "1", "carrier": "FedEx", "number-0": UPS})
    assert warned.status_code == 200
    assert "This does not look like a FedEx tracking number. It looks like a UPS number." in warned.text
    assert 'name="confirm_tracking"' in warned.text and site.publisher.events == []
    sent = await site.post_form(page, {"qty-0": "1", "carrier": "FedEx", "number-0": UPS, "confirm_tracking": "1"})
    assert sent.status_code == 303
    [event] = site.publisher.events
    assert isinstance(event, FulfillmentRecorded) and event.carrier == "FedEx"


@pytest.mark.asyncio
async def test_a_send_failure_keeps_the_form_and_records_nothing(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    site.publisher.fail = True
    response = await site.post_form(f"/orders/{placed.order_id}/fulfill", {"qty-0": "1", "number-0": "A1"})
    assert response.status_code == 503 and "Could not send the fulfillment" in response.text
    assert site.model.sent == {}


# -- corrections ---------------------------------------------------------------------------------------------------


async def recorded(site: Site, ref: str = "1001") -> tuple[str, FulfillmentRecorded]:
    placed = site.model.place(an_order(ref))
    await site.sign_in("maker")
    await site.post_form(f"/orders/{placed.order_id}/fulfill", {"qty-0": "3", "carrier": "UPS", "number-0": UPS})
    event = site.publisher.events[-1]
    assert isinstance(event, FulfillmentRecorded)
    site.model.ledger_applies(event)
    return placed.order_id, event


@pytest.mark.asyncio
async def test_cancelling_a_fulfillment_needs_confirming_and_sends_the_cancellation(site: Site) -> None:
    order_id, event = await recorded(site)
    action = f"/orders/{order_id}/fulfillments/{event.fulfillment_id}/cancel"
    unconfirmed = await site.post_form(f"/orders/{order_id}", {}, action=action)
    assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.text
    site.clock[0] += timedelta(minutes=5)
    response = await site.post_form(f"/orders/{order_id}", {"confirm": "yes"}, action=action)
    assert response.status_code == 303
    cancelled = site.publisher.events[-1]
    assert isinstance(cancelled, FulfillmentCancelled)
    assert (cancelled.fulfillment_id, cancelled.source_version) == (event.fulfillment_id, later(5))
    site.model.ledger_applies(cancelled)
    page = (await site.client.get(f"/orders/{order_id}")).text
    assert "status-cancelled" in page and action not in page


@pytest.mark.asyncio
async def test_editing_tracking_sends_a_newer_version_of_the_same_fulfillment(site: Site) -> None:
    order_id, event = await recorded(site)
    page = f"/orders/{order_id}/fulfillments/{event.fulfillment_id}/edit"
    form = (await site.client.get(page)).text
    assert f'value="{UPS}"' in form and '<option value="UPS" selected>' in form and "qty-0" not in form
    same = await site.post_form(page, {"carrier": "UPS", "number-0": UPS})
    assert same.status_code == 400 and "Nothing changed" in same.text
    site.clock[0] += timedelta(minutes=10)
    response = await site.post_form(page, {"carrier": "other", "carrier_other": "Bike courier", "number-0": "B-7"})
    assert response.status_code == 303 and response.headers["location"].endswith("?done=updated")
    edited = site.publisher.events[-1]
    assert isinstance(edited, FulfillmentRecorded)
    assert edited.fulfillment_id == event.fulfillment_id and edited.source_version == later(10)
    assert (edited.carrier, edited.tracking_numbers) == ("Bike courier", ["B-7"])
    assert [(line.line_id, line.quantity) for line in edited.lines] == [("1001-0", 3)]


# -- the buyer's view ----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_buyer_sees_status_and_tracking_but_cannot_change_anything(site: Site) -> None:
    order_id, event = await recorded(site)
    site.model.place(an_order("3001", seller="rival", seller_partner="rival-co"))
    await site.post_form("/orders", {}, action="/signout")
    await site.sign_in("shop")
    listing = (await site.client.get("/orders")).text
    assert "#1001" in listing and "#3001" in listing and UPS in listing and "Partly shipped" in listing
    page = await site.client.get(f"/orders/{order_id}")
    assert page.status_code == 200 and UPS in page.text
    assert re.findall(r'<form method="post" action="([^"]+)"', page.text) == ["/signout"]
    assert "Ada Lovelace" not in page.text
    for action in (f"/orders/{order_id}/fulfill", f"/orders/{order_id}/fulfillments/{event.fulfillment_id}/cancel",
                   f"/orders/{order_id}/fulfillments/{event.fulfillment_id}/edit"):
        refused = await site.post_form(f"/orders/{order_id}", {"confirm": "yes", "qty-0": "1", "number-0": "X"},
                                       action=action)
        assert refused.status_code == 403
    assert len(site.publisher.events) == 1


@pytest.mark.asyncio
async def test_pages_wait_while_the_read_model_catches_up() -> None:
    app = create_app(config(), FakeReadModel(), FakePublisher(), ready=lambda: False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.get("/orders")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"

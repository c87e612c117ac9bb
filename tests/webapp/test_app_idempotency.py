"""A fulfillment form sent twice is recorded once: its `form_key` (made when the form is rendered, bound to the
session) gives every sending of it the same fulfillment id and version, so the same content makes the same event,
which the ledger recognises as a duplicate (in-memory fakes, tests/support/webapp_fakes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio

from ledger import apply
from schemas.events import FulfillmentRecorded
from tests.support.webapp_fakes import an_order
from tests.webapp.test_app import UPS, Site, client_of, csrf, form_key, open_site


@pytest_asyncio.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as opened:
        yield opened


async def post_again(site: Site, page: httpx.Response, action: str, data: dict[str, str]) -> httpx.Response:
    """Send the form shown on `page` (its csrf and form_key) with `data`, as the browser would on a resubmission."""
    key = form_key(page)
    assert key, page.text
    return await site.client.post(action, data={"csrf": csrf(page), "form_key": key, **data})


FILLED = {"qty-0": "2", "carrier": "UPS", "number-0": UPS}


@pytest.mark.asyncio
async def test_resending_a_form_after_nothing_was_recorded_sends_the_same_event(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    action = f"/orders/{placed.order_id}/fulfill"
    form = await site.client.get(action)
    site.publisher.fail = True  # Kafka did not take it in time: "nothing was recorded"
    failed = await post_again(site, form, action, FILLED)
    assert failed.status_code == 503 and "nothing was recorded" in failed.text
    assert form_key(failed) == form_key(form)  # the form comes back as the same form
    site.publisher.fail = False
    site.clock[0] += timedelta(minutes=3)  # the seller tries again a little later
    sent = await post_again(site, failed, action, FILLED)
    assert sent.status_code == 303
    first, second = site.publisher.attempts
    assert isinstance(first, FulfillmentRecorded) and isinstance(second, FulfillmentRecorded)
    assert (second.fulfillment_id, second.event_id, second.source_version) == (
        first.fulfillment_id, first.event_id, first.source_version)
    # Had the first sending reached Kafka after all, the ledger would drop the second as a duplicate:
    applied = apply(site.model.states[placed.order_id], first)
    assert applied.status == "applied"
    assert apply(applied.state, second).status == "duplicate"


@pytest.mark.asyncio
async def test_a_double_click_records_one_fulfillment(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    action = f"/orders/{placed.order_id}/fulfill"
    form = await site.client.get(action)
    responses = [await post_again(site, form, action, FILLED) for _ in range(2)]
    assert [response.status_code for response in responses] == [303, 303]
    assert len({event.event_id for event in site.publisher.events}) == 1
    site.model.ledger_applies(site.publisher.events[0])
    assert apply(site.model.states[placed.order_id], site.publisher.events[1]).status == "duplicate"
    again = await post_again(site, form, action, FILLED)  # once applied, the same form is recorded already
    assert again.status_code == 303 and again.headers["location"].endswith("?done=recorded")
    assert len(site.publisher.attempts) == 2  # and nothing more is sent
    assert len(site.model.states[placed.order_id].fulfillments) == 1


@pytest.mark.asyncio
async def test_each_rendering_of_the_form_is_a_new_fulfillment(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    action = f"/orders/{placed.order_id}/fulfill"
    for number in (UPS, "1Z999AA10123456793"):
        assert (await site.post_form(action, {"qty-0": "1", "carrier": "UPS", "number-0": number})).status_code == 303
    first, second = site.publisher.events
    assert first.fulfillment_id != second.fulfillment_id
    assert first.fulfillment_id.startswith("web-") and second.fulfillment_id.startswith("web-")


@pytest.mark.asyncio
async def test_a_resent_form_with_other_content_is_a_newer_version_of_the_same_fulfillment(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    action = f"/orders/{placed.order_id}/fulfill"
    form = await site.client.get(action)
    site.publisher.fail = True
    failed = await post_again(site, form, action, FILLED)
    site.publisher.fail = False
    site.clock[0] += timedelta(minutes=1)
    corrected = await post_again(site, failed, action, {**FILLED, "number-0": "1Z999AA10123456793"})
    assert corrected.status_code == 303
    first, second = site.publisher.attempts
    assert isinstance(second, FulfillmentRecorded)
    assert second.fulfillment_id == first.fulfillment_id and second.source_version > first.source_version
    state = apply(site.model.states[placed.order_id], first).state  # both reached Kafka: the later one wins
    final = apply(state, second).state.fulfillments[second.fulfillment_id]
    assert list(final.tracking_numbers) == ["1Z999AA10123456793"]


@pytest.mark.asyncio
async def test_a_form_key_from_another_session_or_none_is_refused(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    action = f"/orders/{placed.order_id}/fulfill"
    async with client_of(site.app) as other:
        token = csrf(await other.get("/signin"))
        await other.post("/signin", data={"csrf": token, "connection_id": "maker", "password": "maker-pw"})
        foreign = form_key(await other.get(action))
    page = await site.client.get(action)
    for key in (foreign, None):
        data = {"csrf": csrf(page), **FILLED} | ({"form_key": key} if key else {})
        response = await site.client.post(action, data=data)
        assert response.status_code == 400 and "This form was out of date" in response.text
        assert 'name="number-0" value="' + UPS in response.text  # what was typed comes back
        assert form_key(response) not in (None, foreign)  # with a key of this session, to send it again
    assert site.publisher.attempts == []


@pytest.mark.asyncio
async def test_resending_an_edit_form_sends_the_same_event(site: Site) -> None:
    placed = site.model.place(an_order("1001"))
    await site.sign_in("maker")
    await site.post_form(f"/orders/{placed.order_id}/fulfill", {"qty-0": "3", "carrier": "UPS", "number-0": UPS})
    recorded = site.publisher.events[-1]
    site.model.ledger_applies(recorded)
    site.clock[0] += timedelta(minutes=10)
    action = f"/orders/{placed.order_id}/fulfillments/{recorded.fulfillment_id}/edit"
    form = await site.client.get(action)
    site.clock[0] += timedelta(minutes=1)
    edited = {"carrier": "UPS", "number-0": "1Z999AA10123456793"}
    assert [(await post_again(site, form, action, edited)).status_code for _ in range(2)] == [303, 303]
    first, second = site.publisher.events[-2:]
    assert first.event_id == second.event_id and first.source_version == recorded.source_version + timedelta(
        minutes=10)

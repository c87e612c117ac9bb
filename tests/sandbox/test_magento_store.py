"""The simulated Magento store over HTTP, as a client other than our connector sees it: paths, auth, search,
paging, input limits, rate limits, error shapes and the merchant's admin routes. Every `/V1` exchange is checked
against the official schema by the transport from `tests.support.magento_store`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.magento.app import create_app
from sandbox.registry import create_store
from sandbox.settings import StoreSettings
from tests.support.magento_store import START, TOKEN, SpecCheckingTransport, magento_spec

pytestmark = pytest.mark.asyncio
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Client:
    def __init__(self, http: httpx.AsyncClient, app: Any, transport: SpecCheckingTransport) -> None:
        self.http = http
        self.app = app
        self.transport = transport

    async def api(self, method: str, path: str, *, auth: dict[str, str] = AUTH, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"/rest/default/V1{path}", headers=auth, **kwargs)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"/_sandbox/magento{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()


async def client_for(**options: Any) -> tuple[Client, httpx.AsyncClient]:
    app = create_app(StoreSettings(platform="magento2", name="default", credentials={"access_token": TOKEN},
                                   options=options))
    app.sandbox.clock.set(START)
    transport = SpecCheckingTransport(app, "/rest/default", magento_spec())
    http = httpx.AsyncClient(transport=transport, base_url="http://magento.test")
    return Client(http, app, transport), http


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    made, http = await client_for(input_limit_enabled=True)
    yield made
    await http.aclose()


def criteria(*filters: tuple[str, str, str], size: int | None = None, page: int | None = None,
             sort: tuple[str, str] | None = None) -> dict[str, str]:
    params: dict[str, str] = {}
    for index, (field, value, condition) in enumerate(filters):
        prefix = f"searchCriteria[filter_groups][{index}][filters][0]"
        params |= {f"{prefix}[field]": field, f"{prefix}[value]": value, f"{prefix}[condition_type]": condition}
    if sort:
        params |= {"searchCriteria[sortOrders][0][field]": sort[0], "searchCriteria[sortOrders][0][direction]": sort[1]}
    if size is not None:
        params["searchCriteria[pageSize]"] = str(size)
    if page is not None:
        params["searchCriteria[currentPage]"] = str(page)
    return params


async def place(client: Client, *lines: dict[str, Any]) -> dict[str, Any]:
    client.app.sandbox.clock.advance(10)
    order: dict[str, Any] = await client.admin("POST", "/orders", {"lines": list(lines)})
    return order


# -- auth, routing, errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}])
async def test_without_the_token_every_api_call_is_401_with_magentos_body(client: Client,
                                                                           auth: dict[str, str]) -> None:
    response = await client.api("GET", "/orders", auth=auth, params=criteria(size=1))
    assert response.status_code == 401
    assert response.json() == {"message": "The consumer isn't authorized to access %resources.",
                               "parameters": {"resources": "Magento_Sales::sales"}}


async def test_unknown_routes_and_store_codes_answer_like_magento(client: Client) -> None:
    client.transport.check_requests = False  # off-schema requests on purpose
    assert (await client.http.get("/rest/default/V1/nothing", headers=AUTH)).json() == \
        {"message": "Request does not match any route."}
    response = await client.http.get("/rest/other/V1/orders/1", headers=AUTH)
    assert response.status_code == 404 and response.json()["message"] == "Requested store is not found"
    response = await client.api("GET", "/orders/999")
    assert response.status_code == 404 and "doesn't exist" in response.json()["message"]
    response = await client.api("GET", "/orders/abc")
    assert response.status_code == 400 and response.json()["parameters"] == ["abc", "id"]
    assert (await client.api("GET", "/orders")).json()["parameters"] == {"fieldName": "searchCriteria"}


async def test_bad_json_bodies_are_400(client: Client) -> None:
    client.transport.check_requests = False  # off-schema requests on purpose
    response = await client.http.post("/rest/default/V1/orders/1/comments", headers=AUTH, content=b"{oops")
    assert response.status_code == 400 and response.json()["message"] == "Decoding error: %1"


# -- search and paging -----------------------------------------------------------------------------------------

async def test_search_filters_sorts_and_pages(client: Client) -> None:
    orders = [await place(client, {"sku": f"S{n}", "qty": 1}) for n in range(5)]
    third = orders[2]["updated_at"]
    response = await client.api("GET", "/orders", params=criteria(("updated_at", third, "gteq"), size=2, page=1,
                                                                   sort=("updated_at", "DESC")))
    body = response.json()
    assert body["total_count"] == 3 and [o["entity_id"] for o in body["items"]] == [5, 4]
    assert body["search_criteria"]["filter_groups"][0]["filters"][0] == \
        {"field": "updated_at", "value": third, "condition_type": "gteq"}
    ids = await client.api("GET", "/orders", params=criteria(("entity_id", "1,3", "in"), size=10))
    assert [o["entity_id"] for o in ids.json()["items"]] == [1, 3]
    # filters inside one group are OR'ed
    params = {**criteria(size=10), "searchCriteria[filter_groups][0][filters][0][field]": "entity_id",
              "searchCriteria[filter_groups][0][filters][0][value]": "1",
              "searchCriteria[filter_groups][0][filters][1][field]": "entity_id",
              "searchCriteria[filter_groups][0][filters][1][value]": "5"}
    assert [o["entity_id"] for o in (await client.api("GET", "/orders", params=params)).json()["items"]] == [1, 5]


async def test_input_limits_cap_the_page_size_and_give_a_default(client: Client) -> None:
    for n in range(25):
        await place(client, {"sku": f"S{n}", "qty": 1})
    response = await client.api("GET", "/orders", params=criteria(size=301))
    assert response.status_code == 400
    assert response.json() == {"message": "Maximum SearchCriteria pageSize is %max", "parameters": {"max": "300"}}
    default = await client.api("GET", "/orders", params=criteria(("entity_id", "0", "gt")))
    assert len(default.json()["items"]) == 20 and default.json()["total_count"] == 25
    client.transport.check_requests = False  # an off-schema request on purpose
    bad = await client.api("GET", "/orders", params=criteria(size=10, page=1) | {"searchCriteria[pageSize]": "x"})
    assert bad.status_code == 400 and bad.json()["parameters"] == ["x", "pageSize"]


async def test_past_the_last_page_is_empty_or_the_last_page_again_on_old_versions() -> None:
    for options, expected in (({}, []), ({"repeat_last_page": True}, [3])):
        made, http = await client_for(**options)
        try:
            for n in range(3):
                await place(made, {"sku": f"S{n}", "qty": 1})
            everything = await made.api("GET", "/orders", params=criteria(("entity_id", "0", "gt")))
            assert len(everything.json()["items"]) == 3  # no input limits: no pageSize means everything
            past = await made.api("GET", "/orders", params=criteria(size=2, page=5))
            assert [o["entity_id"] for o in past.json()["items"]] == expected
            assert past.json()["total_count"] == 3
        finally:
            await http.aclose()


async def test_the_rate_limit_option_answers_429_with_retry_after() -> None:
    made, http = await client_for(requests_per_s=2)
    try:
        statuses = [(await made.api("GET", "/orders/1")).status_code for _ in range(3)]
        assert statuses == [404, 404, 429]
        limited = await made.api("GET", "/orders/1")
        assert limited.headers["retry-after"] == "1"
        made.app.sandbox.clock.advance(1)
        assert (await made.api("GET", "/orders/1")).status_code == 404
    finally:
        await http.aclose()


async def test_unknown_or_mistyped_options_are_refused() -> None:
    with pytest.raises(ValueError, match="'page_limit' is unknown"):
        create_app(StoreSettings(platform="magento2", options={"page_limit": 5}))
    with pytest.raises(ValueError, match="repeat_last_page"):
        create_app(StoreSettings(platform="magento2", options={"repeat_last_page": "yes"}))


async def test_the_registry_serves_it_under_rest_and_the_store_code() -> None:
    app, path = create_store(StoreSettings(platform="magento2", name="eu_store"))
    assert path == "/rest/eu_store" and app.store is not None


# -- shipping rules --------------------------------------------------------------------------------------------

async def test_ship_validates_quantities_and_counts_units_for_good(client: Client) -> None:
    order = await place(client, {"sku": "A", "qty": 2}, {"sku": "B", "qty": 1, "child_sku": "B-RED"})
    a, b, child = (item["item_id"] for item in order["items"])
    too_many = await client.api("POST", f"/order/{order['entity_id']}/ship",
                                json={"items": [{"order_item_id": a, "qty": 3}]})
    assert too_many.status_code == 400
    assert too_many.json()["message"].startswith("Shipment Document Validation Error(s):\n")
    unknown = await client.api("POST", f"/order/{order['entity_id']}/ship",
                               json={"items": [{"order_item_id": 999, "qty": 1}]})
    assert "does not contain the item with id 999" in unknown.json()["message"]
    no_title = await client.api("POST", f"/order/{order['entity_id']}/ship",
                                json={"items": [{"order_item_id": a, "qty": 1}],
                                      "tracks": [{"track_number": "1", "title": "", "carrier_code": "ups"}]})
    assert no_title.status_code == 400 and no_title.json()["parameters"] == {"fieldName": "tracks[0].title"}

    client.app.sandbox.clock.advance(5)
    shipped = await client.api("POST", f"/order/{order['entity_id']}/ship", json={})  # no items: everything
    assert shipped.status_code == 200 and isinstance(shipped.json(), int)
    after = (await client.api("GET", f"/orders/{order['entity_id']}")).json()
    assert [item["qty_shipped"] for item in after["items"]] == [2, 1, 1]  # the child follows its parent
    assert after["state"] == "processing" and after["updated_at"] > order["updated_at"]
    nothing = await client.api("POST", f"/order/{order['entity_id']}/ship", json={})
    assert "You can't create a shipment without products." in nothing.json()["message"]
    assert (a, b, child) == (1, 2, 3)


async def test_tracks_and_comments_have_their_own_times_and_leave_the_order_alone(client: Client) -> None:
    order = await place(client, {"sku": "A", "qty": 1})
    shipment_id = (await client.api("POST", f"/order/{order['entity_id']}/ship", json={})).json()
    before = (await client.api("GET", f"/orders/{order['entity_id']}")).json()["updated_at"]
    client.app.sandbox.clock.advance(60)
    track = await client.api("POST", "/shipment/track", json={"entity": {
        "order_id": order["entity_id"], "parent_id": shipment_id, "track_number": "1Z", "title": "UPS",
        "carrier_code": "ups", "weight": 0, "qty": 1, "description": ""}})
    assert track.status_code == 200 and track.json()["created_at"] > before
    wrong_order = await client.api("POST", "/shipment/track", json={"entity": {
        "order_id": 99, "parent_id": shipment_id, "track_number": "1Z", "title": "UPS", "carrier_code": "ups",
        "weight": 0, "qty": 1, "description": ""}})
    assert wrong_order.status_code == 400 and wrong_order.json()["message"] == "Could not save the shipment tracking."
    comment = await client.api("POST", f"/shipment/{shipment_id}/comments", json={"entity": {
        "parent_id": shipment_id, "comment": "hello", "is_customer_notified": 0, "is_visible_on_front": 1}})
    assert comment.json()["comment"] == "hello"
    assert (await client.api("DELETE", f"/shipment/track/{track.json()['entity_id']}")).json() is True
    gone = await client.api("DELETE", f"/shipment/track/{track.json()['entity_id']}")
    assert gone.status_code == 404 and gone.json()["parameters"]["fieldName"] == "trackId"
    assert (await client.api("GET", f"/orders/{order['entity_id']}")).json()["updated_at"] == before
    shipment = (await client.api("GET", f"/shipment/{shipment_id}")).json()
    assert shipment["tracks"] == [] and [c["comment"] for c in shipment["comments"]] == ["hello"]


# -- the merchant's admin routes -------------------------------------------------------------------------------

async def test_admin_routes_ship_edit_and_cancel_like_a_merchant(client: Client) -> None:
    order = await place(client, {"sku": "A", "qty": 2})
    shipment = await client.admin("POST", f"/orders/{order['entity_id']}/ship", {
        "items": [{"order_item_id": order["items"][0]["item_id"], "qty": 1}],
        "tracks": [{"track_number": "1Z1", "title": "UPS", "carrier_code": "ups"}]})
    edited = await client.admin("PUT", f"/shipments/{shipment['entity_id']}/tracks",
                                {"tracks": [{"track_number": "7777", "carrier_code": "fedex"}]})
    assert [(t["track_number"], t["carrier_code"]) for t in edited["tracks"]] == [("7777", "fedex")]
    cancelled = await client.admin("POST", f"/shipments/{shipment['entity_id']}/cancel", {"reason": "wrong box"})
    assert cancelled["tracks"] == [] and cancelled["comments"][-1]["comment"] == "Fulfillment cancelled wrong box"
    again = await client.http.post(f"/_sandbox/magento/orders/{order['entity_id']}/ship", json={
        "items": [{"order_item_id": order["items"][0]["item_id"], "qty": 2}]})
    assert again.status_code == 400  # the cancelled unit still counts as shipped
    rest = await client.admin("POST", f"/orders/{order['entity_id']}/cancel")
    assert rest["state"] == "processing" and rest["items"][0]["qty_canceled"] == 1
    fresh = await place(client, {"sku": "B", "qty": 1})
    assert (await client.admin("POST", f"/orders/{fresh['entity_id']}/cancel"))["state"] == "canceled"
    refused = await client.http.post(f"/_sandbox/magento/orders/{fresh['entity_id']}/cancel")
    assert refused.status_code == 400 and refused.json()["message"] == "You cannot cancel the order."


async def test_create_order_needs_what_magento_needs(client: Client) -> None:
    response = await client.api("POST", "/orders", json={"entity": {
        "customer_email": "a@example.com", "base_grand_total": 0, "grand_total": 0, "items": [{"sku": "X",
                                                                                               "qty_ordered": 2}],
        "ext_order_id": "ext-1"}})
    assert response.status_code == 200 and response.json()["ext_order_id"] == "ext-1"
    missing = await client.api("POST", "/orders", json={"entity": {"base_grand_total": 0, "grand_total": 0,
                                                                   "customer_email": "", "items": []}})
    assert missing.status_code == 400 and missing.json()["parameters"] == {"fieldName": "customer_email"}
    found = await client.api("GET", "/orders", params=criteria(("ext_order_id", "ext-1", "eq"), size=5))
    assert [o["entity_id"] for o in found.json()["items"]] == [response.json()["entity_id"]]

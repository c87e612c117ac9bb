"""The simulated Magento store's OAuth 1.0a checks, driven by oauthlib's client as any integration would sign:
methods, the consumer and token, the timestamp window, nonce reuse, what is signed (header and query, not a JSON
body), Magento's answers; and the 2.4.4+ refusal of the integration's token as a bearer token. `/V1` exchanges
are checked against the official schema."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SIGNATURE_PLAINTEXT, Client

from sandbox.magento.app import create_app
from sandbox.settings import StoreSettings
from tests.support.magento_store import START, SpecCheckingTransport, magento_spec

pytestmark = pytest.mark.asyncio
KEYS = {"consumer_key": "ck-0123456789abcdef0123456789abcd", "consumer_secret": "cs-0123456789abcdef0123456789abc",
        "access_token": "at-0123456789abcdef0123456789abcd", "access_token_secret": "ts-0123456789abcdef012345678"}
BASE = "http://magento.test/rest/default/V1"
PAGE = {"searchCriteria[pageSize]": "5", "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
        "searchCriteria[filter_groups][0][filters][0][value]": "2026-05-01 00:00:00",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq"}


def signed(method: str, url: str, *, keys: dict[str, str] = KEYS, signature_method: str = SIGNATURE_HMAC_SHA256,
           nonce: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    client = Client(keys["consumer_key"], client_secret=keys["consumer_secret"],
                    resource_owner_key=keys["access_token"], resource_owner_secret=keys["access_token_secret"],
                    signature_method=signature_method, nonce=nonce,
                    timestamp=None if timestamp is None else str(timestamp))
    _, headers, _ = client.sign(url, http_method=method)
    return {"Authorization": headers["Authorization"]}


def url(path: str, params: dict[str, str] | None = None) -> str:
    return str(httpx.URL(f"{BASE}{path}", params=params))


class Store:
    def __init__(self, http: httpx.AsyncClient, app: Any) -> None:
        self.http = http
        self.app = app

    async def get(self, path: str, headers: dict[str, str], params: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(url(path, params), headers=headers)


async def store_for(credentials: dict[str, str] = KEYS, **options: Any) -> tuple[Store, httpx.AsyncClient]:
    app = create_app(StoreSettings(platform="magento2", name="default", credentials=credentials, options=options))
    app.sandbox.clock.set(START)  # the business clock; OAuth timestamps follow the machine's clock
    http = httpx.AsyncClient(transport=SpecCheckingTransport(app, "/rest/default", magento_spec()))
    return Store(http, app), http


@pytest_asyncio.fixture
async def store() -> AsyncIterator[Store]:
    made, http = await store_for(enable_integration_as_bearer=False)
    yield made
    await http.aclose()


@pytest.mark.parametrize("method", [SIGNATURE_HMAC_SHA256, SIGNATURE_HMAC_SHA1])
async def test_a_signed_request_with_a_query_is_accepted(store: Store, method: str) -> None:
    response = await store.get("/orders", signed("GET", url("/orders", PAGE), signature_method=method), PAGE)
    assert response.status_code == 200 and response.json()["total_count"] == 0


async def test_the_query_is_signed_and_a_changed_query_is_refused(store: Store) -> None:
    headers = signed("GET", url("/orders", PAGE))
    response = await store.get("/orders", headers, {**PAGE, "searchCriteria[pageSize]": "6"})
    assert response.status_code == 401
    assert response.json() == {"message": "The signature is invalid. Verify and try again."}


async def test_a_json_body_is_not_signed_as_magento_does(store: Store) -> None:
    store.app.store.place_order([{"sku": "A", "qty": 1}])
    path = "/orders/1/comments"
    body = {"statusHistory": {"parent_id": 1, "comment": "hello", "is_customer_notified": 0,
                              "is_visible_on_front": 0}}
    response = await store.http.post(url(path), json=body, headers=signed("POST", url(path)))
    assert response.status_code == 200 and response.json() is True


async def test_a_reused_nonce_is_refused_even_with_a_good_signature(store: Store) -> None:
    first = await store.get("/orders", signed("GET", url("/orders", PAGE), nonce="n-1"), PAGE)
    again = await store.get("/orders", signed("GET", url("/orders", PAGE), nonce="n-1"), PAGE)
    assert first.status_code == 200 and again.status_code == 401
    assert again.json() == {"message": "The nonce is already being used by the consumer with ID %1",
                            "parameters": ["1"]}


@pytest.mark.parametrize("offset", [-3600, 3600])
async def test_a_timestamp_far_from_the_servers_clock_is_refused(store: Store, offset: int) -> None:
    headers = signed("GET", url("/orders", PAGE), timestamp=int(time.time()) + offset)
    response = await store.get("/orders", headers, PAGE)
    assert response.status_code == 400
    assert response.json() == {"message": "Incorrect timestamp value in the oauth_timestamp parameter"}


@pytest.mark.parametrize(("change", "status", "message"), [
    ({"consumer_secret": "cs-other"}, 401, "The signature is invalid. Verify and try again."),
    ({"access_token_secret": "ts-other"}, 401, "The signature is invalid. Verify and try again."),
    ({"consumer_key": "ck-other"}, 401, "A consumer having the specified key does not exist"),
    ({"access_token": "at-other"}, 401, "Specified token does not exist"),
])
async def test_wrong_credentials_get_magentos_answers(store: Store, change: dict[str, str], status: int,
                                                     message: str) -> None:
    response = await store.get("/orders", signed("GET", url("/orders", PAGE), keys={**KEYS, **change}), PAGE)
    assert (response.status_code, response.json()["message"]) == (status, message)


async def test_unsupported_methods_and_missing_parameters_are_400() -> None:
    made, http = await store_for(oauth_signature_methods=["HMAC-SHA256"])  # as Magento 2.4.8
    try:
        sha1 = await made.get("/orders", signed("GET", url("/orders", PAGE), signature_method=SIGNATURE_HMAC_SHA1),
                              PAGE)
        assert sha1.status_code == 400
        assert sha1.json() == {"message": "Signature method %1 is not supported", "parameters": ["HMAC-SHA1"]}
        plain = await made.get("/orders", signed("GET", url("/orders", PAGE), signature_method=SIGNATURE_PLAINTEXT),
                               PAGE)
        assert plain.status_code == 400
        header = signed("GET", url("/orders", PAGE))["Authorization"]
        without_token = ", ".join(part for part in header.split(", ") if not part.startswith("oauth_token="))
        missing = await made.get("/orders", {"Authorization": without_token}, PAGE)
        assert missing.status_code == 400 and missing.json()["parameters"] == {"fieldName": "oauth_token"}
    finally:
        await http.aclose()


async def test_the_integration_token_as_a_bearer_token_depends_on_the_setting() -> None:
    bearer = {"Authorization": f"Bearer {KEYS['access_token']}"}
    for allowed, status in ((True, 200), (False, 401)):
        made, http = await store_for(enable_integration_as_bearer=allowed)
        try:
            response = await made.get("/orders", bearer, PAGE)
            assert response.status_code == status
            if not allowed:  # Magento 2.4.4+: the same body as any unauthorized call, naming the route's resource
                assert response.json() == {"message": "The consumer isn't authorized to access %resources.",
                                           "parameters": {"resources": "Magento_Sales::sales"}}
                products = await made.get("/products", bearer, {"searchCriteria[pageSize]": "1"})
                assert products.json()["parameters"] == {"resources": "Magento_Catalog::products"}
        finally:
            await http.aclose()


async def test_a_store_without_an_integration_knows_no_consumer() -> None:
    made, http = await store_for({"access_token": KEYS["access_token"]})
    try:
        response = await made.get("/orders", signed("GET", url("/orders", PAGE)), PAGE)
        assert response.status_code == 401
        assert response.json()["message"] == "A consumer having the specified key does not exist"
        assert (await made.get("/directory/currency", {})).status_code == 200  # anonymous
    finally:
        await http.aclose()


async def test_credentials_in_any_characters_are_refused_not_a_crash(store: Store) -> None:
    header = signed("GET", url("/orders", PAGE))["Authorization"].replace(KEYS["access_token"], "at-%C3%A9")
    assert (await store.get("/orders", {"Authorization": header}, PAGE)).status_code == 401
    raw = {"Authorization": "Bearer t\u00e9".encode()}  # bytes beyond ASCII, as a client may send
    assert (await store.http.get(url("/orders", PAGE), headers=raw)).status_code == 401  # type: ignore[arg-type]

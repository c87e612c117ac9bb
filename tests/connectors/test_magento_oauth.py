"""The Magento connector on OAuth 1.0a (an integration's four credentials) against a simulated store that checks
signatures and, configured like Magento 2.4.4+, refuses the access token as a bearer token. Every exchange is
checked against the official schema."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from oauthlib.oauth1.rfc5849 import utils

from connectors.base import PermanentError
from connectors.magento import MagentoConnector
from schemas.config import Connection
from schemas.platform import CatalogVariant, NewOrder, SellerLine
from tests.support.magento_store import FAST, Harness, make_harness

pytestmark = pytest.mark.asyncio

KEYS = {"consumer_key": "ck0a1b2c3d4e5f60718293a4b5c6d7e8f", "consumer_secret": "cs-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "access_token": "at-1234567890abcdef1234567890abcd", "access_token_secret": "ts-fedcba0987654321fedcba098765"}


def oauth_harness(*, enable_integration_as_bearer: bool = False, **options: Any) -> Harness:
    """A store whose integration has `KEYS`, refusing its token as a bearer token (2.4.4+ default)."""
    return make_harness(credentials=KEYS, enable_integration_as_bearer=enable_integration_as_bearer, **options)


def connector(harness: Harness, credentials: dict[str, str]) -> MagentoConnector:
    made = MagentoConnector(Connection.model_validate({
        "id": "mg-seller", "partner": "acme", "role": "seller", "platform": "magento2", "base_url": harness.base_url,
        "credentials": credentials, "requests_per_s": 1000}), transport=harness.transport, retry=FAST,
        now=harness.app.sandbox.clock.now)
    harness.connectors.append(made)
    return made


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[Harness]:
    made = oauth_harness()
    made.store.catalog.add_product("MUG-1", price=12.5, qty=7)
    yield made
    await made.close()


async def test_a_signed_connector_polls_looks_up_and_creates_orders(harness: Harness,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    harness.store.place_order([{"sku": "OTHER", "qty": 1}])
    signed = connector(harness, KEYS)
    page = await signed.orders_changed_since(None)  # a query with brackets, spaces and colons, signed
    assert len(page.items) == 1
    lookup = await signed.catalog_variants(["MUG-1", "A B+C"])
    (mug,) = lookup.variants["MUG-1"]
    created = await signed.create_order(NewOrder(our_order_id="ord-1", lines=(
        SellerLine(line_ref="l1", sku="MUG-1", quantity=2, variant=mug, unit_price=Decimal(10)),
        SellerLine(line_ref="l2", sku="X/1", quantity=1, variant=None, unit_price=Decimal(1)))))
    assert harness.store.catalog.stock_item("MUG-1").qty == 5 and created.order_ref == "2"
    assert harness.app.sandbox.statuses.get(401, 0) == 0 and sum(harness.app.sandbox.statuses.values()) >= 8
    for secret in KEYS.values():
        assert secret not in caplog.text  # neither a secret nor the token reaches a log line


async def test_each_request_is_signed_with_its_own_nonce(harness: Harness) -> None:
    seen: list[str] = []
    inner = harness.transport.handle_async_request

    async def spy(request):  # type: ignore[no-untyped-def]
        params = dict(utils.parse_keqv_list(utils.parse_http_list(request.headers["authorization"][6:])))
        seen.append(params["oauth_nonce"])
        assert params["oauth_signature_method"] == "HMAC-SHA256"
        return await inner(request)

    harness.transport.handle_async_request = spy  # type: ignore[method-assign]
    signed = connector(harness, KEYS)
    for _ in range(3):
        await signed.orders_changed_since(None)
    assert len(seen) == 3 and len(set(seen)) == 3


async def test_a_wrong_secret_is_a_permanent_error_saying_what_to_check(harness: Harness,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = {**KEYS, "consumer_secret": "cs-wrong-wrong-wrong-wrong-wrong-00"}
    with pytest.raises(PermanentError) as caught:
        await connector(harness, wrong).orders_changed_since(None)
    message = str(caught.value)
    assert caught.value.status == 401 and caught.value.connection == "mg-seller"
    assert "'mg-seller'" in message and "OAuth 1.0a signature" in message
    assert "The signature is invalid. Verify and try again." in message
    assert "consumer_key, consumer_secret, access_token and access_token_secret" in message
    for secret in (*KEYS.values(), wrong["consumer_secret"]):
        assert secret not in message and secret not in caplog.text


async def test_a_bearer_token_on_a_2_4_4_store_says_to_configure_oauth(harness: Harness) -> None:
    with pytest.raises(PermanentError) as caught:
        await connector(harness, {"access_token": KEYS["access_token"]}).orders_changed_since(None)
    message = str(caught.value)
    assert "The consumer isn't authorized to access Magento_Sales::sales" in message
    assert "2.4.4" in message and "consumer_key, consumer_secret, access_token, access_token_secret" in message
    assert KEYS["access_token"] not in message


async def test_the_same_bearer_token_works_where_the_store_allows_it() -> None:
    made = oauth_harness(enable_integration_as_bearer=True)
    page = await connector(made, {"access_token": KEYS["access_token"]}).orders_changed_since(None)
    await made.close()
    assert page.items == ()


async def test_a_store_that_accepts_only_sha256_takes_our_signatures() -> None:
    made = oauth_harness(oauth_signature_methods=["HMAC-SHA256"])
    made.store.catalog.add_product("MUG-1", price=1, qty=1)
    lookup = await connector(made, KEYS).catalog_variants(["MUG-1"])
    await made.close()
    assert lookup.variants["MUG-1"] != () and isinstance(lookup.variants["MUG-1"][0], CatalogVariant)

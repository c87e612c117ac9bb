"""`sandbox.merchant.Merchant` on every platform, against stores served over real HTTP, cross-checked with the
platform's real connector reading the same store through its API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from connectors.base import StoreConnector
from connectors.registry import connector_for
from sandbox.merchant import Merchant, MerchantError, PlacedOrder, StoreFulfillment
from sandbox.registry import create_store
from sandbox.settings import SandboxPlatform, StoreSettings
from schemas.config import REQUIRED_CREDENTIALS, Connection
from schemas.platform import Address, NewOrder, SellerLine
from tests.support.stores import served

PLATFORMS: tuple[SandboxPlatform, ...] = ("shopify", "bigcommerce", "woocommerce", "magento2")
CREDENTIALS = {"access_token": "merchant-test-token", "consumer_key": "ck_merchant", "consumer_secret": "cs_merchant"}
LINES = {"ACME-MUG": 2, "ACME-CAP": 1}
UPDATED = {"shopify": "updated_at", "bigcommerce": "date_modified", "woocommerce": "date_modified_gmt",
           "magento2": "updated_at"}


@dataclass
class Store:
    platform: SandboxPlatform
    merchant: Merchant
    connector: StoreConnector
    admin: httpx.AsyncClient

    async def advance_clock(self) -> None:
        (await self.admin.post("/_sandbox/clock", json={"advance_s": 120})).raise_for_status()

    async def updated(self, order: PlacedOrder) -> Any:
        return (await self.merchant.order(order))[UPDATED[self.platform]]

    async def connector_view(self, order: PlacedOrder, known: tuple[str, ...] = ()) -> dict[str, Any]:
        found = await self.connector.fulfillments(order.order_ref, known)
        return {f.fulfillment_ref: (f.tracking.numbers, f.cancelled) for f in found}


async def _store(platform: SandboxPlatform, options: dict[str, Any] | None = None) -> AsyncIterator[Store]:
    app, base_path = create_store(StoreSettings(platform=platform, credentials=CREDENTIALS, options=options or {}))
    with served(app, platform) as url:
        connection = Connection(id=f"{platform}-seller", partner="acme", role="seller", platform=platform,
                                base_url=f"{url}{base_path}", requests_per_s=1000,
                                credentials={k: SecretStr(CREDENTIALS[k]) for k in REQUIRED_CREDENTIALS[platform]})
        connector = connector_for(connection)
        async with httpx.AsyncClient(base_url=url) as admin:
            yield Store(platform, Merchant(platform, admin), connector, admin)
        await connector.aclose()


@pytest_asyncio.fixture(params=PLATFORMS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    async for each in _store(request.param):
        yield each


def _active(fulfillments: list[StoreFulfillment]) -> dict[str, Any]:
    return {f.ref: (f.numbers, f.cancelled) for f in fulfillments}


@pytest.mark.asyncio
async def test_fulfill_edit_and_cancel_as_the_store_and_the_connector_show_them(store: Store) -> None:
    merchant = store.merchant
    order = await merchant.place_order(LINES)
    ref = await merchant.fulfill(order, LINES, ["1Z1", "1Z2"], "UPS", urls=["https://t.example/1Z1"])

    shown = await merchant.fulfillments(order)
    if store.platform == "bigcommerce":  # one shipment per number, units split in line order
        assert [(f.ref == ref, f.lines, f.numbers) for f in shown] == [
            (True, {"ACME-MUG": 2}, ("1Z1",)), (False, {"ACME-CAP": 1}, ("1Z2",))]
        assert shown[0].urls == ("https://t.example/1Z1",) and shown[0].carrier == "UPS"
    else:
        assert [(f.ref, f.numbers, f.cancelled) for f in shown] == [(ref, ("1Z1", "1Z2"), False)]
        assert shown[0].lines == ({} if store.platform == "woocommerce" else LINES)
        assert shown[0].carrier == "UPS" and shown[0].urls[0] is not None
    assert await store.connector_view(order) == _active(shown)

    before = await store.updated(order)
    await store.advance_clock()
    await merchant.edit_tracking(order, ref, ["1Z3"])
    edited = next(f for f in await merchant.fulfillments(order) if f.ref == ref)
    assert (edited.numbers, edited.carrier, edited.cancelled) == (("1Z3",), "UPS", False)
    assert (await store.updated(order) != before) == (store.platform != "magento2")
    assert (await store.connector_view(order))[ref] == (("1Z3",), False)

    await merchant.cancel_fulfillment(order, ref)
    after = {f.ref: f for f in await merchant.fulfillments(order)}
    if store.platform == "bigcommerce":  # deleted for good; the connector reports a known ref as cancelled
        assert ref not in after
    else:
        assert after[ref].cancelled
    assert (await store.connector_view(order, (ref,)))[ref][1] is True


@pytest.mark.asyncio
async def test_the_buyer_cancels_units_and_then_the_order(store: Store) -> None:
    merchant = store.merchant
    order = await merchant.place_order(LINES)
    if store.platform in ("woocommerce", "magento2"):
        with pytest.raises(MerchantError, match="cancel"):
            await merchant.cancel_units(order, "ACME-MUG", 1)
    else:
        await merchant.cancel_units(order, "ACME-MUG", 1)
        raw = await merchant.order(order)
        if store.platform == "shopify":
            assert [line["current_quantity"] for line in raw["lines"] if line["sku"] == "ACME-MUG"] == [1]
        else:
            assert [p["quantity_refunded"] for p in raw["products"] if p["sku"] == "ACME-MUG"] == [1]
    await merchant.cancel_order(order)
    raw = await merchant.order(order)
    cancelled = {"shopify": raw.get("cancelled"), "bigcommerce": raw.get("status_id") == 5,
                 "woocommerce": raw.get("status") == "cancelled", "magento2": raw.get("state") == "canceled"}
    assert cancelled[store.platform] is True


@pytest.mark.asyncio
async def test_find_order_finds_what_the_connector_created(store: Store) -> None:
    for sku in ("ACME-1", "ACME-2"):
        if store.platform == "woocommerce":  # the woo connector needs the SKUs in the seller's catalogue
            (await store.admin.post("/_sandbox/woocommerce/products", json={"sku": sku})).raise_for_status()
    created = await store.connector.create_order(NewOrder(
        our_order_id="ord-merchant-1", buyer_order_number="#1001", email="ada@example.com",
        lines=(SellerLine(line_ref="l1", sku="ACME-1", quantity=2), SellerLine(line_ref="l2", sku="ACME-2",
                                                                               quantity=1)),
        shipping_address=Address(name="Ada Lovelace", lines=("1 Main St",), city="Austin", region="TX",
                                 postal_code="78751", country_code="US")))
    await store.merchant.place_order({"ACME-1": 1})  # another order, not ours

    found = await store.merchant.find_order("ord-merchant-1")
    assert found is not None and found.order_ref == created.order_ref
    assert {found.line_ids[sku] for sku in ("ACME-1", "ACME-2")} == set(created.line_refs.values())
    assert await store.merchant.find_order("ord-absent") is None


@pytest.mark.asyncio
async def test_woocommerce_core_fulfillments_hold_one_number() -> None:
    async for store in _store("woocommerce", {"tracking": "fulfillments"}):
        merchant = store.merchant
        order = await merchant.place_order(LINES)
        with pytest.raises(MerchantError, match="one tracking number"):
            await merchant.fulfill(order, LINES, ["1Z1", "1Z2"])
        ref = await merchant.fulfill(order, LINES, ["1Z1"], "UPS")
        assert [(f.ref, f.lines, f.numbers) for f in await merchant.fulfillments(order)] == [(ref, LINES, ("1Z1",))]
        assert await store.connector_view(order) == {ref: (("1Z1",), False)}
        await merchant.edit_tracking(order, ref, ["1Z9"])
        await merchant.cancel_fulfillment(order, ref)
        assert [(f.numbers, f.cancelled) for f in await merchant.fulfillments(order)] == [(("1Z9",), True)]
        assert await store.connector_view(order) == {ref: (("1Z9",), True)}

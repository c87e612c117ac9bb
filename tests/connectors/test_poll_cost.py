"""The poll-cost target on every platform: a poll with no changes costs one request per store and returns
nothing; a change costs the page that lists it plus that order's own reads, never a read of every open order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import StoreConnector
from connectors.registry import connector_for
from sandbox.common import SandboxApp
from sandbox.merchant import Merchant, PlacedOrder
from sandbox.registry import create_store
from sandbox.settings import SandboxPlatform, StoreSettings
from schemas.config import REQUIRED_CREDENTIALS, Connection

PLATFORMS: tuple[SandboxPlatform, ...] = ("shopify", "bigcommerce", "woocommerce", "magento2")
CREDENTIALS = {"access_token": "poll-cost-token", "consumer_key": "ck_poll", "consumer_secret": "cs_poll"}
ORDERS = 30


async def poll(connector: StoreConnector, cursor: str | None) -> tuple[str, list[str]]:
    refs: list[str] = []
    while True:
        page = await connector.orders_changed_since(cursor)
        refs += [order.order_ref for order in page.items]
        cursor = page.cursor
        if not page.has_more:
            return cursor, refs


@pytest.mark.asyncio
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_an_unchanged_store_costs_one_request_and_a_change_costs_only_its_order(
        platform: SandboxPlatform) -> None:
    app, base_path = create_store(StoreSettings(platform=platform, credentials=CREDENTIALS))
    assert isinstance(app, SandboxApp)
    transport = httpx.ASGITransport(app=app)
    connection = Connection(id=f"{platform}-1", partner="acme", role="seller", platform=platform,
                            base_url=f"http://127.0.0.1{base_path}",
                            credentials={k: SecretStr(CREDENTIALS[k]) for k in REQUIRED_CREDENTIALS[platform]})
    connector = connector_for(connection, transport=transport)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as admin:
        merchant = Merchant(platform, admin)
        await admin.post("/_sandbox/clock", json={"now": (datetime.now(UTC) - timedelta(days=2)).isoformat()})
        placed: list[PlacedOrder] = []
        for _ in range(ORDERS):  # orders placed over the last two days, an hour apart
            placed.append(await merchant.place_order({"ACME-MUG": 2}))
            await admin.post("/_sandbox/clock", json={"advance_s": 3600})
        cursor, first = await poll(connector, None)
        assert {order.order_ref for order in placed} <= set(first)

        await admin.delete("/_sandbox/requests")
        cursor, unchanged = await poll(connector, cursor)
        assert (await admin.get("/_sandbox/requests")).json()["total"] == 1
        assert unchanged == []  # the overlap lists the newest order again, unchanged: not returned

        await admin.post("/_sandbox/clock", json={"advance_s": 900})
        await merchant.ship(placed[3], "ACME-MUG", 1, "1Z999AA10123456784")
        await admin.delete("/_sandbox/requests")
        cursor, changed = await poll(connector, cursor)
        counts = (await admin.get("/_sandbox/requests")).json()
        assert changed == [placed[3].order_ref]
        assert counts["total"] <= 3, counts["by_route"]  # the page, plus BigCommerce's products and addresses
        assert "429" not in counts["by_status"]
    await connector.aclose()

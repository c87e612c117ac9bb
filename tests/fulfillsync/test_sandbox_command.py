"""`fulfillsync sandbox` serves all four simulated stores over real HTTP, and the connectors work against them."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr

from connectors.registry import connector_for
from sandbox.merchant import Merchant
from sandbox.settings import DEFAULT_CREDENTIALS as SANDBOX_DEFAULT_CREDENTIALS
from sandbox.settings import SandboxPlatform
from schemas.config import REQUIRED_CREDENTIALS, Connection

ANNOUNCED = re.compile(r"^(?P<platform>\S+)\s+\S+\s+base_url: (?P<url>\S+)$")
PLATFORMS: tuple[SandboxPlatform, ...] = ("shopify", "bigcommerce", "woocommerce", "magento2")


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """platform -> base_url of a running `fulfillsync sandbox` with one store per platform."""
    flags = [arg for platform in PLATFORMS for arg in (f"--{platform}", "0")]
    process = subprocess.Popen([sys.executable, "-m", "fulfillsync.cli", "sandbox", *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    urls: dict[str, str] = {}
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while len(urls) < len(PLATFORMS) and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            match = ANNOUNCED.match(line.strip())
            if match:
                urls[match["platform"]] = match["url"]
        assert len(urls) == len(PLATFORMS), f"the sandbox announced only {urls}"
        for url in urls.values():  # listening once an admin route answers
            root = "{0.scheme}://{0.netloc}".format(urlsplit(url))
            for _ in range(100):
                try:
                    httpx.get(f"{root}/_sandbox/requests", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        yield urls
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_connector_reads_what_a_merchant_did_on_a_served_store(served: dict[str, str],
                                                                 platform: SandboxPlatform) -> None:
    base_url = served[platform]
    root = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    connection = Connection(id=f"{platform}-seller", partner="acme", role="seller", platform=platform,
                            base_url=base_url,
                            credentials={key: SecretStr(SANDBOX_DEFAULT_CREDENTIALS[key])
                                         for key in REQUIRED_CREDENTIALS[platform]})

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=root) as http:
            merchant = Merchant(platform, http)
            placed = await merchant.place_order({"ACME-MUG": 2, "ACME-CAP": 1})
            await merchant.ship(placed, "ACME-MUG", 1, "1Z999AA10123456784")
        connector = connector_for(connection)
        try:
            page = await connector.orders_changed_since(None)
            orders = {order.order_ref: order for order in page.items}
            assert placed.order_ref in orders
            assert {line.sku: line.quantity for line in orders[placed.order_ref].lines} == {"ACME-MUG": 2,
                                                                                           "ACME-CAP": 1}
            fulfillments = await connector.fulfillments(placed.order_ref)
            assert [f.tracking.numbers for f in fulfillments if not f.cancelled] == [("1Z999AA10123456784",)]
        finally:
            await connector.aclose()

    asyncio.run(scenario())


def test_the_sandbox_without_stores_says_how_to_ask_for_one() -> None:
    result = subprocess.run([sys.executable, "-m", "fulfillsync.cli", "sandbox"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert "--stores FILE or a port per platform" in result.stderr


def test_a_bad_stores_file_names_the_store_and_the_key(tmp_path: Path) -> None:
    stores = tmp_path / "stores.yaml"
    stores.write_text("stores:\n  - {platform: shopify}\n  - {platform: shopfy, port: 8101}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "fulfillsync.cli", "sandbox", "--stores", str(stores)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "stores[1].platform: Input should be 'shopify'" in result.stderr and "stores[0]" not in result.stderr

"""Simulated stores in the test process for the unit tests of the sync loop's sinks (the seller fulfillment
checker, the buyer tracking sink): the store app (`sandbox.registry.create_store`), a connection whose credentials
it accepts, connectors to it over `httpx.ASGITransport`, the merchant acting on it (`sandbox.merchant.Merchant`)
and its admin routes (`sandbox/common.py`: faults, request counts). No sockets, no Kafka.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from connectors.base import StoreConnector
from connectors.http import RetryPolicy
from connectors.registry import connector_for
from sandbox.common import SandboxApp
from sandbox.merchant import Merchant
from sandbox.registry import create_store
from sandbox.settings import SandboxPlatform, StoreSettings
from schemas.config import REQUIRED_CREDENTIALS, Connection

TOKEN = "sync-store-secret-9d41c7e2"
"""Every store's credential (the access token, or the tail of the WooCommerce key and secret): a test looks for it
in what was published and logged."""
CREDENTIALS = {"access_token": TOKEN, "consumer_key": f"ck_{TOKEN}", "consumer_secret": f"cs_{TOKEN}"}
FAST = RetryPolicy(attempts=2, initial_delay_s=0.001, max_delay_s=0.002, max_retry_after_s=0.01)
"""A short in-call retry, so a failing store answers within milliseconds."""
ONCE = RetryPolicy(attempts=1, initial_delay_s=0.001, max_delay_s=0.002, max_retry_after_s=0.01)
"""No in-call retry: the first 5xx surfaces as a `RetryableError`."""
ROOT = "http://127.0.0.1"
"""Where every store is reached (a loopback host: WooCommerce connections refuse plain http elsewhere); the
requests never leave the process."""


@dataclass
class SimStore:
    """One simulated store and the connection fulfillsync has to it."""

    platform: SandboxPlatform
    app: SandboxApp
    connection: Connection
    admin: httpx.AsyncClient
    merchant: Merchant
    connectors: list[StoreConnector] = field(default_factory=list)

    def connector(self, connection: Connection | None = None, *, retry: RetryPolicy = FAST) -> StoreConnector:
        """A connector to this store for `connection` (default: the store's own), through the app in-process."""
        made = connector_for(connection or self.connection, transport=httpx.ASGITransport(app=self.app),
                             retry=retry)
        self.connectors.append(made)
        return made

    async def fault(self, status: int, *, times: int = 1, path: str = ".*", method: str | None = None,
                    body: str | None = None) -> None:
        """The next `times` API requests matching `path` (a regex) and `method` answer `status` (`body`)."""
        fault: dict[str, Any] = {"status": status, "times": times, "path": path}
        if method is not None:
            fault["method"] = method
        if body is not None:
            fault["body"] = body
        (await self.admin.post("/_sandbox/faults", json=fault)).raise_for_status()

    async def clear_faults(self) -> None:
        (await self.admin.delete("/_sandbox/faults")).raise_for_status()

    def requests(self, method: str | None = None) -> int:
        """API requests served so far (of `method` only, when given), faults included."""
        return sum(count for route, count in self.app.sandbox.requests.items()
                   if method is None or route.startswith(f"{method} "))

    def secrets(self) -> list[str]:
        return [value.get_secret_value() for value in self.connection.credentials.values()]


def connection_to(platform: SandboxPlatform, base_path: str, *, connection_id: str, partner: str,
                  role: Literal["seller", "buyer"], **extra: Any) -> Connection:
    """A connection to a store created with `CREDENTIALS`, rate-limited far above what a test sends."""
    return Connection.model_validate({
        "id": connection_id, "partner": partner, "role": role, "platform": platform,
        "base_url": f"{ROOT}{base_path}", "requests_per_s": 1000,
        "credentials": {key: SecretStr(CREDENTIALS[key]) for key in REQUIRED_CREDENTIALS[platform]}, **extra})


@asynccontextmanager
async def sim_store(platform: SandboxPlatform, *, connection_id: str, partner: str,
                    role: Literal["seller", "buyer"], options: Mapping[str, Any] | None = None,
                    **connection_extra: Any) -> AsyncIterator[SimStore]:
    """A fresh store of `platform` (with the store `options`) and the connection `connection_id` to it; every
    connector made with `SimStore.connector` and the merchant's client are closed when the block ends."""
    settings = StoreSettings(platform=platform, name="syncstore", credentials=CREDENTIALS, options=dict(options or {}))
    app, base_path = create_store(settings)
    connection = connection_to(platform, base_path, connection_id=connection_id, partner=partner, role=role,
                               **connection_extra)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ROOT) as admin:
        store = SimStore(platform, app, connection, admin, Merchant(platform, admin))
        try:
            yield store
        finally:
            for connector in store.connectors:
                await connector.aclose()

"""A thin layer over the shared `PlatformHttp` for one WooCommerce site: JSON in and out, parse errors as
MalformedResponseError, and WooCommerce's "route missing" answer turned into an actionable PermanentError.

Failure: every method raises only ConnectorError subclasses (RetryableError, PermanentError,
MalformedResponseError), each naming the connection and the request, never a credential.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from connectors.base import PermanentError
from connectors.http import PlatformHttp
from connectors.woocommerce.parse import ShapeError

T = TypeVar("T")


class WooClient:
    """JSON requests against one site's REST API (`path` starts at `/wp-json/`)."""

    def __init__(self, http: PlatformHttp) -> None:
        self.http = http

    async def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                   body: Any = None, ok: tuple[int, ...] = (200, 201),
                   lenient: bool = False) -> tuple[Any, httpx.Response]:
        """Send one request and return its JSON body and the response. Raises RetryableError / PermanentError
        from the HTTP layer, MalformedResponseError when a 2xx body is not JSON, and a PermanentError saying
        which plugin or feature is missing when WordPress answers 404 `rest_no_route`. `lenient`: see
        `PlatformHttp.json` (a listing whose orders are read one by one)."""
        try:
            response = await self.http.request(method, path, params=params, json_body=body, ok=ok)
        except PermanentError as error:
            if error.status == 404 and "rest_no_route" in error.platform_message:
                raise PermanentError(
                    f"{error} — the site has no such REST route: {_missing_feature(path)}",
                    connection=error.connection, platform_message=error.platform_message,
                    status=error.status) from None
            raise
        return self.http.json(response, lenient=lenient), response

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *,
                  lenient: bool = False) -> tuple[Any, httpx.Response]:
        return await self.call("GET", path, params=params, lenient=lenient)

    def parse(self, response: httpx.Response, parser: Callable[[Any], T], raw: Any) -> T:
        """`parser(raw)`, with a ShapeError reported as MalformedResponseError naming the request and field."""
        try:
            return parser(raw)
        except ShapeError as error:
            raise self.http.shape_error(response, str(error)) from None

    def connection_error(self, message: str, *, status: int | None = None) -> PermanentError:
        """A PermanentError of this connection for something we refuse to do (the message says what to do)."""
        return PermanentError(f"woocommerce connection {self.http.connection!r}: {message}",
                              connection=self.http.connection, status=status)


def _missing_feature(path: str) -> str:
    if "/wc-shipment-tracking/" in path:
        return ("the WooCommerce Shipment Tracking (or Advanced Shipment Tracking) plugin is not active; activate "
                "it, or set the connection's tracking_api to fulfillments if the store uses core fulfillments")
    if path.rstrip("/").endswith("/fulfillments") or "/fulfillments/" in path:
        return ("WooCommerce's Order Fulfillments feature is off (option woocommerce_feature_fulfillments_enabled); "
                "enable it, or set the connection's tracking_api to shipment-tracking")
    return "check the connection's base_url (the site root, before /wp-json) and that WooCommerce is active"

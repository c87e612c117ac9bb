"""One Shopify GraphQL Admin API call: HTTP through `PlatformHttp`, then Shopify's own error layers.

- Transport, HTTP status, timeouts, 429/5xx retries, redaction: `PlatformHttp`. A GraphQL request is a POST, which
  `PlatformHttp` would not resend after a 5xx or a timeout; queries are reads, so `run(..., read_only=True)`
  lets it retry them like a GET (mutations keep the POST rules: the caller's find-before-create handles them).
- Cost throttle: every response's `extensions.cost.throttleStatus` is recorded (`on_response`), and each
  operation's `requestedQueryCost` (per number of ids for `nodes(ids:)` reads). Before a request, the bucket is
  projected forward at its restore rate; when it would hold less than that operation's last cost (the largest
  cost seen, for an operation not sent yet), the
  request waits (in steps of `RESERVE_STEP_S`, so an answer's refund lets it go sooner) until it has refilled
  enough, so the bucket never runs dry in normal use; the cost is reserved from the projection at once, so
  concurrent requests (the agents run several orders of one connection at a time) each wait for their own share,
  and the bucket's state is shared by every connector instance of the shop in the process (each agent has its
  own). A `THROTTLED` answer (HTTP 200, nothing executed; another process or app drained the bucket) is still
  handled: pause for the refill and resend, up to the retry policy's attempts plus `THROTTLED_RESENDS`, then
  RetryableError with `not_applied=True`.
- Top-level `errors` other than THROTTLED: `MAX_COST_EXCEEDED`, `ACCESS_DENIED` and validation errors are
  PermanentError with Shopify's messages (validation errors usually mean the API version lacks a field);
  `INTERNAL_SERVER_ERROR` is RetryableError.
- A 2xx body that is not JSON, or not `{"data": {...}}`: MalformedResponseError.
- `userErrors` of mutations are the caller's (see `user_errors`).
An `X-Shopify-API-Version` answer other than the version asked for is logged once as a warning.
The access token is sent as `X-Shopify-Access-Token` and redacted from every message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import ConnectorError, PermanentError, RetryableError
from connectors.http import PlatformHttp, RetryPolicy, redact
from connectors.shopify.operations import Operation

log = logging.getLogger(__name__)
_RETRYABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"})
RESERVE_STEP_S = 0.25
THROTTLED_RESENDS = 8
"""A `THROTTLED` answer executed nothing, so it is resent after the refill wait this many times, whatever the retry
policy's attempts (which guard requests that may have run)."""


@dataclass
class _Bucket:
    """What one shop's cost bucket holds, as last seen (available, restore rate, maximum, monotonic time): one per
    shop and process, shared by every connector instance on it (each agent makes its own), since Shopify counts
    them all against the same bucket."""

    state: tuple[float, float, float, float] | None = None


_BUCKETS: dict[tuple[str, str, int], _Bucket] = {}


def error_message(response: httpx.Response) -> str:
    """Shopify's error text: `{"errors": "..."}`, `{"errors": [{"message": ...}]}` or `{"errors": {k: v}}`."""
    try:
        body = response.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, str):
        return errors
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
    if isinstance(errors, dict):
        return "; ".join(f"{key}: {value}" for key, value in errors.items())
    return ""


class ShopifyGraphQL:
    """The GraphQL endpoint of one connection."""

    def __init__(self, *, connection: str, base_url: str, version: str, token: str, requests_per_s: float,
                 retry: RetryPolicy, transport: httpx.AsyncBaseTransport | None,
                 sleep: Callable[[float], Awaitable[None]] | None, max_response_bytes: int | None = None) -> None:
        self.connection = connection
        self.version = version
        self._token = token
        self._retry = retry
        self._largest_cost = 0.0
        self._version_warned = False
        self._costs: dict[tuple[str, int], float] = {}
        # tests hand each simulated shop its own transport: a bucket per transport keeps them apart
        self._bucket = _BUCKETS.setdefault((connection, base_url, id(transport) if transport else 0), _Bucket())
        self.path = f"/admin/api/{version}/graphql.json"
        self.http = PlatformHttp(
            connection=connection, platform="shopify", base_url=base_url,
            headers={"X-Shopify-Access-Token": token, "Content-Type": "application/json"}, secrets=[token],
            requests_per_s=requests_per_s, error_message=error_message, on_response=self._observe_cost,
            retry=retry, transport=transport, sleep=sleep, max_response_bytes=max_response_bytes)
        self._sleep = sleep or asyncio.sleep

    async def run(self, operation: Operation, variables: Mapping[str, Any], *, read_only: bool,
                  lenient: bool = False) -> dict[str, Any]:
        """`data` of a successful answer. Raises as the module docstring says. `lenient`: a listing whose orders
        are read one by one (`PlatformHttp.json`)."""
        sends = max(self._retry.attempts, 1) + THROTTLED_RESENDS
        for send in range(1, sends + 1):
            shape = _shape(operation, variables)
            await self._reserve(shape)
            response = await self.http.request("POST", self.path, json_body={
                "query": operation.text, "variables": dict(variables), "operationName": operation.name},
                idempotent=read_only)
            body = self.http.json(response, lenient=lenient)
            if not isinstance(body, dict):
                raise self.http.shape_error(response, f"{operation.name}: the body is not a JSON object")
            self._remember_cost(shape, body.get("extensions"))
            errors = body.get("errors")
            if errors:
                error = self._errors(response, operation, errors, body.get("extensions"))
                if isinstance(error, RetryableError) and error.not_applied and send < sends:
                    continue  # throttled: nothing ran, and `_errors` paused the connection for the refill
                raise error
            data = body.get("data")
            if not isinstance(data, dict):
                raise self.http.shape_error(response, f"{operation.name}: no `data` object and no `errors`")
            return data
        raise AssertionError("unreachable: the last send returns or raises")

    def _observe_cost(self, response: httpx.Response) -> None:
        """Record the bucket's state from a response, and warn once when Shopify served another API version
        than the one asked for (it falls forward from retired versions). Never raises."""
        served = response.headers.get("x-shopify-api-version")
        if served and served != self.version and not self._version_warned:
            self._version_warned = True
            log.warning("%s: asked for Shopify API %s but was served %s (retired versions fall forward); update "
                        "the connection's api_version", self.connection, self.version, served)
        try:
            status = response.json()["extensions"]["cost"]["throttleStatus"]
            self._bucket.state = (float(status["currentlyAvailable"]), float(status["restoreRate"]),
                                  float(status["maximumAvailable"]), time.monotonic())
        except (ValueError, KeyError, TypeError):
            return

    def _remember_cost(self, shape: tuple[str, int], extensions: Any) -> None:
        try:
            requested = float(extensions["cost"]["requestedQueryCost"])
        except (KeyError, TypeError, ValueError):
            return
        self._costs[shape] = requested
        self._largest_cost = max(self._largest_cost, requested)

    async def _reserve(self, shape: tuple[str, int]) -> None:
        """Wait until the bucket (projected from the last answer, less what requests sent since reserved) holds
        what a request of this `shape` last cost, then reserve that cost. Waits in short steps, so an answer that
        comes back meanwhile (Shopify refunds what a query asked for beyond what it cost) lets it go at once."""
        while self._bucket.state is not None:
            available, restore, maximum, when = self._bucket.state
            if restore <= 0:
                return
            now = time.monotonic()
            projected = min(maximum, available + (now - when) * restore)
            needed = min(self._costs.get(shape, self._largest_cost), maximum)
            if projected >= needed:
                # taken from the projection at once, so concurrent requests of this shop wait for their own share
                self._bucket.state = (projected - needed, restore, maximum, now)
                return
            await self._sleep(min((needed - projected) / restore, RESERVE_STEP_S))

    def _errors(self, response: httpx.Response, operation: Operation, errors: Any,
                extensions: Any) -> ConnectorError:
        items = errors if isinstance(errors, list) else [errors]
        messages = [redact(str(e.get("message", e)) if isinstance(e, dict) else str(e), [self._token])
                    for e in items]
        codes = {str(e.get("extensions", {}).get("code")) for e in items
                 if isinstance(e, dict) and isinstance(e.get("extensions"), dict)}
        said = "; ".join(messages)
        where = f"shopify connection {self.connection!r}: {operation.name} (API {self.version})"
        if "THROTTLED" in codes:
            wait = _refill_wait(extensions)
            self.http.pause_for(wait)
            return RetryableError(f"{where} was throttled: the query cost bucket is empty; retry after {wait:.1f}s",
                                  connection=self.connection, platform_message=said, status=response.status_code,
                                  retry_after_s=wait, not_applied=True)
        if codes & _RETRYABLE_CODES:
            return RetryableError(f"{where} failed on Shopify's side: {said} (retried later)",
                                  connection=self.connection, platform_message=said, status=response.status_code)
        if "MAX_COST_EXCEEDED" in codes:
            hint = "the query asks for too much at once; lower the connector's page sizes"
        elif "ACCESS_DENIED" in codes:
            hint = ("the app lacks a scope this call needs (read_orders, write_orders, read_products, "
                    "write_*_fulfillment_orders)")
        else:
            hint = ("Shopify refused the query; the connection's api_version may lack a field this connector uses "
                    "(2024-10 or newer is needed)")
        return PermanentError(f"{where} answered errors: {said} ({hint})", connection=self.connection,
                              platform_message=said, status=response.status_code)

    async def aclose(self) -> None:
        await self.http.aclose()


def _shape(operation: Operation, variables: Mapping[str, Any]) -> tuple[str, int]:
    """What a request's cost depends on: its operation and, for `nodes(ids:)`, how many ids it asks for."""
    ids = variables.get("ids")
    return operation.name, len(ids) if isinstance(ids, list) else 0


def _refill_wait(extensions: Any) -> float:
    """Seconds until the bucket holds the requested cost again (1 s when Shopify did not say)."""
    try:
        cost = extensions["cost"]
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(missing, 1.0) / float(status["restoreRate"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0


def user_errors(connection: str, operation: Operation, payload: Any) -> PermanentError | None:
    """A PermanentError carrying a mutation payload's `userErrors` (field paths included), or None if empty."""
    errors = payload.get("userErrors") if isinstance(payload, dict) else None
    if not errors:
        return None
    said = "; ".join(_user_error(error) for error in errors if isinstance(error, dict)) or json.dumps(errors)
    return PermanentError(f"shopify connection {connection!r}: {operation.name} refused: {said}",
                          connection=connection, platform_message=said, status=200)


def _user_error(error: Mapping[str, Any]) -> str:
    field: Sequence[Any] | None = error.get("field")
    message = str(error.get("message", ""))
    return f"{'.'.join(str(part) for part in field)}: {message}" if field else message

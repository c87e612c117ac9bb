"""The HTTP behaviour every connector shares, written once.

`PlatformHttp` wraps one `httpx.AsyncClient` per connection and adds:
- timeouts (connect 10 s, read 30 s by default);
- a per-connection rate limiter (aiolimiter's leaky bucket) and a pause that platform-specific code can set
  from the platform's own quota headers or cost figures (`pause_for`), so we wait *before* a bucket runs dry;
- retries with exponential backoff and jitter (tenacity) on 429, 5xx, timeouts and connection errors, waiting
  what `Retry-After` or the platform's reset headers ask for when they say; requests that are not safe to
  repeat (a POST that may have been applied) are retried only on 429 and connection failures before anything
  was sent, never on a 5xx or a timeout: the caller's find-before-create handles those;
- typed errors: `RetryableError` / `PermanentError` with the status, the platform's own message (parsed by the
  connector's `error_message`) and a hint on what to do, and with every secret of the connection redacted;
- a cap on response bodies (`max_response_bytes`, default `DEFAULT_MAX_RESPONSE_BYTES`, 16 MiB): bodies are
  streamed and reading stops as soon as the (decoded) body passes the cap, or before reading when
  `Content-Length` already says it would, so a runaway or hostile answer (a huge page, a decompression bomb)
  never sits in memory whole. Passing it is a `PermanentError` naming the connection, the method and URL path
  (no query string, secrets redacted) and the cap, and saying what to do.

Failure: every method raises only `ConnectorError` subclasses; httpx exceptions never escape.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential
from tenacity.wait import wait_base

from connectors.base import ConnectorError, MalformedResponseError, PermanentError, RetryableError
from connectors.payload import lenient_json
from connectors.request_metrics import REQUEST_SECONDS, operation_of, outcome_of
from schemas import log_context, trace_scope

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
MIB = 1024 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 16 * MIB
"""The default cap on one response body: far above any page the connectors ask for (a full Shopify page of 100
orders, a WooCommerce page of 100 orders with their meta, are a few MiB at most)."""
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_HINTS = {
    401: "check the connection's credentials (they were refused)",
    403: "the credentials lack a permission (scope) this call needs; grant it on the platform",
    404: "check the connection's base_url, and that the order still exists",
}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry inside one call. Tests shorten the delays."""

    attempts: int = 5
    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0  # a longer Retry-After surfaces as a RetryableError for the caller to schedule


ErrorMessage = Callable[[httpx.Response], str]
"""Extracts the platform's own error text from an error response; must not raise (return '' if unsure)."""

ResponseHook = Callable[[httpx.Response], None]
"""Called on every response (success or not), e.g. to read quota headers and call `pause_for`."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty secret replaced by `[redacted]`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a response asks for: `Retry-After` (seconds or HTTP date), BigCommerce's
    `X-Rate-Limit-Time-Reset-Ms` or `X-Retry-After`; None when it asks for nothing."""
    reset_ms = headers.get("x-rate-limit-time-reset-ms")
    if reset_ms and reset_ms.strip().isdigit():
        return int(reset_ms) / 1000
    for name in ("retry-after", "x-retry-after"):
        value = headers.get(name)
        if not value:
            continue
        value = value.strip()
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
        return max((when - current).total_seconds(), 0.0)
    return None


class _WaitAsAsked(wait_base):
    """Wait what the error asks for (Retry-After and friends), else exponential backoff with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._backoff = wait_random_exponential(multiplier=policy.initial_delay_s, max=policy.max_delay_s)

    def __call__(self, retry_state: Any) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RetryableError) and error.retry_after_s is not None:
            return error.retry_after_s
        return float(self._backoff(retry_state))


class PlatformHttp:
    """One connection's HTTP client. See the module docstring for what it adds to httpx."""

    def __init__(self, *, connection: str, platform: str, base_url: str, headers: Mapping[str, str] | None = None,
                 auth: httpx.Auth | None = None, secrets: Iterable[str] = (), requests_per_s: float = 4.0,
                 error_message: ErrorMessage | None = None, on_response: ResponseHook | None = None,
                 retry: RetryPolicy = RetryPolicy(), timeout: httpx.Timeout | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 max_response_bytes: int | None = None) -> None:
        """`max_response_bytes`: the cap on one response body (None: `DEFAULT_MAX_RESPONSE_BYTES`). Raises
        ValueError when it is not positive."""
        cap = DEFAULT_MAX_RESPONSE_BYTES if max_response_bytes is None else max_response_bytes
        if cap <= 0:
            raise ValueError(f"connection {connection!r}: max_response_bytes must be positive, not {cap}")
        self.max_response_bytes = cap
        self.connection = connection
        self.platform = platform
        self._secrets = tuple(s for s in secrets if s)
        self._error_message = error_message or (lambda response: "")
        self._on_response = on_response
        self._retry = retry
        self._limiter = AsyncLimiter(max(requests_per_s, 0.01), 1.0)
        self._paused_until = 0.0
        self._sleep = sleep
        self.requests_sent = 0
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"Accept": "application/json", **(headers or {})}, auth=auth,
            timeout=timeout or httpx.Timeout(30.0, connect=10.0), transport=transport, follow_redirects=False)

    def pause_for(self, seconds: float) -> None:
        """Hold every request of this connection for `seconds` from now (the platform's quota is nearly spent)."""
        self._paused_until = max(self._paused_until, time.monotonic() + max(seconds, 0.0))

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      json_body: Any = None, ok: Iterable[int] = (200, 201, 204),
                      idempotent: bool | None = None) -> httpx.Response:
        """Send one request, retrying as the module docstring says; return the response when its status is in
        `ok`. Raises RetryableError / PermanentError (with the platform's message) otherwise.

        `idempotent`: whether sending it twice is harmless (default: by method; a GraphQL query is a POST that
        is, so its caller says `idempotent=True`)."""
        method = method.upper()
        accepted = frozenset(ok)
        repeatable = method in _SAFE_METHODS if idempotent is None else idempotent
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts), wait=_WaitAsAsked(self._retry),
            retry=retry_if_exception(lambda error: self._worth_retrying(repeatable, error)), reraise=True,
            sleep=self._sleep or asyncio.sleep)
        with log_context.bound(connection=self.connection):  # every line logged on the way names the connection
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(method, path, params, json_body, accepted)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    @property
    def secrets(self) -> tuple[str, ...]:
        """The connection's secrets, for redacting what is kept of a platform's payload."""
        return self._secrets

    def json(self, response: httpx.Response, *, lenient: bool = False) -> Any:
        """The response body as JSON. Raises MalformedResponseError naming the request when it is not JSON
        (an HTML error page, a truncated body). `lenient` (a listing of orders read one by one): bytes that are not
        UTF-8 inside strings and nesting too deep to decode do not fail the body; each order is checked on its own
        (`connectors.rejects.lenient_json`)."""
        try:
            if lenient:
                return lenient_json(response.content)
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise MalformedResponseError(
                f"{self._where(response.request)} answered {response.status_code} with a body that is not valid "
                f"JSON ({error}; {len(response.content)} bytes, starting {self._clip(response.text, 80)!r}); "
                "the platform or a proxy in front of it is misbehaving; it will be retried",
                connection=self.connection, status=response.status_code) from None

    def shape_error(self, response: httpx.Response, what: str) -> MalformedResponseError:
        """An error for a JSON body that lacks what the documented shape promises (`what` says which part)."""
        return MalformedResponseError(
            f"{self._where(response.request)} answered {response.status_code} with JSON that is not the documented "
            f"shape: {what}", connection=self.connection, status=response.status_code)

    async def aclose(self) -> None:
        """Close the connection pool. Never raises."""
        try:
            await self._client.aclose()
        except Exception:
            log.debug("closing the HTTP client of %s failed", self.connection, exc_info=True)

    # -- one attempt ---------------------------------------------------------------------------------------

    async def _send_once(self, method: str, path: str, params: Mapping[str, Any] | None, json_body: Any,
                         accepted: frozenset[int]) -> httpx.Response:
        """One attempt, after the connection's turn: observed in `fulfillsync_platform_request_seconds`
        (`connectors.request_metrics`) when it answered or failed; not when it was cancelled. When spans are
        recorded (`schemas.trace_scope`), the attempt is a client span of the current trace (failed with the error
        it raised); the platform is sent no trace header."""
        await self._wait_turn()
        started = time.monotonic()
        outcome: str | None = None
        failure: ConnectorError | None = None
        span = self._span(method, path, json_body) if trace_scope.recording() else None
        try:
            response = await self._exchange(method, path, params, json_body, accepted)
            outcome = "ok"
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
            return response
        except ConnectorError as error:
            outcome = outcome_of(error)
            failure = error
            raise
        finally:
            if outcome is not None:
                REQUEST_SECONDS.labels(self.connection, self.platform, operation_of(method, path, json_body),
                                       outcome).observe(time.monotonic() - started)
            if span is not None:
                if failure is not None and failure.status is not None:
                    span.set_attribute("http.response.status_code", failure.status)
                span.end(failure)

    def _span(self, method: str, path: str, json_body: Any) -> trace_scope.OpenSpan | None:
        """A client span for one attempt, named by its operation, with its path without the query string (secrets
        redacted in both)."""
        name = redact(operation_of(method, path, json_body), self._secrets)
        return trace_scope.start_span(name, kind="client", attributes={
            "http.request.method": method, "url.path": redact(path.split("?", 1)[0], self._secrets),
            "server.address": self._client.base_url.host, "fulfillsync.connection": self.connection,
            "fulfillsync.platform": self.platform})

    async def _exchange(self, method: str, path: str, params: Mapping[str, Any] | None, json_body: Any,
                        accepted: frozenset[int]) -> httpx.Response:
        request = self._client.build_request(method, path, params=params, json=json_body)
        try:
            self.requests_sent += 1
            response = await self._client.send(request, stream=True)
            try:
                await self._read_capped(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException as error:
            raise self._transport_error(request, f"timed out ({type(error).__name__})", sent=True) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise self._transport_error(request, f"could not connect ({error})", sent=False) from None
        except httpx.TransportError as error:
            raise self._transport_error(request, f"failed in transport ({type(error).__name__}: {error})",
                                        sent=True) from None
        if self._on_response is not None:
            self._on_response(response)
        if response.status_code in accepted:
            return response
        raise self._status_error(response)

    async def _read_capped(self, response: httpx.Response) -> None:
        """Read `response`'s body into it (`response.content` works afterwards), stopping once it passes
        `max_response_bytes`: PermanentError. httpx errors while reading propagate to the caller."""
        cap = self.max_response_bytes
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > cap and "content-encoding" not in response.headers:
            raise self._too_large(response.request, f"announced {int(declared)} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise self._too_large(response.request, f"sent more than {cap} bytes")
            chunks.append(chunk)
        # what httpx's own `aread()` stores; streaming leaves it unset, and the body was decoded above
        response._content = b"".join(chunks)

    def _too_large(self, request: httpx.Request, what: str) -> PermanentError:
        path = redact(request.url.path, self._secrets)
        cap_mib = self.max_response_bytes / MIB
        return PermanentError(
            f"{self.platform} connection {self.connection!r}: {request.method} {path} {what}, over the response "
            f"size cap of {cap_mib:g} MiB ({self.max_response_bytes} bytes); the body was not read. If the platform "
            "legitimately answers that much (an order with thousands of lines, a large page), raise the "
            "connection's `max_response_mb` in the configuration; otherwise check base_url: something other than "
            "the platform's API may be answering", connection=self.connection, status=None)

    async def _wait_turn(self) -> None:
        pause = self._paused_until - time.monotonic()
        if pause > 0:
            log.info("%s: waiting %.2fs for the platform's rate limit to recover", self.connection, pause)
            await (self._sleep or asyncio.sleep)(pause)
        await self._limiter.acquire()

    def _worth_retrying(self, repeatable: bool, error: BaseException) -> bool:
        if not isinstance(error, RetryableError) or isinstance(error, MalformedResponseError):
            return False
        if error.retry_after_s is not None and error.retry_after_s > self._retry.max_retry_after_s:
            return False
        return repeatable or error.not_applied

    # -- errors --------------------------------------------------------------------------------------------

    def _status_error(self, response: httpx.Response) -> ConnectorError:
        status = response.status_code
        platform_message = redact(self._safe_message(response), self._secrets)
        said = f": {self._clip(platform_message, 500)}" if platform_message else ""
        where = self._where(response.request)
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers)
            hint = f"retry after {wait:g}s" if wait is not None else "retried with backoff"
            return RetryableError(f"{where} answered {status} {response.reason_phrase}{said} ({hint})",
                                  connection=self.connection, platform_message=platform_message, status=status,
                                  retry_after_s=wait, not_applied=status == 429)
        hint = _HINTS.get(status, "the platform refused the request; retrying will not help")
        return PermanentError(f"{where} answered {status} {response.reason_phrase}{said} ({hint})",
                              connection=self.connection, platform_message=platform_message, status=status)

    def _transport_error(self, request: httpx.Request, what: str, *, sent: bool) -> RetryableError:
        return RetryableError(redact(f"{self._where(request)} {what}", self._secrets), connection=self.connection,
                              not_applied=not sent)

    def _safe_message(self, response: httpx.Response) -> str:
        try:
            return self._error_message(response) or self._clip(response.text, 300)
        except Exception:  # noqa: BLE001 - a broken error body must not hide the status
            return self._clip(response.text, 300)

    def _where(self, request: httpx.Request) -> str:
        url = redact(str(request.url.copy_with(query=None)), self._secrets)
        return f"{self.platform} connection {self.connection!r}: {request.method} {url}"

    @staticmethod
    def _clip(text: str, limit: int) -> str:
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

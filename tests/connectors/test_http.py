"""The shared HTTP behaviour of every connector: retries, waits, error types, redaction."""

from __future__ import annotations

import email.utils
from collections.abc import Callable

import httpx
import pytest

from connectors.base import MalformedResponseError, PermanentError, RetryableError
from connectors.http import PlatformHttp, RetryPolicy, redact, retry_after_seconds

SECRET = "fake-access-token-0123456789"
Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers requests from a list of responses (or exceptions) in order, and records what it was sent."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(script: Script, slept: list[float], **kwargs: object) -> PlatformHttp:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    options: dict[str, object] = {"retry": RetryPolicy(attempts=4, initial_delay_s=0.01, max_delay_s=0.05),
                                  "requests_per_s": 1000.0, **kwargs}
    return PlatformHttp(connection="acme-shop", platform="shopify", base_url="https://acme.example",
                        headers={"X-Token": SECRET}, secrets=[SECRET], transport=httpx.MockTransport(script),
                        sleep=sleep, **options)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_429_is_retried_after_the_wait_it_asks_for() -> None:
    slept: list[float] = []
    script = Script(httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={"ok": True}))
    http = client(script, slept)
    response = await http.request("POST", "/orders", json_body={})
    assert response.status_code == 200
    assert len(script.requests) == 2
    assert slept == [3.0]


@pytest.mark.asyncio
async def test_a_5xx_on_a_get_is_retried_with_backoff_then_surfaces_as_retryable() -> None:
    slept: list[float] = []
    script = Script(httpx.Response(503, json={"errors": "Service busy"}))
    http = client(script, slept)
    with pytest.raises(RetryableError) as raised:
        await http.request("GET", "/orders")
    assert len(script.requests) == 4
    assert len(slept) == 3 and all(0 <= wait <= 0.05 for wait in slept)
    assert raised.value.status == 503
    assert "Service busy" in str(raised.value) and "GET https://acme.example/orders" in str(raised.value)


@pytest.mark.asyncio
async def test_a_5xx_on_a_post_is_not_resent_because_it_may_have_been_applied() -> None:
    script = Script(httpx.Response(500, text="boom"), httpx.Response(201))
    with pytest.raises(RetryableError) as raised:
        await client(script, []).request("POST", "/fulfillments", json_body={"a": 1})
    assert len(script.requests) == 1
    assert not raised.value.not_applied


@pytest.mark.asyncio
async def test_a_post_that_never_reached_the_platform_is_resent() -> None:
    script = Script(httpx.ConnectError("refused"), httpx.Response(201, json={}))
    response = await client(script, []).request("POST", "/fulfillments", json_body={})
    assert response.status_code == 201 and len(script.requests) == 2


@pytest.mark.asyncio
async def test_a_timed_out_post_is_not_resent() -> None:
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(201))
    with pytest.raises(RetryableError, match="timed out"):
        await client(script, []).request("POST", "/fulfillments", json_body={})
    assert len(script.requests) == 1


@pytest.mark.asyncio
async def test_a_4xx_is_permanent_at_once_with_the_platform_message_and_a_hint() -> None:
    script = Script(httpx.Response(403, json={"message": "missing scope write_fulfillments"}))
    http = client(script, [], error_message=lambda response: response.json()["message"])
    with pytest.raises(PermanentError) as raised:
        await http.request("GET", "/orders")
    assert len(script.requests) == 1
    assert raised.value.platform_message == "missing scope write_fulfillments"
    assert "403" in str(raised.value) and "permission" in str(raised.value)
    assert raised.value.connection == "acme-shop"


@pytest.mark.asyncio
async def test_secrets_never_reach_an_error_message() -> None:
    echo = httpx.Response(401, text=f"token {SECRET} is not valid")
    script = Script(echo)
    with pytest.raises(PermanentError) as raised:
        await client(script, []).request("GET", f"/orders?key={SECRET}")
    assert SECRET not in str(raised.value) and SECRET not in raised.value.platform_message
    assert "[redacted]" in raised.value.platform_message
    assert "credentials" in str(raised.value)


@pytest.mark.asyncio
async def test_a_retry_after_beyond_the_limit_is_left_to_the_caller() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "600"}))
    with pytest.raises(RetryableError) as raised:
        await client(script, []).request("GET", "/orders")
    assert len(script.requests) == 1 and raised.value.retry_after_s == 600


@pytest.mark.asyncio
async def test_a_body_that_is_not_json_is_a_clear_malformed_response_error() -> None:
    script = Script(httpx.Response(200, text='{"orders": [{"id": 1'))
    http = client(script, [])
    response = await http.request("GET", "/orders")
    with pytest.raises(MalformedResponseError) as raised:
        http.json(response)
    assert "not valid JSON" in str(raised.value) and "/orders" in str(raised.value)
    assert isinstance(raised.value, RetryableError)


@pytest.mark.asyncio
async def test_a_pause_holds_the_next_request() -> None:
    slept: list[float] = []
    http = client(Script(httpx.Response(200)), slept)
    http.pause_for(2.0)
    await http.request("GET", "/orders")
    assert len(slept) == 1 and 1.9 < slept[0] <= 2.0


@pytest.mark.asyncio
async def test_the_response_hook_sees_every_response() -> None:
    seen: list[int] = []
    script = Script(httpx.Response(500), httpx.Response(200))
    http = client(script, [], on_response=lambda response: seen.append(response.status_code))
    await http.request("GET", "/orders")
    assert seen == [500, 200]
    assert http.requests_sent == 2


def test_retry_after_reads_every_header_the_platforms_use() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"})) == 7.0
    assert retry_after_seconds(httpx.Headers({"X-Rate-Limit-Time-Reset-Ms": "1500"})) == 1.5
    assert retry_after_seconds(httpx.Headers({"X-Retry-After": "2"})) == 2.0
    later = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds(httpx.Headers({"Retry-After": later}), now=1_000_000) == 30.0
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None


def test_redact_replaces_every_secret_and_ignores_empty_ones() -> None:
    assert redact("a=s1&b=s2&c=s1", ["s1", "s2", ""]) == "a=[redacted]&b=[redacted]&c=[redacted]"


@pytest.mark.asyncio
async def test_a_post_the_caller_declares_idempotent_is_retried_after_a_5xx() -> None:
    script = Script(httpx.Response(502), httpx.Response(200, json={"data": {}}))
    response = await client(script, []).request("POST", "/graphql.json", json_body={"query": "{ shop { id } }"},
                                                idempotent=True)
    assert response.status_code == 200 and len(script.requests) == 2


@pytest.mark.asyncio
async def test_a_delete_the_caller_declares_unsafe_is_not_retried() -> None:
    script = Script(httpx.Response(503), httpx.Response(204))
    with pytest.raises(RetryableError):
        await client(script, []).request("DELETE", "/shipments/1", idempotent=False)
    assert len(script.requests) == 1


class _Endless(httpx.AsyncByteStream):
    """A body that never ends unless the reader stops; counts the chunks handed out."""

    def __init__(self) -> None:
        self.chunks = 0

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        while True:
            self.chunks += 1
            yield b"x" * 65536


@pytest.mark.asyncio
async def test_a_body_over_the_cap_stops_the_read_and_is_a_permanent_error_naming_path_and_cap() -> None:
    stream = _Endless()
    script = Script(httpx.Response(200, stream=stream))
    http = client(script, [], max_response_bytes=1024 * 1024)
    with pytest.raises(PermanentError) as caught:
        await http.request("GET", f"/orders/7?token={SECRET}&page=2")
    message = str(caught.value)
    assert "acme-shop" in message and "GET /orders/7 " in message and "1 MiB" in message
    assert "max_response_mb" in message and SECRET not in message and "page=2" not in message
    assert stream.chunks <= 1024 * 1024 // 65536 + 2  # stopped just past the cap, not read to the end
    assert len(script.requests) == 1  # not retried


@pytest.mark.asyncio
async def test_a_declared_length_over_the_cap_is_refused_before_reading_and_bodies_within_it_are_kept() -> None:
    big = httpx.Response(200, headers={"Content-Length": str(32 * 1024 * 1024)}, content=b"{}")
    with pytest.raises(PermanentError, match="announced 33554432 bytes, over the response size cap of 16 MiB"):
        await client(Script(big), []).request("GET", "/orders")
    fitting = await client(Script(httpx.Response(200, json={"ok": [1] * 1000})), [],
                           max_response_bytes=10_000).request("GET", "/orders")
    assert fitting.json() == {"ok": [1] * 1000}


def test_the_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_response_bytes must be positive"):
        client(Script(httpx.Response(200)), [], max_response_bytes=0)

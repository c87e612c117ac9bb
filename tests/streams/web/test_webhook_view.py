"""The real `POST /webhooks/{connection_id}` view: `register_webhooks` on a Faust app, its aiohttp application
served by aiohttp's test server (no broker, no worker). Raw HTTP requests, fuzzed, never get a 5xx; oversized
bodies get 413 before they are sent whole; a flood from one address gets 429 with `Retry-After`."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import aiohttp
import faust
import pytest
import pytest_asyncio
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streams.web.limits import RateLimit, WebhookLimits
from streams.web.webhooks import MAX_BODY_BYTES, WebhookReceiver, register_webhooks
from streams.web.webhooks import WebhookMetrics as Metrics
from tests.support.webhooks import (
    FULFILLMENT,
    NOW,
    Recorder,
    config,
    counted,
    shopify_headers,
    woo_headers,
)

GENEROUS = WebhookLimits(per_address=RateLimit(100_000, 100_000.0), per_connection=RateLimit(100_000, 100_000.0))


@dataclass
class Served:
    host: str
    port: int
    receiver: WebhookReceiver
    metrics: Metrics
    recorder: Recorder

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


@asynccontextmanager
async def served(limits: WebhookLimits = GENEROUS, **options: Any) -> AsyncIterator[Served]:
    """The view of a fresh Faust app, on a free loopback port."""
    app = faust.App(f"webhook-view-{uuid.uuid4().hex[:8]}", web_enabled=True, autodiscover=False)
    metrics, recorder = Metrics(), Recorder()
    receiver = register_webhooks(app, config(), metrics, recorder, clock=lambda: NOW, limits=limits, **options)
    server = TestServer(cast(Any, app.web).web_app, host="127.0.0.1")  # Faust's aiohttp driver
    await server.start_server()
    try:
        assert server.port is not None
        yield Served("127.0.0.1", server.port, receiver, metrics, recorder)
    finally:
        await receiver.close(timeout_s=1)
        await server.close()


async def raw_exchange(target: Served, request: bytes, *, timeout_s: float = 10.0,
                       server_closes: bool = False) -> int | None:
    """Send `request` as it is, keeping the connection open (aiohttp drops the answer to a client that half-closes),
    and read the status of the answer (None: the server closed without one). `server_closes`: also check that
    the server closes the connection right after its answer (within 2 s) instead of reading on."""
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        writer.write(request)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout_s)
        if server_closes:
            await asyncio.wait_for(reader.read(), 2)  # to EOF: raises TimeoutError while the server reads on
    except ConnectionError:
        return None
    finally:
        writer.close()
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


def http_request(method: bytes, path: bytes, headers: list[tuple[bytes, bytes]], body: bytes,
                 framing: str, chunk_sizes: list[int]) -> bytes:
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if framing == "length":
        payload = body
        lines.append(b"Content-Length: " + str(len(body)).encode())
    elif framing == "short-length":  # declares fewer bytes than sent: the rest looks like a next request
        payload = body
        lines.append(b"Content-Length: " + str(len(body) // 2).encode())
    elif framing == "long-length":  # declares more than sent, then the client stops sending
        payload = body
        lines.append(b"Content-Length: " + str(len(body) + 10).encode())
    else:
        lines.append(b"Transfer-Encoding: chunked")
        pieces, rest = [], body
        for size in [*chunk_sizes, len(body)]:
            if not rest:
                break
            piece, rest = rest[:max(size, 1)], rest[max(size, 1):]
            pieces.append(f"{len(piece):x}".encode() + b"\r\n" + piece + b"\r\n")
        payload = b"".join(pieces) + (b"0\r\n\r\n" if framing == "chunked" else b"zz\r\n")  # or a broken chunk
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


HEADER_NAME = st.one_of(
    st.sampled_from([b"X-Shopify-Hmac-Sha256", b"X-Shopify-Event-Id", b"X-WC-Webhook-Signature",
                     b"X-WC-Webhook-Topic", b"webhook-id", b"webhook-timestamp", b"webhook-signature",
                     b"Content-Type", b"Expect", b"Content-Encoding"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~", min_size=1,
            max_size=30).map(str.encode))
HEADER_VALUE = st.one_of(
    st.binary(max_size=80).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")),
    st.text(alphabet="0123456789", max_size=5_000).map(str.encode),
    st.sampled_from([b"gzip", b"100-continue", b"v1,AAAA v1a,BBBB", b"\xff\xfe", "é".encode()]))
# Request targets on the route: one non-empty path segment after /webhooks/ (aiohttp answers other paths itself).
PATH = st.one_of(
    st.sampled_from(["acme-shopify", "shop-bc", "shop-woo", "acme-shopify-nosecret", "m2"]).map(
        lambda c: f"/webhooks/{c}".encode()),
    st.text(min_size=1, max_size=120).filter(lambda text: "/" not in text and text.strip(".")).map(
        lambda text: ("/webhooks/" + quote(text.encode("utf-8", "surrogatepass"), safe="")).encode()),
    st.binary(min_size=1, max_size=40).map(lambda raw: bytes(c for c in raw if c not in b" /?#%.\r\n\t\x00"))
    .filter(bool).map(lambda raw: b"/webhooks/" + raw),
)


def unexpected_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """ERROR records other than aiohttp's own for malformed HTTP (which it answers 400 and logs itself)."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR
            and not (r.exc_info and isinstance(r.exc_info[1], HttpProcessingError))]


@pytest_asyncio.fixture
async def fuzz_target() -> AsyncIterator[Served]:
    """One served view for every example of the fuzz test (a short body timeout: some requests stop sending)."""
    async with served(read_timeout_s=0.5) as target:
        yield target


@pytest.mark.asyncio
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from([b"POST"] * 6 + [b"GET", b"HEAD", b"PUT", b"DELETE", b"PROPFIND"]), path=PATH,
       headers=st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=8), body=st.binary(max_size=3_000),
       framing=st.sampled_from(["length", "chunked", "broken-chunked", "short-length", "long-length"]),
       chunk_sizes=st.lists(st.integers(min_value=1, max_value=1_000), max_size=5), sign=st.booleans())
@example(method=b"POST", path=b"/webhooks/shop-bc", headers=[(b"webhook-id", b"m"), (b"webhook-signature", b"v1,x"),
                                                             (b"webhook-timestamp", b"1" * 400)],
         body=b"{}", framing="length", chunk_sizes=[], sign=False)
@example(method=b"POST", path=b"/webhooks/shop-bc", headers=[(b"webhook-id", b"msg_\xff"),
                                                             (b"webhook-signature", b"v1,\xfe"),
                                                             (b"webhook-timestamp", b"1700000000")],
         body=b"{}", framing="chunked", chunk_sizes=[1], sign=False)
@example(method=b"POST", path=b"/webhooks/acme-shopify", headers=[], body=b"[" * 2_000, framing="length",
         chunk_sizes=[], sign=True)
@example(method=b"GET", path=b"/webhooks/acme-shopify", headers=[(b"Content-Encoding", b"gzip")], body=b"\x00\x00",
         framing="length", chunk_sizes=[], sign=False)  # a 405 whose unread body aiohttp would fail to decode
@example(method=b"GET", path=b"/webhooks/acme-shopify",
         headers=[(b"Content-Encoding", b""), (b"Content-Encoding", b"gzip")],  # the coding in a second header
         body=b"\x00\x00", framing="length", chunk_sizes=[], sign=False)
@example(method=b"POST", path=b"/webhooks/acme-shopify", headers=[(b"Content-Encoding", b"identity, gzip")],
         body=b"\x00\x00", framing="length", chunk_sizes=[], sign=True)
@example(method=b"PUT", path=b"/webhooks/acme-shopify", headers=[(b"Content-Encoding", b"deflate")],
         body=b"\xff" * 64, framing="length", chunk_sizes=[], sign=False)
async def test_view_fuzzed_raw_requests_never_answer_5xx(
        method: bytes, path: bytes, headers: list[tuple[bytes, bytes]], body: bytes, framing: str,
        chunk_sizes: list[int], sign: bool, fuzz_target: Served, caplog: pytest.LogCaptureFixture) -> None:
    if sign:
        headers = [*headers, *((k.encode(), v.encode()) for k, v in shopify_headers(body, "ev-f").items())]
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        status = await raw_exchange(fuzz_target, http_request(method, path, headers, body, framing, chunk_sizes))
    assert status is not None and status < 500, status
    assert not unexpected_errors(caplog), caplog.text
    assert counted(fuzz_target.metrics, "unknown", "internal_error") == 0


@pytest.mark.asyncio
async def test_view_answers_a_declared_oversized_body_413_before_it_is_sent() -> None:
    async with served() as target:
        head = (b"POST /webhooks/acme-shopify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(10 * 1024 * 1024).encode() + b"\r\n\r\n")
        # Only 1 KiB of the 10 MiB declared is ever sent, and the client keeps the connection open: the answer can
        # only come from Content-Length.
        status = await raw_exchange(target, head + b"x" * 1024, timeout_s=5, server_closes=True)
        assert status == 413
        assert counted(target.metrics, "acme-shopify", "too_large") == 1


@pytest.mark.asyncio
async def test_view_stops_reading_a_chunked_body_once_past_256_kib() -> None:
    async with served() as target:
        chunk = b"x" * 32 * 1024
        sent = b"".join(f"{len(chunk):x}".encode() + b"\r\n" + chunk + b"\r\n" for _ in range(9))  # 288 KiB
        head = b"POST /webhooks/nobody HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        # No final chunk, connection left open: a server reading the body whole would still be waiting.
        status = await raw_exchange(target, head + sent, timeout_s=5, server_closes=True)
        assert status == 413
        assert 9 * len(chunk) > MAX_BODY_BYTES
        assert counted(target.metrics, "unknown", "too_large") == 1


@pytest.mark.asyncio
async def test_view_answers_a_flood_from_one_address_429_with_retry_after_and_accepts_signed_deliveries() -> None:
    limits = WebhookLimits(per_address=RateLimit(10, 2.0), per_connection=RateLimit(100, 100.0))
    async with served(limits) as target, aiohttp.ClientSession() as session:
        async with session.post(target.url("/webhooks/shop-woo"), data=FULFILLMENT,
                                headers=woo_headers(FULFILLMENT, "d-1")) as response:
            assert (response.status, await response.json()) == (202, {"status": "accepted"})
        statuses, retry_after = [], set()
        for n in range(30):
            async with session.post(target.url(f"/webhooks/acme-shopify-{n % 3}"), data=b"{}",
                                    headers={"X-Shopify-Hmac-Sha256": "AAAA"}) as response:
                statuses.append(response.status)
                if response.status == 429:
                    retry_after.add(response.headers.get("Retry-After"))
                    assert await response.json() == {"error": "too many requests"}
        assert 9 <= statuses.count(401) <= 12 and statuses.count(429) >= 18  # the burst, then refusals
        assert retry_after == {"1"}
        async with session.get(target.url("/webhooks/acme-shopify")) as response:
            assert response.status == 405
        await target.receiver.drain()
        assert [n.delivery_id for n in target.recorder.notices] == ["d-1"]
        assert counted(target.metrics, "unknown", "rate_limited") == statuses.count(429)


@pytest.mark.asyncio
async def test_view_expect_headers_get_100_continue_417_or_an_early_413_never_a_500() -> None:
    async with served() as target:
        reader, writer = await asyncio.open_connection(target.host, target.port)
        try:
            body = b"{}"
            writer.write(b"POST /webhooks/acme-shopify HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                         b"Content-Length: 2\r\n\r\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.readline(), 5) == b"HTTP/1.1 100 Continue\r\n"
            writer.write(body)
            await writer.drain()
            assert await asyncio.wait_for(reader.readline(), 5) == b"\r\n"
            assert (await asyncio.wait_for(reader.readline(), 5)).split()[1] == b"401"
        finally:
            writer.close()
        undecodable = (b"POST /webhooks/acme-shopify HTTP/1.1\r\nHost: x\r\nExpect: \xff\xfe\r\n"
                       b"Content-Length: 2\r\n\r\n{}")
        assert await raw_exchange(target, undecodable) == 417
        huge = (b"POST /webhooks/acme-shopify HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                b"Content-Length: 99999999\r\n\r\n")
        assert await raw_exchange(target, huge, timeout_s=5) == 413  # no 100 Continue first: the body is never sent
        gzip = (b"POST /webhooks/acme-shopify HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
                b"Content-Length: 2\r\n\r\nxx")
        assert await raw_exchange(target, gzip) == 415

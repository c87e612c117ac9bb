"""The webhook receiver under abuse, in process: fuzzed headers and bodies never give a 5xx, the body cap is
enforced without reading a body whole, rate limits per source address and per connection answer 429 with
`Retry-After`, a full hand-off queue answers 429, Shopify and WooCommerce replays with a new delivery id are
duplicates, and unknown connections cost the same HMAC as known ones."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors import webhook_signatures
from connectors.webhooks import RecentBodies
from streams.web import webhooks as webhooks_module
from streams.web.limits import RateLimit, WebhookLimits, address_key
from streams.web.webhooks import Answer, WebhookReceiver
from streams.web.webhooks import WebhookMetrics as Metrics
from tests.support.webhooks import (
    BC_SECRET,
    FULFILLMENT,
    NOW,
    SHOPIFY_SECRET,
    WOO_SECRET,
    Gate,
    Recorder,
    b64_hmac,
    bigcommerce_headers,
    config,
    counted,
    shopify_headers,
    woo_headers,
)

GENEROUS = WebhookLimits(per_address=RateLimit(10_000, 10_000.0), per_connection=RateLimit(10_000, 10_000.0))
ALLOWED_STATUSES = {200, 202, 400, 401, 408, 413, 429}
CONNECTION_IDS = ["acme-shopify", "shop-bc", "shop-woo", "acme-shopify-nosecret", "m2"]


class Body:
    """A request body served in chunks of at most `chunk` bytes, counting what was read."""

    def __init__(self, data: bytes, chunk: int = 7_000) -> None:
        self.data, self.chunk, self.read_bytes, self.calls = data, chunk, 0, 0

    async def read(self, n: int) -> bytes:
        self.calls += 1
        piece = self.data[self.read_bytes:self.read_bytes + min(n, self.chunk)]
        self.read_bytes += len(piece)
        return piece


class EndlessBody(Body):
    """A body that never ends (a client streaming forever)."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def read(self, n: int) -> bytes:
        self.calls += 1
        self.read_bytes += min(n, self.chunk)
        return b"x" * min(n, self.chunk)


def receiver(on_delivery: Callable[..., Awaitable[None]] | None = None, **options: Any) -> tuple[
        WebhookReceiver, Metrics, Recorder]:
    metrics, recorder = Metrics(), Recorder()
    options.setdefault("limits", GENEROUS)
    made = WebhookReceiver(config(), metrics, on_delivery or recorder, clock=lambda: NOW, **options)
    return made, metrics, recorder


async def receive(made: WebhookReceiver, connection_id: str, headers: dict[str, str], body: bytes,
                  source: str = "203.0.113.5", declared: bool = True) -> Answer:
    return await made.receive(connection_id, headers, Body(body).read, source=source,
                              declared_length=len(body) if declared else None)


# -- fuzzing: never a 5xx, never an internal error --------------------------------------------------------------

HEADER_NAMES = st.sampled_from([
    "X-Shopify-Hmac-Sha256", "shopify-hmac-sha256", "X-Shopify-Event-Id", "X-Shopify-Webhook-Id", "X-Shopify-Topic",
    "X-WC-Webhook-Signature", "X-WC-Webhook-Topic", "X-WC-Webhook-Resource", "X-WC-Webhook-Delivery-ID",
    "webhook-id", "webhook-timestamp", "webhook-signature", "Content-Type", "X-Anything"])
HEADER_VALUES = st.one_of(
    st.text(max_size=60),  # any code point, lone surrogates included
    st.text(alphabet="0123456789", min_size=0, max_size=6_000),  # Unix times of any length
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.binary(max_size=40).map(lambda raw: raw.decode("utf-8", "surrogateescape")),  # what aiohttp hands on
    st.lists(st.sampled_from(["v1,", "v1a,", "v2,", "AAAA", "=", " ", "\udcff"]), max_size=6).map("".join),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "order_id", "orderId", "scope", "type", "data", "created_at", "admin_graphql_api_id",
                         "order", "status"]), inner, max_size=5),
    max_leaves=20)
BODIES = st.one_of(
    st.binary(max_size=2_000),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.integers(min_value=1, max_value=300_000).map(lambda depth: b"[" * depth),
    st.just(b"webhook_id=42"),
)


def signed_headers(connection_id: str, body: bytes, stamp: str, message_id: str) -> dict[str, str]:
    """Valid signatures of `body` for the connection (when it has a secret), so verification passes and the
    parsing behind it is fuzzed too."""
    if connection_id == "acme-shopify":
        return shopify_headers(body, message_id)
    if connection_id == "shop-woo":
        return woo_headers(body, message_id)
    if connection_id == "shop-bc":
        signed = webhook_signatures.wire_bytes(message_id) + f".{stamp}.".encode() + body  # bytes as received
        return {"webhook-id": message_id, "webhook-timestamp": stamp,
                "webhook-signature": "v1," + b64_hmac(BC_SECRET, signed)}
    return {}


@pytest.mark.asyncio
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(connection_id=st.one_of(st.sampled_from(CONNECTION_IDS), st.text(max_size=300)),
       headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=8),
       body=BODIES, sign=st.booleans(), declared=st.booleans(),
       stamp=st.one_of(st.just(str(int(NOW.timestamp()))), st.text(alphabet="0123456789", max_size=500)),
       message_id=st.text(max_size=30), source=st.one_of(st.none(), st.ip_addresses().map(str), st.text(max_size=40)))
@example(connection_id="shop-bc", headers={"webhook-id": "m", "webhook-timestamp": "1" * 400,
                                           "webhook-signature": "v1,x"},
         body=b"{}", sign=False, declared=True, stamp="1", message_id="m", source=None)
@example(connection_id="shop-bc", headers={}, body=b"{}", sign=True, declared=True, stamp="9" * 5000,
         message_id="m", source="::1")
@example(connection_id="shop-bc", headers={}, body=b"{}", sign=True, declared=False, stamp=str(int(NOW.timestamp())),
         message_id="msg_\udcff", source="fe80::1%eth0")
@example(connection_id="acme-shopify", headers={}, body=b"[" * 200_000, sign=True, declared=True, stamp="1",
         message_id="e", source="10.0.0.1")
@example(connection_id="shop-bc", headers={}, body=json.dumps({"scope": "store/order/updated", "created_at": 10**20,
         "data": {"type": "order", "id": 5}, "hash": "h"}).encode(), sign=True, declared=True,
         stamp=str(int(NOW.timestamp())), message_id="m", source="10.0.0.1")
async def test_receiver_fuzzed_headers_and_bodies_never_answer_5xx_nor_hit_the_safety_net(
        connection_id: str, headers: dict[str, str], body: bytes, sign: bool, declared: bool, stamp: str,
        message_id: str, source: str | None) -> None:
    made, metrics, _ = receiver()
    if sign:
        headers = {**headers, **signed_headers(connection_id, body, stamp, message_id)}
    answer = await made.receive(connection_id, headers, Body(body).read, source=source,
                                declared_length=len(body) if declared else None)
    assert answer.status in ALLOWED_STATUSES, answer
    label = connection_id if connection_id in CONNECTION_IDS else "unknown"
    assert counted(metrics, label, "internal_error") == 0, "an input reached the receiver's safety net"
    await made.drain()


# -- the body cap -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_declared_body_over_256_kib_is_413_and_nothing_is_read() -> None:
    made, metrics, _ = receiver()
    assert webhooks_module.MAX_BODY_BYTES == 256 * 1024
    body = Body(b"x" * (webhooks_module.MAX_BODY_BYTES + 1))
    answer = await made.receive("acme-shopify", {}, body.read, source="198.51.100.1",
                                declared_length=webhooks_module.MAX_BODY_BYTES + 1)
    assert (answer.status, answer.close_connection) == (413, True)
    assert body.calls == 0
    assert counted(metrics, "acme-shopify", "too_large") == 1


@pytest.mark.asyncio
async def test_an_undeclared_body_is_read_in_chunks_and_refused_413_once_past_the_cap() -> None:
    made, metrics, _ = receiver()
    endless = EndlessBody()
    answer = await made.receive("acme-shopify", {}, endless.read, source="198.51.100.1", declared_length=None)
    assert answer.status == 413
    assert endless.read_bytes == webhooks_module.MAX_BODY_BYTES + 1  # one byte past the cap, never more
    # A body exactly at the cap is read and verified (here: unsigned, so refused).
    exact = b"x" * webhooks_module.MAX_BODY_BYTES
    assert (await receive(made, "acme-shopify", {}, exact, declared=False)).status == 401
    # A signed body at the cap is accepted.
    assert (await receive(made, "acme-shopify", shopify_headers(exact, "ev-big"), exact)).status == 202
    assert counted(metrics, "acme-shopify", "too_large") == 1


@pytest.mark.asyncio
async def test_a_body_that_trickles_or_breaks_is_408_or_400() -> None:
    made, metrics, _ = receiver(read_timeout_s=0.05)

    async def trickle(n: int) -> bytes:
        await asyncio.sleep(1)
        return b"x"

    async def broken(n: int) -> bytes:
        raise ConnectionResetError("client went away")

    assert (await made.receive("acme-shopify", {}, trickle, source="198.51.100.1")).status == 408
    assert (await made.receive("acme-shopify", {}, broken, source="198.51.100.1")).status == 400
    assert counted(metrics, "acme-shopify", "unreadable") == 2


# -- rate limits --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_flood_from_one_address_gets_429_with_retry_after_before_its_body_is_read() -> None:
    limits = WebhookLimits(per_address=RateLimit(5, 2.0), per_connection=RateLimit(1_000, 1_000.0))
    made, metrics, _ = receiver(limits=limits)
    statuses = [(await receive(made, "acme-shopify", {}, FULFILLMENT, source="192.0.2.7")).status for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    body = Body(FULFILLMENT)
    limited = await made.receive("nobody", {}, body.read, source="192.0.2.7", declared_length=len(FULFILLMENT))
    assert limited.status == 429 and limited.headers == {"Retry-After": "1"} and body.calls == 0
    # Another address is not affected; the flooding one gets room back at 2 per second.
    assert (await receive(made, "acme-shopify", {}, FULFILLMENT, source="192.0.2.8")).status == 401
    await asyncio.sleep(0.6)
    assert (await receive(made, "acme-shopify", {}, FULFILLMENT, source="192.0.2.7")).status == 401
    assert counted(metrics, "acme-shopify", "rate_limited") == 3
    assert counted(metrics, "unknown", "rate_limited") == 1


@pytest.mark.asyncio
async def test_a_flood_for_one_connection_gets_429_with_retry_after_and_forgeries_do_not_use_it_up() -> None:
    limits = WebhookLimits(per_address=RateLimit(1_000, 1_000.0), per_connection=RateLimit(3, 2.0))
    made, metrics, recorder = receiver(limits=limits)
    for n in range(20):  # forged requests, from many addresses: refused, never charged to the connection
        assert (await receive(made, "acme-shopify", {"X-Shopify-Hmac-Sha256": "AAAA"}, FULFILLMENT,
                              source=f"10.1.0.{n}")).status == 401
    answers = [await receive(made, "acme-shopify", shopify_headers(FULFILLMENT + b" " * n, f"ev-{n}"),
                             FULFILLMENT + b" " * n, source=f"10.2.0.{n}") for n in range(5)]
    assert [a.status for a in answers] == [202, 202, 202, 429, 429]
    assert answers[3].headers == {"Retry-After": "1"}
    assert (await receive(made, "shop-woo", woo_headers(FULFILLMENT, "d-1"), FULFILLMENT)).status == 202
    await made.drain()
    assert [n.delivery_id for n in recorder.notices] == ["ev-0", "ev-1", "ev-2", "d-1"]
    assert counted(metrics, "acme-shopify", "rate_limited") == 2
    # The refused delivery was not remembered: the platform's retry is accepted once there is room.
    await asyncio.sleep(0.6)
    retry = FULFILLMENT + b" " * 3
    assert (await receive(made, "acme-shopify", shopify_headers(retry, "ev-3"), retry)).status == 202


@pytest.mark.asyncio
async def test_a_spray_of_source_addresses_tracks_a_bounded_number_and_ipv6_counts_per_64() -> None:
    limits = WebhookLimits(per_address=RateLimit(2, 1.0), per_connection=RateLimit(10, 1.0), max_tracked_addresses=50)
    made, _, _ = receiver(limits=limits)
    for n in range(1_000):
        await receive(made, "nobody", {}, b"{}", source=f"10.{n // 256}.{n % 256}.1")
    assert made.tracked_addresses == 50
    statuses = [(await receive(made, "nobody", {}, b"{}", source=f"2001:db8:1:2::{n:x}")).status for n in range(4)]
    assert statuses == [401, 401, 429, 429]  # one /64: one bucket
    assert address_key("2001:db8:1:2::99") == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key(None) == "-"


# -- the bounded hand-off queue -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_full_queue_answers_429_with_retry_after_and_drain_still_hands_everything_on() -> None:
    gate = Gate()
    made, metrics, _ = receiver(on_delivery=gate, queue_capacity=2)

    def delivery(n: int) -> tuple[dict[str, str], bytes]:
        body = FULFILLMENT + b" " * n
        return shopify_headers(body, f"ev-{n}"), body

    statuses = []
    for n in range(5):
        headers, body = delivery(n)
        statuses.append((await receive(made, "acme-shopify", headers, body)).status)
        await asyncio.sleep(0)  # the hand-off task takes the first one and waits at the gate
    assert statuses == [202, 202, 202, 429, 429]
    headers, body = delivery(3)
    full = await receive(made, "acme-shopify", headers, body)
    assert full.status == 429 and full.headers == {"Retry-After": str(webhooks_module.QUEUE_FULL_RETRY_AFTER_S)}
    assert counted(metrics, "acme-shopify", "queue_full") == 3
    gate.release()
    await made.drain()
    assert [n.delivery_id for n in gate.notices] == ["ev-0", "ev-1", "ev-2"]
    # Refused for a full queue, so not remembered: the retry is accepted now.
    assert (await receive(made, "acme-shopify", headers, body)).status == 202
    await made.drain()
    assert [n.delivery_id for n in gate.notices][-1] == "ev-3"


@pytest.mark.asyncio
async def test_a_hanging_subscriber_is_abandoned_after_the_timeout_and_the_queue_goes_on() -> None:
    calls: list[str | None] = []

    async def hang_first(notice: object) -> None:
        calls.append(getattr(notice, "delivery_id", None))
        if len(calls) == 1:
            await asyncio.sleep(60)

    made, metrics, _ = receiver(on_delivery=hang_first, hand_off_timeout_s=0.05)
    for n in range(2):
        body = FULFILLMENT + b" " * n
        assert (await receive(made, "acme-shopify", shopify_headers(body, f"ev-{n}"), body)).status == 202
    await asyncio.wait_for(made.drain(), timeout=5)
    assert calls == ["ev-0", "ev-1"]
    assert counted(metrics, "acme-shopify", "callback_failed") == 1


@pytest.mark.asyncio
async def test_close_hands_on_what_is_queued_then_answers_429() -> None:
    made, metrics, recorder = receiver()
    assert (await receive(made, "acme-shopify", shopify_headers(FULFILLMENT, "ev-1"), FULFILLMENT)).status == 202
    await made.close(timeout_s=5)
    assert [n.delivery_id for n in recorder.notices] == ["ev-1"]
    body = FULFILLMENT + b" "
    closed = await receive(made, "acme-shopify", shopify_headers(body, "ev-2"), body)
    assert closed.status == 429 and "Retry-After" in closed.headers
    assert counted(metrics, "acme-shopify", "queue_full") == 1


# -- replays ------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(("connection_id", "sign"), [("acme-shopify", shopify_headers), ("shop-woo", woo_headers)])
async def test_a_replayed_shopify_or_woocommerce_body_with_a_new_delivery_id_is_a_duplicate(
        connection_id: str, sign: Callable[[bytes, str], dict[str, str]]) -> None:
    clock = [NOW]
    metrics, recorder = Metrics(), Recorder()
    made = WebhookReceiver(config(), metrics, recorder, clock=lambda: clock[0], limits=GENEROUS,
                           bodies=RecentBodies(window=timedelta(minutes=30)))
    body = b'{"id": 727, "order_id": 450789469}'
    assert (await receive(made, connection_id, sign(body, "first"), body)).status == 202
    for n, source in enumerate(("198.51.100.9", "203.0.113.77")):
        replay = await receive(made, connection_id, sign(body, f"replayed-{n}"), body, source=source)
        assert replay == Answer(200, {"status": "duplicate"})
    other = body.replace(b"727", b"728")
    assert (await receive(made, connection_id, sign(other, "second"), other)).status == 202
    clock[0] = NOW + timedelta(minutes=70)  # seen last at NOW: forgotten after the window
    assert (await receive(made, connection_id, sign(body, "much-later"), body)).status == 202
    await made.drain()
    assert [n.delivery_id for n in recorder.notices] == ["first", "second", "much-later"]
    assert counted(metrics, connection_id, "duplicate") == 2


@pytest.mark.asyncio
async def test_bigcommerce_deliveries_with_the_same_body_and_new_ids_are_both_handed_on() -> None:
    made, _, recorder = receiver()
    body = b'{"scope": "store/order/updated", "data": {"type": "order", "id": 250}, "hash": "h", "created_at": 1}'
    for message_id in ("msg_1", "msg_2"):
        assert (await receive(made, "shop-bc", bigcommerce_headers(body, message_id, NOW), body)).status == 202
    await made.drain()
    assert [n.delivery_id for n in recorder.notices] == ["msg_1", "msg_2"]


# -- the same work for every connection id ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_unknown_and_secretless_connections_compute_the_same_hmac_as_known_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    made, _, _ = receiver()
    lengths: list[int] = []
    real = webhook_signatures.hmac_sha256_b64

    def counting(key: bytes, message: bytes) -> bytes:
        lengths.append(len(message))
        return real(key, message)

    monkeypatch.setattr(webhook_signatures, "hmac_sha256_b64", counting)
    forged = {"X-Shopify-Hmac-Sha256": "AAAA", "X-Shopify-Event-Id": "e"}
    per_target = {}
    for target in ("acme-shopify", "nobody", "acme-shopify-nosecret", "m2", "shop-woo"):
        for headers in (forged, {}):
            lengths.clear()
            assert (await receive(made, target, headers, FULFILLMENT)).status == 401
            per_target[(target, bool(headers))] = list(lengths)
    assert all(found == [len(FULFILLMENT)] for found in per_target.values()), per_target


# -- the safety net and the log -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_unexpected_error_is_a_401_counted_as_internal_error(monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(webhooks_module, "verify_delivery", broken)
    made, metrics, _ = receiver()
    answer = await receive(made, "acme-shopify", shopify_headers(FULFILLMENT, "e"), FULFILLMENT)
    assert answer == Answer(401, {"error": "invalid webhook"})
    assert counted(metrics, "acme-shopify", "internal_error") == 1
    assert "a bug" in caplog.text


@pytest.mark.asyncio
async def test_refusals_are_logged_within_a_budget(caplog: pytest.LogCaptureFixture) -> None:
    made, metrics, _ = receiver()
    with caplog.at_level(logging.WARNING, logger=webhooks_module.__name__):
        for _ in range(200):
            await receive(made, "acme-shopify", {}, FULFILLMENT)
    assert counted(metrics, "acme-shopify", "refused") == 200
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == webhooks_module.LOG_LINES_PER_WINDOW
    assert SHOPIFY_SECRET not in caplog.text and WOO_SECRET not in caplog.text

"""`POST /webhooks/{connection_id}` on the worker's web port: verified deliveries trigger a poll of their order.

The endpoint is public and runs on the agents' event loop, so every step is bounded. Per request, in order
(`WebhookReceiver.receive`):
1. the source address's rate limit (`streams.web.limits`, checked before anything is read): 429 with
   `Retry-After` when its bucket is empty;
2. the body: a compressed one (`Content-Encoding` other than identity; no platform compresses its deliveries,
   and the signature is over the bytes as sent) is answered 415; a declared `Content-Length` over
   `MAX_BODY_BYTES` is answered 413 without reading anything;
   otherwise it is read in chunks and refused 413 as soon as it passes the cap (never read whole); a body not
   received within `BODY_READ_TIMEOUT_S` is answered 408, one the transport cannot deliver (a malformed chunked
   encoding, a client gone) 400;
3. `connectors.webhooks.verify_delivery` against the connection's `webhook_secret` from the configuration (the
   same HMAC work for unknown connections and those without a secret, so the answer time tells nothing);
   refused (unknown connection, no secret, a platform without verifiable webhooks, missing or wrong signature,
   Standard Webhooks timestamp outside the window): 401 with `{"error": "invalid webhook"}`, the same body
   whatever the reason, so a caller learns nothing about connections or secrets; the reason goes to the log;
4. WooCommerce's activation ping: 200, nothing handed on;
5. a delivery id already seen by this worker (`RecentDeliveries`), or a Shopify or WooCommerce body already
   seen on this connection within the replay window whatever its delivery id (`RecentBodies`): 200 with
   `{"status": "duplicate"}`, nothing handed on;
6. the hand-off queue full (or the receiver closed for shutdown), or the connection's own rate limit (charged
   by authentic, new deliveries only) exhausted: 429 with `Retry-After`; the delivery is not remembered, so the
   platform's retry is accepted;
7. otherwise 202 `{"status": "accepted"}` at once; the `WebhookNotice` goes into a bounded queue that one task
   drains into the injected async callback (at most `HAND_OFF_TIMEOUT_S` each). A failing or hanging callback
   is logged and counted (`outcome="callback_failed"`); the platform has its 2xx already, so the scheduled poll
   is what catches up on that order.

No input gives a 5xx: anything unexpected while answering is logged, counted `internal_error` and answered like
a refusal (401, same body). Refusal log lines are throttled (`LOG_LINES_PER_WINDOW` per outcome per
`LOG_WINDOW_S`, then one line saying how many were suppressed), so a flood cannot flood the log.

Every answered request counts once in `fulfillsync_webhooks_total{connection,outcome}` (outcome: accepted,
duplicate, ping, refused, too_large, unreadable, rate_limited, queue_full, internal_error; plus callback_failed
when a subscriber raised on an accepted one); requests naming no configured connection count under
`connection="unknown"` so arbitrary URLs cannot grow the label set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import faust
from aiohttp import HttpVersion11, web
from faust.web import View
from prometheus_client import CollectorRegistry

from connectors.webhooks import DEFAULT_TOLERANCE, Ping, RecentBodies, RecentDeliveries, Refused, verify_delivery
from schemas.config import Config, Connection
from streams.kit.metrics import counter
from streams.kit.records import utc_now
from streams.web.limits import KeyedLimiter, WebhookLimits, address_key

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/{connection_id}"
UNKNOWN_CONNECTION = "unknown"

MAX_BODY_BYTES = 256 * 1024
"""The largest body read (256 KiB; platform webhooks are a few KiB, a large Shopify order some tens): larger
ones are answered 413, from `Content-Length` before reading or as soon as the chunks read pass it."""

READ_CHUNK_BYTES = 64 * 1024
"""The most read from the transport at once while the body comes in."""

BODY_READ_TIMEOUT_S = 10.0
"""The longest a body may take to arrive (a trickling client holds a connection, not the loop): then 408."""

QUEUE_CAPACITY = 1_000
"""Accepted deliveries waiting for the hand-off; when it is full the next one is answered 429."""

HAND_OFF_TASKS = 1
"""Tasks draining the queue (the hand-off only publishes a tick; one keeps the order of deliveries)."""

HAND_OFF_TIMEOUT_S = 30.0
"""The longest one hand-off may take before it is abandoned and counted `callback_failed`, so a stuck
subscriber cannot hold the queue forever."""

QUEUE_FULL_RETRY_AFTER_S = 5
"""The `Retry-After` of a 429 for a full queue or a closed receiver."""

SHUTDOWN_DRAIN_S = 5.0
"""At shutdown, how long the queued deliveries may take to be handed on before the rest is dropped (the
scheduled poll covers them)."""

LOG_LINES_PER_WINDOW = 20
"""Log lines per outcome (refused, rate_limited, too_large, ...) per `LOG_WINDOW_S`; the rest are counted and
summarised in one line."""

LOG_WINDOW_S = 10.0

INVALID = {"error": "invalid webhook"}
TOO_MANY = {"error": "too many requests"}


@dataclass(frozen=True)
class WebhookNotice:
    """A verified delivery, handed on: poll `order_ref` of `connection_id` (None: poll the connection)."""

    connection_id: str
    order_ref: str | None
    delivery_id: str | None
    topic: str | None


@dataclass(frozen=True)
class Answer:
    """What to answer one request: status, JSON body, extra headers (`Retry-After`), and whether the connection
    must be closed afterwards (a body left unread)."""

    status: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    close_connection: bool = False


OnDelivery = Callable[[WebhookNotice], Awaitable[None]]
Clock = Callable[[], datetime]
ReadBody = Callable[[int], Awaitable[bytes]]
"""Reads up to n bytes of the request body; b"" at its end (aiohttp's `request.content.read`)."""


class WebhookMetrics:
    """`fulfillsync_webhooks_total{connection,outcome}`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.webhooks = counter("fulfillsync_webhooks", "Webhook requests, by connection and outcome",
                                ["connection", "outcome"], registry=self.registry)


class LogThrottle:
    """At most `lines` log lines per kind per `window_s`; `allow` says whether to log one more. How many were
    suppressed in a window is logged with the first line of that kind after it. Kinds are the receiver's outcomes
    (bounded)."""

    def __init__(self, lines: int = LOG_LINES_PER_WINDOW, window_s: float = LOG_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lines, self._window_s, self._clock = lines, window_s, clock
        self._state: dict[str, tuple[float, int, int]] = {}  # kind: (window start, logged, suppressed)

    def allow(self, kind: str) -> bool:
        now = self._clock()
        start, logged, suppressed = self._state.get(kind, (now, 0, 0))
        if now - start >= self._window_s:
            if suppressed:
                log.warning("%d more webhook %s log lines suppressed in %.0fs", suppressed, kind, now - start)
            start, logged, suppressed = now, 0, 0
        allowed = logged < self._lines
        self._state[kind] = (start, logged + allowed, suppressed + (not allowed))
        return allowed


class WebhookReceiver:
    """Rate limits, body cap, verification, deduplication, metrics and the bounded hand-off; independent of the
    web framework so it can be tested and reused. `receive` and `handle` never raise on what a client sends and
    never answer a 5xx. Must be used from one event loop. Raises ValueError for a queue capacity or a number
    of hand-off tasks below 1."""

    def __init__(self, config: Config, metrics: WebhookMetrics, on_delivery: OnDelivery, *, clock: Clock = utc_now,
                 tolerance: timedelta = DEFAULT_TOLERANCE, recent: RecentDeliveries | None = None,
                 bodies: RecentBodies | None = None, limits: WebhookLimits | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES, read_timeout_s: float = BODY_READ_TIMEOUT_S,
                 queue_capacity: int = QUEUE_CAPACITY, hand_off_tasks: int = HAND_OFF_TASKS,
                 hand_off_timeout_s: float = HAND_OFF_TIMEOUT_S) -> None:
        self._connections: dict[str, Connection] = {c.id: c for c in config.connections}
        self._metrics = metrics
        self._on_delivery = on_delivery
        self._clock = clock
        self._tolerance = tolerance
        self._recent = recent if recent is not None else RecentDeliveries()
        self._bodies = bodies if bodies is not None else RecentBodies()
        self._limits = limits if limits is not None else WebhookLimits()
        self._by_address = KeyedLimiter(self._limits.per_address, self._limits.max_tracked_addresses)
        self._by_connection = KeyedLimiter(self._limits.per_connection, max(1, len(self._connections)))
        if queue_capacity < 1 or hand_off_tasks < 1:
            raise ValueError("queue_capacity and hand_off_tasks must be at least 1")
        self._max_body = max_body_bytes
        self._read_timeout_s = read_timeout_s
        self._queue: asyncio.Queue[WebhookNotice] = asyncio.Queue(maxsize=queue_capacity)
        self._hand_off_tasks = hand_off_tasks
        self._hand_off_timeout_s = hand_off_timeout_s
        self._drainers: set[asyncio.Task[None]] = set()
        self._closed = False
        self._log = LogThrottle()

    @property
    def max_body_bytes(self) -> int:
        """The body cap (`MAX_BODY_BYTES` unless given)."""
        return self._max_body

    @property
    def tracked_addresses(self) -> int:
        """How many source addresses have a rate-limit bucket (at most `WebhookLimits.max_tracked_addresses`)."""
        return len(self._by_address)

    async def receive(self, connection_id: str, headers: Mapping[str, str], read: ReadBody, *,
                      source: str | None = None, declared_length: int | None = None) -> Answer:
        """Answer one request from its URL's connection id, headers, a reader of its body, the peer address
        (`source`) and the `Content-Length` it declared (None when chunked). Steps 1-7 of the module docstring."""
        label = connection_id if connection_id in self._connections else UNKNOWN_CONNECTION
        try:
            if not await self._by_address.try_acquire(address_key(source)):
                return self._refuse(label, "rate_limited", f"source {address_key(source)} over its rate limit",
                                    Answer(429, TOO_MANY, self._retry_after(self._limits.per_address.retry_after_s)))
            if content_encoded(headers):
                return self._refuse(label, "unreadable", "compressed body (Content-Encoding) refused",
                                    Answer(415, {"error": "compressed bodies are not accepted"},
                                           close_connection=True))
            if declared_length is not None and declared_length > self._max_body:
                return self._too_large(label, f"declared {declared_length} bytes")
            try:
                async with asyncio.timeout(self._read_timeout_s):
                    body = await self._read_capped(read)
            except TimeoutError:
                return self._refuse(label, "unreadable", f"body not received within {self._read_timeout_s:.0f}s",
                                    Answer(408, {"error": "body not received in time"}, close_connection=True))
            except Exception as error:  # noqa: BLE001 - a body reader may raise whatever its framework uses
                return self._refuse(label, "unreadable", f"body unreadable: {type(error).__name__}",
                                    Answer(400, {"error": "unreadable body"}, close_connection=True))
            if body is None:
                return self._too_large(label, f"more than {self._max_body} bytes sent")
        except Exception:  # noqa: BLE001 - never a 5xx: a bug here is logged (_internal_error) and counted
            return self._internal_error(label)
        return await self.handle(connection_id, headers, body)

    async def handle(self, connection_id: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one delivery whose body has been read (steps 3-7 of the module docstring); enqueues the
        hand-off of accepted ones. Never raises."""
        label = connection_id if connection_id in self._connections else UNKNOWN_CONNECTION
        try:
            return await self._handle(connection_id, label, headers, body)
        except Exception:  # noqa: BLE001 - never a 5xx: a bug here is logged (_internal_error) and counted
            return self._internal_error(label)

    async def drain(self) -> None:
        """Wait until every accepted delivery has been handed on (tests, shutdown)."""
        await self._queue.join()

    async def close(self, timeout_s: float = SHUTDOWN_DRAIN_S) -> None:
        """Stop accepting (later deliveries get 429), hand on what is queued for at most `timeout_s`, then stop
        the hand-off tasks; what is still queued is dropped with a warning (the scheduled poll covers it)."""
        self._closed = True
        try:
            async with asyncio.timeout(timeout_s):
                await self._queue.join()
        except TimeoutError:
            log.warning("webhooks: %d accepted deliveries not handed on at shutdown; the scheduled poll covers them",
                        self._queue.qsize())
        for task in self._drainers:
            task.cancel()
        await asyncio.gather(*self._drainers, return_exceptions=True)
        self._drainers.clear()

    async def _handle(self, connection_id: str, label: str, headers: Mapping[str, str], body: bytes) -> Answer:
        if len(body) > self._max_body:
            return self._too_large(label, f"{len(body)} bytes")
        connection = self._connections.get(connection_id)
        now = self._clock()
        verdict = verify_delivery(connection, headers, body, now, self._tolerance)
        if isinstance(verdict, Refused):
            who = label if connection else f"{UNKNOWN_CONNECTION} ({connection_id[:64]!r})"
            return self._refuse(label, "refused", f"connection {who}: {verdict.reason}", Answer(401, INVALID))
        if isinstance(verdict, Ping):
            self._count(label, "ping")
            log.info("webhook ping from WooCommerce hook %s for connection %s", verdict.webhook_id, label)
            return Answer(200, {"status": "ok"})
        id_seen = verdict.delivery_id is not None and self._recent.contains(label, verdict.delivery_id)
        body_seen = verdict.replay_key is not None and self._bodies.contains(label, verdict.replay_key, now)
        if id_seen or body_seen:
            self._count(label, "duplicate")
            log.info("webhook %s for connection %s is a duplicate (%s); not handed on", verdict.delivery_id, label,
                     "delivery id seen" if id_seen else "same signed body seen")
            return Answer(200, {"status": "duplicate"})
        if self._closed or self._queue.full():
            return self._refuse(label, "queue_full", "hand-off queue full" if not self._closed else "shutting down",
                                Answer(429, TOO_MANY, self._retry_after(QUEUE_FULL_RETRY_AFTER_S)))
        if not await self._by_connection.try_acquire(label):
            return self._refuse(label, "rate_limited", f"connection {label} over its rate limit",
                                Answer(429, TOO_MANY, self._retry_after(self._limits.per_connection.retry_after_s)))
        notice = WebhookNotice(connection_id=label, order_ref=verdict.order_ref, delivery_id=verdict.delivery_id,
                               topic=verdict.topic)
        self._queue.put_nowait(notice)  # room checked above, with no suspension since
        if verdict.delivery_id is not None:
            self._recent.remember(label, verdict.delivery_id)
        if verdict.replay_key is not None:
            self._bodies.remember(label, verdict.replay_key, now)
        self._start_drainers()
        self._count(label, "accepted")
        return Answer(202, {"status": "accepted"})

    async def _read_capped(self, read: ReadBody) -> bytes | None:
        """The body, or None as soon as more than the cap has come in (the rest is never read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await read(min(READ_CHUNK_BYTES, self._max_body + 1 - size))
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)

    def _start_drainers(self) -> None:
        self._drainers = {task for task in self._drainers if not task.done()}
        loop = asyncio.get_running_loop()
        while len(self._drainers) < self._hand_off_tasks:
            self._drainers.add(loop.create_task(self._drain_queue(), name="webhook-hand-off"))

    async def _drain_queue(self) -> None:
        while True:
            notice = await self._queue.get()
            try:
                await self._hand_on(notice)
            finally:
                self._queue.task_done()

    async def _hand_on(self, notice: WebhookNotice) -> None:
        try:
            async with asyncio.timeout(self._hand_off_timeout_s):
                await self._on_delivery(notice)
        except Exception:  # a subscriber's bug or a stuck send must not stop the queue; the scheduled poll catches up
            self._count(notice.connection_id, "callback_failed")
            log.exception("webhook %s for connection %s: the delivery callback failed", notice.delivery_id,
                          notice.connection_id)

    def _too_large(self, label: str, what: str) -> Answer:
        return self._refuse(label, "too_large", f"body over {self._max_body} bytes ({what}) for connection {label}",
                            Answer(413, {"error": "body too large"}, close_connection=True))

    def _refuse(self, label: str, outcome: str, reason: str, answer: Answer) -> Answer:
        self._count(label, outcome)
        if self._log.allow(outcome):
            log.warning("webhook %s: %s", outcome.replace("_", " "), reason)
        return answer

    def _internal_error(self, label: str) -> Answer:
        self._count(label, "internal_error")
        if self._log.allow("internal_error"):
            log.exception("webhook for connection %s: unexpected error; answered 401", label)
        return Answer(401, INVALID)

    @staticmethod
    def _retry_after(seconds: int) -> dict[str, str]:
        return {"Retry-After": str(seconds)}

    def _count(self, connection: str, outcome: str) -> None:
        self._metrics.webhooks.labels(connection=connection, outcome=outcome).inc()


def register_webhooks(app: faust.App, config: Config, metrics: WebhookMetrics, on_delivery: OnDelivery | None = None,
                      **options: Any) -> WebhookReceiver:
    """Add `/webhooks/{connection_id}` to `app`'s web server (POST answered by the receiver, any other method
    405) and return its receiver, which is closed (queue handed on for at most `SHUTDOWN_DRAIN_S`) when the app
    shuts down, before its producer stops. `on_delivery` defaults to `log_delivery`; `options` go to
    `WebhookReceiver` (clock, tolerance, recent, bodies, limits, max_body_bytes, read_timeout_s, queue_capacity,
    hand_off_tasks, hand_off_timeout_s).

    The route is added on the aiohttp router of Faust's web driver rather than with `app.page`, to give it
    `expect_handler` as its `Expect` handling: aiohttp's default one answers an undecodable `Expect` value with a
    500 (and an ERROR traceback) before any view runs."""
    receiver = WebhookReceiver(config, metrics, on_delivery or log_delivery, **options)
    view = webhook_view(receiver)(app, app.web)

    async def route(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            refusal = web.json_response({"error": "method not allowed"}, status=405, headers={"Allow": "POST"})
            return await close_if_unread(request, refusal, max_body=receiver.max_body_bytes)
        return cast(web.StreamResponse, await view(request))

    router = cast(web.Application, cast(Any, app.web).web_app).router  # Faust's aiohttp driver
    router.add_route("*", WEBHOOK_PATH, route, name="webhooks", expect_handler=expect_handler(receiver.max_body_bytes))

    async def close_receiver(*args: Any, **kwargs: Any) -> None:
        await receiver.close()

    app.on_before_shutdown.connect(close_receiver)
    return receiver


def expect_handler(max_body: int) -> Callable[[web.Request], Awaitable[web.StreamResponse | None]]:
    """The webhook route's `Expect` handling. `100-continue` on HTTP/1.1 gets `100 Continue` (the client then
    sends the body), unless the declared body is over `max_body`: then nothing is sent and the view answers 413 at
    once, so the body is never sent. Any other expectation gets 417 with a fixed text (the value is never
    echoed). Never raises on what a client sends."""

    async def expect(request: web.Request) -> web.StreamResponse | None:
        if request.headers.get("Expect", "").strip().lower() != "100-continue":
            refusal = web.json_response({"error": "unsupported Expect header"}, status=417)
            return await close_if_unread(request, refusal, max_body=max_body)
        declared = request.content_length
        if request.version == HttpVersion11 and (declared is None or declared <= max_body):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the interim answer is not the start of the response
        return None

    return expect


async def close_if_unread(request: web.Request, response: web.StreamResponse, close: bool = False, *,
                          max_body: int = MAX_BODY_BYTES) -> web.StreamResponse:
    """`response`, sent at once and followed by closing the connection when `close` is set (a body too large,
    too slow, broken or compressed) or when a body left unread is chunked, declared over `max_body` or
    content-encoded: aiohttp would otherwise go on reading and discarding the rest for up to 10 s (its "lingering
    close"), decoding it as it goes, and log an ERROR when that rest is malformed. A small plain body with a
    `Content-Length` left unread (a 429 before reading, a 405) is left to aiohttp to discard: closing a socket
    with unread data makes the kernel reset the connection, and the client could lose the answer (and its
    `Retry-After`)."""
    declared = request.content_length
    unread_and_unsafe = not request.content.at_eof() and (
        declared is None or declared > max_body or content_encoded(request.headers))
    if close or unread_and_unsafe:
        await response.prepare(request)
        await response.write_eof()
        request.protocol.force_close()
    return response


def content_encoded(headers: Mapping[str, str]) -> bool:
    """Whether any `Content-Encoding` header (there may be several, each a list) names a coding other than
    `identity`: the body is compressed, and reading it means decoding it."""
    return any(coding.strip().lower() not in ("", "identity")
               for name, value in headers.items() if name.lower() == "content-encoding"
               for coding in value.split(","))


def webhook_view(receiver: WebhookReceiver) -> type[View]:
    """The Faust view answering POST with `receiver` (aiohttp driver: `request` is aiohttp's `web.Request`)."""

    class WebhooksView(View):
        async def post(self, request: Any, connection_id: str) -> Any:
            answer = await receiver.receive(connection_id, request.headers, request.content.read,
                                            source=request.remote, declared_length=request.content_length)
            response = cast(web.Response, self.json(answer.body, status=answer.status, headers=answer.headers or None))
            return await close_if_unread(request, response, answer.close_connection, max_body=receiver.max_body_bytes)

    return WebhooksView


async def log_delivery(notice: WebhookNotice) -> None:
    """Logs a notice (the receiver counts it); the poller's `request_poll` calls it before asking for the poll,
    and it is the subscriber when none is given."""
    log.info("webhook %s (%s) for connection %s: order %s to poll", notice.delivery_id, notice.topic,
             notice.connection_id, notice.order_ref or "(none named: the whole connection)")

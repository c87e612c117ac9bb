"""`POST /webhooks/{connection_id}` on the worker's web port: verified deliveries trigger a poll of their order.

Per request, in order:
1. the raw body is read (aiohttp caps it at 1 MiB; larger bodies get 413) and checked by
   `connectors.webhooks.verify_delivery` against the connection's `webhook_secret` from the configuration;
2. refused (unknown connection, no secret, a platform without verifiable webhooks, missing or wrong signature,
   Standard Webhooks timestamp outside the window): 401 with `{"error": "invalid webhook"}`, the same body
   whatever the reason, so a caller learns nothing about connections or secrets; the reason goes to the log;
3. WooCommerce's activation ping: 200, nothing handed on;
4. a delivery id already seen by this worker (bounded `RecentDeliveries` window, per process): 200 with
   `{"status": "duplicate"}`, nothing handed on;
5. otherwise 202 `{"status": "accepted"}` at once; the `WebhookNotice` is then handed to the injected async
   callback in a background task. A failing callback is logged and counted (`outcome="callback_failed"`); the
   platform has its 2xx already, so the scheduled poll is what catches up on that order.

Every answered request counts once in `fulfillsync_webhooks_total{connection,outcome}` (outcome: accepted,
duplicate, ping, refused; plus callback_failed when a subscriber raised on an accepted one); requests naming
no configured connection count under `connection="unknown"` so arbitrary URLs cannot grow the label set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import faust
from faust.web import View
from prometheus_client import CollectorRegistry, Counter

from connectors.webhooks import DEFAULT_TOLERANCE, Ping, RecentDeliveries, Refused, verify_delivery
from schemas.config import Config, Connection
from streams.kit.records import utc_now

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/{connection_id}"
UNKNOWN_CONNECTION = "unknown"


@dataclass(frozen=True)
class WebhookNotice:
    """A verified delivery, handed on: poll `order_ref` of `connection_id` (None: poll the connection)."""

    connection_id: str
    order_ref: str | None
    delivery_id: str | None
    topic: str | None


OnDelivery = Callable[[WebhookNotice], Awaitable[None]]
Clock = Callable[[], datetime]


class WebhookMetrics:
    """`fulfillsync_webhooks_total{connection,outcome}`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.webhooks = Counter("fulfillsync_webhooks", "Webhook requests, by connection and outcome",
                                ["connection", "outcome"], registry=self.registry)



class WebhookReceiver:
    """Verification, deduplication, metrics and hand-off; independent of the web framework so it can be tested
    and reused. `handle` never raises on what a client sends."""

    def __init__(self, config: Config, metrics: WebhookMetrics, on_delivery: OnDelivery, *, clock: Clock = utc_now,
                 tolerance: timedelta = DEFAULT_TOLERANCE, recent: RecentDeliveries | None = None) -> None:
        self._connections: dict[str, Connection] = {c.id: c for c in config.connections}
        self._metrics = metrics
        self._on_delivery = on_delivery
        self._clock = clock
        self._tolerance = tolerance
        self._recent = recent if recent is not None else RecentDeliveries()
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, connection_id: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        """The HTTP status and JSON body answering one delivery; schedules the hand-off of accepted ones."""
        connection = self._connections.get(connection_id)
        label = connection.id if connection is not None else UNKNOWN_CONNECTION
        verdict = verify_delivery(connection, headers, body, self._clock(), self._tolerance)
        if isinstance(verdict, Refused):
            self._count(label, "refused")
            log.warning("webhook refused for connection %s: %s", label if connection else
                        f"{UNKNOWN_CONNECTION} ({connection_id[:64]!r})", verdict.reason)
            return 401, {"error": "invalid webhook"}
        if isinstance(verdict, Ping):
            self._count(label, "ping")
            log.info("webhook ping from WooCommerce hook %s for connection %s", verdict.webhook_id, label)
            return 200, {"status": "ok"}
        if verdict.delivery_id is not None and self._recent.seen_before(label, verdict.delivery_id):
            self._count(label, "duplicate")
            log.info("webhook %s for connection %s is a duplicate; not handed on", verdict.delivery_id, label)
            return 200, {"status": "duplicate"}
        self._count(label, "accepted")
        notice = WebhookNotice(connection_id=label, order_ref=verdict.order_ref, delivery_id=verdict.delivery_id,
                               topic=verdict.topic)
        task = asyncio.get_running_loop().create_task(self._hand_on(notice))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 202, {"status": "accepted"}

    async def drain(self) -> None:
        """Wait for the hand-offs in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def _hand_on(self, notice: WebhookNotice) -> None:
        try:
            await self._on_delivery(notice)
        except Exception:  # a subscriber's bug must not kill the loop; the scheduled poll catches up
            self._count(notice.connection_id, "callback_failed")
            log.exception("webhook %s for connection %s: the delivery callback failed", notice.delivery_id,
                          notice.connection_id)

    def _count(self, connection: str, outcome: str) -> None:
        self._metrics.webhooks.labels(connection=connection, outcome=outcome).inc()


def register_webhooks(app: faust.App, config: Config, metrics: WebhookMetrics, on_delivery: OnDelivery | None = None,
                      **options: Any) -> WebhookReceiver:
    """Add `POST /webhooks/{connection_id}` to `app`'s web server and return its receiver. `on_delivery`
    defaults to `log_delivery`; `options` go to `WebhookReceiver` (clock, tolerance, recent)."""
    receiver = WebhookReceiver(config, metrics, on_delivery or log_delivery, **options)

    class WebhooksView(View):
        async def post(self, request: Any, connection_id: str) -> Any:
            body = await request.read()
            status, answer = receiver.handle(connection_id, dict(request.headers.items()), body)
            return self.json(answer, status=status)

    app.page(WEBHOOK_PATH, name="webhooks")(WebhooksView)
    return receiver


async def log_delivery(notice: WebhookNotice) -> None:
    """Logs a notice (the receiver counts it); the poller's `request_poll` calls it before asking for the poll,
    and it is the subscriber when none is given."""
    log.info("webhook %s (%s) for connection %s: order %s to poll", notice.delivery_id, notice.topic,
             notice.connection_id, notice.order_ref or "(none named: the whole connection)")

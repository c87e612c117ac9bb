"""Registers polling on the Faust app: the poll-ticks topic, the two tables, the leader's timer and the poller
agent. A configuration without pollable connections gets the same topology (workers of one deployment agree on
it) and a timer that publishes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from streams.kit.connectors import read_connector
from streams.kit.context import WiringContext
from streams.kit.lanes import IN_FLIGHT, Lanes, run_agent
from streams.polling.buyer_orders import BuyerOrderPublisher
from streams.polling.metrics import PollingMetrics
from streams.polling.poller import Poller
from streams.polling.rejects import RejectLetters
from streams.polling.seller_orders import SellerOrderScanner
from streams.polling.tables import BUYER_ORDERS, POLL_CURSORS, BuyerOrderTable, CursorTable
from streams.polling.ticks import Ticker, encode_tick, pollable, timer_period
from streams.web.webhooks import WebhookNotice, log_delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Polling:
    """What `register_polling` added: the poller (tests reach into it) and `request_poll`, which asks for a poll
    of one connection now (a verified webhook's hand-off)."""

    poller: Poller
    request_poll: Callable[[WebhookNotice], Awaitable[None]]


def register_polling(ctx: WiringContext) -> Polling:
    """Add polling to the app."""
    config, names, clock = ctx.config, ctx.names, ctx.clock
    metrics = PollingMetrics(ctx.registry)
    ticks_topic = ctx.topic(names.poll_ticks)
    cursors = CursorTable(ctx.table(POLL_CURSORS))
    letters = RejectLetters(send=ctx.send, topic=names.dead_letters, metrics=ctx.dead_letters, clock=clock)
    buyer = BuyerOrderPublisher(config=config, topic=names.order_events, sink=ctx.producer, cursors=cursors,
                                buyer_orders=BuyerOrderTable(ctx.table(BUYER_ORDERS)), metrics=metrics, clock=clock,
                                letters=letters)
    seller = SellerOrderScanner(topic=names.seller_checks, sink=ctx.producer, cursors=cursors, clock=clock,
                                letters=letters)
    poller = Poller(config=config, cursors=cursors, buyer=buyer, seller=seller, metrics=metrics,
                    connector_for=read_connector, clock=clock)
    ctx.on_stop(poller.aclose)
    ticker = Ticker(connections=pollable(config.connections), interval=config.polling.interval)

    async def publish_ticks() -> None:
        """Leader only: publish the ticks of a new slot. Never raises (a failing send is retried next slot)."""
        try:
            for tick in ticker.due(clock()):
                key, value = encode_tick(tick)
                await ticks_topic.send(key=key, value=value)
                metrics.ticks.labels("published").inc()
        except Exception:
            log.exception("publishing poll ticks failed; the next slot publishes again")

    def route(message: Any) -> tuple[bytes, bytes, None]:
        """One lane per connection; ticks are never merged (the poller's own rules say which tick polls)."""
        return message.key or b"", message.key or b"", None

    async def poll_agent(stream: Any) -> None:
        """Polls of different connections run concurrently (`streams.kit.lanes`), one connection's in tick order."""
        await run_agent(stream, Lanes(per_group=1, in_flight=IN_FLIGHT), route=route, handle=poller.process)

    async def request_poll(notice: WebhookNotice) -> None:
        """Publish a webhook tick for the notice's connection; the poller polls it unless a poll began since.
        Raises when the tick cannot be sent (the webhook receiver logs and counts `callback_failed`)."""
        await log_delivery(notice)
        key, value = encode_tick(ticker.webhook_tick(notice.connection_id, clock()))
        await ticks_topic.send(key=key, value=value)
        metrics.ticks.labels("webhook").inc()

    ctx.app.timer(timer_period(config.polling.interval), on_leader=True, name="poll-ticker")(publish_ticks)
    ctx.agent(ticks_topic, "poller", poll_agent)
    return Polling(poller=poller, request_poll=request_poll)

"""Registers polling on the Faust app: the poll-ticks topic, the two tables, the leader's timer and the poller
agent. A configuration without pollable connections gets the same topology (workers of one deployment agree on
it) and a timer that publishes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from schemas.config import Config
from schemas.topics import TopicNames
from streams.connector_cache import read_connector
from streams.fulfillments.scanner import SellerOrderScanner
from streams.lanes import IN_FLIGHT, Lanes, run_agent
from streams.polling.buyer_orders import BuyerOrderPublisher
from streams.polling.cursors import BuyerOrderTable, CursorTable
from streams.polling.metrics import PollingMetrics
from streams.polling.poller import Poller
from streams.polling.sink import KafkaEventSink
from streams.polling.ticks import Ticker, encode_tick, pollable, timer_period
from streams.records import RAW_TOPIC, utc_now
from streams.webhooks import WebhookNotice, log_delivery

log = logging.getLogger("fulfillsync.polling")

CURSOR_TABLE = "poll-cursors"
BUYER_ORDER_TABLE = "buyer-orders"



@dataclass(frozen=True)
class Polling:
    """What `register_polling` added: the poller (tests reach into it) and `request_poll`, which asks for a poll
    of one connection now (a verified webhook's hand-off)."""

    poller: Poller
    request_poll: Callable[[WebhookNotice], Awaitable[None]]


def register_polling(app: faust.App, config: Config, names: TopicNames, registry: CollectorRegistry, *,
                     table_options: dict[str, Any], clock: Callable[[], datetime] = utc_now) -> Polling:
    """Add polling to `app`. `table_options` are the RocksDB options of the app's tables."""
    metrics = PollingMetrics(registry)
    ticks_topic = app.topic(names.poll_ticks, partitions=config.kafka.partitions, **RAW_TOPIC)
    tables = {name: app.Table(name, default=None, partitions=config.kafka.partitions, key_type=bytes,
                              value_type=bytes, options=table_options)
              for name in (CURSOR_TABLE, BUYER_ORDER_TABLE)}
    cursors = CursorTable(tables[CURSOR_TABLE])
    buyer = BuyerOrderPublisher(config=config, topic=names.order_events,
                                sink=KafkaEventSink(config.kafka.bootstrap_servers), cursors=cursors,
                                buyer_orders=BuyerOrderTable(tables[BUYER_ORDER_TABLE]), metrics=metrics, clock=clock)
    seller = SellerOrderScanner(topic=names.seller_checks, sink=KafkaEventSink(config.kafka.bootstrap_servers),
                                cursors=cursors, clock=clock)
    poller = Poller(config=config, cursors=cursors, buyer=buyer, seller=seller, metrics=metrics,
                    connector_for=read_connector, clock=clock)
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
        """Polls of different connections run concurrently (`streams.lanes`), one connection's in tick order."""
        try:
            await run_agent(stream, Lanes(per_group=1, in_flight=IN_FLIGHT), route=route, handle=poller.process)
        finally:  # the agent stops (shutdown): release the connectors' HTTP clients
            await poller.aclose()

    async def request_poll(notice: WebhookNotice) -> None:
        """Publish a webhook tick for the notice's connection; the poller polls it unless a poll began since.
        Raises when the tick cannot be sent (the webhook receiver logs and counts `callback_failed`)."""
        await log_delivery(notice)
        key, value = encode_tick(ticker.webhook_tick(notice.connection_id, clock()))
        await ticks_topic.send(key=key, value=value)
        metrics.ticks.labels("webhook").inc()

    app.timer(timer_period(config.polling.interval), on_leader=True, name="poll-ticker")(publish_ticks)
    app.agent(ticks_topic, name="poller", concurrency=1)(poll_agent)
    return Polling(poller=poller, request_poll=request_poll)

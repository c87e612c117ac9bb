"""Registers the seller order sink on the Faust app: the `seller-orders` table, the retry topic, the agent on
order-events and the retry agent, both at Faust concurrency 1 (DESIGN.md §5: faust must never commit past a
record in flight) with their records run in shared `streams.lanes`: one order's records (its creation, its
cancellations, their retries) one after the other, at most `PER_CONNECTION` orders of one seller connection at
once, acks in offset order. New-order emails to manual sellers go through `web.smtp` when it is configured.
Connectors are made on first use, with short in-call retries (`streams.connector_cache.SINK_RETRY`): longer waits
go through the retry topic, so a failing store does not hold the agent (and the orders of other stores) for long.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from schemas.config import Config
from schemas.topics import TopicNames
from streams.connector_cache import sink_connector
from streams.lanes import IN_FLIGHT, PER_CONNECTION, Lanes, run_agent
from streams.polling.sink import KafkaEventSink
from streams.records import RAW_TOPIC, EncodedRecord, utc_now
from streams.sellers.creator import SellerOrderCreator, SellerOrderMetrics, Topics
from streams.sellers.entries import SellerOrderTable
from streams.sellers.notice import SmtpMailer

SELLER_ORDER_TABLE = "seller-orders"


def seller_of(value: bytes | None, *path: str) -> str:
    """The seller connection an order-events or retry record names at `path` + `seller.connection`, "" when it
    names none (a cancellation, which carries no seller) or is not JSON: only the lane's group, never an error."""
    try:
        found: Any = json.loads(value or b"")
        for step in (*path, "seller", "connection"):
            found = found.get(step) if isinstance(found, dict) else None
    except ValueError:
        return ""
    return found if isinstance(found, str) else ""


def _drop_buffered(app: faust.App) -> None:
    """Empty the agents' buffers when an agent stops. This agent shares order-events with the ledger agent, so
    Faust counts two references per record; a record the ledger took while it still sat in this stopped agent's
    buffer (or the other way round) keeps one forever, and Faust's shutdown then waits for it without end (its
    wait for in-flight records only ends once they are acked or garbage). Dropped records were never taken by an
    agent, so they are not acked: their offsets are not committed and the next owner reads them again."""
    app.flow_control.clear()


def register_seller_orders(app: faust.App, config: Config, names: TopicNames, registry: CollectorRegistry, *,
                           table_options: dict[str, Any],
                           clock: Callable[[], datetime] = utc_now) -> SellerOrderCreator:
    """Add the seller order sink to `app`; returns its creator (tests reach into it)."""
    partitions = config.kafka.partitions
    order_events = app.topic(names.order_events, partitions=partitions, **RAW_TOPIC)
    retries = app.topic(names.seller_order_retries, partitions=partitions, **RAW_TOPIC)
    outputs = {topic.get_topic_name(): topic
               for topic in (retries, app.topic(names.dead_letters, partitions=partitions, **RAW_TOPIC))}
    table = app.Table(SELLER_ORDER_TABLE, default=None, partitions=partitions, key_type=bytes, value_type=bytes,
                      options=table_options)

    async def send(topic: str, record: EncodedRecord, partition: int | None) -> None:
        await outputs[topic].send(key=record.key, value=record.value, headers=record.headers, partition=partition)

    creator = SellerOrderCreator(
        config=config, topics=Topics(order_events=names.order_events, retries=names.seller_order_retries,
                                     dead_letters=names.dead_letters),
        table=SellerOrderTable(table), events=KafkaEventSink(config.kafka.bootstrap_servers), send=send,
        connector_for=sink_connector, metrics=SellerOrderMetrics(registry), clock=clock,
        mailer=SmtpMailer(config.web.smtp) if config.web.smtp is not None else None)

    lanes = Lanes(per_group=PER_CONNECTION, in_flight=IN_FLIGHT)

    def route_event(message: Any) -> tuple[bytes, str, None]:
        """Keyed by order id; creations are never merged (each record is its own event)."""
        return message.key or b"", seller_of(message.value), None

    def route_retry(message: Any) -> tuple[bytes, str, None]:
        return message.key or b"", seller_of(message.value, "placed"), None

    async def seller_orders(stream: Any) -> None:
        try:
            await run_agent(stream, lanes, route=route_event, handle=creator.process_placed)
        finally:  # the agent stops (shutdown): release the connectors' HTTP clients
            _drop_buffered(app)
            await creator.aclose()

    async def seller_order_retries(stream: Any) -> None:
        try:
            await run_agent(stream, lanes, route=route_retry, handle=creator.process_retry, wait=creator.until_due)
        finally:
            _drop_buffered(app)

    app.agent(order_events, name="seller-orders", concurrency=1)(seller_orders)
    app.agent(retries, name="seller-order-retries", concurrency=1)(seller_order_retries)
    return creator

"""Registers the seller-fulfilment side on the Faust app: the seller-checks topic, the `seller-fulfillments`
table, the check agent (concurrency 1, DESIGN.md §5) and the sweep timer (every worker, every poll interval, over
its own partitions). The seller connection's poll that requests checks runs in the poller
(`streams.fulfillments.scanner`, registered by `streams.polling.wiring`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from schemas.config import Config
from schemas.topics import TopicNames
from streams.connector_cache import sink_connector
from streams.fulfillments.checker import CheckMetrics, CheckTopics, FulfillmentChecker
from streams.fulfillments.entries import SellerWatchTable
from streams.fulfillments.sweep import Sweep
from streams.orders.table import OrderStates
from streams.polling.sink import KafkaEventSink
from streams.records import RAW_TOPIC, EncodedRecord, utc_now
from streams.sellers.entries import SellerOrderTable

log = logging.getLogger("fulfillsync.fulfillments")

SELLER_FULFILLMENT_TABLE = "seller-fulfillments"



def register_seller_fulfillments(app: faust.App, config: Config, names: TopicNames, registry: CollectorRegistry, *,
                                 tables: Mapping[str, Any], table_options: dict[str, Any],
                                 clock: Callable[[], datetime] = utc_now) -> FulfillmentChecker:
    """Add the check agent and the sweep to `app`. `tables` holds the app's `orders` and `seller-orders` tables."""
    partitions = config.kafka.partitions
    checks = app.topic(names.seller_checks, partitions=partitions, **RAW_TOPIC)
    dead_letters = app.topic(names.dead_letters, partitions=partitions, **RAW_TOPIC)
    table = app.Table(SELLER_FULFILLMENT_TABLE, default=None, partitions=partitions, key_type=bytes,
                      value_type=bytes, options=table_options)
    watch = SellerWatchTable(table)
    sink = KafkaEventSink(config.kafka.bootstrap_servers)

    async def send(topic: str, record: EncodedRecord) -> None:
        await dead_letters.send(key=record.key, value=record.value, headers=record.headers)

    checker = FulfillmentChecker(
        config=config, topics=CheckTopics(fulfillment_events=names.fulfillment_events,
                                          dead_letters=names.dead_letters),
        orders=OrderStates(tables["orders"]), seller_orders=SellerOrderTable(tables["seller-orders"]), watch=watch,
        events=sink, send=send, connector_for=sink_connector, metrics=CheckMetrics(registry), clock=clock)
    sweep = Sweep(config=config, topic=names.seller_checks, watch=watch, sink=sink, clock=clock)

    async def seller_checks(stream: Any) -> None:
        try:
            async for event in stream.events():
                await checker.process(event.message)
        finally:
            await checker.aclose()

    async def sweep_timer() -> None:
        """Every worker, over its own partitions. Never raises (a failure is retried next interval)."""
        try:
            await sweep.run()
        except Exception:
            log.exception("the seller fulfilment sweep failed; the next interval tries again")

    app.agent(checks, name="seller-checks", concurrency=1)(seller_checks)
    app.timer(config.polling.interval.total_seconds(), name="seller-sweep")(sweep_timer)
    return checker

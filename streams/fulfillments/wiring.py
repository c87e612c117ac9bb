"""Registers the seller-fulfilment side on the Faust app: the seller-checks topic, the `seller-fulfillments` table,
the check agent (concurrency 1, DESIGN.md §5; checks of different orders run concurrently in `streams.lanes`, one
order's one after the other, at most `PER_CONNECTION` per seller connection) and the sweep timer (every worker,
every poll interval, over its own partitions). The seller connection's poll that requests checks runs in the
poller (`streams.fulfillments.scanner`, registered by `streams.polling.wiring`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from schemas.config import Config
from schemas.topics import TopicNames
from streams.connector_cache import read_connector
from streams.fulfillments.checker import CheckMetrics, CheckTopics, FulfillmentChecker
from streams.fulfillments.entries import SellerWatchTable, decode_check
from streams.fulfillments.sweep import Sweep
from streams.lanes import IN_FLIGHT, PER_CONNECTION, Lanes, run_agent
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
        events=sink, send=send, connector_for=read_connector, metrics=CheckMetrics(registry), clock=clock)
    sweep = Sweep(config=config, topic=names.seller_checks, watch=watch, sink=sink, clock=clock)

    def route(message: Any) -> tuple[bytes, str, tuple[str, str] | None]:
        """Checks of one order one at a time; a check waiting behind another of the same order from the same
        connection and seller order is merged into it (a check reads the order's current fulfilments)."""
        check = decode_check(message.value)
        if isinstance(check, str):
            return message.key or b"", check, None
        return message.key or b"", check.connection_id, (check.connection_id, check.seller_order_ref)

    async def seller_checks(stream: Any) -> None:
        try:
            await run_agent(stream, Lanes(per_group=PER_CONNECTION, in_flight=IN_FLIGHT), route=route,
                            handle=checker.process)
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

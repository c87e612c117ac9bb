"""Registers the buyer tracking sink on the Faust app: the buyer-pushes and buyer-push-retries topics, the
`buyer-fulfillments` table, and the two agents, both at concurrency 1 (DESIGN.md §5) with their writes in one
`streams.lanes.Lanes`: different orders concurrently, one order's pushes and retries one after the other, at most
`PER_CONNECTION` per buyer connection; a retry waits until it is due in the retry agent's loop. Connectors get
short in-call retries (`streams.connector_cache.SINK_RETRY`); longer waits go through the retry topic, so a
failing buyer store does not hold up the orders of other stores."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from schemas.config import Config
from schemas.topics import TopicNames
from streams.buyers.entries import BuyerWritesTable, decode_push
from streams.buyers.pusher import BuyerTrackingSink, PushMetrics, PushTopics
from streams.connector_cache import sink_connector
from streams.lanes import IN_FLIGHT, PER_CONNECTION, Lanes, run_agent
from streams.orders.table import OrderStates
from streams.records import RAW_TOPIC, EncodedRecord, utc_now

BUYER_FULFILLMENT_TABLE = "buyer-fulfillments"



def register_buyer_tracking(app: faust.App, config: Config, names: TopicNames, registry: CollectorRegistry, *,
                            tables: Mapping[str, Any], table_options: dict[str, Any],
                            clock: Callable[[], datetime] = utc_now) -> BuyerTrackingSink:
    """Add the buyer tracking sink to `app` (`tables` holds the app's `orders` table); returns it for tests."""
    partitions = config.kafka.partitions
    pushes = app.topic(names.buyer_pushes, partitions=partitions, **RAW_TOPIC)
    retries = app.topic(names.buyer_push_retries, partitions=partitions, **RAW_TOPIC)
    outputs = {topic.get_topic_name(): topic
               for topic in (retries, app.topic(names.dead_letters, partitions=partitions, **RAW_TOPIC))}
    table = app.Table(BUYER_FULFILLMENT_TABLE, default=None, partitions=partitions, key_type=bytes,
                      value_type=bytes, options=table_options)

    async def send(topic: str, record: EncodedRecord, partition: int | None) -> None:
        await outputs[topic].send(key=record.key, value=record.value, headers=record.headers, partition=partition)

    sink = BuyerTrackingSink(
        config=config, topics=PushTopics(retries=names.buyer_push_retries, dead_letters=names.dead_letters),
        orders=OrderStates(tables["orders"]), writes=BuyerWritesTable(table), send=send,
        connector_for=sink_connector, metrics=PushMetrics(registry), clock=clock)

    # one set of lanes for both agents: a push and a retry of the same order never write at the same time
    lanes = Lanes(per_group=PER_CONNECTION, in_flight=IN_FLIGHT)

    def route_push(message: Any) -> tuple[bytes, str, str | None]:
        """A push waiting behind another push of the same order is merged into it (a push reconciles the order's
        current state)."""
        push = decode_push(message.value)
        if isinstance(push, str):
            return message.key or b"", push, None
        return message.key or b"", push.buyer_connection or "", "push"

    def route_retry(message: Any) -> tuple[bytes, str, None]:
        return message.key or b"", "", None

    async def buyer_pushes(stream: Any) -> None:
        try:
            await run_agent(stream, lanes, route=route_push, handle=sink.process_push)
        finally:
            await sink.aclose()

    async def buyer_push_retries(stream: Any) -> None:
        await run_agent(stream, lanes, route=route_retry, handle=sink.process_retry, wait=sink.until_due)

    app.agent(pushes, name="buyer-pushes", concurrency=1)(buyer_pushes)
    app.agent(retries, name="buyer-push-retries", concurrency=1)(buyer_push_retries)
    return sink

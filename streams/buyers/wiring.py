"""Registers the buyer tracking sink: the buyer-pushes and buyer-push-retries topics, the `buyer-fulfillments`
table, and the two agents, both with their writes in one `streams.kit.lanes.Lanes`: different orders concurrently,
one order's pushes and retries one after the other, at most `PER_CONNECTION` per buyer connection; a retry waits
until it is due in the retry agent's loop. Connectors get short in-call retries (`streams.kit.connectors.SINK_RETRY`);
longer waits go through the retry topic, so a failing buyer store does not hold up the orders of other stores."""

from __future__ import annotations

from typing import Any

from streams.buyers.records import decode_push
from streams.buyers.sink import SOURCE, STAGE, BuyerTrackingSink, PushMetrics
from streams.buyers.tables import BUYER_FULFILLMENTS
from streams.kit.connectors import sink_connector
from streams.kit.context import WiringContext
from streams.kit.failures import InPlaceRetry
from streams.kit.lanes import IN_FLIGHT, PER_CONNECTION, Lanes, run_agent
from streams.orders.tables import ORDERS


def register_buyer_tracking(ctx: WiringContext) -> BuyerTrackingSink:
    """Add the buyer tracking sink to the app; returns it for tests."""
    names = ctx.names
    sink = BuyerTrackingSink(
        config=ctx.config, orders=ctx.table(ORDERS), writes=ctx.table(BUYER_FULFILLMENTS),
        outbox=ctx.outbox(retries=names.buyer_push_retries, stage=STAGE, source=SOURCE),
        connector_for=sink_connector, metrics=PushMetrics(ctx.registry), retry=InPlaceRetry(ctx.app.crash))
    ctx.on_stop(sink.aclose)

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
        await run_agent(stream, lanes, route=route_push, handle=sink.process_push)

    async def buyer_push_retries(stream: Any) -> None:
        await run_agent(stream, lanes, route=route_retry, handle=sink.process_retry, wait=sink.until_due)

    ctx.agent(ctx.topic(names.buyer_pushes), "buyer-pushes", buyer_pushes)
    ctx.agent(ctx.topic(names.buyer_push_retries), "buyer-push-retries", buyer_push_retries)
    return sink

"""Registers the seller-fulfillment side: the seller-checks topic, the `seller-fulfillments` table, the check agent
(checks of different orders run concurrently in `streams.kit.lanes`, one order's one after the other, at most
`PER_CONNECTION` per seller connection) and the sweep timer (every worker, every poll interval, over its own
partitions). The seller connection's poll that requests checks runs in the poller
(`streams.polling.seller_orders`, registered by `streams.polling.wiring`)."""

from __future__ import annotations

import logging
from typing import Any

from streams.fulfillments.checker import CheckMetrics, CheckTopics, FulfillmentChecker
from streams.fulfillments.records import decode_check
from streams.fulfillments.sweep import Sweep
from streams.fulfillments.tables import SELLER_FULFILLMENTS
from streams.kit.connectors import read_connector
from streams.kit.context import WiringContext
from streams.kit.failures import InPlaceRetry
from streams.kit.lanes import IN_FLIGHT, PER_CONNECTION, Lanes, run_agent
from streams.orders.tables import ORDERS
from streams.sellers.tables import SELLER_ORDERS

log = logging.getLogger(__name__)


def register_seller_fulfillments(ctx: WiringContext) -> FulfillmentChecker:
    """Add the check agent and the sweep to the app; returns the checker (tests reach into it)."""
    names, config = ctx.names, ctx.config
    watch = ctx.table(SELLER_FULFILLMENTS)
    checker = FulfillmentChecker(
        config=config, topics=CheckTopics(fulfillment_events=names.fulfillment_events,
                                          dead_letters=names.dead_letters),
        orders=ctx.table(ORDERS), seller_orders=ctx.table(SELLER_ORDERS), watch=watch, events=ctx.producer,
        send=ctx.send, dead_letters=ctx.dead_letters, connector_for=read_connector,
        metrics=CheckMetrics(ctx.registry), clock=ctx.clock, retry=InPlaceRetry(ctx.app.crash))
    ctx.on_stop(checker.aclose)
    sweep = Sweep(config=config, topic=names.seller_checks, watch=watch, sink=ctx.producer, clock=ctx.clock)

    def route(message: Any) -> tuple[bytes, str, tuple[str, str] | None]:
        """Checks of one order one at a time; a check waiting behind another of the same order from the same
        connection and seller order is merged into it (a check reads the order's current fulfillments)."""
        check = decode_check(message.value)
        if isinstance(check, str):
            return message.key or b"", check, None
        return message.key or b"", check.connection_id, (check.connection_id, check.seller_order_ref)

    async def seller_checks(stream: Any) -> None:
        await run_agent(stream, Lanes(per_group=PER_CONNECTION, in_flight=IN_FLIGHT), route=route,
                        handle=checker.process)

    async def sweep_timer() -> None:
        """Every worker, over its own partitions. Never raises (a failure is retried next interval)."""
        try:
            await sweep.run()
        except Exception:
            log.exception("the seller fulfillment sweep failed; the next interval tries again")

    ctx.agent(ctx.topic(names.seller_checks), "seller-checks", seller_checks)
    ctx.app.timer(config.polling.interval.total_seconds(), name="seller-sweep")(sweep_timer)
    return checker

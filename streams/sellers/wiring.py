"""Registers the seller order sink: the `seller-orders` table, the retry topic, the agent on order-events and the
retry agent, with their records run in shared `streams.kit.lanes`: one order's records (its creation, its
cancellations, their retries) one after the other, at most `PER_CONNECTION` orders of one seller connection at
once, acks in offset order. New-order emails to manual sellers go through `web.smtp` when it is configured.
Connectors are made on first use, with short in-call retries (`streams.kit.connectors.SINK_RETRY`): longer waits
go through the retry topic, so a failing store does not hold the agent (and the orders of other stores) for long.
"""

from __future__ import annotations

import json
from typing import Any

import faust

from streams.kit.connectors import sink_connector
from streams.kit.context import WiringContext
from streams.kit.failures import InPlaceRetry
from streams.kit.lanes import IN_FLIGHT, PER_CONNECTION, Lanes, run_agent
from streams.sellers.creator import SOURCE, STAGE, SellerOrderCreator, SellerOrderMetrics
from streams.sellers.notice import SmtpMailer
from streams.sellers.tables import SELLER_ORDERS, SellerOrderTables


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
    agent, so they are not acked: their offsets are not committed (`streams.kit.worker_app.CommitGuard`, even when
    the next record is acked) and they are read again after the next rebalance or restart."""
    app.flow_control.clear()


def register_seller_orders(ctx: WiringContext) -> SellerOrderCreator:
    """Add the seller order sink to the app; returns its creator (tests reach into it)."""
    names, config = ctx.names, ctx.config
    creator = SellerOrderCreator(
        config=config, order_events=names.order_events,
        tables=SellerOrderTables.over(ctx.faust_table(SELLER_ORDERS.name)), events=ctx.producer,
        outbox=ctx.outbox(retries=names.seller_order_retries, stage=STAGE, source=SOURCE),
        connector_for=sink_connector, metrics=SellerOrderMetrics(ctx.registry), clock=ctx.clock,
        mailer=SmtpMailer(config.web.smtp) if config.web.smtp is not None else None,
        retry=InPlaceRetry(ctx.app.crash))
    ctx.on_stop(creator.aclose)
    lanes = Lanes(per_group=PER_CONNECTION, in_flight=IN_FLIGHT)

    def route_event(message: Any) -> tuple[bytes, str, None]:
        """Keyed by order id; creations are never merged (each record is its own event)."""
        return message.key or b"", seller_of(message.value), None

    def route_retry(message: Any) -> tuple[bytes, str, None]:
        return message.key or b"", seller_of(message.value, "placed"), None

    async def seller_orders(stream: Any) -> None:
        try:
            await run_agent(stream, lanes, route=route_event, handle=creator.process_placed)
        finally:
            _drop_buffered(ctx.app)

    async def seller_order_retries(stream: Any) -> None:
        try:
            await run_agent(stream, lanes, route=route_retry, handle=creator.process_retry, wait=creator.until_due)
        finally:
            _drop_buffered(ctx.app)

    ctx.agent(ctx.topic(names.order_events), "seller-orders", seller_orders)
    ctx.agent(ctx.topic(names.seller_order_retries), "seller-order-retries", seller_order_retries)
    return creator

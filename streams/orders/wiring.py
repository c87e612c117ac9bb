"""Registers the ledger agent: it reads order-events and fulfillment-events (co-partitioned by order id) one record
at a time, applies each to the order table, publishes to shipped-orders and dead-letters, and asks the buyer
tracking sink to write what changed (a push record on `<prefix>.buyer-pushes`, in the input's partition). A timer
counts the stuck orders of the table (`streams.orders.stuck`)."""

from __future__ import annotations

from typing import Any

from streams.buyers.records import PushRecord
from streams.kit.context import WiringContext
from streams.kit.records import RAW_TOPIC, EncodedRecord
from streams.orders.metrics import LedgerMetrics
from streams.orders.processor import LedgerProcessor
from streams.orders.stuck import register_stuck_orders
from streams.orders.tables import ORDERS


def register_ledger(ctx: WiringContext) -> LedgerProcessor:
    """Add the order table and the ledger agent to the app; returns the processor."""
    names = ctx.names
    inputs = ctx.app.topic(names.order_events, names.fulfillment_events, **RAW_TOPIC)

    async def push(order_id: str, buyer_connection: str | None, partition: int) -> None:
        record = PushRecord(order_id=order_id, buyer_connection=buyer_connection)
        await ctx.send(names.buyer_pushes, EncodedRecord(key=order_id.encode(), value=record.model_dump_json().encode(),
                                                         headers=[]), partition)

    processor = LedgerProcessor(table=ctx.table(ORDERS), send=ctx.send, names=names,
                                metrics=LedgerMetrics(ctx.registry), dead_letters=ctx.dead_letters, crash=ctx.app.crash,
                                clock=ctx.clock, push=push)

    async def ledger(stream: Any) -> None:
        async for event in stream.events():
            await processor.process(event.message)

    ctx.agent(inputs, "ledger", ledger)
    register_stuck_orders(ctx.app, ctx.faust_table(ORDERS.name), compressed=ORDERS.compressed, registry=ctx.registry,
                          clock=ctx.clock)
    return processor

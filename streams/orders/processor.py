"""The ledger agent's work for one record: read the order's state, apply the input, publish, store.

Failure behaviour (docs/architecture.md, "Known traps"):
- a record that is not a valid input is dead-lettered (`invalid_payload`) and the loop goes on;
- a rejection by the ledger is dead-lettered with the ledger's reason; the order's state is unchanged;
- a transient error (a send refused while the broker is away, RocksDB or the disk failing:
  `streams.kit.failures`) never becomes a dead letter: the record is applied again in place with a capped
  backoff (the ledger returns the same outputs with the same ids), and past the bound the worker stops without
  committing it;
- any other exception is tried again twice, then taken for a bug: logged and the record dead-lettered as
  `internal_error`, never re-raised, because Faust commits the offset of an event whose handler raised;
- an order state the table cannot read is dead-lettered as `internal_error` at once (it will not read better);
- outputs are handed to the producer before the state is stored, and Faust flushes the producer before it
  commits offsets; if the worker dies in between, the record is read again and the ledger returns the same
  outputs with the same ids (see `ledger.apply`);
- an input applied (or recognised as a duplicate) on an order with fulfillments is followed by a push record on
  `<prefix>.buyer-pushes` (keyed by order id, in the input's partition), also before the state is stored: the
  buyer tracking sink then writes what changed to the buyer's order (`streams.buyers`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from ledger import OrderState, Output, Rejection, apply, new_state
from schemas.events import DeadLetter, InputEvent, OrderReopened, OrderShipped, OrderTrackingUpdated
from schemas.topics import TopicNames
from streams.kit.dead_letters import DeadLetterMetrics, dead_letter, encode_dead_letter
from streams.kit.failures import Crash, InPlaceRetry
from streams.kit.records import (
    InvalidInput,
    KafkaMessage,
    RebuiltMessage,
    Send,
    decode_input,
    encode_event,
    position,
    utc_now,
)
from streams.kit.tables import TypedTable, UnreadableEntry
from streams.orders.metrics import LedgerMetrics

log = logging.getLogger(__name__)

Push = Callable[[str, str | None, int], Awaitable[None]]
"""Asks the buyer tracking sink to bring the buyer's order `order_id` in line with its state; then the order's
buyer connection (None before its order.placed) and the partition of the input record (the order's partition);
raises if the producer refuses it."""


class LedgerProcessor:
    """Processes records of order-events and fulfillment-events against the order table.

    `table` is the order table (`streams.orders.tables.ORDERS`); `send` publishes a record.
    """

    def __init__(self, *, table: TypedTable[OrderState], send: Send, names: TopicNames, metrics: LedgerMetrics,
                 dead_letters: DeadLetterMetrics, crash: Crash, clock: Callable[[], datetime] = utc_now,
                 push: Push | None = None, retry: InPlaceRetry | None = None) -> None:
        self._table = table
        self._push = push
        self._send = send
        self._names = names
        self._metrics = metrics
        self._dead_letters = dead_letters
        self._clock = clock
        self._retry = retry if retry is not None else InPlaceRetry(crash)
        self._allowed = names.input_types

    async def process(self, message: KafkaMessage) -> None:
        """Handle one record. Never raises (see the module docstring); on a transient failure past its bound it
        stops the worker and never returns. Its time is observed in `fulfillsync_ledger_processing_seconds`."""
        started = time.perf_counter()
        try:  # the first attempt inline: the hot path costs nothing extra
            await self._work(message)
        except Exception as error:  # noqa: BLE001 (classified by `recover`)
            await self._retry.recover(error, lambda: self._work(message), what=f"the ledger on {position(message)}",
                                      on_bug=lambda bug: self._internal_error(message, bug))
        self._metrics.processing.observe(time.perf_counter() - started)

    async def _work(self, message: KafkaMessage) -> None:
        try:
            await self._process(message)
        except UnreadableEntry as error:  # deterministic: reading it again gives the same bytes
            await self._internal_error(message, error)

    async def _internal_error(self, message: KafkaMessage, error: Exception) -> None:
        await self._dead_letter(message, "internal_error",
                                f"fulfillsync could not process this record: {type(error).__name__}: {error}",
                                order_id=None, rejected_event_id=None)

    async def _process(self, message: KafkaMessage) -> None:
        allowed = self._allowed.get(message.topic, frozenset())
        decoded = decode_input(message, allowed)
        if isinstance(decoded, InvalidInput):
            self._metrics.inputs.labels("unknown", "invalid").inc()
            await self._dead_letter(message, decoded.reason, decoded.message, order_id=decoded.order_id,
                                    rejected_event_id=None)
            return
        stored = self._table.get(decoded.order_id)
        state = stored if stored is not None else new_state(decoded.order_id)
        result = apply(state, decoded, position(message))
        self._metrics.inputs.labels(decoded.type, result.status).inc()
        if result.status in ("held", "stale"):
            log.info("%s %s for order %s: %s", decoded.type, result.status, decoded.order_id, result.detail)
        for output in result.outputs:
            await self._publish(output, message, decoded, state)
        if self._push is not None and result.status in ("applied", "duplicate") and result.state.fulfillments:
            # Also for a duplicate: it may be the redelivery of a record whose push died with the worker, and a
            # push only makes the sink compare (no write when the buyer's order already matches).
            placed = result.state.order
            await self._push(decoded.order_id, placed.buyer.connection if placed else None, message.partition)
        if result.state is not state:
            self._table.put(decoded.order_id, result.state)

    async def _publish(self, output: Output, message: KafkaMessage, event: InputEvent, before: OrderState) -> None:
        if isinstance(output, Rejection):
            source = message if output.event_id == event.event_id else _held_message(before, output.event_id)
            await self._dead_letter(source, output.reason, output.message, order_id=event.order_id,
                                    rejected_event_id=output.event_id)
            return
        await self._send(self._names.shipped_orders, encode_event(
            output, order_id=output.order_id, record_id=output.event_id, record_type=output.type,
            time=_output_time(output)), None)
        self._metrics.outputs.labels(output.type).inc()
        log.info("%s %s (event %s)", output.order_id, output.type, output.event_id)

    async def _dead_letter(self, message: KafkaMessage, reason: str, text: str, *, order_id: str | None,
                           rejected_event_id: str | None) -> None:
        letter: DeadLetter = dead_letter(message, reason=reason, text=text, order_id=order_id,
                                         rejected_event_id=rejected_event_id, at=self._clock())
        await self._send(self._names.dead_letters, encode_dead_letter(
            letter, key=order_id or (message.key or b"").decode("utf-8", "replace")), None)
        self._dead_letters.count(letter)
        log.warning("dead-lettered %s as %s: %s", position(message), reason, text)


def _output_time(output: OrderShipped | OrderReopened | OrderTrackingUpdated) -> datetime:
    if isinstance(output, OrderShipped):
        return output.shipped_at
    if isinstance(output, OrderReopened):
        return output.reopened_at
    return output.updated_at


def _held_message(state: OrderState, held_event_id: str) -> KafkaMessage:
    for item in state.held:
        if item.event.event_id == held_event_id:
            topic, partition, offset = (item.position or "held:-1:-1").rsplit(":", 2)
            return RebuiltMessage(topic=topic, partition=int(partition), offset=int(offset),
                                key=item.event.order_id.encode(), value=item.event.model_dump_json().encode(),
                                headers=[])
    raise LookupError(f"no held input {held_event_id} on order {state.order_id}")

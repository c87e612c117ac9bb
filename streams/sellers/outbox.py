"""Where the seller order sink's failed attempts go: a retry record on the retry topic, or a `platform_rejected`
dead letter naming the order-events record the attempt came from. Shared by order creation and cancellation.

Retry records go to the partition of the order-events record they came from (the retry topic has as many
partitions), not by key: Faust's partitioner (murmur2) and confluent-kafka's (crc32) differ, and the table entry
the retry agent writes must land in the order's partition. Both go through `send` (Faust's producer, which Faust
flushes before committing the offset of the record being handled), so a restart loses neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from schemas.events import OrderBuyerCancelled, OrderPlaced, OriginalRecord
from streams.records import EncodedRecord, RebuiltMessage, dead_letter, encode_dead_letter
from streams.sellers.entries import MAX_ATTEMPTS, RetryRecord, retry_delay

STAGE = "seller_orders"
SOURCE = "/fulfillsync/seller-orders"
Send = Callable[[str, EncodedRecord, int | None], Awaitable[None]]
"""Publishes one record on a topic (by name) with Faust's producer, on the given partition (None: by key); raises
if the producer refuses it."""


@dataclass(frozen=True)
class Topics:
    order_events: str
    retries: str
    dead_letters: str


class Outbox:
    """Writes retry records and dead letters for the seller order sink."""

    def __init__(self, *, topics: Topics, send: Send, clock: Callable[[], datetime]) -> None:
        self._topics = topics
        self._send = send
        self._clock = clock

    async def retry(self, event: OrderPlaced | OrderBuyerCancelled, original: OriginalRecord, attempt: int,
                    error: str, retry_after_s: float | None) -> RetryRecord | None:
        """Schedule attempt `attempt + 1` of `event` (after the backoff of `entries.retry_delay`) and return its
        record; None, sending nothing, once `attempt` reached `MAX_ATTEMPTS` (the caller dead-letters then)."""
        if attempt >= MAX_ATTEMPTS:
            return None
        record = RetryRecord(
            placed=event if isinstance(event, OrderPlaced) else None,
            cancelled=event if isinstance(event, OrderBuyerCancelled) else None,
            attempt=attempt, last_error=error[:2000], original=original,
            not_before=self._clock() + retry_delay(attempt, retry_after_s))
        await self._send(self._topics.retries, EncodedRecord(
            key=event.order_id.encode(), value=record.model_dump_json().encode(), headers=[]), original.partition)
        return record

    async def reject(self, event: OrderPlaced | OrderBuyerCancelled, original: OriginalRecord, text: str) -> None:
        """Dead-letter the record `original` as `platform_rejected` with `text` (the platform's message)."""
        letter = dead_letter(RebuiltMessage(topic=original.topic, partition=original.partition,
                                            offset=original.offset, key=_bytes(original.key),
                                            value=_bytes(original.value), headers=original.headers),
                             reason="platform_rejected", text=text, order_id=event.order_id,
                             rejected_event_id=event.event_id, at=self._clock(), stage=STAGE)
        await self._send(self._topics.dead_letters, encode_dead_letter(letter, key=event.order_id, source=SOURCE), None)


def _bytes(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None

"""The seller-order table and the retry records of the seller order sink.

- `seller-orders` table: order id -> `SellerOrderEntry` (the seller's order reference and number, our line id ->
  the seller's line ref, when it was recorded). Keyed by order id, so it is co-partitioned with order-events and
  with the retry topic: both agents write an order's entry in the partition the order's records arrive on.
- retry records on `<prefix>.seller-order-retries` (internal, keyed by order id): the `order.placed` to create,
  the attempt that failed, when the next may start, the last error, and the order-events record it came from
  (so a dead letter written after many attempts still names the original record).

Values are JSON. An entry that cannot be read is treated as absent and logged: the next attempt asks the
platform, whose `create_order` finds the order created before (by our reference) instead of creating another.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from schemas.events import OrderPlaced, OriginalRecord
from schemas.platform import CreatedOrder

log = logging.getLogger("fulfillsync.sellers")

BASE_DELAY = timedelta(seconds=1)
"""The wait before the first retry; each further attempt doubles it."""
MAX_DELAY = timedelta(seconds=60)
"""The longest wait between two attempts (also the longest a retry record holds its partition of the retry topic,
so it bounds how much a waiting retry can delay the retries queued behind it and a rebalance)."""
MAX_ATTEMPTS = 20
"""Attempts in all (about 15 minutes of retrying at the capped delay) before the order is dead-lettered."""


class SellerOrderEntry(BaseModel):
    """What `create_order` returned for one stored order, and when it was recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_ref: str
    number: str | None = None
    line_refs: dict[str, str]
    recorded_at: AwareDatetime

    @classmethod
    def of(cls, created: CreatedOrder, at: datetime) -> SellerOrderEntry:
        return cls(order_ref=created.order_ref, number=created.number, line_refs=dict(created.line_refs),
                   recorded_at=at)


class RetryRecord(BaseModel):
    """Try creating `placed` again, no earlier than `not_before`; `attempt` attempts have failed so far."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    placed: OrderPlaced
    attempt: int = Field(ge=1)
    not_before: AwareDatetime
    last_error: str
    original: OriginalRecord


def retry_delay(attempt: int, retry_after_s: float | None = None) -> timedelta:
    """The wait after `attempt` failed attempts: `BASE_DELAY * 2**(attempt - 1)`, capped at `MAX_DELAY`, and no
    shorter than what the platform asked for (`retry_after_s`, itself capped at `MAX_DELAY`)."""
    exponent = min(max(attempt - 1, 0), 30)
    delay: timedelta = min(BASE_DELAY * (2 ** exponent), MAX_DELAY)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(timedelta(seconds=retry_after_s), MAX_DELAY))
    return delay


def decode_retry(value: bytes | None) -> RetryRecord | str:
    """The retry record in a record value, or a short reason why it is none (never raises)."""
    if not value:
        return "the record has no value"
    try:
        return RetryRecord.model_validate_json(value)
    except ValidationError as error:
        return f"not a seller-order retry record: {error.error_count()} problem(s), first: {error.errors()[0]['msg']}"


class SellerOrderTable:
    """Typed access to the seller-order table."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table

    def known(self, order_id: str) -> bool:
        """Whether the order's creation was recorded (its entry exists, readable or not)."""
        return self._table.get(order_id.encode()) is not None

    def get(self, order_id: str) -> SellerOrderEntry | None:
        raw = self._table.get(order_id.encode())
        if raw is None:
            return None
        try:
            return SellerOrderEntry.model_validate_json(raw)
        except ValidationError:
            log.error("seller order entry of %s is unreadable", order_id)
            return None

    def put(self, order_id: str, entry: SellerOrderEntry) -> None:
        self._table[order_id.encode()] = entry.model_dump_json().encode()

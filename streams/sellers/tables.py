"""The seller-order table and the retry records of the seller order sink.

- `seller-orders` table: order id -> `SellerOrderEntry` (the seller connection, the seller's order reference and
  number, our line id -> the seller's line ref, when it was recorded, and the buyer cancellation last sent to the
  seller). Keyed by order id, so it is co-partitioned with order-events and with the retry topic: both agents
  write an order's entry in the partition the order's records arrive on. A buyer cancellation of an order not
  created yet waits under the key `<order id>` + U+001F + `cancellation` (`PendingCancellation`), in the
  same partition. The new-order email to a manual seller (`streams.sellers.notice`) is recorded under
  `<order id>` + U+001F + `notice` (`NoticeEntry`), so a replay or a restart does not send it again.
- retry records on `<prefix>.seller-order-retries` (internal, keyed by order id): the `order.placed` to create
  (for a manual seller: whose new-order email to send) or the `order.buyer_cancelled` to send, the attempt that
  failed, when the next may start, the last error, and the order-events record it came from (so a dead letter
  written after many attempts still names the original record).

Values are JSON. An entry that cannot be read is treated as absent and logged: the next attempt asks the
platform, whose `create_order` finds the order created before (by our reference) instead of creating another.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.events import CancelledLine, OrderBuyerCancelled, OrderPlaced, OriginalRecord
from schemas.platform import CancelledUnits, CreatedOrder, OrderCancellation
from streams.records import decode_internal

log = logging.getLogger("fulfillsync.sellers")
M = TypeVar("M", bound=BaseModel)

BASE_DELAY = timedelta(seconds=1)
"""The wait before the first retry; each further attempt doubles it."""
MAX_DELAY = timedelta(seconds=60)
"""The longest wait between two attempts (also the longest a retry record holds its partition of the retry topic,
so it bounds how much a waiting retry can delay the retries queued behind it and a rebalance)."""
MAX_ATTEMPTS = 20
"""Attempts in all (about 15 minutes of retrying at the capped delay) before the order is dead-lettered."""


class CancellationTotals(BaseModel):
    """A buyer's cancellation of one stored order: per line the most units any `order.buyer_cancelled` said
    (totals since placement), and whether the whole order is cancelled. `outcome`: what the seller's platform did
    with these totals (`sent`, `rejected`), or `pending` while the order does not exist there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    whole_order: bool = False
    lines: dict[str, CancelledLine] = Field(default_factory=dict)
    outcome: Literal["pending", "sent", "rejected"] = "pending"

    def merged(self, event: OrderBuyerCancelled) -> CancellationTotals:
        """These totals and `event`'s, the larger per line (an older event changes nothing); outcome pending."""
        lines = dict(self.lines)
        for line in event.lines:
            known = lines.get(line.line_id)
            if known is None or line.cancelled_quantity > known.cancelled_quantity:
                lines[line.line_id] = line
        return CancellationTotals(whole_order=self.whole_order or event.whole_order, lines=lines)

    def same_totals(self, other: CancellationTotals | None) -> bool:
        return other is not None and (self.whole_order, self.lines) == (other.whole_order, other.lines)

    def for_platform(self, order_id: str, line_refs: dict[str, str]) -> OrderCancellation:
        """What `cancel_order` gets: our lines as the seller's line refs (lines it has no ref for are left out)."""
        return OrderCancellation(our_order_id=order_id, whole_order=self.whole_order, lines=tuple(
            CancelledUnits(line_ref=line_refs[line.line_id], sku=line.sku, cancelled_quantity=line.cancelled_quantity,
                           remaining_quantity=line.remaining_quantity)
            for line_id, line in sorted(self.lines.items()) if line_id in line_refs))


class SellerOrderEntry(BaseModel):
    """What `create_order` returned for one stored order, when it was recorded, on which seller connection (None in
    entries written before cancellations existed), and the buyer cancellation last handled on the platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_ref: str
    number: str | None = None
    line_refs: dict[str, str]
    recorded_at: AwareDatetime
    connection: str | None = None
    cancellation: CancellationTotals | None = None

    @classmethod
    def of(cls, created: CreatedOrder, at: datetime, connection: str) -> SellerOrderEntry:
        return cls(order_ref=created.order_ref, number=created.number, line_refs=dict(created.line_refs),
                   recorded_at=at, connection=connection)


class NoticeEntry(BaseModel):
    """The new-order email of one order routed to a manual seller: sent (`at` the time the mail server took it),
    refused for good by the mail server, or given up after `MAX_ATTEMPTS`; any of them is final."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Literal["sent", "refused", "failed"]
    at: AwareDatetime
    connection: str
    message_id: str


class PendingCancellation(BaseModel):
    """A buyer cancellation of an order not created on its seller's platform (yet): the totals, and the last event
    and record that brought them (for a retry record or a dead letter once the order exists)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    totals: CancellationTotals
    event: OrderBuyerCancelled
    original: OriginalRecord


class RetryRecord(BaseModel):
    """Try again, no earlier than `not_before`, to create `placed` or to send the cancellation `cancelled` (exactly
    one is set); `attempt` attempts have failed so far."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    placed: OrderPlaced | None = None
    cancelled: OrderBuyerCancelled | None = None
    attempt: int = Field(ge=1)
    not_before: AwareDatetime
    last_error: str
    original: OriginalRecord

    @model_validator(mode="after")
    def _one_event(self) -> RetryRecord:
        if (self.placed is None) == (self.cancelled is None):
            raise ValueError("a retry record carries either placed or cancelled")
        return self

    @property
    def event(self) -> OrderPlaced | OrderBuyerCancelled:
        event = self.placed or self.cancelled
        assert event is not None
        return event


async def sleep_until_due(not_before: datetime, clock: Callable[[], datetime],
                          sleep: Callable[[float], Awaitable[None]]) -> None:
    """Sleep until `not_before` by `clock`, at most `MAX_DELAY` (a record stamped by a clock far ahead waits no
    longer); return at once when it is due."""
    wait = min((not_before - clock()).total_seconds(), MAX_DELAY.total_seconds())
    if wait > 0:
        await sleep(wait)


def retry_delay(attempt: int, retry_after_s: float | None = None) -> timedelta:
    """The wait after `attempt` failed attempts: `BASE_DELAY * 2**(attempt - 1)`, capped at `MAX_DELAY`, and no
    shorter than what the platform asked for (`retry_after_s`, itself capped at `MAX_DELAY`)."""
    exponent = min(max(attempt - 1, 0), 30)
    delay: timedelta = min(BASE_DELAY * (2 ** exponent), MAX_DELAY)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(timedelta(seconds=retry_after_s), MAX_DELAY))
    return delay


def decode_retry(value: bytes | None) -> RetryRecord | str:
    """The seller-order retry record in a record value, or a short reason why it is none (never raises)."""
    return decode_internal(RetryRecord, value, "a seller-order retry record")


class SellerOrderTable:
    """Typed access to the seller-order table."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table

    def known(self, order_id: str) -> bool:
        """Whether the order's creation was recorded (its entry exists, readable or not)."""
        return self._table.get(order_id.encode()) is not None

    def get(self, order_id: str) -> SellerOrderEntry | None:
        return self._read(order_id.encode(), SellerOrderEntry, f"seller order entry of {order_id}")

    def put(self, order_id: str, entry: SellerOrderEntry) -> None:
        self._table[order_id.encode()] = entry.model_dump_json().encode()

    def pending(self, order_id: str) -> PendingCancellation | None:
        """The cancellation waiting for the order to exist on its seller's platform; None (logged) if unreadable."""
        return self._read(_pending_key(order_id), PendingCancellation, f"pending cancellation of {order_id}")

    def put_pending(self, order_id: str, pending: PendingCancellation) -> None:
        self._table[_pending_key(order_id)] = pending.model_dump_json().encode()

    def noticed(self, order_id: str) -> bool:
        """Whether the order's new-order email was recorded (its entry exists, readable or not)."""
        return self._table.get(_notice_key(order_id)) is not None

    def notice(self, order_id: str) -> NoticeEntry | None:
        """The new-order email recorded for the order; None if none was (or the entry is unreadable, logged)."""
        return self._read(_notice_key(order_id), NoticeEntry, f"new-order email entry of {order_id}")

    def put_notice(self, order_id: str, entry: NoticeEntry) -> None:
        self._table[_notice_key(order_id)] = entry.model_dump_json().encode()

    def _read(self, key: bytes, model: type[M], what: str) -> M | None:
        raw = self._table.get(key)
        if raw is None:
            return None
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            log.error("%s is unreadable", what)
            return None


def _pending_key(order_id: str) -> bytes:
    return f"{order_id}\x1fcancellation".encode()


def _notice_key(order_id: str) -> bytes:
    return f"{order_id}\x1fnotice".encode()

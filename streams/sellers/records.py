"""The seller order sink's retry records on `<prefix>.seller-order-retries` (internal, keyed by order id): the
`order.placed` to create (for a manual seller: whose new-order email to send) or the `order.buyer_cancelled` to
send, with the attempt that failed, when the next may start and the last error (`streams.kit.retries.RetryState`),
and the order-events record it came from (so a dead letter written after many attempts still names it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import model_validator

from schemas.events import OrderBuyerCancelled, OrderPlaced, OriginalRecord
from streams.kit.records import decode_internal
from streams.kit.retries import RetryState


class RetryRecord(RetryState):
    """Try again, no earlier than `not_before`, to create `placed` or to send the cancellation `cancelled` (exactly
    one is set); `attempt` attempts have failed so far."""

    placed: OrderPlaced | None = None
    cancelled: OrderBuyerCancelled | None = None
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



def retry_of(event: OrderPlaced | OrderBuyerCancelled,
             original: OriginalRecord) -> Callable[[int, datetime, str], RetryRecord]:
    """How `RetryOutbox.schedule` builds the retry record of `event`, read from `original`."""

    def build(attempt: int, not_before: datetime, last_error: str) -> RetryRecord:
        return RetryRecord(placed=event if isinstance(event, OrderPlaced) else None,
                           cancelled=event if isinstance(event, OrderBuyerCancelled) else None,
                           attempt=attempt, not_before=not_before, last_error=last_error, original=original)

    return build


def decode_retry(value: bytes | None) -> RetryRecord | str:
    """The seller-order retry record in a record value, or a short reason why it is none (never raises)."""
    return decode_internal(RetryRecord, value, "a seller-order retry record")

"""The buyer tracking sink's internal records, both keyed by order id and co-partitioned with order-events.

- push records on `<prefix>.buyer-pushes` (from the ledger agent): bring the buyer's copy of an order in line
  with its state;
- retry records on `<prefix>.buyer-push-retries`: the same, again, no earlier than `not_before`
  (`streams.kit.retries`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from streams.kit.records import decode_internal
from streams.kit.retries import RetryState


class PushRecord(BaseModel):
    """The ledger agent's request to bring the buyer's copy of order `order_id` in line with its state.
    `buyer_connection` (absent in records of earlier versions) only groups the sink's concurrent writes by buyer
    store (`streams.kit.lanes`); what is written is decided from the order table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(min_length=1)
    buyer_connection: str | None = None


def decode_push(value: bytes | None) -> PushRecord | str:
    """The buyer push record in a record value, or a short reason why it is none (never raises)."""
    return decode_internal(PushRecord, value, "a buyer push record")


class RetryRecord(RetryState):
    """Bring the buyer's copy of order `order_id` in line again, no earlier than `not_before`."""

    order_id: str = Field(min_length=1)
    requeued: bool = Field(default=False, description="Sent by `fulfillsync dead-letters requeue`: the views of "
                           "fulfillments the buyer's platform refused for good are tried again.")


def decode_retry(value: bytes | None) -> RetryRecord | str:
    """The buyer-push retry record in a record value, or a short reason why it is none (never raises)."""
    return decode_internal(RetryRecord, value, "a buyer-push retry record")

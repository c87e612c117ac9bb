"""The check records of `<prefix>.seller-checks`: each asks for one stored order's fulfillments to be read from its
seller's platform now: because the seller's order changed (`changed`, from the seller connection's poll), because
the order is watched on a platform whose tracking edits do not move the order's modified time (`sweep`), or
because the last read failed (`retry`, asked by the sweep one interval later). Keyed by order id, in the order's
partition. JSON values.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from streams.kit.records import decode_internal

CheckReason = Literal["changed", "sweep", "retry"]


class CheckRecord(BaseModel):
    """Read the fulfillments of stored order `order_id` (seller order `seller_order_ref` on `connection_id`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(min_length=1)
    connection_id: str = Field(min_length=1)
    seller_order_ref: str = Field(min_length=1)
    reason: CheckReason
    requested_at: AwareDatetime


def decode_check(value: bytes | None) -> CheckRecord | str:
    """The seller check record in a record value, or a short reason why it is none (never raises)."""
    return decode_internal(CheckRecord, value, "a seller check record")

"""The `buyer-fulfillments` table and the retry records of the buyer tracking sink.

- table: order id -> `BuyerWrites`: per seller fulfilment id, what was written to the buyer
  (`ledger.fulfillment_sync.BuyerWritten`: the request, the buyer-side fulfilment ref, the tracking it carries,
  whether we cancelled it), and the ledger views the buyer's platform refused for good (not tried again until the
  view changes). Keyed by order id, co-partitioned with order-events.
- retry records on `<prefix>.buyer-push-retries`: bring order `order_id` in line again, no earlier than
  `not_before`; `attempt` attempts failed so far.

Values are JSON. An entry that cannot be read is treated as empty and logged: every action then starts with a
find (`find_fulfillment` by our fulfilment id), so nothing is created twice.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ledger.fulfillment_sync import BuyerWritten
from schemas.platform import FulfillmentRequest, Tracking
from streams.records import decode_internal

log = logging.getLogger("fulfillsync.buyers")


class WrittenEntry(BaseModel):
    """`BuyerWritten` as stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: FulfillmentRequest
    fulfillment_ref: str | None
    tracking: Tracking | None
    cancelled: bool = False

    def to_written(self) -> BuyerWritten:
        return BuyerWritten(self.request, self.fulfillment_ref, self.tracking, self.cancelled)

    @classmethod
    def of(cls, written: BuyerWritten) -> WrittenEntry:
        return cls(request=written.request, fulfillment_ref=written.fulfillment_ref, tracking=written.tracking,
                   cancelled=written.cancelled)


class BuyerWrites(BaseModel):
    """What the sink wrote to one order's buyer, per seller fulfilment id."""

    model_config = ConfigDict(extra="forbid")

    written: dict[str, WrittenEntry] = Field(default_factory=dict)
    refused: dict[str, str] = Field(default_factory=dict, description="Seller fulfilment id -> the ledger view "
                                    "(digest and cancelled flag) the buyer's platform refused for good.")

    def get(self, fulfillment_id: str) -> BuyerWritten | None:
        entry = self.written.get(fulfillment_id)
        return None if entry is None else entry.to_written()

    def record(self, fulfillment_id: str, written: BuyerWritten) -> None:
        self.written[fulfillment_id] = WrittenEntry.of(written)


class RetryRecord(BaseModel):
    """Bring the buyer's copy of order `order_id` in line again, no earlier than `not_before`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(min_length=1)
    attempt: int = Field(ge=1)
    not_before: AwareDatetime
    last_error: str


def decode_retry(value: bytes | None) -> RetryRecord | str:
    """The buyer-push retry record in a record value, or a short reason why it is none (never raises)."""
    return decode_internal(RetryRecord, value, "a buyer-push retry record")


class BuyerWritesTable:
    """Typed access to the buyer-fulfilment table."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table

    def get(self, order_id: str) -> BuyerWrites:
        raw = self._table.get(order_id.encode())
        if raw is None:
            return BuyerWrites()
        try:
            return BuyerWrites.model_validate_json(raw)
        except ValidationError:
            log.error("buyer-fulfilment entry of %s is unreadable; every write starts with a find", order_id)
            return BuyerWrites()

    def put(self, order_id: str, writes: BuyerWrites) -> None:
        self._table[order_id.encode()] = writes.model_dump_json().encode()


class PushRecord(BaseModel):
    """The ledger agent's request to bring the buyer's copy of order `order_id` in line with its state.
    `buyer_connection` (absent in records of earlier versions) only groups the sink's concurrent writes by buyer
    store (`streams.lanes`); what is written is decided from the order table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(min_length=1)
    buyer_connection: str | None = None


def decode_push(value: bytes | None) -> PushRecord | str:
    """The buyer push record in a record value, or a short reason why it is none (never raises)."""
    return decode_internal(PushRecord, value, "a buyer push record")

"""The `buyer-fulfillments` table: order id -> `BuyerWrites`: per seller fulfillment id, what was written to the
buyer (`ledger.fulfillment_sync.BuyerWritten`: the request, the buyer-side fulfillment ref, the tracking it
carries, whether we cancelled it), and the ledger views the buyer's platform refused for good (not tried again
until the view changes). Keyed by order id, co-partitioned with order-events.

Values are JSON. An entry that cannot be read is read as absent (logged), so as empty: every action then starts
with a find (`find_fulfillment` by our fulfillment id), so nothing is created twice.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ledger.fulfillment_sync import BuyerWritten
from schemas.platform import FulfillmentRequest, Tracking
from streams.kit.tables import TableSpec


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
    """What the sink wrote to one order's buyer, per seller fulfillment id."""

    model_config = ConfigDict(extra="forbid")

    written: dict[str, WrittenEntry] = Field(default_factory=dict)
    refused: dict[str, str] = Field(default_factory=dict, description="Seller fulfillment id -> the ledger view "
                                    "(digest and cancelled flag) the buyer's platform refused for good.")

    def get(self, fulfillment_id: str) -> BuyerWritten | None:
        entry = self.written.get(fulfillment_id)
        return None if entry is None else entry.to_written()

    def record(self, fulfillment_id: str, written: BuyerWritten) -> None:
        self.written[fulfillment_id] = WrittenEntry.of(written)


BUYER_FULFILLMENTS = TableSpec("buyer-fulfillments", BuyerWrites, unreadable="absent",
                               help="order id -> what was written to the buyer per seller fulfillment")

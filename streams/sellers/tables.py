"""The `seller-orders` table: order id -> `SellerOrderEntry` (the seller connection, the seller's order reference
and number, our line id -> the seller's line ref, when it was recorded, and the buyer cancellation last sent to the
seller). Keyed by order id, so it is co-partitioned with order-events and with the retry topic: both agents write
an order's entry in the partition the order's records arrive on. Two more kinds of entry live beside it, in the
same partition:
- `<order id>` + U+001F + `cancellation`: a buyer cancellation of an order not created yet (`PendingCancellation`);
- `<order id>` + U+001F + `notice`: the new-order email to a manual seller (`NoticeEntry`), so a replay or a
  restart does not send it again.

Values are JSON. An entry that cannot be read is read as absent (logged): the next attempt asks the platform, whose
`create_order` finds the order created before (by our reference) instead of creating another.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import CancelledLine, OrderBuyerCancelled, OriginalRecord
from schemas.platform import CancelledUnits, CreatedOrder, OrderCancellation
from streams.kit.tables import TableSpec, TypedTable


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
    refused for good by the mail server, or given up after `streams.kit.retries.MAX_ATTEMPTS`; any of them is final."""

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


SELLER_ORDERS = TableSpec("seller-orders", SellerOrderEntry, unreadable="absent",
                          help="order id -> the order created on the seller's platform")
PENDING_CANCELLATIONS = TableSpec("seller-orders", PendingCancellation, unreadable="absent",
                                  help="order id + U+001F + cancellation -> a cancellation waiting for the creation")
NOTICES = TableSpec("seller-orders", NoticeEntry, unreadable="absent",
                    help="order id + U+001F + notice -> the new-order email sent to a manual seller")
PENDING_SUFFIX = "\x1fcancellation"
NOTICE_SUFFIX = "\x1fnotice"


@dataclass(frozen=True)
class SellerOrderTables:
    """The three kinds of entry of the `seller-orders` table, each by order id."""

    created: TypedTable[SellerOrderEntry]
    pending: TypedTable[PendingCancellation]
    notices: TypedTable[NoticeEntry]

    @classmethod
    def over(cls, raw: MutableMapping[bytes, bytes]) -> SellerOrderTables:
        """The three views of one Faust table (or any mapping of bytes, in tests)."""
        return cls(created=SELLER_ORDERS.entries(raw),
                   pending=PENDING_CANCELLATIONS.entries(raw, suffix=PENDING_SUFFIX),
                   notices=NOTICES.entries(raw, suffix=NOTICE_SUFFIX))

"""The stored copy of one order, as the ledger keeps it: the order, every fulfillment ever recorded for it
(cancelled ones are kept, marked cancelled, never deleted), the units the buyer cancelled after placement,
whether it is shipped and since when, and the bounded memory of inputs that idempotence needs (`ledger.apply`,
"Remembering inputs"): the last inputs that had outputs, with what each output was, and the ids of rejected inputs.

In memory the state is a pydantic model; the order table stores it in the compact form of `ledger.stored`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import (
    FulfillmentCancelled,
    FulfillmentRecorded,
    OrderBuyerCancelled,
    OrderPlaced,
    OrderReopened,
    OrderShipped,
    OrderTrackingUpdated,
)


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rejection(_State):
    """An input the ledger refused; the caller dead-letters the original record with this reason."""

    type: Literal["rejection"] = "rejection"
    event_id: str
    reason: str
    message: str


Output = Annotated[OrderShipped | OrderReopened | OrderTrackingUpdated | Rejection, Field(discriminator="type")]
"""What applying an input asks the caller to publish: a shipped-orders record, or a rejection to dead-letter."""


class LineUnits(_State):
    line_id: str
    sku: str
    quantity: int


class FulfillmentRecord(_State):
    """One fulfillment, normalised. `lines` is empty for a cancellation seen before its fulfillment."""

    fulfillment_id: str
    source_version: datetime
    digest: str
    carrier: str | None = None
    tracking_numbers: list[str] = Field(default_factory=list)
    tracking_urls: list[str | None] = Field(default_factory=list)
    lines: list[LineUnits] = Field(default_factory=list)
    cancelled: bool = False

    @property
    def active(self) -> bool:
        return not self.cancelled


class ShippedMark(_State):
    """An `order.shipped` the ledger published: its id and time (its content is the order's, see `ledger.outputs`)."""

    type: Literal["order.shipped"] = "order.shipped"
    event_id: str
    at: datetime


class ReopenedMark(_State):
    """An `order.reopened` the ledger published."""

    type: Literal["order.reopened"] = "order.reopened"
    event_id: str
    at: datetime
    cause: Literal["fulfillment_cancelled", "fulfillment_changed"]
    cause_fulfillment_id: str
    reopens_event_id: str


class TrackingMark(_State):
    """An `order.tracking_updated` the ledger published, for fulfillment `fulfillment_id`."""

    type: Literal["order.tracking_updated"] = "order.tracking_updated"
    event_id: str
    at: datetime
    fulfillment_id: str


PublishedMark = ShippedMark | ReopenedMark | TrackingMark
Mark = Annotated[ShippedMark | ReopenedMark | TrackingMark | Rejection, Field(discriminator="type")]
"""What one output of an input was, small enough to keep: enough to publish it again with the same id."""


class RecentInput(_State):
    """One of the last inputs that had outputs: `key` identifies the very record (its event id and position, see
    `ledger.apply.record_key`), `outputs` what it published."""

    key: str
    outputs: list[Mark]


class HeldInput(_State):
    """An input that arrived before its order (topics are read in no fixed order across each other)."""

    event: Annotated[FulfillmentRecorded | FulfillmentCancelled | OrderBuyerCancelled, Field(discriminator="type")]
    position: str | None


class OrderState(_State):
    """The ledger's state for one order id. `order` is None until `order.placed` has been applied."""

    order_id: str
    order: OrderPlaced | None = None
    fulfillments: dict[str, FulfillmentRecord] = Field(default_factory=dict)
    buyer_cancelled: dict[str, int] = Field(
        default_factory=dict, description="Units per line id the buyer cancelled after placement: the most that "
        "any order.buyer_cancelled said (a whole-order cancellation: every unit of every line).")
    shipped_event_id: str | None = None
    shipped_at: datetime | None = Field(default=None, description="When the order became Shipped (with "
                                        "`shipped_event_id`): the time of the input that covered it.")
    recent: list[RecentInput] = Field(default_factory=list, description="The last inputs that had outputs, "
                                      "oldest first (at most `ledger.apply.RECENT_INPUTS`).")
    rejected: list[str] = Field(default_factory=list, description="Digests of the ids of rejected inputs, oldest "
                                "first (at most `ledger.apply.REJECTED_INPUTS`).")
    held: list[HeldInput] = Field(default_factory=list)

    @property
    def is_shipped(self) -> bool:
        return self.shipped_event_id is not None

    def units_to_ship(self) -> dict[str, int]:
        """Units per line id still wanted: ordered minus cancelled by the buyer (empty for an unknown order)."""
        if self.order is None:
            return {}
        cancelled = self.buyer_cancelled
        if not cancelled:
            return {line.line_id: line.quantity for line in self.order.lines}
        return {line.line_id: max(0, line.quantity - cancelled.get(line.line_id, 0)) for line in self.order.lines}

    def nothing_to_ship(self) -> bool:
        """True when the buyer cancelled every unit of a known order: its Shipped status no longer changes."""
        return self.order is not None and bool(self.buyer_cancelled) and not any(self.units_to_ship().values())

    def active_units(self) -> dict[str, int]:
        """Units per line id covered by active fulfillments."""
        units: dict[str, int] = {}
        for record in self.fulfillments.values():
            if not record.cancelled:
                for line in record.lines:
                    units[line.line_id] = units.get(line.line_id, 0) + line.quantity
        return units

    def is_covered(self) -> bool:
        """True when active fulfillments cover every unit still to ship of every line of a known order that has
        something left to ship (units the buyer cancelled do not count)."""
        wanted = self.units_to_ship()
        if not any(wanted.values()):
            return False
        units = self.active_units()
        return all(units.get(line_id, 0) >= count for line_id, count in wanted.items())

"""The stored copy of one order, as the ledger keeps it: the order, every fulfillment ever recorded for it
(cancelled ones are kept, marked cancelled, never deleted), the units the buyer cancelled after placement,
whether it is shipped, and what every input did.

The state is a plain pydantic model so it round-trips through JSON into the order table unchanged.
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


class SeenInput(_State):
    """What one input did, kept so that a redelivery is recognised and, if it is the very same record
    (same position), its outputs are published again with the same ids."""

    position: str | None
    outputs: list[Output] = Field(default_factory=list)


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
    seen: dict[str, SeenInput] = Field(default_factory=dict)
    held: list[HeldInput] = Field(default_factory=list)

    @property
    def is_shipped(self) -> bool:
        return self.shipped_event_id is not None

    def units_to_ship(self) -> dict[str, int]:
        """Units per line id still wanted: ordered minus cancelled by the buyer (empty for an unknown order)."""
        if self.order is None:
            return {}
        return {line.line_id: max(0, line.quantity - self.buyer_cancelled.get(line.line_id, 0))
                for line in self.order.lines}

    def nothing_to_ship(self) -> bool:
        """True when the buyer cancelled every unit of a known order: its Shipped status no longer changes."""
        return self.order is not None and not any(self.units_to_ship().values())

    def active_units(self) -> dict[str, int]:
        """Units per line id covered by active fulfillments."""
        units: dict[str, int] = {}
        for record in self.fulfillments.values():
            if record.active:
                for line in record.lines:
                    units[line.line_id] = units.get(line.line_id, 0) + line.quantity
        return units

    def is_covered(self) -> bool:
        """True when active fulfillments cover every unit still to ship of every line of a known order that has
        something left to ship (units the buyer cancelled do not count)."""
        if self.order is None or self.nothing_to_ship():
            return False
        units = self.active_units()
        return all(units.get(line_id, 0) >= wanted for line_id, wanted in self.units_to_ship().items())

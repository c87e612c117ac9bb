"""What the pages show, as plain values, and where they come from (`ReadModel`).

`webapp.readmodel` builds these from the ledger's order-table changelog, the buyer tracking sink's changelog and
dead-letters; the pages only read them. Everything a partner may see of an order is here; nothing else is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from ledger import OrderState
from schemas.events import PartyRef, ShippingDetails

FulfillmentStatus = Literal["pending", "applied", "pushed", "rejected", "cancelled"]
"""pending: sent by the web app, not yet applied by the ledger; applied: in the ledger's state, not yet on the
buyer's platform; pushed: the buyer's platform has it (a buyer-side ref); rejected: dead-lettered (see reason);
cancelled: cancelled by the seller."""


@dataclass(frozen=True)
class LineView:
    line_id: str
    sku: str
    title: str | None
    ordered: int
    fulfilled: int  # units covered by active fulfillments
    cancelled: int  # units the buyer cancelled
    remaining: int  # ordered - cancelled - fulfilled, never below 0


@dataclass(frozen=True)
class FulfillmentView:
    fulfillment_id: str
    status: FulfillmentStatus
    carrier: str | None
    numbers: tuple[str, ...]
    urls: tuple[str | None, ...]
    lines: dict[str, int]  # line id -> units
    recorded_at: datetime  # the fulfillment's source version
    buyer_ref: str | None = None  # the buyer-side fulfillment, once written
    reason: str | None = None  # why it was rejected


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str  # one line a person reads: "placed", "fulfilled 2 of MUG (UPS 1Z…)", "pushed to the buyer", ...


@dataclass(frozen=True)
class OrderView:
    order_id: str
    buyer: PartyRef
    seller: PartyRef
    placed_at: datetime
    shipping: ShippingDetails | None
    lines: tuple[LineView, ...]
    fulfillments: tuple[FulfillmentView, ...]
    shipped_at: datetime | None
    timeline: tuple[TimelineEntry, ...]
    state: OrderState = field(repr=False)  # the ledger's state, for checking a form against the ledger's rules

    @property
    def shipped(self) -> bool:
        return self.shipped_at is not None


class ReadModel(Protocol):
    """The web app's view of every order, kept current from the topics (eventually consistent: a fulfillment the
    app just sent shows as pending until the ledger's changelog has it)."""

    def orders_of(self, connection_id: str) -> list[OrderView]:
        """Every order whose seller or buyer connection is `connection_id`, newest first."""
        ...

    def order(self, order_id: str) -> OrderView | None:
        """One order, or None when the read model does not know it."""
        ...

    def note_sent(self, order_id: str, fulfillment_id: str, at: datetime) -> None:
        """Remember that the app sent this fulfillment event, so it shows as pending until the ledger has it."""
        ...

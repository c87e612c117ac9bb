"""The one interface every platform connector implements (Shopify, BigCommerce, WooCommerce, Magento 2, manual).

Connectors speak the platform's API and hand back our normalised types; the pipeline never sees platform JSON.
Contract for every method:
- it raises `RetryableError` for failures worth retrying later (429, 5xx, timeouts, connection errors) and
  `PermanentError` for the rest (4xx, a payload the platform refuses), each carrying the platform's own message
  and never a credential;
- a write is safe to retry: before creating, it looks for what an earlier attempt may already have created
  (keyed by our order id or fulfillment id on the platform).
Cursors are opaque strings: the caller stores them and hands them back; they survive restarts and overlap a
little, so a change made while a poll runs is seen by the next one (duplicates are the ledger's to drop).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from schemas.events import FulfilledLine, OrderLine

T = TypeVar("T")


class ConnectorError(Exception):
    """A platform call failed. `platform_message` is what the platform said, with secrets removed."""

    def __init__(self, message: str, *, connection: str, platform_message: str = "",
                 status: int | None = None) -> None:
        super().__init__(message)
        self.connection = connection
        self.platform_message = platform_message
        self.status = status


class RetryableError(ConnectorError):
    """Worth retrying later; `retry_after_s` is the platform's hint, when it gave one."""

    def __init__(self, message: str, *, connection: str, platform_message: str = "", status: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, connection=connection, platform_message=platform_message, status=status)
        self.retry_after_s = retry_after_s


class PermanentError(ConnectorError):
    """Retrying will not help: the record is dead-lettered as `platform_rejected` with the platform's message."""


@dataclass(frozen=True)
class Address:
    name: str
    lines: tuple[str, ...]
    city: str
    postal_code: str
    country_code: str
    region: str | None = None
    phone: str | None = None
    company: str | None = None


@dataclass(frozen=True)
class PlatformOrder:
    """An order as read from a platform: its reference, lines (with the platform's line ids), and what the seller
    needs to ship it."""

    order_ref: str
    updated_at: datetime
    lines: tuple[OrderLine, ...]
    shipping_address: Address | None = None
    email: str | None = None
    shipping_method: str | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class PlatformFulfillment:
    """A fulfillment (shipment) as read from a platform; `updated_at` becomes the event's `source_version`."""

    fulfillment_id: str
    updated_at: datetime
    lines: tuple[FulfilledLine, ...]
    carrier: str | None
    tracking_numbers: tuple[str, ...]
    tracking_urls: tuple[str | None, ...]
    cancelled: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    """Items changed since a cursor, and the cursor to resume from."""

    items: tuple[T, ...]
    cursor: str


@dataclass(frozen=True)
class CreatedOrder:
    """The seller-side order we created: its reference and our line id -> the seller's line id."""

    order_ref: str
    line_ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackingUpdate:
    carrier: str | None
    tracking_numbers: tuple[str, ...]
    tracking_urls: tuple[str | None, ...]


class BuyerConnector(ABC):
    """What the pipeline needs of a buyer's store."""

    @abstractmethod
    async def orders_changed_since(self, cursor: str | None) -> Page[PlatformOrder]:
        """Orders created or changed since `cursor` (None: from the connection's start)."""

    @abstractmethod
    async def find_fulfillment(self, order_ref: str, our_fulfillment_id: str) -> str | None:
        """The buyer-side id of the fulfillment we created for `our_fulfillment_id`, if any."""

    @abstractmethod
    async def create_fulfillment(self, order_ref: str, our_fulfillment_id: str, lines: tuple[FulfilledLine, ...],
                                 tracking: TrackingUpdate) -> str:
        """Create it (after `find_fulfillment` found none) and return the buyer-side id."""

    @abstractmethod
    async def update_tracking(self, order_ref: str, buyer_fulfillment_id: str, tracking: TrackingUpdate) -> None:
        """Replace the carrier and tracking of a fulfillment we created."""

    @abstractmethod
    async def cancel_fulfillment(self, order_ref: str, buyer_fulfillment_id: str) -> None:
        """Cancel a fulfillment we created (a no-op when it is already cancelled)."""


class SellerConnector(ABC):
    """What the pipeline needs of a seller's store."""

    @abstractmethod
    async def create_order(self, our_order_id: str, order: PlatformOrder) -> CreatedOrder:
        """Create the order, or return the one an earlier attempt created for `our_order_id`."""

    @abstractmethod
    async def orders_changed_since(self, cursor: str | None) -> Page[PlatformOrder]:
        """Orders changed since `cursor`."""

    @abstractmethod
    async def fulfillments(self, order_ref: str) -> tuple[PlatformFulfillment, ...]:
        """Every fulfillment of the order, active and cancelled."""

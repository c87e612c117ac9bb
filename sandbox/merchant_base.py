"""What every platform's merchant (`sandbox/<platform>/merchant.py`) is built on: the admin-route client, the
types `sandbox.merchant.Merchant` hands back, and the one interface each platform implements.

A platform's merchant acts through its store's `/_sandbox/<admin_path>/` routes only; the contract of each
method is `sandbox.merchant.Merchant`'s, which delegates to it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from sandbox.common import ADMIN_PREFIX

OUR_ORDER_PREFIX = "fulfillsync:"
"""BigCommerce `external_order_id` / Magento `ext_order_id` prefix, as our seller connectors write it (sandbox/
may not import connectors/, so the convention is repeated here)."""

CUSTOMER = {"street": "1 Main St", "city": "Springfield", "region": "IL", "postcode": "62701", "country": "US"}
"""Where every customer order placed through `place_order` ships to."""


DEFAULT_PRICE = Decimal("12.50")
"""The catalog price of a product `stock` adds, in the store's currency."""
DEFAULT_INVENTORY = 100
"""The units on hand of a product `stock` adds."""


class MerchantError(RuntimeError):
    """The store refused an admin action (the message carries its status and body), or the platform has no
    such action."""


@dataclass(frozen=True)
class PlacedOrder:
    """An order as the platform's API names it (`order_ref`: what a connector reports) and its admin id."""

    order_ref: str
    admin_id: int
    line_ids: dict[str, str]  # sku -> the platform's line id


@dataclass(frozen=True)
class StoreFulfillment:
    """A fulfillment as the store's merchant sees it."""

    ref: str  # the id its API (and our connector's fulfillment_ref) uses for it
    lines: dict[str, int]  # sku -> units (WooCommerce Shipment Tracking items: {} — no per-line data)
    carrier: str | None  # as the store shows it (company / provider / title)
    numbers: tuple[str, ...]
    urls: tuple[str | None, ...]
    cancelled: bool


@dataclass(frozen=True)
class SoldLine:
    """A line of an order on a seller's store, as the seller sees it."""

    sku: str | None
    quantity: int
    unit_price: Decimal
    linked: bool  # an item of the store's catalog (False: a custom line)


@dataclass(frozen=True)
class SoldOrder:
    """What an order on a seller's store is worth to the seller: its lines, shipping and total, in `currency`;
    `flagged` when the order is marked as holding lines that are not the store's products."""

    lines: tuple[SoldLine, ...]
    shipping: Decimal
    total: Decimal
    currency: str
    flagged: bool


class AdminRoutes:
    """One store's admin routes (`/_sandbox/<admin_path>`), through `http` (which reaches the store's root)."""

    def __init__(self, platform: str, admin_path: str, http: httpx.AsyncClient) -> None:
        self.platform = platform
        self._http = http
        self._prefix = f"{ADMIN_PREFIX}/{admin_path}"

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None) -> Any:
        """The JSON answer (None for an empty one). MerchantError with the store's answer for any status >= 300."""
        response = await self._http.request(method, f"{self._prefix}{path}", json=body, params=params)
        if response.status_code >= 300:
            raise MerchantError(f"{self.platform} store refused {method} {self._prefix}{path}: "
                                f"{response.status_code} {response.text[:300]}")
        return response.json() if response.status_code != 204 and response.content else None


class StoreMerchant(ABC):
    """One platform's way of acting as the merchant. `ADMIN_PATH`: the segment after `/_sandbox/`."""

    ADMIN_PATH: str

    def __init__(self, admin: AdminRoutes) -> None:
        self.admin = admin

    @abstractmethod
    def placed(self, body: dict[str, Any]) -> PlacedOrder:
        """The PlacedOrder of an order as the admin routes show it."""

    @abstractmethod
    async def place_order(self, lines: dict[str, int], email: str) -> PlacedOrder: ...

    @abstractmethod
    async def stock(self, skus: Sequence[str], *, price: Decimal = DEFAULT_PRICE,
                    inventory: int = DEFAULT_INVENTORY) -> None:
        """Add a catalog product (or variant) for each SKU the catalog lacks, at `price` with `inventory` units."""

    @abstractmethod
    async def add_variant(self, sku: str, *, price: Decimal = DEFAULT_PRICE,
                          inventory: int = DEFAULT_INVENTORY) -> None:
        """Add one more catalog item with `sku`, even if one has it already; MerchantError where the platform
        refuses two items with one SKU."""

    @abstractmethod
    async def inventory(self, sku: str) -> int:
        """Units on hand of the catalog item with `sku` (the first, should several have it); MerchantError when
        none has it."""

    @abstractmethod
    async def sold(self, order: PlacedOrder) -> SoldOrder:
        """The order's lines, prices, shipping and total as the seller's store shows them."""

    @abstractmethod
    async def find_order(self, our_order_id: str) -> PlacedOrder | None: ...

    @abstractmethod
    async def cancel_units(self, order: PlacedOrder, sku: str, quantity: int) -> None: ...

    @abstractmethod
    async def fulfill(self, order: PlacedOrder, lines: dict[str, int], numbers: Sequence[str], carrier: str,
                      urls: list[str | None]) -> str:
        """`urls` has one entry per number (None: no URL)."""

    @abstractmethod
    async def fulfillments(self, order: PlacedOrder) -> list[StoreFulfillment]: ...

    @abstractmethod
    async def edit_tracking(self, order: PlacedOrder, current: StoreFulfillment, numbers: Sequence[str],
                            carrier: str) -> None:
        """Replace the tracking of `current`, a fulfillment of `order`."""

    @abstractmethod
    async def cancel_fulfillment(self, order: PlacedOrder, ref: str) -> None: ...


def gid_tail(ref: str) -> str:
    """The numeric id at the end of a Shopify GID (or the id itself)."""
    return ref.rsplit("/", 1)[-1]

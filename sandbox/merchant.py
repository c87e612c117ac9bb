"""The merchant's side of a simulated store, through its `/_sandbox/<platform>/` admin routes over HTTP.

One small API for all four stores, used where code must act as a merchant without caring which platform it is
(end-to-end tests, the standalone-sandbox test, the poll-cost benchmark, the demo): place an order, fulfill it
with tracking, list, edit and cancel fulfillments, cancel the order or some units, find the order our connector
created on a seller store. Every method raises `MerchantError` with the store's answer when the store refuses,
or with a message saying why when the platform has no such action. What differs per platform:

- Shopify: `fulfill` makes one fulfillment (ref: its GID) with every number; `cancel_fulfillment` cancels it (still
  listed, cancelled); `edit_tracking` is in place and moves the order's `updated_at`; `cancel_units` is an order
  edit removing unfulfilled units.
- BigCommerce: a shipment holds one number, so `fulfill` with n numbers makes n shipments (units split as evenly as
  possible, in line order) and returns the first's id; each shipment is its own `StoreFulfillment`, as our
  connector reads a seller's shipments. `cancel_fulfillment` deletes the shipment (gone from `fulfillments()`);
  `edit_tracking` takes exactly one number, in place, and moves `date_modified`; `cancel_units` refunds units.
- WooCommerce with Shipment Tracking (the store's default): `fulfill` adds one tracking item per number; all the
  order's items together are ONE fulfillment, ref `{order_id}-shipment-tracking`, `lines` {} (as our connector
  reads a seller's items). `cancel_fulfillment` deletes every item (listed cancelled, no numbers);
  `edit_tracking` deletes and re-adds them (same ref) and moves `date_modified`.
- WooCommerce with core fulfillments (option `tracking`: `fulfillments` or `both`, preferred like the
  connector's "auto"): one number per fulfillment (MerchantError for more); cancel is the soft delete (listed
  cancelled); `edit_tracking` is in place and moves `date_modified`. `cancel_units`: MerchantError (partial
  refunds are neither modelled nor read).
- Magento: one shipment with a track per number, URLs in a `Tracking <number>: <url>` comment;
  `cancel_fulfillment` removes the tracks and adds a `Fulfillment cancelled` comment (listed cancelled; the
  order's `updated_at` moves through the order comment); `edit_tracking` replaces the tracks and does NOT move
  the order's `updated_at` (tracks do not touch it); `cancel_units`: MerchantError (no partial cancel).

Catalogs (`stock`, `add_variant`, `inventory`, `sold`): every store has products with SKUs, prices and units on
hand, and an order of a catalog item takes its units (Shopify: the variant's `inventoryQuantity`, as
`orderCreate`'s `inventoryBehaviour` asks; BigCommerce: the product's or variant's `inventory_level`, refusing an
order for more than is on hand; WooCommerce: `stock_quantity` when the order becomes processing, given back when it
is cancelled; Magento: the stock item's `qty`, through the REST calls the connector makes). Only Shopify lets two
variants share a SKU (`add_variant`); the others keep SKUs unique (ignoring case) and raise MerchantError.

`find_order` looks up the reference our seller connectors store: Shopify `sourceIdentifier` = our order id,
BigCommerce `external_order_id` and Magento `ext_order_id` = `fulfillsync:<id>`, WooCommerce order meta
`fulfillsync_order_id` (sandbox/ may not import connectors/, so the names are repeated here).

Each platform's way is its `sandbox/<platform>/merchant.py` (listed in `sandbox.registry`); this class is the one
entry point and holds what every platform shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx

from sandbox.merchant_base import CUSTOMER as CUSTOMER
from sandbox.merchant_base import DEFAULT_INVENTORY, DEFAULT_PRICE, AdminRoutes
from sandbox.merchant_base import MerchantError as MerchantError
from sandbox.merchant_base import PlacedOrder as PlacedOrder
from sandbox.merchant_base import SoldOrder as SoldOrder
from sandbox.merchant_base import StoreFulfillment as StoreFulfillment
from sandbox.registry import merchant_class
from sandbox.settings import SandboxPlatform


class Merchant:
    """Acts on one store. `http` must reach the store's root (`http://host:port`, or an in-process transport)."""

    def __init__(self, platform: SandboxPlatform, http: httpx.AsyncClient) -> None:
        self.platform = platform
        store = merchant_class(platform)
        self._admin = AdminRoutes(platform, store.ADMIN_PATH, http)
        self._store = store(self._admin)

    # -- orders ----------------------------------------------------------------------------------------------

    async def place_order(self, lines: dict[str, int], *, email: str = "customer@example.com") -> PlacedOrder:
        """A paid customer order of `lines` (sku -> quantity), ready to ship."""
        return await self._store.place_order(lines, email)

    async def stock(self, skus: Sequence[str], *, price: Decimal = DEFAULT_PRICE,
                    inventory: int = DEFAULT_INVENTORY) -> None:
        """Make sure the store's catalog has a product (or variant) with each SKU: the ones missing are added at
        `price` (the store's currency) with `inventory` units on hand."""
        await self._store.stock(skus, price=price, inventory=inventory)

    async def add_variant(self, sku: str, *, price: Decimal = DEFAULT_PRICE,
                          inventory: int = DEFAULT_INVENTORY) -> None:
        """One more catalog item with `sku` even if one has it (an ambiguous SKU); MerchantError on platforms that
        refuse duplicate SKUs (BigCommerce, WooCommerce, Magento)."""
        await self._store.add_variant(sku, price=price, inventory=inventory)

    async def inventory(self, sku: str) -> int:
        """Units on hand of the catalog item with `sku`; MerchantError when the catalog has none."""
        return await self._store.inventory(sku)

    async def sold(self, order: PlacedOrder) -> SoldOrder:
        """The order's lines (price, linked to a catalog item or custom), shipping, total and currency as the
        seller's store shows them."""
        return await self._store.sold(order)

    async def order(self, order: PlacedOrder) -> dict[str, Any]:
        """The raw admin view of the order (for debugging and timelines)."""
        return dict(await self._admin.call("GET", f"/orders/{order.admin_id}"))

    async def find_order(self, our_order_id: str) -> PlacedOrder | None:
        """The order fulfillsync created for `our_order_id` on this (seller) store, by the reference our
        connector stores (module docstring); None when there is none."""
        return await self._store.find_order(our_order_id)

    async def cancel_order(self, order: PlacedOrder) -> None:
        """The buyer cancels the whole order (Magento: every unit not shipped)."""
        await self._admin.call("POST", f"/orders/{order.admin_id}/cancel", {})

    async def cancel_units(self, order: PlacedOrder, sku: str, quantity: int) -> None:
        """The buyer cancels `quantity` unshipped units of `sku`: Shopify removes them (an order edit), BigCommerce
        refunds them. WooCommerce and Magento: MerchantError (no such thing the store models and our connectors
        read)."""
        await self._store.cancel_units(order, sku, quantity)

    # -- fulfillments -----------------------------------------------------------------------------------------

    async def ship(self, order: PlacedOrder, sku: str, quantity: int, tracking_number: str,
                   carrier: str = "UPS") -> None:
        """Ship `quantity` units of `sku` with one tracking number (`fulfill` with one line and one number)."""
        await self.fulfill(order, {sku: quantity}, [tracking_number], carrier)

    async def fulfill(self, order: PlacedOrder, lines: dict[str, int], numbers: Sequence[str], carrier: str = "UPS",
                      urls: Sequence[str] | None = None) -> str:
        """Ship `lines` (sku -> units) with tracking `numbers` (`urls[i]` for `numbers[i]`); returns the ref of
        the fulfillment (BigCommerce: of the first of its shipments; see the module docstring)."""
        link: list[str | None] = [*(urls or ()), *[None] * (len(numbers) - len(urls or ()))]
        return await self._store.fulfill(order, lines, numbers, carrier, link)

    async def fulfillments(self, order: PlacedOrder) -> list[StoreFulfillment]:
        """Every fulfillment of the order, cancelled ones included where the platform keeps them (BigCommerce
        deletes shipments: gone)."""
        return await self._store.fulfillments(order)

    async def edit_tracking(self, order: PlacedOrder, ref: str, numbers: Sequence[str],
                            carrier: str | None = None) -> None:
        """Replace the tracking of fulfillment `ref` (carrier None: keep it). In place on Shopify, BigCommerce
        (exactly one number: a shipment holds one), WooCommerce core fulfillments (one number) and Magento;
        WooCommerce Shipment Tracking deletes the items and adds new ones (the ref stays the order's)."""
        current = next((f for f in await self.fulfillments(order) if f.ref == ref), None)
        if current is None:
            raise MerchantError(f"{self.platform}: order {order.order_ref} has no fulfillment {ref}")
        await self._store.edit_tracking(order, current, numbers, carrier if carrier is not None
                                        else current.carrier or "Other")

    async def cancel_fulfillment(self, order: PlacedOrder, ref: str) -> None:
        """Cancel fulfillment `ref` the platform's way (module docstring)."""
        await self._store.cancel_fulfillment(order, ref)

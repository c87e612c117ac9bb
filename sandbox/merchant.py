"""The merchant's side of a simulated store, through its `/_sandbox/<platform>/` admin routes over HTTP.

One small API for all four stores, used where code must act as a merchant without caring which platform it is
(the standalone-sandbox test, the poll-cost benchmark, the demo): place an order, ship some of it with a
tracking number. Each method raises `MerchantError` with the store's answer when the store refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.common import ADMIN_PREFIX
from sandbox.settings import SandboxPlatform


class MerchantError(RuntimeError):
    """The store refused an admin action; the message carries its status and body."""


@dataclass(frozen=True)
class PlacedOrder:
    """An order as the platform's API names it (`order_ref`: what a connector reports) and its admin id."""

    order_ref: str
    admin_id: int
    line_ids: dict[str, str]  # sku -> the platform's line id


class Merchant:
    """Acts on one store. `http` must reach the store's root (`http://host:port`, or an in-process transport)."""

    def __init__(self, platform: SandboxPlatform, http: httpx.AsyncClient) -> None:
        self.platform = platform
        self._http = http
        self._admin = f"{ADMIN_PREFIX}/{'magento' if platform == 'magento2' else platform}"
        self._products: set[str] = set()

    async def place_order(self, lines: dict[str, int], *, email: str = "customer@example.com") -> PlacedOrder:
        """A paid customer order of `lines` (sku -> quantity), ready to ship."""
        if self.platform == "shopify":
            body = await self._post("/orders", {"lines": [{"title": sku, "sku": sku, "quantity": qty}
                                                          for sku, qty in lines.items()], "email": email})
            return PlacedOrder(str(body["gid"]), int(body["id"]),
                               {line["sku"]: str(line["gid"]) for line in body["lines"]})
        if self.platform == "bigcommerce":
            body = await self._post("/orders", {
                "products": [{"name": sku, "sku": sku, "quantity": qty, "price_inc_tax": 10, "price_ex_tax": 10}
                             for sku, qty in lines.items()],
                "billing_address": {"first_name": "Ada", "last_name": "Buyer", "street_1": "1 Main St",
                                    "city": "Springfield", "state": "Illinois", "zip": "62701",
                                    "country": "United States", "country_iso2": "US", "email": email}})
            return PlacedOrder(str(body["id"]), int(body["id"]),
                               {product["sku"]: str(product["id"]) for product in body["products"]})
        if self.platform == "woocommerce":
            for sku in lines.keys() - self._products:
                await self._post("/products", {"sku": sku, "name": sku})
                self._products.add(sku)
            body = await self._post("/orders", {"line_items": [{"sku": sku, "quantity": qty}
                                                               for sku, qty in lines.items()],
                                                "status": "processing", "billing": {"email": email}})
            return PlacedOrder(str(body["id"]), int(body["id"]),
                               {item["sku"]: str(item["id"]) for item in body["line_items"]})
        body = await self._post("/orders", {"lines": [{"sku": sku, "qty": qty} for sku, qty in lines.items()],
                                            "email": email})
        return PlacedOrder(str(body["entity_id"]), int(body["entity_id"]),
                           {item["sku"]: str(item["item_id"]) for item in body["items"]
                            if not item.get("parent_item_id")})

    async def ship(self, order: PlacedOrder, sku: str, quantity: int, tracking_number: str,
                   carrier: str = "UPS") -> None:
        """Ship `quantity` units of `sku` with one tracking number, the platform's usual way (WooCommerce:
        a Shipment Tracking item for the order, as that plugin has no per-line quantities)."""
        line = order.line_ids[sku]
        if self.platform == "shopify":
            await self._post(f"/orders/{order.admin_id}/fulfillments", {
                "lines": {line.rsplit("/", 1)[-1]: quantity}, "tracking": {"company": carrier,
                                                                          "numbers": [tracking_number]}})
        elif self.platform == "bigcommerce":
            await self._post(f"/orders/{order.admin_id}/shipments", {
                "items": [{"order_product_id": int(line), "quantity": quantity}],
                "tracking_number": tracking_number, "shipping_provider": carrier.lower()})
        elif self.platform == "woocommerce":
            await self._post(f"/orders/{order.admin_id}/tracking", {"tracking_number": tracking_number,
                                                                     "tracking_provider": carrier})
        else:
            await self._post(f"/orders/{order.admin_id}/ship", {
                "items": [{"order_item_id": int(line), "qty": quantity}],
                "tracks": [{"track_number": tracking_number, "title": carrier, "carrier_code": carrier.lower()}]})

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = await self._http.post(f"{self._admin}{path}", json=body)
        if response.status_code >= 300:
            raise MerchantError(f"{self.platform} store refused POST {self._admin}{path}: {response.status_code} "
                                f"{response.text[:300]}")
        return response.json()

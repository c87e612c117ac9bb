"""The merchant of a simulated BigCommerce store (`sandbox.merchant.Merchant` says what each action does here):
a shipment holds one tracking number, so a fulfillment with n numbers is n shipments. The catalog: each SKU
stocked is a simple product; a second item with a SKU the store has is refused (BigCommerce keeps SKUs unique).
An order is flagged when its staff notes carry `UNLINKED_FLAG` (what fulfillsync writes for custom lines)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sandbox.merchant_base import (
    DEFAULT_INVENTORY,
    DEFAULT_PRICE,
    OUR_ORDER_PREFIX,
    MerchantError,
    PlacedOrder,
    SoldLine,
    SoldOrder,
    StoreFulfillment,
    StoreMerchant,
)

PROVIDERS = {"usps", "ups", "fedex", "auspost", "canadapost", "royalmail", "endicia"}
UNLINKED_FLAG = "not products of this store's catalog"
"""Words of fulfillsync's flag, in `staff_notes`, on an order with custom lines (docs/platforms/bigcommerce.md)."""


class BigCommerceMerchant(StoreMerchant):
    ADMIN_PATH = "bigcommerce"

    def placed(self, body: dict[str, Any]) -> PlacedOrder:
        return PlacedOrder(str(body["id"]), int(body["id"]),
                           {product["sku"]: str(product["id"]) for product in body["products"]})

    async def place_order(self, lines: dict[str, int], email: str) -> PlacedOrder:
        return self.placed(await self.admin.call("POST", "/orders", {
            "products": [{"name": sku, "sku": sku, "quantity": qty, "price_inc_tax": 10, "price_ex_tax": 10}
                         for sku, qty in lines.items()],
            "billing_address": {"first_name": "Ada", "last_name": "Buyer", "street_1": "1 Main St",
                                "city": "Springfield", "state": "Illinois", "zip": "62701",
                                "country": "United States", "country_iso2": "US", "email": email}}))

    async def stock(self, skus: Sequence[str], *, price: Decimal = DEFAULT_PRICE,
                    inventory: int = DEFAULT_INVENTORY) -> None:
        await self.admin.call("POST", "/catalog/stock", {"skus": list(skus), "price": str(price),
                                                         "inventory": inventory})

    async def add_variant(self, sku: str, *, price: Decimal = DEFAULT_PRICE,
                          inventory: int = DEFAULT_INVENTORY) -> None:
        await self.admin.call("POST", "/catalog/variants", {"sku": sku, "price": str(price), "inventory": inventory})

    async def inventory(self, sku: str) -> int:
        found = await self.admin.call("GET", "/catalog/variants", params={"sku": sku})
        if not found:
            raise MerchantError(f"bigcommerce: no catalog item has SKU {sku!r}")
        return int(found[0]["inventory_level"])

    async def sold(self, order: PlacedOrder) -> SoldOrder:
        raw = await self.admin.call("GET", f"/orders/{order.admin_id}")
        return SoldOrder(
            lines=tuple(SoldLine(sku=p["sku"] or None, quantity=int(p["quantity"]),
                                 unit_price=Decimal(p["price_inc_tax"]), linked=bool(p["product_id"]))
                        for p in raw["products"]),
            shipping=Decimal(raw["shipping_cost_inc_tax"]), total=Decimal(raw["total_inc_tax"]),
            currency=raw["currency_code"], flagged=UNLINKED_FLAG in (raw["staff_notes"] or ""))

    async def find_order(self, our_order_id: str) -> PlacedOrder | None:
        found = await self.admin.call("GET", "/orders", params={"external_order_id": OUR_ORDER_PREFIX + our_order_id})
        return self.placed(found[0]) if found else None

    async def cancel_units(self, order: PlacedOrder, sku: str, quantity: int) -> None:
        await self.admin.call("POST", f"/orders/{order.admin_id}/refunds",
                              {"order_product_id": int(order.line_ids[sku]), "quantity": quantity})

    async def fulfill(self, order: PlacedOrder, lines: dict[str, int], numbers: Sequence[str], carrier: str,
                      urls: list[str | None]) -> str:
        refs = [str((await self.admin.call("POST", f"/orders/{order.admin_id}/shipments", {
            "items": [{"order_product_id": int(order.line_ids[sku]), "quantity": qty} for sku, qty in part.items()],
            **_tracking(number, carrier, url)}))["id"])
            for part, number, url in _split(lines, list(numbers) or [None], urls or [None])]
        return refs[0]

    async def fulfillments(self, order: PlacedOrder) -> list[StoreFulfillment]:
        raw = await self.admin.call("GET", f"/orders/{order.admin_id}")
        skus = {p["id"]: p["sku"] for p in raw["products"]}
        return [StoreFulfillment(
            str(s["id"]), {skus[i["order_product_id"]]: i["quantity"] for i in s["items"]},
            s["shipping_provider_display_name"] or s["tracking_carrier"] or _some(s["shipping_method"]),
            (s["tracking_number"],) if s["tracking_number"] else (),
            (s["tracking_link"] or s["generated_tracking_link"] or None,) if s["tracking_number"] else (),
            False) for s in raw["shipments"]]

    async def edit_tracking(self, order: PlacedOrder, current: StoreFulfillment, numbers: Sequence[str],
                            carrier: str) -> None:
        if len(numbers) != 1:
            raise MerchantError(f"bigcommerce: fulfillment {current.ref} holds exactly one tracking number")
        await self.admin.call("PUT", f"/orders/{order.admin_id}/shipments/{current.ref}", {
            "tracking_number": numbers[0], **_tracking(numbers[0], carrier, None)})

    async def cancel_fulfillment(self, order: PlacedOrder, ref: str) -> None:
        await self.admin.call("DELETE", f"/orders/{order.admin_id}/shipments/{ref}")


MERCHANT = BigCommerceMerchant


def _some(text: str | None) -> str | None:
    return text if text and text != "None" else None


def _split(lines: dict[str, int], numbers: list[str | None], urls: list[str | None]
           ) -> list[tuple[dict[str, int], str | None, str | None]]:
    """The units of `lines`, in order, cut into one part per number, as evenly as possible."""
    units = [sku for sku, qty in lines.items() for _ in range(qty)]
    if len(units) < len(numbers):
        raise MerchantError(f"bigcommerce: {len(numbers)} tracking numbers need as many shipments, but only "
                            f"{len(units)} units are shipped")
    parts, start = [], 0
    for index, number in enumerate(numbers):
        size = len(units) // len(numbers) + (1 if index < len(units) % len(numbers) else 0)
        part: dict[str, int] = {}
        for sku in units[start:start + size]:
            part[sku] = part.get(sku, 0) + 1
        parts.append((part, number, urls[index] if index < len(urls) else None))
        start += size
    return parts


def _tracking(number: str | None, carrier: str, url: str | None) -> dict[str, str]:
    """A known provider as `shipping_provider` (BigCommerce builds the link), another by name."""
    provider = carrier.lower().replace(" ", "")
    fields = {"shipping_provider": provider} if provider in PROVIDERS else {
        "shipping_provider": "", "shipping_method": carrier}
    return {**fields, **({"tracking_number": number} if number else {}), **({"tracking_link": url} if url else {})}

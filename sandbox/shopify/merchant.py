"""The merchant of a simulated Shopify store (`sandbox.merchant.Merchant` says what each action does here).

Catalog: `stock` adds one ACTIVE product (titled by the SKU, one default variant) for each SKU no variant has;
`add_variant` adds another such product even when a variant has the SKU (Shopify allows duplicate SKUs);
`inventory` reads the first variant (lowest id) with the SKU; `sold` reads the order's lines (current units, unit
price, linked when the line is a variant's), shipping lines, total and currency, `flagged` when the order carries
the tag our connector sets on orders with custom lines (repeated here: sandbox/ may not import connectors/).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sandbox.merchant_base import (
    CUSTOMER,
    DEFAULT_INVENTORY,
    DEFAULT_PRICE,
    MerchantError,
    PlacedOrder,
    SoldLine,
    SoldOrder,
    StoreFulfillment,
    StoreMerchant,
    gid_tail,
)

CUSTOM_LINES_TAG = "fulfillsync-custom-lines"


class ShopifyMerchant(StoreMerchant):
    ADMIN_PATH = "shopify"

    def placed(self, body: dict[str, Any]) -> PlacedOrder:
        return PlacedOrder(str(body["gid"]), int(body["id"]), {line["sku"]: str(line["gid"]) for line in body["lines"]})

    async def place_order(self, lines: dict[str, int], email: str) -> PlacedOrder:
        return self.placed(await self.admin.call("POST", "/orders", {
            "lines": [{"title": sku, "sku": sku, "quantity": qty} for sku, qty in lines.items()], "email": email,
            "shipping_address": {"firstName": "Ada", "lastName": "Buyer", "address1": CUSTOMER["street"],
                                 "city": CUSTOMER["city"], "provinceCode": CUSTOMER["region"],
                                 "zip": CUSTOMER["postcode"], "countryCode": CUSTOMER["country"]}}))

    async def stock(self, skus: Sequence[str], *, price: Decimal = DEFAULT_PRICE,
                    inventory: int = DEFAULT_INVENTORY) -> None:
        for sku in dict.fromkeys(skus):
            if not await self._variants(sku):
                await self._add_product(sku, sku, price, inventory)

    async def add_variant(self, sku: str, *, price: Decimal = DEFAULT_PRICE,
                          inventory: int = DEFAULT_INVENTORY) -> None:
        count = len(await self._variants(sku))
        await self._add_product(f"{sku} ({count + 1})" if count else sku, sku, price, inventory)

    async def inventory(self, sku: str) -> int:
        found = await self._variants(sku)
        if not found:
            raise MerchantError(f"shopify: no variant has SKU {sku!r}")
        return int(found[0]["inventory_quantity"])

    async def sold(self, order: PlacedOrder) -> SoldOrder:
        raw = await self.admin.call("GET", f"/orders/{order.admin_id}")
        return SoldOrder(
            lines=tuple(SoldLine(sku=line["sku"], quantity=int(line["current_quantity"]),
                                 unit_price=Decimal(line["unit_price"]), linked=line["variant_id"] is not None)
                        for line in raw["lines"]),
            shipping=Decimal(raw["shipping"]), total=Decimal(raw["total"]), currency=raw["currency"],
            flagged=CUSTOM_LINES_TAG in raw["tags"])

    async def _variants(self, sku: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await self.admin.call("GET", "/variants", params={"sku": sku}))["variants"]
        return found

    async def _add_product(self, title: str, sku: str, price: Decimal, inventory: int) -> None:
        await self.admin.call("POST", "/products", {"title": title, "status": "ACTIVE", "variants": [
            {"sku": sku, "price": str(price), "inventory": inventory}]})

    async def find_order(self, our_order_id: str) -> PlacedOrder | None:
        found = (await self.admin.call("GET", "/orders", params={"source_identifier": our_order_id}))["orders"]
        return self.placed(found[0]) if found else None

    async def cancel_units(self, order: PlacedOrder, sku: str, quantity: int) -> None:
        await self.admin.call("POST", f"/orders/{order.admin_id}/lines/{gid_tail(order.line_ids[sku])}/remove",
                              {"quantity": quantity})

    async def fulfill(self, order: PlacedOrder, lines: dict[str, int], numbers: Sequence[str], carrier: str,
                      urls: list[str | None]) -> str:
        body = await self.admin.call("POST", f"/orders/{order.admin_id}/fulfillments", {
            "lines": {gid_tail(order.line_ids[sku]): qty for sku, qty in lines.items()},
            "tracking": {"company": carrier, "numbers": list(numbers), "urls": urls}})
        return str(body["fulfillments"][-1]["gid"])

    async def fulfillments(self, order: PlacedOrder) -> list[StoreFulfillment]:
        raw = await self.admin.call("GET", f"/orders/{order.admin_id}")
        skus = {str(line["id"]): line["sku"] for line in raw["lines"]}
        return [StoreFulfillment(
            str(f["gid"]), {skus[line]: qty for line, qty in f["lines"].items()},
            f["tracking"][0]["company"] if f["tracking"] else None, tuple(t["number"] for t in f["tracking"]),
            tuple(t["url"] for t in f["tracking"]), f["status"] == "CANCELLED") for f in raw["fulfillments"]]

    async def edit_tracking(self, order: PlacedOrder, current: StoreFulfillment, numbers: Sequence[str],
                            carrier: str) -> None:
        await self.admin.call("POST", f"/fulfillments/{gid_tail(current.ref)}/tracking",
                              {"company": carrier, "numbers": list(numbers)})

    async def cancel_fulfillment(self, order: PlacedOrder, ref: str) -> None:
        await self.admin.call("POST", f"/fulfillments/{gid_tail(ref)}/cancel", {})


MERCHANT = ShopifyMerchant

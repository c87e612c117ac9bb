"""The merchant of a simulated Shopify store (`sandbox.merchant.Merchant` says what each action does here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandbox.merchant_base import CUSTOMER, PlacedOrder, StoreFulfillment, StoreMerchant, gid_tail


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

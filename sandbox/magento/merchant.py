"""The merchant of a simulated Magento 2 store (`sandbox.merchant.Merchant` says what each action does here):
one shipment with a track per number, URLs in a `Tracking <number>: <url>` comment."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sandbox.merchant_base import (
    CUSTOMER,
    OUR_ORDER_PREFIX,
    MerchantError,
    PlacedOrder,
    StoreFulfillment,
    StoreMerchant,
)

CARRIER_CODES = {"ups", "usps", "fedex", "dhl"}
_URL_LINE = re.compile(r"^\s*Tracking (\S+): (\S+)\s*$", re.MULTILINE)


class MagentoMerchant(StoreMerchant):
    ADMIN_PATH = "magento"

    def placed(self, body: dict[str, Any]) -> PlacedOrder:
        return PlacedOrder(str(body["entity_id"]), int(body["entity_id"]),
                           {item["sku"]: str(item["item_id"]) for item in body["items"]
                            if not item.get("parent_item_id")})

    async def place_order(self, lines: dict[str, int], email: str) -> PlacedOrder:
        return self.placed(await self.admin.call("POST", "/orders", {
            "lines": [{"sku": sku, "qty": qty} for sku, qty in lines.items()], "email": email,
            "shipping_address": {"firstname": "Ada", "lastname": "Buyer", "street": [CUSTOMER["street"]],
                                 "city": CUSTOMER["city"], "region_code": CUSTOMER["region"],
                                 "postcode": CUSTOMER["postcode"], "country_id": CUSTOMER["country"]}}))

    async def find_order(self, our_order_id: str) -> PlacedOrder | None:
        found = await self.admin.call("GET", "/orders", params={"ext_order_id": OUR_ORDER_PREFIX + our_order_id})
        return self.placed(found[0]) if found else None

    async def cancel_units(self, order: PlacedOrder, sku: str, quantity: int) -> None:
        raise MerchantError("magento2: Magento cannot cancel some units of an order (a credit memo refunds "
                            "money, it does not cancel units); cancel_order cancels every unit not shipped")

    async def fulfill(self, order: PlacedOrder, lines: dict[str, int], numbers: Sequence[str], carrier: str,
                      urls: list[str | None]) -> str:
        comment = "\n".join(f"Tracking {number}: {url}" for number, url in zip(numbers, urls, strict=True) if url)
        body = await self.admin.call("POST", f"/orders/{order.admin_id}/ship", {
            "items": [{"order_item_id": int(order.line_ids[sku]), "qty": qty} for sku, qty in lines.items()],
            "tracks": [_track(number, carrier) for number in numbers],
            **({"comment": {"comment": comment, "is_visible_on_front": 1}} if comment else {})})
        return str(body["entity_id"])

    async def fulfillments(self, order: PlacedOrder) -> list[StoreFulfillment]:
        raw = await self.admin.call("GET", f"/orders/{order.admin_id}")
        item_skus = {int(item["item_id"]): str(item["sku"]) for item in raw["items"]}
        return [_fulfillment(shipment, item_skus)
                for shipment in await self.admin.call("GET", f"/orders/{order.admin_id}/shipments")]

    async def edit_tracking(self, order: PlacedOrder, current: StoreFulfillment, numbers: Sequence[str],
                            carrier: str) -> None:
        await self.admin.call("PUT", f"/shipments/{current.ref}/tracks",
                              {"tracks": [_track(number, carrier) for number in numbers]})

    async def cancel_fulfillment(self, order: PlacedOrder, ref: str) -> None:
        await self.admin.call("POST", f"/shipments/{ref}/cancel", {})


MERCHANT = MagentoMerchant


def _track(number: str, carrier: str) -> dict[str, str]:
    code = carrier.lower()
    return {"track_number": number, "title": carrier, "carrier_code": code if code in CARRIER_CODES else "custom"}


def _fulfillment(shipment: dict[str, Any], skus: dict[int, str]) -> StoreFulfillment:
    """A shipment: cancelled when it has no tracks and its newest cancel/reinstate comment is a cancel (the
    convention our connector reads); URLs from `Tracking <number>: <url>` comment lines."""
    urls: dict[str, str] = {}
    verdict = False
    for comment in shipment["comments"]:
        text = str(comment["comment"])
        urls.update(dict(_URL_LINE.findall(text)))
        if text.lower().startswith(("fulfillment cancelled", "fulfillment reinstated")):
            verdict = text.lower().startswith("fulfillment cancelled")
    tracks = shipment["tracks"]
    return StoreFulfillment(
        str(shipment["entity_id"]), {skus[int(item["order_item_id"])]: int(item["qty"]) for item in shipment["items"]},
        tracks[0]["title"] or tracks[0]["carrier_code"] if tracks else None,
        tuple(t["track_number"] for t in tracks), tuple(urls.get(t["track_number"]) for t in tracks),
        not tracks and verdict)

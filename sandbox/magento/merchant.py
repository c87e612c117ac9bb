"""The merchant of a simulated Magento 2 store (`sandbox.merchant.Merchant` says what each action does here):
one shipment with a track per number, URLs in a `Tracking <number>: <url>` comment.

Catalog: `stock` adds a simple product (with its stock item) for each SKU the catalog lacks; `add_variant` adds
one more and raises MerchantError for a SKU in use (Magento keeps SKUs unique); `inventory` reads the product's
legacy stock item quantity; `sold` reads the order: top-level items with their prices (linked when they carry a
`product_id`), `shipping_amount`, `grand_total`, `order_currency_code`, and flagged when a status history comment
starts with `fulfillsync: custom lines` (the flag our connector writes; sandbox/ may not import connectors/, so
the text is repeated here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sandbox.merchant_base import (
    CUSTOMER,
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

CARRIER_CODES = {"ups", "usps", "fedex", "dhl"}
UNLINKED_FLAG = "fulfillsync: custom lines"
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

    async def stock(self, skus: Sequence[str], *, price: Decimal = DEFAULT_PRICE,
                    inventory: int = DEFAULT_INVENTORY) -> None:
        await self.admin.call("POST", "/products", {"skip_existing": True, "products": [
            {"sku": sku, "price": float(price), "qty": inventory} for sku in dict.fromkeys(skus)]})

    async def add_variant(self, sku: str, *, price: Decimal = DEFAULT_PRICE,
                          inventory: int = DEFAULT_INVENTORY) -> None:
        await self.admin.call("POST", "/products", {"products": [{"sku": sku, "price": float(price),
                                                                  "qty": inventory}]})

    async def inventory(self, sku: str) -> int:
        found = await self.admin.call("GET", "/products", params={"sku": sku})
        if not found:
            raise MerchantError(f"magento2: the catalog has no product with SKU {sku!r}")
        return int(found[0]["stock_item"]["qty"])

    async def sold(self, order: PlacedOrder) -> SoldOrder:
        raw = await self.admin.call("GET", f"/orders/{order.admin_id}")
        lines = tuple(SoldLine(sku=item.get("sku"), quantity=int(item["qty_ordered"]),
                               unit_price=_money(item.get("price")), linked=item.get("product_id") is not None)
                      for item in raw["items"] if not item.get("parent_item_id"))
        flagged = any(str(history.get("comment") or "").startswith(UNLINKED_FLAG)
                      for history in raw.get("status_histories") or [])
        return SoldOrder(lines=lines, shipping=_money(raw.get("shipping_amount")), total=_money(raw["grand_total"]),
                         currency=str(raw["order_currency_code"]), flagged=flagged)

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


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


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

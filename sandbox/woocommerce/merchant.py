"""The merchant of a simulated WooCommerce store (`sandbox.merchant.Merchant` says what each action does here):
tracking through Shipment Tracking items (the store's default) or core fulfillments, whichever the store offers,
core fulfillments first (as the connector's "auto" picks).

Catalog: `stock` adds a simple product per missing SKU, with managed stock; `add_variant` adds one more, which
WooCommerce refuses for a SKU an item has (MerchantError with `product_invalid_sku`), whatever its case;
`inventory` is the item's stock (its parent's for a variation under the parent's stock). `sold` reads the order
as the store shows it: a line is linked when it has a product; a custom line's SKU is its `SKU` item meta; the
order is flagged when it carries the order meta our connector writes for custom lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sandbox.merchant_base import (
    CUSTOMER,
    DEFAULT_INVENTORY,
    DEFAULT_PRICE,
    AdminRoutes,
    MerchantError,
    PlacedOrder,
    SoldLine,
    SoldOrder,
    StoreFulfillment,
    StoreMerchant,
)

WCST_SUFFIX = "-shipment-tracking"  # the Woo connector's ref for a seller's Shipment Tracking items
ORDER_META = "fulfillsync_order_id"  # where our seller connector stores our order id
UNLINKED_META = "fulfillsync_unlinked_skus"  # order meta our seller connector writes for custom lines
CUSTOM_SKU_META = "SKU"  # line item meta holding a custom line's SKU


class WooCommerceMerchant(StoreMerchant):
    ADMIN_PATH = "woocommerce"

    def __init__(self, admin: AdminRoutes) -> None:
        super().__init__(admin)
        self._products: set[str] = set()
        self._tracking: str | None = None  # the store's tracking API, once asked

    def placed(self, body: dict[str, Any]) -> PlacedOrder:
        return PlacedOrder(str(body["id"]), int(body["id"]),
                           {_line_sku(item) or str(item["id"]): str(item["id"]) for item in body["line_items"]})

    async def place_order(self, lines: dict[str, int], email: str) -> PlacedOrder:
        await self.stock(list(lines))
        address = {"first_name": "Ada", "last_name": "Buyer", "address_1": CUSTOMER["street"], "city": CUSTOMER["city"],
                   "state": CUSTOMER["region"], "postcode": CUSTOMER["postcode"], "country": CUSTOMER["country"]}
        return self.placed(await self.admin.call("POST", "/orders", {
            "line_items": [{"sku": sku, "quantity": qty} for sku, qty in lines.items()], "status": "processing",
            "billing": {**address, "email": email}, "shipping": address}))

    async def stock(self, skus: Sequence[str], *, price: Decimal = DEFAULT_PRICE,
                    inventory: int = DEFAULT_INVENTORY) -> None:
        for sku in dict.fromkeys(skus):
            if sku in self._products:
                continue
            try:
                await self._add(sku, price, inventory)
            except MerchantError as error:
                if "product_invalid_sku" not in str(error):  # not "already in the catalog"
                    raise
            self._products.add(sku)

    async def add_variant(self, sku: str, *, price: Decimal = DEFAULT_PRICE,
                          inventory: int = DEFAULT_INVENTORY) -> None:
        await self._add(sku, price, inventory)
        self._products.add(sku)

    async def _add(self, sku: str, price: Decimal, inventory: int) -> None:
        await self.admin.call("POST", "/products", {"sku": sku, "name": f"Product {sku}", "price": str(price),
                                                    "stock_quantity": inventory})

    async def inventory(self, sku: str) -> int:
        found = await self.admin.call("GET", "/products", params={"sku": sku})
        if not found:
            raise MerchantError(f"woocommerce: no catalog item has SKU {sku!r}")
        if found[0]["stock_quantity"] is None:
            raise MerchantError(f"woocommerce: the catalog item with SKU {sku!r} does not manage its stock")
        return int(found[0]["stock_quantity"])

    async def sold(self, order: PlacedOrder) -> SoldOrder:
        raw = await self.admin.call("GET", f"/orders/{order.admin_id}")
        lines = tuple(SoldLine(sku=_line_sku(item), quantity=int(item["quantity"]),
                               unit_price=Decimal(item["subtotal"]) / item["quantity"] if item["quantity"]
                               else Decimal(0), linked=bool(item["product_id"])) for item in raw["line_items"])
        shipping = sum((Decimal(line["total"]) for line in raw["shipping_lines"]), Decimal(0))
        flagged = any(meta["key"] == UNLINKED_META and meta["value"] for meta in raw["meta_data"])
        return SoldOrder(lines=lines, shipping=shipping, total=Decimal(raw["total"]), currency=raw["currency"],
                         flagged=flagged)

    async def find_order(self, our_order_id: str) -> PlacedOrder | None:
        found = await self.admin.call("GET", "/orders", params={"meta_key": ORDER_META, "meta_value": our_order_id})
        return self.placed(found[0]) if found else None

    async def cancel_units(self, order: PlacedOrder, sku: str, quantity: int) -> None:
        raise MerchantError("woocommerce: cancelling some units is a partial refund, which the simulated store "
                            "does not model and the connector does not read; cancel the whole order instead")

    async def fulfill(self, order: PlacedOrder, lines: dict[str, int], numbers: Sequence[str], carrier: str,
                      urls: list[str | None]) -> str:
        oid = order.admin_id
        if await self._api(oid) == "shipment-tracking":
            for number, url in zip(numbers, urls, strict=True):
                await self.admin.call("POST", f"/orders/{oid}/tracking", _item(number, carrier, url))
            return f"{oid}{WCST_SUFFIX}"
        if len(numbers) > 1:
            raise MerchantError("woocommerce: a core fulfillment holds one tracking number; fulfill once per number")
        body = await self.admin.call("POST", f"/orders/{oid}/fulfillments", {
            "items": [{"item_id": int(order.line_ids[sku]), "qty": qty} for sku, qty in lines.items()],
            "shipping_provider": carrier.lower(),
            **({"tracking_number": numbers[0]} if numbers else {}),
            **({"tracking_url": urls[0]} if urls and urls[0] else {})})
        return str(body["id"])

    async def fulfillments(self, order: PlacedOrder) -> list[StoreFulfillment]:
        shipping = await self._shipping(order.admin_id)
        if self._tracking == "shipment-tracking":
            items = shipping["tracking_items"]
            if not items and not shipping["tracking_meta"]:
                return []
            return [StoreFulfillment(f"{order.admin_id}{WCST_SUFFIX}", {},
                                     items[0]["tracking_provider"] or None if items else None,
                                     tuple(i["tracking_number"] for i in items),
                                     tuple(i["tracking_link"] or None for i in items), not items)]
        skus = {int(item_id): sku for sku, item_id in order.line_ids.items()}
        found = []
        for raw in shipping["fulfillments"]:
            meta = {entry["key"]: entry["value"] for entry in raw["meta_data"]}
            number = meta.get("_tracking_number")
            found.append(StoreFulfillment(
                str(raw["id"]), {skus.get(int(i["item_id"]), str(i["item_id"])): int(i["qty"])
                                 for i in meta.get("_items") or []},
                meta.get("_shipping_provider") or None, (str(number),) if number else (),
                (meta.get("_tracking_url") or None,) if number else (), raw["date_deleted"] is not None))
        return found

    async def edit_tracking(self, order: PlacedOrder, current: StoreFulfillment, numbers: Sequence[str],
                            carrier: str) -> None:
        oid = order.admin_id
        if current.ref.endswith(WCST_SUFFIX):
            await self._delete_tracking_items(oid)
            for number in numbers:
                await self.admin.call("POST", f"/orders/{oid}/tracking", _item(number, carrier, None))
            return
        if len(numbers) != 1:
            raise MerchantError(f"woocommerce: fulfillment {current.ref} holds exactly one tracking number")
        await self.admin.call("PUT", f"/orders/{oid}/fulfillments/{current.ref}",
                              {"tracking_number": numbers[0], "shipping_provider": carrier.lower()})

    async def cancel_fulfillment(self, order: PlacedOrder, ref: str) -> None:
        if ref.endswith(WCST_SUFFIX):
            await self._delete_tracking_items(order.admin_id)
        else:
            await self.admin.call("DELETE", f"/orders/{order.admin_id}/fulfillments/{ref}")

    async def _api(self, order_id: int) -> str:
        """The store's tracking API as our connector's "auto" picks it (core fulfillments first)."""
        if self._tracking is None:
            await self._shipping(order_id)
        assert self._tracking is not None
        return self._tracking

    async def _shipping(self, order_id: int) -> dict[str, Any]:
        shipping: dict[str, Any] = await self.admin.call("GET", f"/orders/{order_id}/fulfillments")
        mode = str(shipping["tracking_api"])
        if mode == "none":
            raise MerchantError("woocommerce: the store has no tracking API (option tracking: none)")
        self._tracking = "fulfillments" if mode in ("fulfillments", "both") else "shipment-tracking"
        return shipping

    async def _delete_tracking_items(self, order_id: int) -> None:
        shipping = await self._shipping(order_id)
        for item in shipping["tracking_items"]:
            await self.admin.call("DELETE", f"/orders/{order_id}/tracking/{item['tracking_id']}")


MERCHANT = WooCommerceMerchant


def _line_sku(item: dict[str, Any]) -> str | None:
    """A line item's SKU: its product's, else (a custom line) its `SKU` item meta."""
    meta = next((m["value"] for m in item.get("meta_data") or [] if m["key"] == CUSTOM_SKU_META), None)
    return item.get("sku") or (str(meta) if meta else None)


def _item(number: str, carrier: str, url: str | None) -> dict[str, str]:
    """A Shipment Tracking item: the store keeps a provider it knows, else the name as a custom provider."""
    return {"tracking_number": number, "tracking_provider": carrier, **({"custom_tracking_link": url} if url else {})}

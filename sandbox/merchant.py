"""The merchant's side of a simulated store, through its `/_sandbox/<platform>/` admin routes over HTTP.

One small API for all four stores, used where code must act as a merchant without caring which platform it is
(end-to-end tests, the standalone-sandbox test, the poll-cost benchmark, the demo): place an order, fulfil it
with tracking, list, edit and cancel fulfilments, cancel the order or some units, find the order our connector
created on a seller store. Every method raises `MerchantError` with the store's answer when the store refuses,
or with a message saying why when the platform has no such action. What differs per platform:

- Shopify: `fulfil` makes one fulfillment (ref: its GID) with every number; `cancel_fulfillment` cancels it (still
  listed, cancelled); `edit_tracking` is in place and moves the order's `updated_at`; `cancel_units` is an order
  edit removing unfulfilled units.
- BigCommerce: a shipment holds one number, so `fulfil` with n numbers makes n shipments (units split as evenly as
  possible, in line order) and returns the first's id; each shipment is its own `StoreFulfillment`, as our
  connector reads a seller's shipments. `cancel_fulfillment` deletes the shipment (gone from `fulfillments()`);
  `edit_tracking` takes exactly one number, in place, and moves `date_modified`; `cancel_units` refunds units.
- WooCommerce with Shipment Tracking (the store's default): `fulfil` adds one tracking item per number; all the
  order's items together are ONE fulfilment, ref `{order_id}-shipment-tracking`, `lines` {} (as our connector
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

`find_order` looks up the reference our seller connectors store: Shopify `sourceIdentifier` = our order id,
BigCommerce `external_order_id` and Magento `ext_order_id` = `fulfillsync:<id>`, WooCommerce order meta
`fulfillsync_order_id` (sandbox/ may not import connectors/, so the names are repeated here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.common import ADMIN_PREFIX
from sandbox.settings import SandboxPlatform

WCST_SUFFIX = "-shipment-tracking"  # the Woo connector's ref for a seller's Shipment Tracking items
OUR_ORDER_PREFIX = "fulfillsync:"  # BigCommerce external_order_id / Magento ext_order_id, as our connectors write
WOO_ORDER_META = "fulfillsync_order_id"
BIGCOMMERCE_PROVIDERS = {"usps", "ups", "fedex", "auspost", "canadapost", "royalmail", "endicia"}
MAGENTO_CARRIERS = {"ups", "usps", "fedex", "dhl"}
_URL_LINE = re.compile(r"^\s*Tracking (\S+): (\S+)\s*$", re.MULTILINE)


CUSTOMER = {"street": "1 Main St", "city": "Springfield", "region": "IL", "postcode": "62701", "country": "US"}
"""Where every customer order placed through `place_order` ships to."""


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
    """A fulfilment as the store's merchant sees it."""

    ref: str  # the id its API (and our connector's fulfillment_ref) uses for it
    lines: dict[str, int]  # sku -> units (WooCommerce Shipment Tracking items: {} — no per-line data)
    carrier: str | None  # as the store shows it (company / provider / title)
    numbers: tuple[str, ...]
    urls: tuple[str | None, ...]
    cancelled: bool


class Merchant:
    """Acts on one store. `http` must reach the store's root (`http://host:port`, or an in-process transport)."""

    def __init__(self, platform: SandboxPlatform, http: httpx.AsyncClient) -> None:
        self.platform = platform
        self._http = http
        self._admin = f"{ADMIN_PREFIX}/{'magento' if platform == 'magento2' else platform}"
        self._products: set[str] = set()
        self._woo_tracking: str | None = None  # the WooCommerce store's tracking API, once asked

    # -- orders ----------------------------------------------------------------------------------------------

    async def place_order(self, lines: dict[str, int], *, email: str = "customer@example.com") -> PlacedOrder:
        """A paid customer order of `lines` (sku -> quantity), ready to ship."""
        if self.platform == "shopify":
            body = await self._call("POST", "/orders", {
                "lines": [{"title": sku, "sku": sku, "quantity": qty} for sku, qty in lines.items()], "email": email,
                "shipping_address": {"firstName": "Ada", "lastName": "Buyer", "address1": CUSTOMER["street"],
                                     "city": CUSTOMER["city"], "provinceCode": CUSTOMER["region"],
                                     "zip": CUSTOMER["postcode"], "countryCode": CUSTOMER["country"]}})
        elif self.platform == "bigcommerce":
            body = await self._call("POST", "/orders", {
                "products": [{"name": sku, "sku": sku, "quantity": qty, "price_inc_tax": 10, "price_ex_tax": 10}
                             for sku, qty in lines.items()],
                "billing_address": {"first_name": "Ada", "last_name": "Buyer", "street_1": "1 Main St",
                                    "city": "Springfield", "state": "Illinois", "zip": "62701",
                                    "country": "United States", "country_iso2": "US", "email": email}})
        elif self.platform == "woocommerce":
            await self.stock(list(lines))
            address = {"first_name": "Ada", "last_name": "Buyer", "address_1": CUSTOMER["street"],
                       "city": CUSTOMER["city"], "state": CUSTOMER["region"], "postcode": CUSTOMER["postcode"],
                       "country": CUSTOMER["country"]}
            body = await self._call("POST", "/orders", {"line_items": [{"sku": sku, "quantity": qty}
                                                                       for sku, qty in lines.items()],
                                                        "status": "processing", "billing": {**address, "email": email},
                                                        "shipping": address})
        else:
            body = await self._call("POST", "/orders", {
                "lines": [{"sku": sku, "qty": qty} for sku, qty in lines.items()], "email": email,
                "shipping_address": {"firstname": "Ada", "lastname": "Buyer", "street": [CUSTOMER["street"]],
                                     "city": CUSTOMER["city"], "region_code": CUSTOMER["region"],
                                     "postcode": CUSTOMER["postcode"], "country_id": CUSTOMER["country"]}})
        return self._placed(body)

    async def stock(self, skus: Sequence[str]) -> None:
        """Make sure the store's catalogue has products with these SKUs, for a seller whose platform only takes
        orders of catalogue products (WooCommerce); the other stores take any SKU."""
        if self.platform != "woocommerce":
            return
        for sku in set(skus) - self._products:
            try:
                await self._call("POST", "/products", {"sku": sku, "name": sku})
            except MerchantError as error:
                if "product_invalid_sku" not in str(error):  # not "already in the catalogue"
                    raise
            self._products.add(sku)

    async def order(self, order: PlacedOrder) -> dict[str, Any]:
        """The raw admin view of the order (for debugging and timelines)."""
        return dict(await self._call("GET", f"/orders/{order.admin_id}"))

    async def find_order(self, our_order_id: str) -> PlacedOrder | None:
        """The order fulfillsync created for `our_order_id` on this (seller) store, by the reference our
        connector stores (module docstring); None when there is none."""
        if self.platform == "shopify":
            found = (await self._call("GET", "/orders", params={"source_identifier": our_order_id}))["orders"]
        elif self.platform == "bigcommerce":
            found = await self._call("GET", "/orders", params={"external_order_id": OUR_ORDER_PREFIX + our_order_id})
        elif self.platform == "woocommerce":
            found = await self._call("GET", "/orders", params={"meta_key": WOO_ORDER_META, "meta_value": our_order_id})
        else:
            found = await self._call("GET", "/orders", params={"ext_order_id": OUR_ORDER_PREFIX + our_order_id})
        return self._placed(found[0]) if found else None

    async def cancel_order(self, order: PlacedOrder) -> None:
        """The buyer cancels the whole order (Magento: every unit not shipped)."""
        await self._call("POST", f"/orders/{order.admin_id}/cancel", {})

    async def cancel_units(self, order: PlacedOrder, sku: str, quantity: int) -> None:
        """The buyer cancels `quantity` unshipped units of `sku`: Shopify removes them (an order edit), BigCommerce
        refunds them. WooCommerce and Magento: MerchantError (no such thing the store models and our connectors
        read)."""
        line = order.line_ids[sku]
        if self.platform == "shopify":
            await self._call("POST", f"/orders/{order.admin_id}/lines/{_tail(line)}/remove", {"quantity": quantity})
        elif self.platform == "bigcommerce":
            await self._call("POST", f"/orders/{order.admin_id}/refunds",
                             {"order_product_id": int(line), "quantity": quantity})
        elif self.platform == "woocommerce":
            raise MerchantError("woocommerce: cancelling some units is a partial refund, which the simulated store "
                                "does not model and the connector does not read; cancel the whole order instead")
        else:
            raise MerchantError("magento2: Magento cannot cancel some units of an order (a credit memo refunds "
                                "money, it does not cancel units); cancel_order cancels every unit not shipped")

    # -- fulfilments -----------------------------------------------------------------------------------------

    async def ship(self, order: PlacedOrder, sku: str, quantity: int, tracking_number: str,
                   carrier: str = "UPS") -> None:
        """Ship `quantity` units of `sku` with one tracking number (`fulfil` with one line and one number)."""
        await self.fulfil(order, {sku: quantity}, [tracking_number], carrier)

    async def fulfil(self, order: PlacedOrder, lines: dict[str, int], numbers: Sequence[str], carrier: str = "UPS",
                     urls: Sequence[str] | None = None) -> str:
        """Ship `lines` (sku -> units) with tracking `numbers` (`urls[i]` for `numbers[i]`); returns the ref of
        the fulfilment (BigCommerce: of the first of its shipments; see the module docstring)."""
        link: list[str | None] = [*(urls or ()), *[None] * (len(numbers) - len(urls or ()))]
        oid = order.admin_id
        if self.platform == "shopify":
            body = await self._call("POST", f"/orders/{oid}/fulfillments", {
                "lines": {_tail(order.line_ids[sku]): qty for sku, qty in lines.items()},
                "tracking": {"company": carrier, "numbers": list(numbers), "urls": link}})
            return str(body["fulfillments"][-1]["gid"])
        if self.platform == "bigcommerce":
            refs = [str((await self._call("POST", f"/orders/{oid}/shipments", {
                "items": [{"order_product_id": int(order.line_ids[sku]), "quantity": qty}
                          for sku, qty in part.items()], **_bigcommerce_tracking(number, carrier, url)}))["id"])
                for part, number, url in _split(lines, list(numbers) or [None], link or [None])]
            return refs[0]
        if self.platform == "woocommerce":
            if await self._woo_api(oid) == "shipment-tracking":
                for number, url in zip(numbers, link, strict=True):
                    await self._call("POST", f"/orders/{oid}/tracking", _woo_item(number, carrier, url))
                return f"{oid}{WCST_SUFFIX}"
            if len(numbers) > 1:
                raise MerchantError("woocommerce: a core fulfillment holds one tracking number; fulfil once per "
                                    "number")
            body = await self._call("POST", f"/orders/{oid}/fulfillments", {
                "items": [{"item_id": int(order.line_ids[sku]), "qty": qty} for sku, qty in lines.items()],
                "shipping_provider": carrier.lower(),
                **({"tracking_number": numbers[0]} if numbers else {}),
                **({"tracking_url": link[0]} if link and link[0] else {})})
            return str(body["id"])
        comment = "\n".join(f"Tracking {number}: {url}" for number, url in zip(numbers, link, strict=True) if url)
        body = await self._call("POST", f"/orders/{oid}/ship", {
            "items": [{"order_item_id": int(order.line_ids[sku]), "qty": qty} for sku, qty in lines.items()],
            "tracks": [_magento_track(number, carrier) for number in numbers],
            **({"comment": {"comment": comment, "is_visible_on_front": 1}} if comment else {})})
        return str(body["entity_id"])

    async def fulfillments(self, order: PlacedOrder) -> list[StoreFulfillment]:
        """Every fulfilment of the order, cancelled ones included where the platform keeps them (BigCommerce
        deletes shipments: gone)."""
        if self.platform == "shopify":
            raw = await self.order(order)
            skus = {str(line["id"]): line["sku"] for line in raw["lines"]}
            return [StoreFulfillment(
                str(f["gid"]), {skus[line]: qty for line, qty in f["lines"].items()},
                f["tracking"][0]["company"] if f["tracking"] else None, tuple(t["number"] for t in f["tracking"]),
                tuple(t["url"] for t in f["tracking"]), f["status"] == "CANCELLED") for f in raw["fulfillments"]]
        if self.platform == "bigcommerce":
            raw = await self.order(order)
            skus = {p["id"]: p["sku"] for p in raw["products"]}
            return [StoreFulfillment(
                str(s["id"]), {skus[i["order_product_id"]]: i["quantity"] for i in s["items"]},
                s["shipping_provider_display_name"] or s["tracking_carrier"] or _some(s["shipping_method"]),
                (s["tracking_number"],) if s["tracking_number"] else (),
                (s["tracking_link"] or s["generated_tracking_link"] or None,) if s["tracking_number"] else (),
                False) for s in raw["shipments"]]
        if self.platform == "woocommerce":
            return await self._woo_fulfillments(order)
        raw = await self.order(order)
        item_skus = {int(item["item_id"]): str(item["sku"]) for item in raw["items"]}
        return [_magento_fulfillment(shipment, item_skus)
                for shipment in await self._call("GET", f"/orders/{order.admin_id}/shipments")]

    async def edit_tracking(self, order: PlacedOrder, ref: str, numbers: Sequence[str],
                            carrier: str | None = None) -> None:
        """Replace the tracking of fulfilment `ref` (carrier None: keep it). In place on Shopify, BigCommerce
        (exactly one number: a shipment holds one), WooCommerce core fulfillments (one number) and Magento;
        WooCommerce Shipment Tracking deletes the items and adds new ones (the ref stays the order's)."""
        current = next((f for f in await self.fulfillments(order) if f.ref == ref), None)
        if current is None:
            raise MerchantError(f"{self.platform}: order {order.order_ref} has no fulfilment {ref}")
        carrier = carrier if carrier is not None else current.carrier or "Other"
        oid = order.admin_id
        if self.platform == "shopify":
            await self._call("POST", f"/fulfillments/{_tail(ref)}/tracking",
                             {"company": carrier, "numbers": list(numbers)})
        elif self.platform == "bigcommerce" or (self.platform == "woocommerce" and not ref.endswith(WCST_SUFFIX)):
            if len(numbers) != 1:
                raise MerchantError(f"{self.platform}: fulfilment {ref} holds exactly one tracking number")
            if self.platform == "bigcommerce":
                await self._call("PUT", f"/orders/{oid}/shipments/{ref}", {
                    "tracking_number": numbers[0], **_bigcommerce_tracking(numbers[0], carrier, None)})
            else:
                await self._call("PUT", f"/orders/{oid}/fulfillments/{ref}",
                                 {"tracking_number": numbers[0], "shipping_provider": carrier.lower()})
        elif self.platform == "woocommerce":
            await self._delete_tracking_items(oid)
            for number in numbers:
                await self._call("POST", f"/orders/{oid}/tracking", _woo_item(number, carrier, None))
        else:
            await self._call("PUT", f"/shipments/{ref}/tracks",
                             {"tracks": [_magento_track(number, carrier) for number in numbers]})

    async def cancel_fulfillment(self, order: PlacedOrder, ref: str) -> None:
        """Cancel fulfilment `ref` the platform's way (module docstring)."""
        oid = order.admin_id
        if self.platform == "shopify":
            await self._call("POST", f"/fulfillments/{_tail(ref)}/cancel", {})
        elif self.platform == "bigcommerce":
            await self._call("DELETE", f"/orders/{oid}/shipments/{ref}")
        elif self.platform == "woocommerce" and ref.endswith(WCST_SUFFIX):
            await self._delete_tracking_items(oid)
        elif self.platform == "woocommerce":
            await self._call("DELETE", f"/orders/{oid}/fulfillments/{ref}")
        else:
            await self._call("POST", f"/shipments/{ref}/cancel", {})

    # -- WooCommerce -----------------------------------------------------------------------------------------

    async def _woo_api(self, order_id: int) -> str:
        """The store's tracking API as our connector's "auto" picks it (core fulfillments first)."""
        if self._woo_tracking is None:
            await self._woo_shipping(order_id)
        assert self._woo_tracking is not None
        return self._woo_tracking

    async def _woo_shipping(self, order_id: int) -> dict[str, Any]:
        shipping: dict[str, Any] = await self._call("GET", f"/orders/{order_id}/fulfillments")
        mode = str(shipping["tracking_api"])
        if mode == "none":
            raise MerchantError("woocommerce: the store has no tracking API (option tracking: none)")
        self._woo_tracking = "fulfillments" if mode in ("fulfillments", "both") else "shipment-tracking"
        return shipping

    async def _woo_fulfillments(self, order: PlacedOrder) -> list[StoreFulfillment]:
        shipping = await self._woo_shipping(order.admin_id)
        if self._woo_tracking == "shipment-tracking":
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

    async def _delete_tracking_items(self, order_id: int) -> None:
        shipping = await self._woo_shipping(order_id)
        for item in shipping["tracking_items"]:
            await self._call("DELETE", f"/orders/{order_id}/tracking/{item['tracking_id']}")

    # -- plumbing --------------------------------------------------------------------------------------------

    def _placed(self, body: dict[str, Any]) -> PlacedOrder:
        """The PlacedOrder of an order as the admin routes show it."""
        if self.platform == "shopify":
            return PlacedOrder(str(body["gid"]), int(body["id"]),
                               {line["sku"]: str(line["gid"]) for line in body["lines"]})
        if self.platform == "bigcommerce":
            return PlacedOrder(str(body["id"]), int(body["id"]),
                               {product["sku"]: str(product["id"]) for product in body["products"]})
        if self.platform == "woocommerce":
            return PlacedOrder(str(body["id"]), int(body["id"]),
                               {item["sku"]: str(item["id"]) for item in body["line_items"]})
        return PlacedOrder(str(body["entity_id"]), int(body["entity_id"]),
                           {item["sku"]: str(item["item_id"]) for item in body["items"]
                            if not item.get("parent_item_id")})

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
                    params: dict[str, str] | None = None) -> Any:
        response = await self._http.request(method, f"{self._admin}{path}", json=body, params=params)
        if response.status_code >= 300:
            raise MerchantError(f"{self.platform} store refused {method} {self._admin}{path}: "
                                f"{response.status_code} {response.text[:300]}")
        return response.json() if response.status_code != 204 and response.content else None


def _tail(ref: str) -> str:
    """The numeric id at the end of a Shopify GID (or the id itself)."""
    return ref.rsplit("/", 1)[-1]


def _some(text: str | None) -> str | None:
    return text if text and text != "None" else None


def _split(lines: dict[str, int], numbers: list[str | None], urls: list[str | None]
           ) -> list[tuple[dict[str, int], str | None, str | None]]:
    """BigCommerce: the units of `lines`, in order, cut into one part per number, as evenly as possible."""
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


def _bigcommerce_tracking(number: str | None, carrier: str, url: str | None) -> dict[str, str]:
    """A known provider as `shipping_provider` (BigCommerce builds the link), another by name."""
    provider = carrier.lower().replace(" ", "")
    fields = {"shipping_provider": provider} if provider in BIGCOMMERCE_PROVIDERS else {
        "shipping_provider": "", "shipping_method": carrier}
    return {**fields, **({"tracking_number": number} if number else {}), **({"tracking_link": url} if url else {})}


def _woo_item(number: str, carrier: str, url: str | None) -> dict[str, str]:
    """A Shipment Tracking item: the store keeps a provider it knows, else the name as a custom provider."""
    return {"tracking_number": number, "tracking_provider": carrier, **({"custom_tracking_link": url} if url else {})}


def _magento_track(number: str, carrier: str) -> dict[str, str]:
    code = carrier.lower()
    return {"track_number": number, "title": carrier, "carrier_code": code if code in MAGENTO_CARRIERS else "custom"}


def _magento_fulfillment(shipment: dict[str, Any], skus: dict[int, str]) -> StoreFulfillment:
    """A Magento shipment: cancelled when it has no tracks and its newest cancel/reinstate comment is a cancel
    (the convention our connector reads); URLs from `Tracking <number>: <url>` comment lines."""
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

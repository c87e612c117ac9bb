"""A simulated WooCommerce store as plain Python: products, orders, line items, order meta, Shipment Tracking
items and core Order Fulfillments, with the merchant's admin actions.

It keeps what WooCommerce keeps and answers in WooCommerce's terms (see `render.py` for the JSON), so the HTTP
layer (`app.py`) only parses requests. Behaviour that mirrors WooCommerce (docs/platforms/woocommerce.md):
- times are stored in GMT with one-second resolution (MySQL DATETIME); the site's local time is GMT plus the
  `utc_offset_minutes` option and shows in the non-`_gmt` date fields;
- every write to an order (status, meta, Shipment Tracking items, fulfillments) bumps `date_modified`. Whether the
  real plugins bump it is unverified; the connector also reads tracking directly;
- Shipment Tracking items live in the order meta `_wc_shipment_tracking_items` (so it stays, possibly empty, once
  tracking was ever added), have 32-hex ids, no quantities and no update (delete + add);
- core fulfillments carry `_items` [{item_id, qty}] and free meta; a PUT with `meta_data` replaces all of it;
  DELETE is a soft delete (`date_deleted`), and deleted fulfillments stay listed with `date_deleted` set;
- `modified_after`/`after` filters are exclusive, like WordPress date queries.

Failure: every method raises `StoreError` (status, WooCommerce error code, message) for bad input or unknown ids.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

TRACKING_META_KEY = "_wc_shipment_tracking_items"

# Shipment Tracking's predefined providers (a few of its US/UK/AU lists): display name -> URL template.
PROVIDERS: dict[str, str] = {
    "UPS": "https://www.ups.com/track?loc=en_US&tracknum=%1$s",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=%1$s",
    "Fedex": "https://www.fedex.com/apps/fedextrack/?action=track&action=track&tracknumbers=%1$s",
    "DHL US": "https://www.logistics.dhl/us-en/home/tracking/tracking-ecommerce.html?tracking-id=%1$s",
    "OnTrac": "https://www.ontrac.com/trackingdetail.asp?tracking=%1$s",
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/%1$s",
    "Australia Post": "https://auspost.com.au/mypost/track/#/details/%1$s",
}

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash")


class StoreError(Exception):
    """A request the store refuses: rendered as WooCommerce's `{"code", "message", "data": {"status"}}`."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data


def sanitize_title(name: str) -> str:
    """WordPress's slug of a name (lowercase, runs of other characters become one dash)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass
class Meta:
    id: int
    key: str
    value: Any


@dataclass
class Product:
    id: int
    sku: str
    name: str
    price: str
    parent_id: int = 0  # a variation's parent product

    @property
    def type(self) -> str:
        return "variation" if self.parent_id else "simple"


@dataclass
class LineItem:
    id: int
    product_id: int
    variation_id: int
    name: str
    sku: str
    quantity: int
    price: str
    meta: list[Meta] = field(default_factory=list)


@dataclass
class TrackingItem:
    """One Shipment Tracking item, as the plugin stores it in the order meta."""

    tracking_id: str
    tracking_number: str
    provider_slug: str  # a predefined provider, or "" for a custom one
    custom_provider: str
    custom_link: str
    date_shipped: date


@dataclass
class Fulfillment:
    id: int
    order_id: int
    status: str
    is_fulfilled: bool
    meta: list[Meta]
    date_updated: datetime
    date_deleted: datetime | None = None


@dataclass
class Order:
    id: int
    order_key: str
    status: str
    created_via: str
    date_created: datetime
    date_modified: datetime
    billing: dict[str, str]
    shipping: dict[str, str]
    line_items: list[LineItem]
    shipping_lines: list[dict[str, Any]]
    meta: list[Meta]
    customer_note: str = ""
    tracking: list[TrackingItem] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)


_ADDRESS_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                   "country", "phone")


class WooStore:
    """The store's state. `now` is the sandbox clock; tracking ids come from `new_tracking_id` (random 32-hex)."""

    def __init__(self, now: Callable[[], datetime], *, tracking: str = "shipment-tracking") -> None:
        self._now = now
        self.tracking = tracking
        self.products: dict[int, Product] = {}
        self.orders: dict[int, Order] = {}
        self._next_post_id = 100  # orders and products share WordPress's post ids
        self._next_item_id = 1
        self._next_meta_id = 1
        self._next_fulfillment_id = 1
        self.customer_notifications: list[int] = []  # order ids whose customer a fulfillment write notified
        self.new_tracking_id: Callable[[], str] = lambda: uuid.uuid4().hex

    # -- clock and ids -------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The store's GMT time at one-second resolution (what MySQL keeps)."""
        return self._now().replace(microsecond=0)

    def _post_id(self) -> int:
        self._next_post_id += 1
        return self._next_post_id

    def _item_id(self) -> int:
        self._next_item_id += 1
        return self._next_item_id

    def _meta(self, key: str, value: Any) -> Meta:
        self._next_meta_id += 1
        return Meta(self._next_meta_id, key, value)

    @property
    def has_shipment_tracking(self) -> bool:
        return self.tracking in ("shipment-tracking", "both")

    @property
    def has_fulfillments(self) -> bool:
        return self.tracking in ("fulfillments", "both")

    # -- products ------------------------------------------------------------------------------------------

    def add_product(self, sku: str, name: str | None = None, price: str = "10.00", parent_sku: str | None = None
                    ) -> Product:
        """Admin: create a product (a variation when `parent_sku` names an existing product). SKUs are unique."""
        if not sku.strip():
            raise StoreError(400, "woocommerce_rest_product_invalid_sku", "Invalid or duplicated SKU.")
        if self.product_by_sku(sku) is not None:
            raise StoreError(400, "product_invalid_sku", "Invalid or duplicated SKU.", resource_id=0)
        parent_id = 0
        if parent_sku is not None:
            parent = self.product_by_sku(parent_sku)
            if parent is None:
                raise StoreError(404, "woocommerce_rest_product_invalid_id", f"No product has SKU {parent_sku!r}.")
            parent_id = parent.id
        product = Product(self._post_id(), sku, name or sku, price, parent_id)
        self.products[product.id] = product
        return product

    def product_by_sku(self, sku: str) -> Product | None:
        return next((p for p in self.products.values() if p.sku == sku), None)

    def products_by_skus(self, skus: Iterable[str]) -> list[Product]:
        """Products and variations whose SKU is one of `skus` (the `sku` filter of GET /products)."""
        wanted = {s.strip() for s in skus if s.strip()}
        return [p for p in self.products.values() if p.sku in wanted]

    # -- orders --------------------------------------------------------------------------------------------

    def order(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise StoreError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return order

    def create_order(self, body: dict[str, Any], *, created_via: str = "rest-api") -> Order:
        """POST /orders (and the admin's `place_order`): line items by `product_id`/`variation_id` (or `sku`
        for the admin), quantities > 0, meta_data kept as given. Raises StoreError like WooCommerce."""
        lines = [self._line_item(raw) for raw in _list(body.get("line_items"), "line_items")]
        status = str(body.get("status") or "pending")
        if status not in ORDER_STATUSES:
            raise StoreError(400, "rest_invalid_param", "Invalid parameter(s): status",
                             params={"status": f"status is not one of {', '.join(ORDER_STATUSES)}."})
        now = self.now()
        order = Order(
            id=self._post_id(), order_key=f"wc_order_{uuid.uuid4().hex[:13]}", status=status,
            created_via=created_via, date_created=now, date_modified=now,
            billing=_address(body.get("billing"), with_email=True), shipping=_address(body.get("shipping")),
            line_items=lines,
            shipping_lines=[{"id": self._item_id(), "method_id": str(raw.get("method_id", "")),
                             "method_title": str(raw.get("method_title", "")), "total": str(raw.get("total", "0"))}
                            for raw in _list(body.get("shipping_lines"), "shipping_lines")],
            meta=[self._meta(str(m["key"]), m.get("value")) for m in _meta_list(body.get("meta_data"))],
            customer_note=str(body.get("customer_note") or ""))
        if body.get("set_paid") and order.status == "pending":
            order.status = "processing"
        self.orders[order.id] = order
        return order

    def _line_item(self, raw: Any) -> LineItem:
        if not isinstance(raw, dict):
            raise StoreError(400, "rest_invalid_param", "Invalid parameter(s): line_items")
        product: Product | None = None
        if raw.get("variation_id"):
            product = self.products.get(_int(raw["variation_id"], "variation_id"))
        elif raw.get("product_id"):
            product = self.products.get(_int(raw["product_id"], "product_id"))
        elif raw.get("sku"):
            product = self.product_by_sku(str(raw["sku"]))
        if product is None:
            raise StoreError(400, "woocommerce_rest_invalid_product_id", "Invalid product ID.")
        quantity = _int(raw.get("quantity", 1), "quantity")
        if quantity <= 0:
            raise StoreError(400, "woocommerce_rest_invalid_product_quantity",
                             "Product quantity must be a positive float.")
        return LineItem(
            id=self._item_id(), product_id=product.parent_id or product.id,
            variation_id=product.id if product.parent_id else 0, name=str(raw.get("name") or product.name),
            sku=product.sku, quantity=quantity, price=product.price,
            meta=[self._meta(str(m["key"]), m.get("value")) for m in _meta_list(raw.get("meta_data"))])

    def update_order(self, order_id: int, body: dict[str, Any]) -> Order:
        """PUT /orders/{id}: `status`, `customer_note`, `meta_data` entries (updated by `id`, else by `key`, else
        added) and the `quantity` of existing `line_items` (by `id`; an id not on the order: 400, nothing changed).
        Bumps `date_modified`."""
        order = self.order(order_id)
        items = {item.id: item for item in order.line_items}
        changes = []
        for entry in body.get("line_items") or []:
            raw_id = entry.get("id") if isinstance(entry, dict) else None
            item = items.get(raw_id) if isinstance(raw_id, int) else None
            quantity = entry.get("quantity") if isinstance(entry, dict) else None
            if item is None:
                raise StoreError(400, "woocommerce_rest_invalid_item_id",
                                 "Order item ID provided is not associated with order.")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                raise StoreError(400, "rest_invalid_param", "Invalid parameter(s): line_items")
            changes.append((item, quantity))
        for item, quantity in changes:
            item.quantity = quantity
        if "status" in body:
            if body["status"] not in ORDER_STATUSES:
                raise StoreError(400, "rest_invalid_param", "Invalid parameter(s): status")
            order.status = str(body["status"])
        if "customer_note" in body:
            order.customer_note = str(body["customer_note"])
        for entry in _meta_list(body.get("meta_data")):
            self._set_meta(order.meta, entry)
        self._touch(order)
        return order

    def _set_meta(self, metas: list[Meta], entry: dict[str, Any]) -> None:
        for meta in metas:
            if ("id" in entry and meta.id == entry["id"]) or ("id" not in entry and meta.key == entry["key"]):
                meta.value = entry.get("value")
                return
        metas.append(self._meta(str(entry["key"]), entry.get("value")))

    def _touch(self, order: Order) -> None:
        order.date_modified = self.now()

    def place_order(self, line_items: list[dict[str, Any]], **fields: Any) -> Order:
        """Admin: a customer checks out (line items by `sku` and `quantity`; `billing`, `shipping`,
        `shipping_lines`, `status` optional; status defaults to processing, i.e. paid)."""
        body = {"status": "processing", **fields, "line_items": line_items}
        return self.create_order(body, created_via="checkout")

    def cancel_order(self, order_id: int) -> Order:
        """Admin: the merchant cancels the order."""
        return self.update_order(order_id, {"status": "cancelled"})

    def touch_order(self, order_id: int) -> Order:
        """Admin: any edit that saves the order (a note, an address fix): only `date_modified` changes."""
        order = self.order(order_id)
        self._touch(order)
        return order

    def query_orders(self, *, modified_after: datetime | None = None, modified_before: datetime | None = None,
                     after: datetime | None = None, before: datetime | None = None, statuses: tuple[str, ...] = (),
                     search: str = "", include: tuple[int, ...] = (), orderby: str = "date", order: str = "desc"
                     ) -> list[Order]:
        """The orders a GET /orders query selects, sorted (ties broken by id, as MySQL happens to). Date bounds
        are GMT and exclusive. `statuses` empty or `any`: every status but trash."""
        def keep(o: Order) -> bool:
            if statuses and "any" not in statuses:
                if o.status not in statuses:
                    return False
            elif o.status == "trash":
                return False
            return ((modified_after is None or o.date_modified > modified_after)
                    and (modified_before is None or o.date_modified < modified_before)
                    and (after is None or o.date_created > after) and (before is None or o.date_created < before)
                    and (not include or o.id in include) and (not search or _matches_search(o, search)))

        keys: dict[str, Callable[[Order], Any]] = {
            "date": lambda o: (o.date_created, o.id), "modified": lambda o: (o.date_modified, o.id),
            "id": lambda o: o.id, "include": lambda o: include.index(o.id) if o.id in include else 0,
            "title": lambda o: o.id, "slug": lambda o: o.id}
        return sorted(filter(keep, self.orders.values()), key=keys[orderby], reverse=order == "desc")

    # -- Shipment Tracking ---------------------------------------------------------------------------------

    def add_tracking(self, order_id: int, tracking_number: str, tracking_provider: str = "",
                     custom_tracking_provider: str = "", custom_tracking_link: str = "",
                     date_shipped: str | None = None) -> TrackingItem:
        """POST …/shipment-trackings (and the merchant's "Add tracking number"). A predefined provider is matched
        by slug; the link is then built from its template and a given link is ignored."""
        order = self.order(order_id)
        if not tracking_number.strip():
            raise StoreError(400, "rest_missing_callback_param", "Missing parameter(s): tracking_number",
                             params=["tracking_number"])
        slug = sanitize_title(tracking_provider) if tracking_provider.strip() else ""
        if slug and slug not in {sanitize_title(name) for name in PROVIDERS}:
            custom_tracking_provider, slug = custom_tracking_provider or tracking_provider, ""
        shipped = self.now().date()
        if date_shipped:
            try:
                shipped = date.fromisoformat(date_shipped[:10])
            except ValueError:
                raise StoreError(400, "rest_invalid_param", "Invalid parameter(s): date_shipped") from None
        item = TrackingItem(self.new_tracking_id(), tracking_number.strip(), slug,
                            "" if slug else custom_tracking_provider.strip(), "" if slug else custom_tracking_link,
                            shipped)
        order.tracking.append(item)
        self._save_tracking_meta(order)
        return item

    def tracking_item(self, order_id: int, tracking_id: str) -> TrackingItem:
        for item in self.order(order_id).tracking:
            if item.tracking_id == tracking_id:
                return item
        raise StoreError(404, "woocommerce_rest_shop_order_invalid_tracking_id", "Invalid tracking ID.")

    def delete_tracking(self, order_id: int, tracking_id: str) -> TrackingItem:
        """DELETE …/shipment-trackings/{id} (and the merchant's "Delete tracking")."""
        order = self.order(order_id)
        item = self.tracking_item(order_id, tracking_id)
        order.tracking.remove(item)
        self._save_tracking_meta(order)
        return item

    def edit_tracking(self, order_id: int, tracking_id: str, **new: str) -> TrackingItem:
        """Admin: the merchant corrects a tracking item. Shipment Tracking has no edit: the item is deleted and a
        new one (with a new id) added, as its UI does."""
        self.delete_tracking(order_id, tracking_id)
        return self.add_tracking(order_id, **new)

    def _save_tracking_meta(self, order: Order) -> None:
        raw = [{"tracking_provider": i.provider_slug, "custom_tracking_provider": i.custom_provider,
                "custom_tracking_link": i.custom_link, "tracking_number": i.tracking_number,
                "date_shipped": str(int(datetime(i.date_shipped.year, i.date_shipped.month,
                                                 i.date_shipped.day).timestamp())),
                "tracking_id": i.tracking_id} for i in order.tracking]
        self._set_meta(order.meta, {"key": TRACKING_META_KEY, "value": raw})
        self._touch(order)

    # -- core fulfillments ---------------------------------------------------------------------------------

    def fulfillment(self, order_id: int, fulfillment_id: int) -> Fulfillment:
        for candidate in self.order(order_id).fulfillments:
            if candidate.id == fulfillment_id:
                return candidate
        raise StoreError(404, "woocommerce_rest_fulfillment_invalid_id", "Invalid fulfillment ID.")

    def add_fulfillment(self, order_id: int, meta_data: list[dict[str, Any]], status: str = "fulfilled",
                        is_fulfilled: bool | None = None) -> Fulfillment:
        """POST …/fulfillments (and the merchant's "Fulfill items"): `_items` must name this order's line items
        with positive quantities that the order's other active fulfillments leave open."""
        order = self.order(order_id)
        entries = _meta_list(meta_data)
        self._check_items(order, entries, ignore=None)
        fulfillment = Fulfillment(
            id=self._next_fulfillment_id, order_id=order.id, status=status,
            is_fulfilled=status == "fulfilled" if is_fulfilled is None else bool(is_fulfilled),
            meta=[self._meta(str(e["key"]), e.get("value")) for e in entries], date_updated=self.now())
        self._next_fulfillment_id += 1
        order.fulfillments.append(fulfillment)
        self._touch(order)
        return fulfillment

    def update_fulfillment(self, order_id: int, fulfillment_id: int, body: dict[str, Any]) -> Fulfillment:
        """PUT …/fulfillments/{id}: `status`, `is_fulfilled`, and `meta_data`, which replaces all meta."""
        order = self.order(order_id)
        fulfillment = self.fulfillment(order_id, fulfillment_id)
        if fulfillment.date_deleted is not None:
            raise StoreError(400, "woocommerce_rest_fulfillment_deleted", "The fulfillment has been deleted.")
        if "meta_data" in body:
            entries = _meta_list(body["meta_data"])
            self._check_items(order, entries, ignore=fulfillment)
            fulfillment.meta = [self._meta(str(e["key"]), e.get("value")) for e in entries]
        if "status" in body:
            fulfillment.status = str(body["status"])
            fulfillment.is_fulfilled = fulfillment.status == "fulfilled"
        if "is_fulfilled" in body:
            fulfillment.is_fulfilled = bool(body["is_fulfilled"])
        fulfillment.date_updated = self.now()
        self._touch(order)
        return fulfillment

    def edit_fulfillment_tracking(self, order_id: int, fulfillment_id: int, **tracking: str) -> Fulfillment:
        """Admin: the merchant edits a fulfillment's `tracking_number`, `shipping_provider` or `tracking_url`."""
        current = {m.key: m.value for m in self.fulfillment(order_id, fulfillment_id).meta}
        for name, value in tracking.items():
            current[f"_{name}"] = value
        return self.update_fulfillment(order_id, fulfillment_id,
                                       {"meta_data": [{"key": k, "value": v} for k, v in current.items()]})

    def delete_fulfillment(self, order_id: int, fulfillment_id: int) -> Fulfillment:
        """DELETE …/fulfillments/{id}: a soft delete (`date_deleted`). Deleting twice is an error."""
        order = self.order(order_id)
        fulfillment = self.fulfillment(order_id, fulfillment_id)
        if fulfillment.date_deleted is not None:
            raise StoreError(404, "woocommerce_rest_fulfillment_invalid_id", "Invalid fulfillment ID.")
        fulfillment.date_deleted = fulfillment.date_updated = self.now()
        self._touch(order)
        return fulfillment

    def _check_items(self, order: Order, entries: list[dict[str, Any]], ignore: Fulfillment | None) -> None:
        items = next((e.get("value") for e in entries if e["key"] == "_items"), None)
        if not isinstance(items, list) or not items:
            raise StoreError(400, "woocommerce_rest_fulfillment_invalid_items",
                             "The fulfillment must have at least one item (meta _items).")
        open_qty = {line.id: line.quantity for line in order.line_items}
        for other in order.fulfillments:
            if other is ignore or other.date_deleted is not None:
                continue
            for entry in next((m.value for m in other.meta if m.key == "_items"), []) or []:
                open_qty[int(entry["item_id"])] = open_qty.get(int(entry["item_id"]), 0) - int(entry["qty"])
        for entry in items:
            if not isinstance(entry, dict) or "item_id" not in entry or "qty" not in entry:
                raise StoreError(400, "woocommerce_rest_fulfillment_invalid_items",
                                 "Each fulfillment item needs item_id and qty.")
            item_id, qty = _int(entry["item_id"], "item_id"), _int(entry["qty"], "qty")
            if item_id not in open_qty:
                raise StoreError(400, "woocommerce_rest_fulfillment_invalid_items",
                                 f"Item {item_id} is not an item of order {order.id}.")
            if qty <= 0 or qty > open_qty[item_id]:
                raise StoreError(400, "woocommerce_rest_fulfillment_invalid_items",
                                 f"Item {item_id}: quantity {qty} exceeds the {max(open_qty[item_id], 0)} "
                                 "not yet fulfilled.")
            open_qty[item_id] -= qty


def _list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise StoreError(400, "rest_invalid_param", f"Invalid parameter(s): {name}",
                         params={name: f"{name} is not of type array."})
    return value


def _meta_list(value: Any) -> list[dict[str, Any]]:
    entries = _list(value, "meta_data")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("key", entry.get("id")), str | int):
            raise StoreError(400, "rest_invalid_param", "Invalid parameter(s): meta_data",
                             params={"meta_data": "Each meta_data entry needs a key."})
    return entries


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StoreError(400, "rest_invalid_param", f"Invalid parameter(s): {name}",
                         params={name: f"{name} is not of type integer."}) from None


def _address(value: Any, *, with_email: bool = False) -> dict[str, str]:
    raw = value if isinstance(value, dict) else {}
    names = (*_ADDRESS_FIELDS, "email") if with_email else _ADDRESS_FIELDS
    return {name: str(raw.get(name) or "") for name in names}


def _matches_search(order: Order, term: str) -> bool:
    """WooCommerce's order search: billing and shipping address fields, billing email and last name, and the
    names of order items (not arbitrary meta)."""
    haystack = [*order.billing.values(), *order.shipping.values(), *(line.name for line in order.line_items)]
    return any(term.lower() in value.lower() for value in haystack)

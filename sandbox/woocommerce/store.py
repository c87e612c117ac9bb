"""A simulated WooCommerce store as plain Python: a catalog (`catalog.py`), orders, line items, order meta and
notes, Shipment Tracking items and core Order Fulfillments, with the merchant's admin actions.

It keeps what WooCommerce keeps and answers in WooCommerce's terms (see `render.py` for the JSON), so the HTTP
layer (`app.py`) only parses requests. Behaviour that mirrors WooCommerce (docs/platforms/woocommerce.md):
- times are stored in GMT with one-second resolution (MySQL DATETIME); the site's local time is GMT plus the
  `utc_offset_minutes` option and shows in the non-`_gmt` date fields;
- every write to an order (status, meta, Shipment Tracking items, fulfillments) bumps `date_modified`. Whether the
  real plugins bump it is unverified; the connector also reads tracking directly;
- a line item names its product by `sku` (looked up first, any status, without case), else `product_id` (without
  `variation_id`), else `variation_id`; none of them is 400 `woocommerce_rest_required_product_reference`. A
  reference that finds no product is NOT refused (WooCommerce creates the item without a product, totals as
  posted or 0: github.com/woocommerce/woocommerce/issues/50698); a found product prices the item at its price times the
  quantity unless `subtotal`/`total` are posted. Shipping lines need a `method_id` on create. The order's
  `currency` must be one WooCommerce knows (default: the store's); totals are the lines' plus shipping (no tax);
- stock moves as `wc_maybe_reduce_stock_levels` / `wc_maybe_increase_stock_levels` move it: once when the order
  first reaches processing, completed or on-hold (created so, or paid by `set_paid`), back when it is cancelled
  or set to pending, with an order note listing what moved; editing a line's quantity later does not move it
  here;
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.woocommerce.catalog import CURRENCIES, Catalog, Product
from sandbox.woocommerce.errors import StoreError, invalid_param

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
STOCK_TAKEN = ("processing", "completed", "on-hold")  # wc_maybe_reduce_stock_levels runs on these
STOCK_GIVEN_BACK = ("cancelled", "pending")  # wc_maybe_increase_stock_levels runs on these

__all__ = ["Product", "StoreError", "WooStore", "money"]


def sanitize_title(name: str) -> str:
    """WordPress's slug of a name (lowercase, runs of other characters become one dash)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass
class Meta:
    id: int
    key: str
    value: Any


@dataclass
class LineItem:
    """An order's line item; `product_id` 0 when it has no product (its `sku` then "")."""

    id: int
    product_id: int
    variation_id: int
    name: str
    sku: str
    quantity: int
    subtotal: Decimal
    total: Decimal
    meta: list[Meta] = field(default_factory=list)
    reduced_stock: int = 0  # WooCommerce's item meta `_reduced_stock`: units this item took from stock


@dataclass
class Note:
    """An order note (`customer_note`: also shown to the customer; `added_by_user`: written by a person)."""

    id: int
    note: str
    date_created: datetime
    customer_note: bool = False
    added_by_user: bool = False


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
    currency: str = "USD"
    customer_note: str = ""
    tracking: list[TrackingItem] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    stock_reduced: bool = False  # WooCommerce's `_order_stock_reduced`

    @property
    def shipping_total(self) -> Decimal:
        return sum((Decimal(str(line["total"])) for line in self.shipping_lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.line_items), Decimal(0)) + self.shipping_total


_ADDRESS_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                   "country", "phone")


class WooStore:
    """The store's state. `now` is the sandbox clock; tracking ids come from `new_tracking_id` (random 32-hex);
    `currency` is the store's (WooCommerce's `woocommerce_currency`): ValueError for a code it does not know."""

    def __init__(self, now: Callable[[], datetime], *, tracking: str = "shipment-tracking",
                 currency: str = "USD") -> None:
        if currency not in CURRENCIES:
            raise ValueError(f"woocommerce sandbox: unknown currency {currency!r}; known: {', '.join(CURRENCIES)}")
        self._now = now
        self.tracking = tracking
        self.currency = currency
        self.catalog = Catalog(self._post_id)
        self.orders: dict[int, Order] = {}
        self._next_post_id = 100  # orders and products share WordPress's post ids
        self._next_item_id = 1
        self._next_meta_id = 1
        self._next_fulfillment_id = 1
        self._next_note_id = 0
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

    @property
    def products(self) -> dict[int, Product]:
        return self.catalog.products

    def add_product(self, sku: str, name: str | None = None, price: str = "10.00", parent_sku: str | None = None,
                    status: str = "publish", stock_quantity: int | None = None, manage_stock: bool | None = None
                    ) -> Product:
        """Admin: create a product (a variation when `parent_sku` names a product); see `Catalog.add`."""
        return self.catalog.add(sku, name, price, parent_sku, status, stock_quantity, manage_stock)

    def product_by_sku(self, sku: str) -> Product | None:
        return self.catalog.by_sku(sku)

    # -- orders --------------------------------------------------------------------------------------------

    def order(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise StoreError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return order

    def create_order(self, body: dict[str, Any], *, created_via: str = "rest-api") -> Order:
        """POST /orders (and the admin's `place_order`): line items and shipping lines as the module docstring
        says, meta_data kept as given, status set last (so stock moves once the items are in), then `set_paid`
        pays a pending order (processing). Raises StoreError like WooCommerce; nothing is kept then."""
        status = str(body.get("status") or "pending")
        if status not in ORDER_STATUSES:
            raise invalid_param("status", f"status is not one of {', '.join(ORDER_STATUSES)}.")
        currency = str(body.get("currency") or self.currency)
        if currency not in CURRENCIES:
            raise invalid_param("currency", f"currency is not one of {', '.join(CURRENCIES)}.")
        lines = [self._line_item(raw) for raw in _list(body.get("line_items"), "line_items")]
        shipping = [self._shipping_line(raw) for raw in _list(body.get("shipping_lines"), "shipping_lines")]
        now = self.now()
        order = Order(
            id=self._post_id(), order_key=f"wc_order_{uuid.uuid4().hex[:13]}", status="pending",
            created_via=created_via, date_created=now, date_modified=now,
            billing=_address(body.get("billing"), with_email=True), shipping=_address(body.get("shipping")),
            line_items=lines, shipping_lines=shipping,
            meta=[self._meta(str(m["key"]), m.get("value")) for m in _meta_list(body.get("meta_data"))],
            currency=currency, customer_note=str(body.get("customer_note") or ""))
        self.orders[order.id] = order
        self._set_status(order, status)
        if body.get("set_paid") is True and order.status == "pending":
            self._set_status(order, "processing")
        return order

    def _line_item(self, raw: Any) -> LineItem:
        if not isinstance(raw, dict):
            raise invalid_param("line_items", "line_items[0] is not of type object.")
        if raw.get("sku"):
            product = self.catalog.by_sku(str(raw["sku"]))
        elif raw.get("product_id") and not raw.get("variation_id"):
            product = self.products.get(_int(raw["product_id"], "product_id"))
        elif raw.get("variation_id"):
            product = self.products.get(_int(raw["variation_id"], "variation_id"))
        else:
            raise StoreError(400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required.")
        quantity = _int(raw.get("quantity", 1), "quantity")
        if quantity <= 0:
            raise StoreError(400, "woocommerce_rest_invalid_product_quantity",
                             "Product quantity must be a positive float.")
        catalog_total = _decimal(self.catalog.price(product) or "0", "price") * quantity if product else Decimal(0)
        # each of subtotal and total is the posted one, else the catalog's (a `total` alone reads as a discount)
        total = _decimal(raw["total"], "total") if raw.get("total") not in (None, "") else catalog_total
        subtotal = _decimal(raw["subtotal"], "subtotal") if raw.get("subtotal") not in (None, "") else catalog_total
        return LineItem(
            id=self._item_id(), product_id=(product.parent_id or product.id) if product else 0,
            variation_id=product.id if product and product.parent_id else 0,
            name=str(raw.get("name") or (product.name if product else "")), sku=product.sku if product else "",
            quantity=quantity, subtotal=subtotal, total=total,
            meta=[self._meta(str(m["key"]), m.get("value")) for m in _meta_list(raw.get("meta_data"))])

    def _shipping_line(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise invalid_param("shipping_lines", "shipping_lines[0] is not of type object.")
        if not raw.get("method_id"):
            raise StoreError(400, "woocommerce_rest_invalid_shipping_item", "Shipping method ID is required.")
        total = _decimal(raw["total"], "total") if raw.get("total") not in (None, "") else Decimal(0)
        return {"id": self._item_id(), "method_id": str(raw["method_id"]),
                "method_title": str(raw.get("method_title", "")), "total": money(total)}

    # -- stock and notes -----------------------------------------------------------------------------------

    def _set_status(self, order: Order, status: str) -> None:
        """Set the status and run WooCommerce's stock hooks for it."""
        order.status = status
        if status in STOCK_TAKEN and not order.stock_reduced:
            self._move_stock(order, reduce=True)
        elif status in STOCK_GIVEN_BACK and order.stock_reduced:
            self._move_stock(order, reduce=False)

    def _move_stock(self, order: Order, *, reduce: bool) -> None:
        changes = []
        for item in order.line_items:
            product = self.products.get(item.variation_id or item.product_id) if item.product_id else None
            holder = self.catalog.stock_holder(product) if product is not None else None
            units = item.quantity if reduce else item.reduced_stock
            if holder is None or holder.stock_quantity is None or units <= 0 or (reduce and item.reduced_stock):
                continue
            before = holder.stock_quantity
            holder.stock_quantity = before - units if reduce else before + units
            item.reduced_stock = units if reduce else 0
            changes.append(f"{item.name} ({item.sku}) {before}&rarr;{holder.stock_quantity}")
        order.stock_reduced = reduce
        if changes:
            what = "reduced" if reduce else "increased"
            self.add_note(order.id, f"Stock levels {what}: {', '.join(changes)}")

    def add_note(self, order_id: int, note: str, *, customer_note: bool = False,
                 added_by_user: bool = False) -> Note:
        """POST /orders/{id}/notes (and the store's own notes). An empty note is refused like WordPress."""
        order = self.order(order_id)
        if not note.strip():
            raise StoreError(400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"])
        self._next_note_id += 1
        made = Note(self._next_note_id, note, self.now(), customer_note, added_by_user)
        order.notes.append(made)
        return made

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
        if "status" in body and body["status"] not in ORDER_STATUSES:
            raise invalid_param("status", f"status is not one of {', '.join(ORDER_STATUSES)}.")
        for item, quantity in changes:
            item.quantity = quantity
        if "status" in body and body["status"] != order.status:
            self._set_status(order, str(body["status"]))
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
        `shipping_lines`, `status` optional; status defaults to processing, i.e. paid). A checkout sells products
        only: a SKU the catalog lacks is refused (400 `woocommerce_rest_invalid_product_id`)."""
        for raw in line_items:
            if not isinstance(raw, dict) or self.catalog.by_sku(str(raw.get("sku") or "")) is None:
                raise StoreError(400, "woocommerce_rest_invalid_product_id", "Invalid product ID.")
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
        raise invalid_param(name, f"{name} is not of type integer.") from None


def _decimal(value: Any, name: str) -> Decimal:
    """A posted amount (WooCommerce takes strings, and numbers too)."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid_param(name, f"{name} is not of type string.") from None
    if not amount.is_finite():
        raise invalid_param(name, f"{name} is not of type string.")
    return amount


def money(amount: Decimal) -> str:
    """An amount as WooCommerce shows it: two decimals at least, more when stored with more."""
    exponent = amount.as_tuple().exponent
    return f"{amount:f}" if isinstance(exponent, int) and exponent < -2 else f"{amount:.2f}"


def _address(value: Any, *, with_email: bool = False) -> dict[str, str]:
    raw = value if isinstance(value, dict) else {}
    names = (*_ADDRESS_FIELDS, "email") if with_email else _ADDRESS_FIELDS
    return {name: str(raw.get(name) or "") for name in names}


def _matches_search(order: Order, term: str) -> bool:
    """WooCommerce's order search: billing and shipping address fields, billing email and last name, and the
    names of order items (not arbitrary meta)."""
    haystack = [*order.billing.values(), *order.shipping.values(), *(line.name for line in order.line_items)]
    return any(term.lower() in value.lower() for value in haystack)

"""WooCommerce JSON -> our types: pure functions, so the documented example payloads can be parsed in tests.

Every parser raises `ShapeError` (a ValueError naming the offending field, e.g. `line_items[1].quantity`) when
the JSON is not the documented shape; the connector turns it into a MalformedResponseError. Nothing here does
I/O. What the fields mean is decided in the package docstring (`connectors/woocommerce/__init__.py`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import httpx

from connectors.payload import PayloadError, json_array, json_money, json_object
from connectors.woocommerce.carriers import CARRIER_NAMES
from schemas.platform import (
    Address,
    CatalogLookup,
    CatalogVariant,
    FulfillmentLine,
    PlatformLine,
    PlatformOrder,
    Tracking,
)

ORDER_MARKER = "fulfillsync_order_id"  # order meta: our order id, on seller orders we created
LINE_MARKER = "fulfillsync_line_id"  # line item meta: our line id, on seller orders we created
UNLINKED_MARKER = "fulfillsync_unlinked_skus"  # order meta: the SKUs of its lines that are not catalog items
CUSTOM_SKU = "SKU"  # visible line item meta: the SKU of a custom line (WooCommerce shows a product's own)
GROUPS_MARKER = "fulfillsync_tracking"  # order meta: our fulfillments written as Shipment Tracking items
FULFILLMENT_MARKER = "_fulfillsync_id"  # core fulfillment meta: our fulfillment id
EXTRA_TRACKING = "_fulfillsync_tracking"  # core fulfillment meta: every [number, url] when there are several
WCST_META = "_wc_shipment_tracking_items"  # order meta the Shipment Tracking plugin keeps its items in
CANCELLED_STATUSES = frozenset({"cancelled", "refunded", "trash"})

TrackingApi = Literal["shipment-tracking", "fulfillments"]
_FULFILLMENTS_ROUTE = re.compile(r"^/wc/v3/orders/\(\?P<order_id>[^)]*\)/fulfillments$")
_WCST_NAMESPACE = "wc-shipment-tracking/v3"


ShapeError = PayloadError  # the JSON lacks what WooCommerce documents; the message names the field


@dataclass(frozen=True)
class TrackingItem:
    """One Shipment Tracking item as the REST API shows it."""

    tracking_id: str
    number: str
    provider: str  # display name of a predefined provider, or the custom provider's name
    link: str | None


@dataclass(frozen=True)
class CoreFulfillment:
    """One core (wc/v3) fulfillment as the REST API shows it."""

    fulfillment_id: str
    order_ref: str
    lines: tuple[FulfillmentLine, ...]
    tracking: Tracking
    is_fulfilled: bool
    updated_at: datetime
    deleted_at: datetime | None
    our_fulfillment_id: str | None


@dataclass(frozen=True)
class TrackingGroup:
    """Our record (order meta `fulfillsync_tracking`) of which Shipment Tracking items form one fulfillment."""

    tracking_ids: tuple[str, ...]
    lines: tuple[FulfillmentLine, ...]
    cancelled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"tracking_ids": list(self.tracking_ids), "cancelled": self.cancelled,
                "lines": [[line.line_ref, line.quantity] for line in self.lines]}


# -- small readers -------------------------------------------------------------------------------------------


_object = json_object
_array = json_array


def _id(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise ShapeError(f"{where}.{key} is missing or not an id")
    return str(value)


def _int(raw: Mapping[str, Any], key: str, where: str) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ShapeError(f"{where}.{key} is missing or not a number")
    try:
        number = float(value)
    except ValueError:
        raise ShapeError(f"{where}.{key} is not a number: {value!r}") from None
    if number != int(number):
        raise ShapeError(f"{where}.{key} is not a whole number: {value!r}")
    return int(number)


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return value.strip() if isinstance(value, str) else ""


def parse_gmt(value: Any, where: str) -> datetime:
    """A WordPress `*_gmt` date (`2017-03-22T19:28:08`, no offset) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise ShapeError(f"{where} is missing or not a date")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ShapeError(f"{where} is not an ISO 8601 date: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def meta_value(meta_data: Any, key: str, where: str = "meta_data") -> Any:
    """The value of the first `meta_data` entry with `key` (None when absent)."""
    for index, entry in enumerate(_array(meta_data if meta_data is not None else [], where)):
        entry = _object(entry, f"{where}[{index}]")
        if entry.get("key") == key:
            return entry.get("value")
    return None


def has_meta(meta_data: Any, key: str) -> bool:
    return isinstance(meta_data, list) and any(isinstance(e, dict) and e.get("key") == key for e in meta_data)


# -- orders --------------------------------------------------------------------------------------------------


def parse_order(raw: Any) -> PlatformOrder:
    """One order of GET /wc/v3/orders[/{id}]: lines from `line_items` (names HTML-unescaped: WordPress stores
    `&ndash;`), times from the `_gmt` fields, the shipping address from `shipping`, cancelled when the status is
    cancelled, refunded or trash."""
    order = _object(raw, "order")
    where = f"order {order.get('id', '?')}"
    lines = []
    for index, item in enumerate(_array(order.get("line_items"), f"{where}.line_items")):
        item = _object(item, f"{where}.line_items[{index}]")
        item_where = f"{where}.line_items[{index}]"
        quantity = _int(item, "quantity", item_where)
        if quantity < 0:
            raise ShapeError(f"{item_where}.quantity is negative")
        lines.append(PlatformLine(line_ref=_id(item, "id", item_where), sku=_text(item, "sku") or None,
                                  quantity=quantity, title=html.unescape(_text(item, "name")) or None))
    status = _text(order, "status")
    shipping_lines = order.get("shipping_lines") or []
    method = next((_text(line, "method_title") for line in _array(shipping_lines, f"{where}.shipping_lines")
                   if isinstance(line, dict) and _text(line, "method_title")), None)
    billing: Mapping[str, Any] = order["billing"] if isinstance(order.get("billing"), dict) else {}
    shipping: Mapping[str, Any] = order["shipping"] if isinstance(order.get("shipping"), dict) else {}
    marker = meta_value(order.get("meta_data"), ORDER_MARKER, f"{where}.meta_data")
    return PlatformOrder(
        order_ref=_id(order, "id", where), number=_text(order, "number") or None,
        updated_at=parse_gmt(order.get("date_modified_gmt"), f"{where}.date_modified_gmt"),
        created_at=parse_gmt(order["date_created_gmt"], f"{where}.date_created_gmt")
        if order.get("date_created_gmt") else None,
        lines=tuple(lines), shipping_address=parse_address(order.get("shipping"), billing),
        email=_text(billing, "email") or None,
        phone=_text(billing, "phone") or _text(shipping, "phone") or None,
        shipping_method=method, cancelled=status in CANCELLED_STATUSES,
        our_order_id=str(marker) if marker not in (None, "") else None)


def parse_orders(raw: Any) -> list[PlatformOrder]:
    """The array GET /wc/v3/orders answers."""
    return [parse_order(item) for item in _array(raw, "the orders list")]


def parse_address(raw: Any, billing: Mapping[str, Any] | None = None) -> Address | None:
    """WooCommerce's `shipping` object; None when it is empty (virtual orders). The name falls back to the
    billing name, since some checkouts leave the shipping name empty."""
    if not isinstance(raw, dict):
        return None
    lines = tuple(text for text in (_text(raw, "address_1"), _text(raw, "address_2")) if text)
    if not lines and not _text(raw, "city") and not _text(raw, "postcode"):
        return None
    name = " ".join(t for t in (_text(raw, "first_name"), _text(raw, "last_name")) if t)
    if not name and billing:
        name = " ".join(t for t in (_text(billing, "first_name"), _text(billing, "last_name")) if t)
    return Address(name=name, company=_text(raw, "company") or None, lines=lines, city=_text(raw, "city"),
                   region=_text(raw, "state") or None, postal_code=_text(raw, "postcode"),
                   country_code=_text(raw, "country").upper(), phone=_text(raw, "phone") or None)


def line_markers(raw: Any) -> dict[str, str]:
    """Our line id -> the order's line item id, from the line items' `fulfillsync_line_id` meta."""
    order = _object(raw, "order")
    found: dict[str, str] = {}
    for index, item in enumerate(_array(order.get("line_items"), "order.line_items")):
        item = _object(item, f"order.line_items[{index}]")
        marker = meta_value(item.get("meta_data") or [], LINE_MARKER, f"order.line_items[{index}].meta_data")
        if marker not in (None, ""):
            found[str(marker)] = _id(item, "id", f"order.line_items[{index}]")
    return found


# -- the seller's catalog -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogItem:
    """One product or variation of GET /wc/v3/products?sku=…, with what decides whether it can be sold: its
    status, `purchasable`, its type, and (a variation) its parent's id."""

    variant: CatalogVariant
    status: str
    purchasable: bool
    type: str
    parent_id: int


_PRICE_STEP = Decimal("0.0001")
UNSELLABLE_TYPES = frozenset({"variable", "grouped", "external"})
"""A variable product is sold as one of its variations, a grouped one as its children; an external one elsewhere."""


def parse_catalog_items(raw: Any) -> list[CatalogItem]:
    """GET /wc/v3/products (under a `sku` filter: products and variations). `price` "" is no price; stock counts
    only when managed (`manage_stock` true, or "parent" on a variation)."""
    items = []
    for index, entry in enumerate(_array(raw, "the products list")):
        where = f"products[{index}]"
        item = _object(entry, where)
        product_id = _int(item, "id", where)
        parent_id = _int(item, "parent_id", where) if item.get("parent_id") not in (None, "", 0) else 0
        kind = _text(item, "type")
        is_variation = kind == "variation"
        price = _money(item.get("price"), f"{where}.price")
        managed = item.get("manage_stock") in (True, "parent")
        quantity = item.get("stock_quantity")
        inventory = _int(item, "stock_quantity", where) if managed and quantity is not None else None
        variant = CatalogVariant(
            sku=item["sku"] if isinstance(item.get("sku"), str) else "",
            product_ref=str(parent_id if is_variation and parent_id else product_id), variant_ref=str(product_id),
            title=html.unescape(_text(item, "name")) or None, price=price, inventory=inventory)
        items.append(CatalogItem(variant=variant, status=_text(item, "status"),
                                 purchasable=item.get("purchasable") is True, type=kind,
                                 parent_id=parent_id if is_variation else 0))
    return items


def parse_statuses(raw: Any) -> dict[int, str]:
    """GET /wc/v3/products?include=…&_fields=id,status: product id -> its status."""
    found = {}
    for index, entry in enumerate(_array(raw, "the products list")):
        item = _object(entry, f"products[{index}]")
        found[_int(item, "id", f"products[{index}]")] = _text(item, "status")
    return found


def parse_currency(raw: Any) -> str:
    """GET /wc/v3/data/currencies/current: the store's ISO 4217 code. WooCommerce answers `false` (not an object)
    when the store's currency option is a code it does not know."""
    code = _object(raw, "the store's currency").get("code")
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z]{3}", code):
        raise ShapeError(f"the store's currency code is not an ISO 4217 code: {code!r}")
    return code


def catalog_lookup(skus: list[str], items: list[CatalogItem], parent_statuses: Mapping[int, str],
                   currency: str) -> CatalogLookup:
    """For each of `skus`, the sellable items whose SKU is exactly it (WooCommerce matches without case): a
    published item, purchasable, not a variable/grouped/external product, with a price, and for a variation a
    published parent (one of `parent_statuses`)."""
    variants: dict[str, list[CatalogVariant]] = {sku: [] for sku in skus}
    seen: set[str] = set()
    for item in items:
        found = variants.get(item.variant.sku)
        if found is None or item.variant.variant_ref in seen or not _sellable(item, parent_statuses):
            continue
        seen.add(item.variant.variant_ref)
        found.append(item.variant)
    return CatalogLookup(currency=currency, variants={sku: tuple(found) for sku, found in variants.items()})


def _sellable(item: CatalogItem, parent_statuses: Mapping[int, str]) -> bool:
    if item.status != "publish" or not item.purchasable or item.type in UNSELLABLE_TYPES:
        return False
    if item.variant.price is None:
        return False
    return not item.parent_id or parent_statuses.get(item.parent_id) == "publish"


def _money(value: Any, where: str) -> Decimal | None:
    """A WooCommerce price (a decimal string; "" or null: none)."""
    amount = None if value == "" else json_money(value, where)
    if amount is None:
        return None
    # our amounts keep 4 decimals; WooCommerce stores what it was given (it rounds only for display)
    return amount.quantize(_PRICE_STEP, rounding=ROUND_HALF_UP) if _places(amount) > 4 else amount


def _places(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


# -- tracking ------------------------------------------------------------------------------------------------


def parse_tracking_items(raw: Any) -> list[TrackingItem]:
    """GET …/shipment-trackings: the items, in the order the plugin keeps them."""
    items = []
    for index, item in enumerate(_array(raw, "the shipment-trackings list")):
        items.append(parse_tracking_item(_object(item, f"shipment-trackings[{index}]"),
                                         f"shipment-trackings[{index}]"))
    return items


def parse_tracking_item(raw: Any, where: str = "shipment tracking item") -> TrackingItem:
    item = _object(raw, where)
    number = _text(item, "tracking_number")
    if not number:
        raise ShapeError(f"{where}.tracking_number is missing")
    return TrackingItem(tracking_id=_id(item, "tracking_id", where), number=number,
                        provider=_text(item, "tracking_provider"), link=_text(item, "tracking_link") or None)


def tracking_of_items(items: list[TrackingItem]) -> Tracking:
    """Several Shipment Tracking items read as one fulfillment's tracking: numbers and links in item order; the
    carrier is the first item's (the ledger has one carrier per fulfillment)."""
    carrier = next((CARRIER_NAMES.to_canonical(i.provider) for i in items if i.provider), None)
    return Tracking(carrier=carrier, numbers=tuple(i.number for i in items), urls=tuple(i.link for i in items))


def parse_tracking_groups(meta_data: Any) -> dict[str, TrackingGroup]:
    """Our order meta `fulfillsync_tracking`: our fulfillment id -> its group. A damaged value reads as no groups
    (the tracking items themselves are still matched by number)."""
    value = meta_value(meta_data, GROUPS_MARKER)
    if not isinstance(value, dict):
        return {}
    groups = {}
    for our_id, group in value.items():
        try:
            ids = tuple(str(i) for i in group["tracking_ids"])
            lines = tuple(FulfillmentLine(line_ref=str(ref), quantity=int(qty)) for ref, qty in group["lines"])
            groups[str(our_id)] = TrackingGroup(ids, lines, bool(group.get("cancelled", False)))
        except (KeyError, TypeError, ValueError):
            continue
    return groups


def parse_core_fulfillment(raw: Any, where: str = "fulfillment") -> CoreFulfillment:
    """One core fulfillment: `_items` gives the lines, `_tracking_number`/`_shipping_provider`/`_tracking_url`
    the tracking (or our `_fulfillsync_tracking` list when we wrote several numbers), `date_deleted` a cancel."""
    fulfillment = _object(raw, where)
    fulfillment_id = _id(fulfillment, "id", where)
    where = f"fulfillment {fulfillment_id}"
    meta = fulfillment.get("meta_data") or []
    lines = []
    for index, entry in enumerate(_array(meta_value(meta, "_items", f"{where}.meta_data") or [],
                                         f"{where}._items")):
        entry = _object(entry, f"{where}._items[{index}]")
        lines.append(FulfillmentLine(line_ref=_id(entry, "item_id", f"{where}._items[{index}]"),
                                     quantity=_int(entry, "qty", f"{where}._items[{index}]")))
    provider = meta_value(meta, "_shipping_provider") or meta_value(meta, "_shipment_provider")
    carrier = CARRIER_NAMES.to_canonical(provider if isinstance(provider, str) else None)
    extra = meta_value(meta, EXTRA_TRACKING)
    if isinstance(extra, list) and extra and all(isinstance(e, list) and len(e) == 2 for e in extra):
        tracking = Tracking(carrier=carrier, numbers=tuple(str(n) for n, _ in extra),
                            urls=tuple(str(u) if u else None for _, u in extra))
    else:
        number = meta_value(meta, "_tracking_number")
        url = meta_value(meta, "_tracking_url")
        numbers = (str(number).strip(),) if number not in (None, "") else ()
        tracking = Tracking(carrier=carrier, numbers=numbers, urls=(str(url) if url else None,) if numbers else ())
    deleted = fulfillment.get("date_deleted")
    marker = meta_value(meta, FULFILLMENT_MARKER)
    return CoreFulfillment(
        fulfillment_id=fulfillment_id, order_ref=_id(fulfillment, "entity_id", where), lines=tuple(lines),
        tracking=tracking, is_fulfilled=bool(fulfillment.get("is_fulfilled", fulfillment.get("status") ==
                                                                   "fulfilled")),
        updated_at=parse_gmt(fulfillment.get("date_updated"), f"{where}.date_updated"),
        deleted_at=parse_gmt(deleted, f"{where}.date_deleted") if deleted else None,
        our_fulfillment_id=str(marker) if marker not in (None, "") else None)


def parse_core_fulfillments(raw: Any) -> list[CoreFulfillment]:
    return [parse_core_fulfillment(item, f"fulfillments[{index}]")
            for index, item in enumerate(_array(raw, "the fulfillments list"))]


# -- the REST index and errors -------------------------------------------------------------------------------


def tracking_api_from_index(raw: Any) -> TrackingApi | None:
    """Which tracking API the `GET /wp-json` route index offers, in this order: core fulfillments
    (route `/wc/v3/orders/(?P<order_id>…)/fulfillments`), then the Shipment Tracking namespace; None: neither."""
    index = _object(raw, "the REST index")
    routes = index.get("routes")
    if isinstance(routes, dict) and any(_FULFILLMENTS_ROUTE.match(route) for route in routes):
        return "fulfillments"
    namespaces = index.get("namespaces")
    if (isinstance(namespaces, list) and _WCST_NAMESPACE in namespaces) or (
            isinstance(routes, dict) and any(route.startswith(f"/{_WCST_NAMESPACE}/") for route in routes)):
        return "shipment-tracking"
    return None


def error_message(response: httpx.Response) -> str:
    """WooCommerce's error text: `message (code)` from `{"code", "message", "data"}`; '' for other bodies (a
    WAF's HTML page), so the HTTP layer shows the start of the body instead. Never raises."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    message, code = body.get("message"), body.get("code")
    text = message if isinstance(message, str) else ""
    params = body.get("data", {}).get("params") if isinstance(body.get("data"), dict) else None
    if isinstance(params, dict) and params:
        text += " " + "; ".join(f"{name}: {why}" for name, why in params.items())
    if isinstance(code, str) and code:
        return f"{text} ({code})" if text else code
    return text

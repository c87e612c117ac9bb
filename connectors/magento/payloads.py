"""Our types -> Magento 2 REST request bodies and searchCriteria query strings (pure functions).

Every body here matches the official Swagger schema's operation (the tests validate them against
`admin-schema-2.4.9.yaml`): `POST /V1/order/{id}/ship`, `POST /V1/shipment/track`, `POST /V1/shipment/{id}/comments`,
`POST /V1/orders/{id}/comments`, `POST /V1/orders` and `PUT /V1/products/{sku}/stockItems/{itemId}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.magento import comments, seller_notes
from connectors.magento.carriers import CARRIER_NAMES
from connectors.magento.parse import OUR_ORDER_PREFIX, UNKNOWN_CARRIER_TITLE
from schemas.platform import Address, FulfillmentRequest, NewOrder, SellerLine, Tracking

MAX_PAGE_SIZE = 300
"""Magento's input limit for `searchCriteria[pageSize]` (webapi/validation/input_limit_enabled)."""
NO_EMAIL_DOMAIN = "fulfillsync.invalid"
NO_PHONE = "n/a"
PAYMENT_METHOD = "checkmo"


@dataclass(frozen=True)
class Filter:
    """One searchCriteria filter: `field` `condition` `value` (filters of one group are OR'ed)."""

    field: str
    value: str
    condition: str = "eq"


def search_params(groups: Sequence[Sequence[Filter]], *, sort: Sequence[tuple[str, str]] = (), page_size: int,
                  page: int) -> dict[str, str]:
    """The query parameters of a `GET /V1/<entities>` search: groups AND'ed, filters in a group OR'ed.

    Raises ValueError for a page size outside 1..300 (Magento's input limit) or a page below 1."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size {page_size} is outside 1..{MAX_PAGE_SIZE} (Magento's input limit)")
    if page < 1:
        raise ValueError(f"page {page} is below 1")
    params: dict[str, str] = {}
    for g, group in enumerate(groups):
        for f, item in enumerate(group):
            prefix = f"searchCriteria[filter_groups][{g}][filters][{f}]"
            params[f"{prefix}[field]"] = item.field
            params[f"{prefix}[value]"] = item.value
            params[f"{prefix}[condition_type]"] = item.condition
    for s, (field, direction) in enumerate(sort):
        params[f"searchCriteria[sortOrders][{s}][field]"] = field
        params[f"searchCriteria[sortOrders][{s}][direction]"] = direction
    params["searchCriteria[pageSize]"] = str(page_size)
    params["searchCriteria[currentPage]"] = str(page)
    return params


def tracks(tracking: Tracking) -> list[dict[str, str]]:
    """`sales-data-shipment-track-creation-interface` entries: one per tracking number. Magento's carrier code
    and title from `CARRIER_NAMES`; no carrier at all: `custom` / `Custom Value`."""
    carrier = CARRIER_NAMES.to_platform(tracking.carrier)
    code = (carrier.code if carrier else None) or "custom"
    title = carrier.name if carrier else UNKNOWN_CARRIER_TITLE
    return [{"track_number": number, "title": title, "carrier_code": code} for number in tracking.numbers]


def ship_body(request: FulfillmentRequest) -> dict[str, Any]:
    """The body of `POST /V1/order/{orderId}/ship`: items by `order_item_id`, one track per number, and our
    comment (reference + tracking URLs), visible on the storefront and appended to the customer's email."""
    return {
        "items": [{"order_item_id": int(line.line_ref), "qty": line.quantity} for line in request.lines],
        "notify": request.notify_customer,
        "appendComment": True,
        "comment": {"comment": comments.shipped(request.our_fulfillment_id, request.tracking.numbers,
                                                request.tracking.urls),
                    "is_visible_on_front": 1},
        "tracks": tracks(request.tracking),
    }


def track_body(order_id: int, shipment_id: int, track: dict[str, str], units: int) -> dict[str, Any]:
    """The body of `POST /V1/shipment/track` adding one track to a shipment (the schema requires every field)."""
    return {"entity": {"order_id": order_id, "parent_id": shipment_id, "weight": 0, "qty": units,
                       "description": "", **track}}


def shipment_comment_body(shipment_id: int, text: str, *, visible: bool) -> dict[str, Any]:
    """The body of `POST /V1/shipment/{id}/comments`."""
    return {"entity": {"parent_id": shipment_id, "comment": text, "is_customer_notified": 0,
                       "is_visible_on_front": int(visible)}}


def order_comment_body(order_id: int, text: str) -> dict[str, Any]:
    """The body of `POST /V1/orders/{id}/comments` (admin-only, no email)."""
    return {"statusHistory": {"parent_id": order_id, "comment": text, "is_customer_notified": 0,
                              "is_visible_on_front": 0}}


def _address(address: Address | None, address_type: str, email: str, phone: str | None) -> dict[str, Any]:
    address = address or Address(name="")
    first, _, last = address.name.strip().partition(" ")
    body: dict[str, Any] = {
        "address_type": address_type, "firstname": first or "-", "lastname": last.strip() or "-",
        "street": list(address.lines) or ["-"], "city": address.city or "-", "postcode": address.postal_code or "-",
        "country_id": address.country_code or "US", "telephone": address.phone or phone or NO_PHONE,
        "email": email}
    if address.company:
        body["company"] = address.company
    if address.region:
        body["region_code"] = address.region
    return body


def order_body(order: NewOrder, currency: str) -> dict[str, Any]:
    """The body of `POST /V1/orders` for a dropship order (see the connector's docstring for why not the quote
    flow): our id in `ext_order_id` with a prefix and our line ids in `ext_order_item_id`, an offline payment
    method, the address as both billing and shipping address, amounts in `currency` (the store's base currency:
    base and order amounts are equal, rates 1).

    A line with a catalog variant is that product (`product_id`, its `sku` and `product_type`); one without is a
    custom line (`sku`, `name`, type `simple`, no product) and the order's `customer_note` names it. Every line is
    priced `unit_price` (`price`, `original_price`, `row_total` and their `base_` twins; no tax, no discount);
    `shipping_amount` is `shipping_price`; `subtotal` is the sum of the rows and `grand_total` adds shipping."""
    email = order.email or f"dropship+{order.our_order_id}@{NO_EMAIL_DOMAIN}"
    items = [_item(line) for line in order.lines]
    subtotal = sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))
    grand_total = subtotal + order.shipping_price
    shipping = _address(order.shipping_address, "shipping", email, order.phone)
    note = f"Dropship order {order.buyer_order_number or order.our_order_id} from fulfillsync"
    if order.unlinked_skus():
        note = f"{note}. {seller_notes.unlinked(order.unlinked_skus())}"
    money: dict[str, Decimal | int] = {
        "subtotal": subtotal, "base_subtotal": subtotal, "subtotal_incl_tax": subtotal,
        "base_subtotal_incl_tax": subtotal, "shipping_amount": order.shipping_price,
        "base_shipping_amount": order.shipping_price, "shipping_incl_tax": order.shipping_price,
        "base_shipping_incl_tax": order.shipping_price, "tax_amount": 0, "base_tax_amount": 0,
        "discount_amount": 0, "base_discount_amount": 0, "grand_total": grand_total,
        "base_grand_total": grand_total}
    return {"entity": {
        "ext_order_id": f"{OUR_ORDER_PREFIX}{order.our_order_id}",
        "customer_email": email, "customer_is_guest": 1,
        "customer_firstname": shipping["firstname"], "customer_lastname": shipping["lastname"],
        **{name: _amount(value) for name, value in money.items()},
        "base_currency_code": currency, "order_currency_code": currency, "store_currency_code": currency,
        "global_currency_code": currency, "base_to_order_rate": 1, "base_to_global_rate": 1,
        "store_to_base_rate": 1, "store_to_order_rate": 1,
        "total_qty_ordered": sum(line.quantity for line in order.lines),
        "state": "new", "status": "pending",
        "customer_note": note,
        "shipping_description": order.shipping_method or "Dropship",
        "items": items,
        "billing_address": {**_address(order.shipping_address, "billing", email, order.phone)},
        "payment": {"method": PAYMENT_METHOD, "account_status": "", "additional_information": [], "cc_last4": ""},
        "extension_attributes": {"shipping_assignments": [{
            "shipping": {"address": shipping, "method": "flatrate_flatrate"}, "items": items}]},
    }}


def _item(line: SellerLine) -> dict[str, Any]:
    """One `sales-data-order-item-interface`: the catalog product when the line has a variant, else custom."""
    row = line.unit_price * line.quantity
    item: dict[str, Any] = {
        "sku": line.sku or line.line_ref, "name": line.title or line.sku or line.line_ref,
        "qty_ordered": line.quantity, "product_type": "simple", "ext_order_item_id": line.line_ref,
        **{name: _amount(line.unit_price) for name in ("price", "base_price", "original_price",
                                                         "base_original_price", "price_incl_tax",
                                                         "base_price_incl_tax")},
        **{name: _amount(row) for name in ("row_total", "base_row_total", "row_total_incl_tax",
                                           "base_row_total_incl_tax")},
        "tax_amount": 0, "base_tax_amount": 0, "discount_amount": 0, "base_discount_amount": 0}
    if line.variant is not None:
        kind = dict(line.variant.options).get("type_id", "simple")  # set by catalog.parse_product
        item.update({"product_id": int(line.variant.variant_ref), "sku": line.variant.sku,
                     "name": line.title or line.variant.title or line.variant.sku,
                     "product_type": kind, "is_virtual": int(kind == "virtual")})
    return item


def _amount(value: Decimal | int) -> float | int:
    """A JSON number for an amount (Magento keeps 4 decimals)."""
    if isinstance(value, int):
        return value
    number = value.quantize(Decimal("0.0001"))
    return int(number) if number == number.to_integral_value() else float(number)


def stock_item_body(item: Mapping[str, Any], quantity: int) -> dict[str, Any]:
    """The body of `PUT /V1/products/{sku}/stockItems/{itemId}`: the stock item as Magento answered it (the schema
    requires every field) with `qty` set to `quantity`. `is_in_stock` is left as read: Magento turns it off by
    itself when the quantity falls to its minimum without backorders."""
    return {"stockItem": {**item, "qty": quantity}}

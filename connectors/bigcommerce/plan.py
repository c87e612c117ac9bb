"""What to send to BigCommerce: shipment and order bodies, built by pure functions.

BigCommerce carries ONE tracking number per shipment, so a fulfillment with n tracking numbers is written as n
shipments whose units are split so each carries at least one (the ledger guarantees numbers <= units), each
carrying our marker in `comments`. Raises `PlanError` (a ValueError) when the request cannot be written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.bigcommerce.carriers import CARRIER_NAMES
from connectors.bigcommerce.parse import ORDER_PREFIX, with_marker
from schemas.platform import Address, FulfillmentLine, NewOrder, SellerLine, Tracking

MAX_TRACKING_NUMBER = 50
MAX_TRACKING_LINK = 500


class PlanError(ValueError):
    """The request cannot be expressed on BigCommerce; the message says why and what to do."""


@dataclass(frozen=True)
class ShipmentPlan:
    """One shipment to write: its items (order_product_id -> units) and its tracking fields."""

    items: tuple[tuple[int, int], ...]
    tracking: dict[str, str]


def split_units(lines: Sequence[FulfillmentLine], parts: int) -> list[tuple[tuple[int, int], ...]]:
    """`lines` split into `parts` (>= 1) non-empty groups of units, as evenly as possible, in line order.
    Raises PlanError when there are fewer units than parts."""
    units = [int(line.line_ref) for line in lines for _ in range(line.quantity)]
    if parts > len(units):
        raise PlanError(f"{parts} tracking numbers for {len(units)} unit(s): BigCommerce needs one shipment per "
                        "tracking number and each shipment at least one unit")
    result = []
    start = 0
    for index in range(parts):
        size = len(units) // parts + (1 if index < len(units) % parts else 0)
        chunk: dict[int, int] = {}
        for line in units[start:start + size]:
            chunk[line] = chunk.get(line, 0) + 1
        result.append(tuple(chunk.items()))
        start += size
    return result


def tracking_fields(tracking: Tracking, index: int) -> dict[str, str]:
    """The shipment fields for tracking number `index` (or blank fields when there is none): a carrier
    BigCommerce knows goes into `shipping_provider` / `tracking_carrier` (it generates the link); any other goes
    into `shipping_method` by name, with the given URL as the custom `tracking_link` (the ledger has already
    built one for the carriers it knows; connectors may not import the ledger, README.md "Layout")."""
    number = tracking.numbers[index] if index < len(tracking.numbers) else ""
    url = (tracking.urls[index] if index < len(tracking.urls) else None) or ""
    if len(number) > MAX_TRACKING_NUMBER:
        raise PlanError(f"tracking number {number[:20]!r}... is {len(number)} characters; BigCommerce accepts "
                        f"at most {MAX_TRACKING_NUMBER}")
    carrier = CARRIER_NAMES.to_platform(tracking.carrier)
    fields = {"tracking_number": number, "shipping_provider": "", "tracking_carrier": "", "tracking_link": url}
    if carrier is not None and carrier.known:
        fields.update(shipping_provider=carrier.name, tracking_carrier=carrier.code or "")
    elif carrier is not None:
        fields["shipping_method"] = carrier.name
    if len(fields["tracking_link"]) > MAX_TRACKING_LINK:
        raise PlanError(f"the tracking URL of {number!r} is {len(fields['tracking_link'])} characters; "
                        f"BigCommerce accepts at most {MAX_TRACKING_LINK}")
    return fields


def plan_shipments(lines: Sequence[FulfillmentLine], tracking: Tracking) -> list[ShipmentPlan]:
    """One shipment per tracking number (one shipment when there is none)."""
    parts = max(len(tracking.numbers), 1)
    return [ShipmentPlan(items=items, tracking=tracking_fields(tracking, index))
            for index, items in enumerate(split_units(lines, parts))]


def shipment_body(plan: ShipmentPlan, order_address_id: int, our_fulfillment_id: str) -> dict[str, Any]:
    """The `POST /v2/orders/{id}/shipments` body of one planned shipment."""
    return {"order_address_id": order_address_id,
            "items": [{"order_product_id": line, "quantity": quantity} for line, quantity in plan.items],
            "comments": with_marker("", our_fulfillment_id), **plan.tracking}


def _address(address: Address, email: str | None) -> dict[str, Any]:
    first, _, last = address.name.strip().partition(" ")
    body: dict[str, Any] = {
        "first_name": first, "last_name": last, "company": address.company or "",
        "street_1": address.lines[0] if address.lines else "",
        "street_2": ", ".join(address.lines[1:]), "city": address.city, "state": address.region or "",
        "zip": address.postal_code, "country_iso2": address.country_code, "phone": address.phone or "",
        "email": email or ""}
    return body


UNLINKED_FLAG = "not products of this store's catalog"
"""Words of the `staff_notes` line that flags an order with custom lines (docs/platforms/bigcommerce.md)."""


def _amount(value: Decimal) -> float:
    """A price as the V2 body's number fields take it (four decimals at most, as Money guarantees)."""
    return float(value)


def _product(line: SellerLine) -> dict[str, Any]:
    """One `products` entry: a catalog product (`product_id` + `variant_id`; name and SKU are the catalog's) or a
    custom product (name, SKU), priced at the line's unit price with no tax on top."""
    price = _amount(line.unit_price)
    if line.variant is not None:
        if not (line.variant.product_ref.isdigit() and line.variant.variant_ref.isdigit()):
            raise PlanError(f"line {line.line_ref}: {line.variant.product_ref!r}/{line.variant.variant_ref!r} is not "
                            "a BigCommerce product and variant id")
        return {"product_id": int(line.variant.product_ref), "variant_id": int(line.variant.variant_ref),
                "quantity": line.quantity, "price_inc_tax": price, "price_ex_tax": price}
    product: dict[str, Any] = {"name": (line.title or line.sku or f"line {line.line_ref}")[:250],
                               "quantity": line.quantity, "price_inc_tax": price, "price_ex_tax": price}
    if line.sku:
        product["sku"] = line.sku
    return product


def staff_notes(order: NewOrder) -> str:
    """The order's `staff_notes`: the buyer's order number, and the flag naming the custom lines' SKUs."""
    notes = [f"Dropship order for {order.buyer_order_number}"] if order.buyer_order_number else []
    unlinked = order.unlinked_skus()
    if unlinked:
        notes.append(f"fulfillsync: {len(unlinked)} line(s) are custom products, {UNLINKED_FLAG}: "
                     f"{', '.join(unlinked)}")
    return "\n".join(notes)


def order_body(order: NewOrder) -> dict[str, Any]:
    """The `POST /v2/orders` body: a product per line (`_product`), the shipping address as billing address too,
    `shipping_price` as the shipping cost, status 11 (Awaiting Fulfillment), `external_order_id` =
    `fulfillsync:<our order id>` and `staff_notes` (`staff_notes`). Raises PlanError without an address
    (BigCommerce requires a billing address with a zip) or with a catalog line whose refs are not numeric ids."""
    if order.shipping_address is None or len(order.shipping_address.postal_code.strip()) < 2:
        raise PlanError(f"order {order.our_order_id} has no shipping address with a postal code; BigCommerce "
                        "requires a billing address with a zip of two or more characters")
    address = _address(order.shipping_address, order.email)
    shipping: dict[str, Any] = dict(address)
    if order.shipping_method:
        shipping["shipping_method"] = order.shipping_method
    cost = f"{order.shipping_price:.4f}"
    body: dict[str, Any] = {
        "status_id": 11, "external_order_id": f"{ORDER_PREFIX}{order.our_order_id}", "billing_address": address,
        "shipping_addresses": [shipping], "products": [_product(line) for line in order.lines],
        "shipping_cost_inc_tax": cost, "shipping_cost_ex_tax": cost}
    notes = staff_notes(order)
    if notes:
        body["staff_notes"] = notes
    return body


def map_lines(order: NewOrder, products: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Our line id -> order_product_id: the created products in creation (id) order, checked by SKU (a catalog
    line's product carries its variant's SKU, which is the line's: the catalog item itself may have been re-made
    since). Raises PlanError when they do not correspond (someone edited the order)."""
    ordered = sorted(products, key=lambda product: int(product["id"]))
    if len(ordered) != len(order.lines):
        raise PlanError(f"seller order for {order.our_order_id} has {len(ordered)} products, expected "
                        f"{len(order.lines)}; it was edited on the platform, map its lines by hand")
    mapping = {}
    for line, product in zip(order.lines, ordered, strict=True):
        if (line.sku or None) != (product.get("sku") or None):
            raise PlanError(f"seller order for {order.our_order_id}: product {product['id']} has SKU "
                            f"{product.get('sku')!r} where line {line.line_ref} has {line.sku!r}; it was edited on "
                            "the platform, map its lines by hand")
        mapping[line.line_ref] = str(product["id"])
    return mapping

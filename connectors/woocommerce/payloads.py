"""Our types -> WooCommerce request bodies: pure functions (the decisions are in the package docstring).

Raises PayloadError (a ValueError saying what cannot be written and what to do) when our data has no
WooCommerce form, e.g. a line whose SKU the seller's catalogue lacks.
"""

from __future__ import annotations

from typing import Any

from connectors.woocommerce.carriers import CARRIER_NAMES
from connectors.woocommerce.parse import EXTRA_TRACKING, FULFILLMENT_MARKER, LINE_MARKER, ORDER_MARKER
from schemas.platform import Address, FulfillmentLine, NewOrder, Tracking

# Core fulfillments name providers by the keys of WooCommerce's provider classes (`ups`, `fedex`...), not by
# Shipment Tracking's display names; an unknown carrier is written as its name with the tracking URL.
CORE_PROVIDERS = {"UPS": "ups", "USPS": "usps", "FedEx": "fedex", "DHL Express": "dhl", "Royal Mail": "royal-mail",
                  "Canada Post": "canada-post", "Australia Post": "australia-post", "DPD": "dpd", "GLS": "gls",
                  "PostNL": "postnl"}


class PayloadError(ValueError):
    """Our data cannot be written to WooCommerce as it is; the message says why and what to do."""


def address_json(address: Address | None, *, email: str | None = None, phone: str | None = None
                 ) -> dict[str, str]:
    """A WooCommerce `billing`/`shipping` object (the name split at the first space)."""
    body: dict[str, str] = {}
    if address is not None:
        first, _, last = address.name.strip().partition(" ")
        body = {"first_name": first, "last_name": last.strip(), "company": address.company or "",
                "address_1": address.lines[0] if address.lines else "",
                "address_2": ", ".join(address.lines[1:]), "city": address.city, "state": address.region or "",
                "postcode": address.postal_code, "country": address.country_code}
        if address.phone or phone:
            body["phone"] = address.phone or phone or ""
    if email:
        body["email"] = email
    if phone and "phone" not in body:
        body["phone"] = phone
    return body


def order_body(order: NewOrder, products: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """POST /wc/v3/orders for a seller: paid (`set_paid`, status processing), each line by product or variation
    id with our line id in its meta, our order id in the order meta. Raises PayloadError for a line without a
    SKU or with a SKU the seller's catalogue lacks."""
    line_items = []
    for line in order.lines:
        if not line.sku:
            raise PayloadError(f"line {line.line_ref} has no SKU; WooCommerce orders need a product, found by SKU")
        if line.sku not in products:
            raise PayloadError(f"no product or variation has SKU {line.sku!r} on the seller's store (line "
                               f"{line.line_ref}); add it there or fix the route's SKU pattern")
        product_id, variation_id = products[line.sku]
        item: dict[str, Any] = {"product_id": product_id, "quantity": line.quantity,
                                "meta_data": [{"key": LINE_MARKER, "value": line.line_ref}]}
        if variation_id:
            item["variation_id"] = variation_id
        line_items.append(item)
    meta = [{"key": ORDER_MARKER, "value": order.our_order_id}]
    if order.buyer_order_number:
        meta.append({"key": "fulfillsync_buyer_order_number", "value": order.buyer_order_number})
    body: dict[str, Any] = {
        "status": "processing", "set_paid": True, "line_items": line_items, "meta_data": meta,
        "billing": address_json(order.shipping_address, email=order.email, phone=order.phone),
        "shipping": address_json(order.shipping_address, phone=order.phone)}
    if order.shipping_method:
        body["shipping_lines"] = [{"method_id": "other", "method_title": order.shipping_method, "total": "0.00"}]
    return body


def _url(tracking: Tracking, index: int) -> str | None:
    """The URL given for number `index`. None is left to WooCommerce, which builds links for the providers it
    knows (the ledger has already filled in URLs for the carriers we know)."""
    return tracking.urls[index] if index < len(tracking.urls) else None


def shipment_tracking_bodies(tracking: Tracking) -> list[dict[str, Any]]:
    """POST …/shipment-trackings bodies, one per tracking number. A carrier Shipment Tracking knows is sent as
    `tracking_provider` (the plugin builds the link); any other as `custom_tracking_provider` with the URL."""
    carrier = CARRIER_NAMES.to_platform(tracking.carrier)
    bodies = []
    for index, number in enumerate(tracking.numbers):
        if carrier is not None and carrier.known:
            bodies.append({"tracking_number": number, "tracking_provider": carrier.name})
        else:
            bodies.append({"tracking_number": number, "custom_tracking_provider": carrier.name if carrier else "",
                           "custom_tracking_link": _url(tracking, index) or ""})
    return bodies


def core_fulfillment_meta(our_fulfillment_id: str, lines: tuple[FulfillmentLine, ...], tracking: Tracking
                          ) -> list[dict[str, Any]]:
    """The complete `meta_data` of a core fulfillment we write (a PUT replaces all meta, so updates send it all):
    `_items`, our id, and the first tracking number in `_tracking_number`/`_tracking_url` (what WooCommerce shows)
    with every number in `_fulfillsync_tracking` when there are several."""
    meta: list[dict[str, Any]] = [
        {"key": "_items", "value": [{"item_id": _item_id(line.line_ref), "qty": line.quantity} for line in lines]},
        {"key": FULFILLMENT_MARKER, "value": our_fulfillment_id}]
    meta += core_tracking_meta(tracking)
    return meta


def core_tracking_meta(tracking: Tracking) -> list[dict[str, Any]]:
    meta: list[dict[str, Any]] = []
    if tracking.carrier:
        meta.append({"key": "_shipping_provider", "value": CORE_PROVIDERS.get(tracking.carrier, tracking.carrier)})
    if tracking.numbers:
        meta.append({"key": "_tracking_number", "value": tracking.numbers[0]})
        url = _url(tracking, 0)
        if url:
            meta.append({"key": "_tracking_url", "value": url})
    if len(tracking.numbers) > 1:
        meta.append({"key": EXTRA_TRACKING, "value": [[number, _url(tracking, index)]
                                                      for index, number in enumerate(tracking.numbers)]})
    return meta


def _item_id(line_ref: str) -> int | str:
    return int(line_ref) if line_ref.isdigit() else line_ref

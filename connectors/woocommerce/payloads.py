"""Our types -> WooCommerce request bodies: pure functions (the decisions are in the package docstring).

Raises PayloadError (a ValueError saying what cannot be written and what to do) when our data has no
WooCommerce form, e.g. a custom line without a SKU.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.woocommerce.carriers import CARRIER_NAMES
from connectors.woocommerce.parse import (
    CUSTOM_SKU,
    EXTRA_TRACKING,
    FULFILLMENT_MARKER,
    LINE_MARKER,
    ORDER_MARKER,
    UNLINKED_MARKER,
    meta_value,
)
from schemas.platform import Address, FulfillmentLine, NewOrder, SellerLine, Tracking

OTHER_SHIPPING = "other"  # the method id of WooCommerce's "Other" shipping line (what its order screen adds)

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


def order_body(order: NewOrder) -> dict[str, Any]:
    """POST /wc/v3/orders for a seller: paid (`set_paid`, status processing: WooCommerce takes the stock of its
    products then, once), our order id (and the buyer's order number) in the order meta, our line id in each line
    item's meta. A linked line is its catalog item by `product_id` (plus `variation_id` for a variation); a custom
    line (no variant) is a line item by `sku` with its name and the SKU in a visible item meta, and the order meta
    `fulfillsync_unlinked_skus` names them. Every line is priced `unit_price` x quantity (`subtotal` = `total`, as
    strings); `shipping_price` (and the method's title) goes as one "Other" shipping line; `currency` when given.
    Raises PayloadError for a custom line without a SKU or a variant whose refs are not WooCommerce ids."""
    meta = [{"key": ORDER_MARKER, "value": order.our_order_id}]
    if order.buyer_order_number:
        meta.append({"key": "fulfillsync_buyer_order_number", "value": order.buyer_order_number})
    unlinked = order.unlinked_skus()
    if unlinked:
        meta.append({"key": UNLINKED_MARKER, "value": ", ".join(unlinked)})
    body: dict[str, Any] = {
        "status": "processing", "set_paid": True, "line_items": [_line_item(line) for line in order.lines],
        "meta_data": meta, "billing": address_json(order.shipping_address, email=order.email, phone=order.phone),
        "shipping": address_json(order.shipping_address, phone=order.phone)}
    if order.currency:
        body["currency"] = order.currency
    if order.shipping_method or order.shipping_price > 0:
        body["shipping_lines"] = [{"method_id": OTHER_SHIPPING, "method_title": order.shipping_method or "Shipping",
                                   "total": amount(order.shipping_price)}]
    return body


def _line_item(line: SellerLine) -> dict[str, Any]:
    total = amount(line.unit_price * line.quantity)
    item: dict[str, Any] = {"quantity": line.quantity, "subtotal": total, "total": total,
                            "meta_data": [{"key": LINE_MARKER, "value": line.line_ref}]}
    if line.variant is not None:
        product_id, variation_id = _ids(line)
        item["product_id"] = product_id
        if variation_id:
            item["variation_id"] = variation_id
        return item
    if not line.sku:
        raise PayloadError(f"line {line.line_ref} has neither a catalog item nor a SKU; a WooCommerce line item "
                           "needs one of them")
    item.update(sku=line.sku, name=line.title or line.sku)
    item["meta_data"].append({"key": CUSTOM_SKU, "value": line.sku})
    return item


def _ids(line: SellerLine) -> tuple[int, int]:
    """(product id, variation id or 0) of a linked line's variant."""
    assert line.variant is not None
    product, variant = line.variant.product_ref, line.variant.variant_ref
    if not (product.isascii() and product.isdigit() and variant.isascii() and variant.isdigit()):
        raise PayloadError(f"line {line.line_ref}: catalog item {variant!r} of product {product!r} is not a "
                           "WooCommerce product or variation id")
    return int(product), (int(variant) if variant != product else 0)


def amount(value: Decimal) -> str:
    """An amount as WooCommerce takes it: a decimal string, two decimals at least (`4.90`, `12.5000`)."""
    exponent = value.as_tuple().exponent
    return f"{value:f}" if isinstance(exponent, int) and exponent < -2 else f"{value:.2f}"


def lines_without_product(order: NewOrder, created: Mapping[str, Any]) -> tuple[str, ...]:
    """The SKUs of `order`'s linked lines that the created order holds without a product: WooCommerce does not
    refuse a product id it no longer has (a product deleted since the catalog was read), it makes the item a
    product-less one. Lines are matched by our line marker; a line not found is not reported here."""
    items = {str(meta_value(item.get("meta_data") or [], LINE_MARKER)): item
             for item in created.get("line_items") or [] if isinstance(item, dict)}
    lost = []
    for line in order.lines:
        item = items.get(line.line_ref)
        if line.variant is not None and item is not None and item.get("product_id") in (0, "0", None):
            lost.append(line.sku or line.line_ref)
    return tuple(lost)


def unlinked_note(our_order_id: str, skus: tuple[str, ...]) -> str:
    """The order note naming the lines that are not the store's products, ending with our order id."""
    return (f"fulfillsync: not sellable items of this store's catalog, sent as custom lines at the agreed price: "
            f"SKU {', '.join(skus)} [order fulfillsync:{our_order_id}]")


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

"""`orderCreate`'s input for a seller order (`create_order_input`, `CREATE_OPTIONS`): pure, no I/O.

What the seller's shop gets (decisions; docs/platforms/shopify.md says it for operators):
- a line linked to the seller's catalog (`SellerLine.variant`) is a `variantId` line item: Shopify takes the
  product's title and the variant's SKU, and moves the variant's inventory (`CREATE_OPTIONS`);
- a line without one is a custom line item (title, SKU), as before the catalog was read, and the order is
  flagged: the tag `CUSTOM_LINES_TAG` and a note naming the SKUs, so the seller sees lines that are not its
  products (they move no inventory and fulfillment apps cannot pick them by product);
- every line is priced at `unit_price` (`priceSet.shopMoney`, in the order's currency: the shop's);
- `shipping_price` above 0 is one shipping line titled the buyer's shipping method (else "Shipping"); at 0 a free
  shipping line still names the method when there is one, and there is none when there is no method;
- no transaction: the order is payment-pending, what the buyer owes the seller (settled outside Shopify);
- our references: `sourceIdentifier` (searchable, how a retry finds the order), the custom attribute
  `fulfillsync_order_id`, the `fulfillsync` tag, `poNumber` (the buyer's order number), the `Shipping method`
  attribute, and a `_fulfillsync_line` property on each line (underscore properties are hidden from customers).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.shopify.parse import LINE_MARKER, ORDER_MARKER, ORDER_TAG, SHIPPING_METHOD, mailing_address
from schemas.platform import NewOrder, SellerLine

CUSTOM_LINES_TAG = "fulfillsync-custom-lines"
"""Tag of a seller order holding custom lines (SKUs the seller's catalog lacked)."""
MAX_NOTE_SKUS = 50
"""The note names at most this many SKUs (then says how many more)."""

CREATE_OPTIONS: dict[str, Any] = {
    "sendReceipt": False, "sendFulfillmentReceipt": False,
    # The sale already happened on the buyer's store: claim the units even past a "do not oversell" policy
    # (the seller sees a negative count to restock) rather than refuse an order that must ship.
    "inventoryBehaviour": "DECREMENT_IGNORING_POLICY",
}
"""`OrderCreateOptionsInput`: never email the buyer's customer from the seller's shop; inventory claimed."""


def create_order_input(order: NewOrder, currency: str) -> dict[str, Any]:
    """`OrderCreateOrderInput` for `order`, priced in `currency` (the shop's; module docstring for the rest)."""
    attributes = [{"key": ORDER_MARKER, "value": order.our_order_id}]
    if order.shipping_method:
        attributes.append({"key": SHIPPING_METHOD, "value": order.shipping_method})
    unlinked = order.unlinked_skus()
    result: dict[str, Any] = {
        "sourceIdentifier": order.our_order_id, "tags": [ORDER_TAG, *([CUSTOM_LINES_TAG] if unlinked else [])],
        "customAttributes": attributes, "lineItems": [_line(line, currency) for line in order.lines],
    }
    if unlinked:
        named = ", ".join(unlinked[:MAX_NOTE_SKUS])
        more = f" and {len(unlinked) - MAX_NOTE_SKUS} more" if len(unlinked) > MAX_NOTE_SKUS else ""
        result["note"] = (f"fulfillsync: custom lines, not products of this store (SKU not in the catalog): "
                          f"{named}{more}")
    if order.shipping_price > 0 or order.shipping_method:
        result["shippingLines"] = [{"title": order.shipping_method or "Shipping",
                                    "priceSet": money_bag(order.shipping_price, currency)}]
    if order.buyer_order_number:
        result["poNumber"] = order.buyer_order_number
    if order.email:
        result["email"] = order.email
    if order.phone:
        result["phone"] = order.phone
    if order.shipping_address is not None:
        result["shippingAddress"] = mailing_address(order.shipping_address)
    return result


def _line(line: SellerLine, currency: str) -> dict[str, Any]:
    properties = [{"name": LINE_MARKER, "value": line.line_ref}]
    price = money_bag(line.unit_price, currency)
    if line.variant is not None:
        return {"variantId": line.variant.variant_ref, "quantity": line.quantity, "priceSet": price,
                "properties": properties}
    return {"title": line.title or line.sku or line.line_ref, "sku": line.sku, "quantity": line.quantity,
            "requiresShipping": True, "priceSet": price, "properties": properties}


def money_bag(amount: Decimal, currency: str) -> dict[str, Any]:
    """`MoneyBagInput` in the shop's money (no presentment currency: the same as the shop's)."""
    return {"shopMoney": {"amount": format(amount, "f"), "currencyCode": currency}}

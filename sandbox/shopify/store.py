"""The simulated Shopify store's state as plain Python: orders, line items, fulfillment orders, fulfillments.

Everything here is what a merchant (or Shopify itself) would do to a shop, independent of GraphQL: the API
layer (`sandbox.shopify.resolvers`) and the admin routes call these methods. Ids are Shopify GIDs
(`gid://shopify/Order/1001`); the numeric tail is the `legacyResourceId`.

Behaviour copied from the real platform (Shopify's Admin API documentation and captured sessions):
- placing an order opens one fulfillment order (FO) at the shop location covering every line;
- a fulfillment is created against FO line items and lowers their `remainingQuantity`; an FO whose units are all
  fulfilled is CLOSED;
- cancelling a fulfillment gives its units back: as on Shopify (cancel-parity capture) a new OPEN FO holds them;
- every change bumps the order's `updatedAt` (and the fulfillment's), which the `updated_at` search filter sees;
- cancelling an order closes its open FOs; a cancelled order cannot be fulfilled;
- a fully fulfilled order is closed (archived), and reopened when a cancel uncovers it again;
- a line item of a product variant (`orderCreate` `variantId`) takes its title, SKU and default price from the
  variant (`sandbox.shopify.catalog`); an unknown variant is refused (`order.lineItems.<i>.variantId`, code
  INVALID; the message text is assumed). Prices (`priceSet.shopMoney`) must be in the order's currency (the
  shop's unless `currency` says otherwise: the sandbox refuses a mismatch, which Shopify's documentation does not
  describe). Inventory moves as `options.inventoryBehaviour` says (`sandbox.shopify.catalog`); cancelling an
  order or removing units with `restock` gives the unfulfilled units of variant lines back;
- metafields on orders (`metafieldsSet`): keys of 2-64 and namespaces of 3-255 letters, digits, `-` and `_`, a
  type required for a new metafield (no definitions here), `json` values must parse and stay within 128 KB (the
  limit for apps since 2026), at most 25 per call, all or nothing; `compareDigest` is honoured. Setting one bumps
  the order's `updatedAt` (unverified on a live shop: at worst the sandbox shows a poll one more change).

Failure: the mutating methods raise `StoreError` with Shopify's user-error field path and message; callers turn it
into `userErrors` (GraphQL) or a 422 (admin routes).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import count

from sandbox.common import Clock
from sandbox.shopify.catalog import DEFAULT_VARIANT_TITLE, INVENTORY_BEHAVIOURS, Catalog


class StoreError(Exception):
    """A request the shop refuses; `field` is the input path Shopify would name in `userErrors`, `code` its error
    code where the mutation's user errors have one."""

    def __init__(self, message: str, field: Sequence[str] = (), code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = list(field)
        self.code = code


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: str, kind: str) -> int | None:
    """The numeric id of a GID of `kind`, or None when `value` is not one."""
    prefix = f"gid://shopify/{kind}/"
    if not value.startswith(prefix):
        return None
    tail = value[len(prefix):].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


@dataclass
class LineItem:
    id: int
    title: str
    sku: str | None
    quantity: int
    current_quantity: int
    custom_attributes: list[tuple[str, str | None]] = field(default_factory=list)
    unit_price: Decimal = Decimal(0)
    variant_id: int | None = None  # None: a custom line item
    product_id: int | None = None
    variant_title: str | None = None


@dataclass(frozen=True)
class ShippingLine:
    title: str
    price: Decimal = Decimal(0)
    code: str | None = None


@dataclass
class FulfillmentOrderLine:
    id: int
    line_item_id: int
    total_quantity: int
    remaining_quantity: int


@dataclass
class FulfillmentOrder:
    id: int
    order_id: int
    status: str  # OPEN, IN_PROGRESS, CLOSED, CANCELLED...
    created_at: datetime
    updated_at: datetime
    lines: list[FulfillmentOrderLine]


@dataclass
class TrackingInfo:
    company: str | None
    number: str | None
    url: str | None


@dataclass
class FulfillmentLine:
    id: int
    line_item_id: int
    quantity: int
    fulfillment_order_line_id: int


@dataclass
class Fulfillment:
    id: int
    order_id: int
    status: str  # SUCCESS, CANCELLED
    created_at: datetime
    updated_at: datetime
    lines: list[FulfillmentLine]
    tracking: list[TrackingInfo]
    notify_customer: bool = False


@dataclass
class Metafield:
    id: int
    namespace: str
    key: str
    type: str
    value: str
    created_at: datetime
    updated_at: datetime

    def digest(self) -> str:
        """`compareDigest`: opaque on Shopify; here a hash of the value."""
        return hashlib.sha256(self.value.encode()).hexdigest()


METAFIELD_TYPES = frozenset({"json", "single_line_text_field", "multi_line_text_field", "number_integer",
                             "boolean"})
"""The metafield types the sandbox knows; Shopify has more, none of which fulfillsync writes."""
MAX_JSON_METAFIELD = 128 * 1024
_METAFIELD_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class MetafieldInput:
    """One entry of `metafieldsSet`. `compare_digest`: absent (no check), None (must not exist yet), or the
    digest read before."""

    owner_id: str
    namespace: str
    key: str
    value: str
    type: str | None = None
    compare_digest: str | None = None
    check_digest: bool = False


@dataclass
class Order:
    id: int
    name: str
    created_at: datetime
    updated_at: datetime
    line_items: list[LineItem]
    currency: str = "USD"
    email: str | None = None
    phone: str | None = None
    shipping_address: dict[str, str | None] | None = None
    shipping_lines: list[ShippingLine] = field(default_factory=list)
    inventory_behaviour: str = "BYPASS"
    source_identifier: str | None = None
    source_name: str | None = None
    po_number: str | None = None
    note: str | None = None
    tags: list[str] = field(default_factory=list)
    custom_attributes: list[tuple[str, str | None]] = field(default_factory=list)
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    fulfillment_orders: list[FulfillmentOrder] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)
    metafields: dict[tuple[str, str], Metafield] = field(default_factory=dict)

    def line(self, line_item_id: int) -> LineItem | None:
        return next((line for line in self.line_items if line.id == line_item_id), None)

    @property
    def shipping_title(self) -> str | None:
        """`Order.shippingLine.title`: the first shipping line's."""
        return self.shipping_lines[0].title if self.shipping_lines else None

    def subtotal(self) -> Decimal:
        """What the lines' current units cost (`currentSubtotalPriceSet`; no discounts or taxes here)."""
        return sum((line.unit_price * line.current_quantity for line in self.line_items), Decimal(0))

    def shipping(self) -> Decimal:
        return sum((line.price for line in self.shipping_lines), Decimal(0))

    def display_fulfillment_status(self) -> str:
        fulfilled: dict[int, int] = {}
        for fulfillment in self.fulfillments:
            if fulfillment.status == "SUCCESS":
                for line in fulfillment.lines:
                    fulfilled[line.line_item_id] = fulfilled.get(line.line_item_id, 0) + line.quantity
        wanted = sum(line.current_quantity for line in self.line_items)
        done = sum(min(fulfilled.get(line.id, 0), line.current_quantity) for line in self.line_items)
        if done == 0:
            return "UNFULFILLED"
        return "FULFILLED" if done >= wanted else "PARTIALLY_FULFILLED"


@dataclass
class OrderEdit:
    """An order editing session (`orderEditBegin`): quantities staged per line item id until committed."""

    id: int
    order_id: int
    staged: dict[int, int] = field(default_factory=dict)
    restock: set[int] = field(default_factory=set)  # line item ids whose removed units go back to inventory
    committed: bool = False


@dataclass(frozen=True)
class NewLine:
    """A line of an order being placed as `orderCreate` takes it: a custom line item (title, SKU), or a product
    variant's (`variant_id`; title and SKU then come from the variant). `price` (None: the variant's price, 0 for
    a custom line) is in `price_currency` (None: the order's)."""

    title: str
    quantity: int
    sku: str | None = None
    properties: tuple[tuple[str, str | None], ...] = ()
    variant_id: int | None = None
    price: Decimal | None = None
    price_currency: str | None = None


@dataclass(frozen=True)
class FulfillmentItem:
    """Units of one FO line item to fulfill."""

    fulfillment_order_line_id: int
    quantity: int


class ShopifyStore:
    """One shop's orders. Not thread-safe (one event loop serves it)."""

    def __init__(self, clock: Clock, name: str = "sandbox", currency: str = "USD") -> None:
        self.clock = clock
        self.name = name
        self.currency = currency
        self.orders: dict[int, Order] = {}
        self.edits: dict[int, OrderEdit] = {}
        self._ids = count(1001)
        self._order_numbers = count(1001)
        self.catalog = Catalog(self._ids, self._now)

    # -- lookups -------------------------------------------------------------------------------------------

    def order(self, order_id: int) -> Order | None:
        return self.orders.get(order_id)

    def fulfillment(self, fulfillment_id: int) -> tuple[Order, Fulfillment] | None:
        for order in self.orders.values():
            for fulfillment in order.fulfillments:
                if fulfillment.id == fulfillment_id:
                    return order, fulfillment
        return None

    def fulfillment_order(self, fulfillment_order_id: int) -> tuple[Order, FulfillmentOrder] | None:
        for order in self.orders.values():
            for fulfillment_order in order.fulfillment_orders:
                if fulfillment_order.id == fulfillment_order_id:
                    return order, fulfillment_order
        return None

    # -- merchant and customer actions ---------------------------------------------------------------------

    def place_order(self, lines: Iterable[NewLine], *, email: str | None = None, phone: str | None = None,
                    shipping_address: dict[str, str | None] | None = None, shipping_title: str | None = None,
                    shipping_lines: Sequence[ShippingLine] = (), currency: str | None = None,
                    inventory_behaviour: str = "BYPASS", source_identifier: str | None = None,
                    source_name: str | None = None, po_number: str | None = None, note: str | None = None,
                    tags: Iterable[str] = (), custom_attributes: Iterable[tuple[str, str | None]] = ()) -> Order:
        """An order as a customer (storefront) or `orderCreate` places it, with one open FO for all lines, in
        `currency` (None: the shop's); `shipping_title` is a free shipping line of that title. Variant lines claim
        inventory as `inventory_behaviour` says. Raises StoreError (nothing changed) when there is no line, a
        quantity is not positive, a variant is unknown, a price is in another currency than the order's, or the
        inventory cannot be claimed."""
        currency = currency or self.currency
        if inventory_behaviour not in INVENTORY_BEHAVIOURS:
            raise StoreError(f"Inventory behaviour {inventory_behaviour!r} is not valid",
                             ["options", "inventoryBehaviour"], "INVALID")
        line_items = [self._line_item(index, line, currency) for index, line in enumerate(lines)]
        if not line_items:
            raise StoreError("Line items must have at least one line item", ["order", "lineItems"])
        shipping = list(shipping_lines) or ([ShippingLine(shipping_title)] if shipping_title else [])
        if inventory_behaviour != "BYPASS":
            wanted: dict[int, int] = {}
            for line in line_items:
                if line.variant_id is not None:
                    wanted[line.variant_id] = wanted.get(line.variant_id, 0) + line.quantity
            short = [variant for variant, units in wanted.items()
                     if not self.catalog.can_claim(variant, units, inventory_behaviour)]
            if short:
                raise StoreError(f"Unable to claim inventory for {', '.join(gid('ProductVariant', v) for v in short)}"
                                 ": not enough units and the variant's inventory policy denies overselling",
                                 ["order", "lineItems"], "INVENTORY_CLAIM_FAILED")
            for variant, units in wanted.items():
                self.catalog.claim(variant, units)
        now = self._now()
        order = Order(id=next(self._ids), name=f"#{next(self._order_numbers)}", created_at=now, updated_at=now,
                      line_items=line_items, currency=currency, email=email, phone=phone,
                      shipping_address=shipping_address, shipping_lines=shipping,
                      inventory_behaviour=inventory_behaviour, source_identifier=source_identifier,
                      source_name=source_name, po_number=po_number, note=note, tags=sorted(set(tags)),
                      custom_attributes=list(custom_attributes))
        order.fulfillment_orders.append(self._new_fulfillment_order(
            order, [(line.id, line.quantity) for line in line_items]))
        self.orders[order.id] = order
        return order

    def _line_item(self, index: int, line: NewLine, currency: str) -> LineItem:
        """A new order's line item (not yet numbered in the order). Raises StoreError as `place_order`."""
        where = ["order", "lineItems", str(index)]
        if line.quantity < 1:
            raise StoreError("Quantity must be greater than or equal to 1", [*where, "quantity"], "INVALID")
        if line.price_currency is not None and line.price_currency != currency:
            raise StoreError(f"Price currency {line.price_currency} does not match the order currency {currency}",
                             [*where, "priceSet", "shopMoney", "currencyCode"], "INVALID")
        if line.price is not None and line.price < 0:
            raise StoreError("Price can't be negative", [*where, "priceSet", "shopMoney", "amount"], "INVALID")
        if line.variant_id is not None:
            found = self.catalog.variant(line.variant_id)
            if found is None:
                raise StoreError(f"The product variant {gid('ProductVariant', line.variant_id)} does not exist",
                                 [*where, "variantId"], "INVALID")
            product, variant = found
            return LineItem(id=next(self._ids), title=product.title, sku=variant.sku, quantity=line.quantity,
                            current_quantity=line.quantity, custom_attributes=list(line.properties),
                            unit_price=variant.price if line.price is None else line.price, variant_id=variant.id,
                            product_id=product.id,
                            variant_title=None if variant.title == DEFAULT_VARIANT_TITLE else variant.title)
        if not line.title.strip():
            raise StoreError("Title can't be blank", [*where, "title"], "INVALID")
        return LineItem(id=next(self._ids), title=line.title, sku=line.sku, quantity=line.quantity,
                        current_quantity=line.quantity, custom_attributes=list(line.properties),
                        unit_price=line.price or Decimal(0))

    def fulfill(self, fulfillment_order_items: dict[int, list[FulfillmentItem] | None], *,
                tracking: Sequence[TrackingInfo] = (), notify_customer: bool = False) -> tuple[Order, Fulfillment]:
        """Create one fulfillment: for each FO id the items to fulfill (None: every remaining unit of that FO).
        Raises StoreError (as `fulfillmentCreate` would) for an unknown, closed or foreign FO or line item, or a
        quantity above what remains."""
        if not fulfillment_order_items:
            raise StoreError("Line items by fulfillment order can't be blank",
                             ["fulfillment", "lineItemsByFulfillmentOrder"])
        order: Order | None = None
        taken: list[tuple[FulfillmentOrder, FulfillmentOrderLine, int]] = []
        for index, (fo_id, items) in enumerate(fulfillment_order_items.items()):
            where = ["fulfillment", "lineItemsByFulfillmentOrder", str(index)]
            found = self.fulfillment_order(fo_id)
            if found is None:
                raise StoreError("Fulfillment order does not exist.", [*where, "fulfillmentOrderId"])
            fo_order, fulfillment_order = found
            if order is not None and fo_order.id != order.id:
                raise StoreError("All fulfillment orders must belong to the same order.", where)
            order = fo_order
            if order.cancelled_at is not None or fulfillment_order.status not in ("OPEN", "IN_PROGRESS"):
                raise StoreError(f"Fulfillment order {gid('FulfillmentOrder', fo_id)} has an unfulfillable status= "
                                 f"{fulfillment_order.status.lower()}.", [*where, "fulfillmentOrderId"])
            if items is None:
                taken += [(fulfillment_order, line, line.remaining_quantity)
                          for line in fulfillment_order.lines if line.remaining_quantity > 0]
                continue
            for item_index, item in enumerate(items):
                line = next((line for line in fulfillment_order.lines if line.id == item.fulfillment_order_line_id),
                            None)
                item_where = [*where, "fulfillmentOrderLineItems", str(item_index)]
                if line is None:
                    raise StoreError("Fulfillment order line item does not exist.", [*item_where, "id"])
                already = sum(quantity for _, taken_line, quantity in taken if taken_line is line)
                if item.quantity < 1 or already + item.quantity > line.remaining_quantity:
                    raise StoreError(f"Invalid fulfillment order line item quantity requested: {item.quantity} "
                                     f"(remaining {line.remaining_quantity - already}).", [*item_where, "quantity"])
                taken.append((fulfillment_order, line, item.quantity))
        if order is None or not taken:
            raise StoreError("No fulfillable line items.", ["fulfillment", "lineItemsByFulfillmentOrder"])
        now = self._now()
        lines = []
        for fulfillment_order, fo_line, quantity in taken:
            fo_line.remaining_quantity -= quantity
            fulfillment_order.updated_at = now
            if all(line.remaining_quantity == 0 for line in fulfillment_order.lines):
                fulfillment_order.status = "CLOSED"
            lines.append(FulfillmentLine(id=next(self._ids), line_item_id=fo_line.line_item_id, quantity=quantity,
                                         fulfillment_order_line_id=fo_line.id))
        fulfillment = Fulfillment(id=next(self._ids), order_id=order.id, status="SUCCESS", created_at=now,
                                  updated_at=now, lines=lines, tracking=list(tracking),
                                  notify_customer=notify_customer)
        order.fulfillments.append(fulfillment)
        self._touch(order)
        return order, fulfillment

    def fulfill_lines(self, order_id: int, quantities: dict[int, int] | None, *,
                      tracking: Sequence[TrackingInfo] = ()) -> Fulfillment:
        """The merchant's "fulfill items" button: units per order line item id (None: everything left), taken
        from whichever open FOs hold them. Raises StoreError for unknown lines or too many units."""
        order = self._existing_order(order_id)
        plan: dict[int, list[FulfillmentItem] | None] = {}
        wanted = dict(quantities) if quantities is not None else None
        for fulfillment_order in order.fulfillment_orders:
            if fulfillment_order.status not in ("OPEN", "IN_PROGRESS"):
                continue
            for line in fulfillment_order.lines:
                left = line.remaining_quantity if wanted is None else min(
                    wanted.get(line.line_item_id, 0), line.remaining_quantity)
                if left > 0:
                    items = plan.setdefault(fulfillment_order.id, [])
                    assert items is not None
                    items.append(FulfillmentItem(line.id, left))
                    if wanted is not None:
                        wanted[line.line_item_id] -= left
        if wanted is not None:
            short = {line_id: left for line_id, left in wanted.items() if left > 0}
            if short:
                raise StoreError(f"Not enough unfulfilled units for line items {short}", ["lineItems"])
        return self.fulfill(plan, tracking=tracking)[1]

    def update_tracking(self, fulfillment_id: int, tracking: Sequence[TrackingInfo]) -> Fulfillment:
        """Replace a fulfillment's tracking (`fulfillmentTrackingInfoUpdate`). Raises StoreError when the
        fulfillment does not exist or is cancelled."""
        order, fulfillment = self._existing_fulfillment(fulfillment_id)
        if fulfillment.status == "CANCELLED":
            raise StoreError("Fulfillment has been cancelled and cannot be updated.", ["fulfillmentId"])
        fulfillment.tracking = list(tracking)
        fulfillment.updated_at = self._now()
        self._touch(order)
        return fulfillment

    def cancel_fulfillment(self, fulfillment_id: int) -> Fulfillment:
        """Cancel a fulfillment (`fulfillmentCancel`); its units go to a new OPEN FO. Raises StoreError when it
        does not exist or is already cancelled."""
        order, fulfillment = self._existing_fulfillment(fulfillment_id)
        if fulfillment.status == "CANCELLED":
            raise StoreError("Fulfillment has already been cancelled.", ["id"])
        fulfillment.status = "CANCELLED"
        fulfillment.updated_at = self._now()
        if order.cancelled_at is None:
            order.fulfillment_orders.append(self._new_fulfillment_order(
                order, [(line.line_item_id, line.quantity) for line in fulfillment.lines]))
        self._touch(order)
        return fulfillment

    def cancel_order(self, order_id: int, *, restock: bool = False) -> Order:
        """Cancel the order (`orderCancel`): open FOs close; `restock` gives the unfulfilled units of variant
        lines back to inventory. Raises StoreError when already cancelled."""
        order = self._existing_order(order_id)
        if order.cancelled_at is not None:
            raise StoreError("Order has already been cancelled.", ["orderId"])
        if restock:
            for line in order.line_items:
                if line.variant_id is not None:
                    self.catalog.restock(line.variant_id, max(line.current_quantity
                                                              - self.fulfilled_units(order, line.id), 0))
        now = self._now()
        order.cancelled_at = now
        for fulfillment_order in order.fulfillment_orders:
            if fulfillment_order.status in ("OPEN", "IN_PROGRESS", "SCHEDULED", "ON_HOLD"):
                fulfillment_order.status = "CLOSED"
                fulfillment_order.updated_at = now
        self._touch(order)
        return order

    def remove_units(self, order_id: int, line_item_id: int, quantity: int, *, restock: bool = False) -> Order:
        """An order edit that removes unfulfilled units of a line (`currentQuantity` drops); `restock` gives them
        back to a variant line's inventory. Raises StoreError when the line does not exist or has fewer
        unfulfilled units."""
        order = self._existing_order(order_id)
        line = order.line(line_item_id)
        if line is None:
            raise StoreError("Line item does not exist.", ["lineItemId"])
        open_lines = [fo_line for fo in order.fulfillment_orders if fo.status in ("OPEN", "IN_PROGRESS")
                      for fo_line in fo.lines if fo_line.line_item_id == line_item_id]
        if quantity < 1 or quantity > sum(fo_line.remaining_quantity for fo_line in open_lines):
            raise StoreError("Quantity exceeds the unfulfilled units of the line item.", ["quantity"])
        line.current_quantity -= quantity
        if restock and line.variant_id is not None:
            self.catalog.restock(line.variant_id, quantity)
        left = quantity
        for fo_line in open_lines:
            taken = min(left, fo_line.remaining_quantity)
            fo_line.remaining_quantity -= taken
            fo_line.total_quantity -= taken
            left -= taken
        self._touch(order)
        return order

    def fulfilled_units(self, order: Order, line_item_id: int) -> int:
        return sum(item.quantity for fulfillment in order.fulfillments if fulfillment.status == "SUCCESS"
                   for item in fulfillment.lines if item.line_item_id == line_item_id)

    def begin_edit(self, order_id: int) -> OrderEdit:
        """`orderEditBegin`. Raises StoreError for an unknown or cancelled order."""
        order = self._existing_order(order_id)
        if order.cancelled_at is not None:
            raise StoreError("The order cannot be edited: it is cancelled.", ["id"])
        edit = OrderEdit(id=next(self._ids), order_id=order_id)
        self.edits[edit.id] = edit
        return edit

    def stage_quantity(self, edit_id: int, line_item_id: int, quantity: int,
                       restock: bool = False) -> tuple[OrderEdit, LineItem]:
        """`orderEditSetQuantity`: only down, and not below the units already fulfilled (Shopify edits unfulfilled
        units; adding units is not simulated); `restock`: the removed units go back to inventory on commit.
        Raises StoreError otherwise."""
        edit = self._open_edit(edit_id)
        order = self._existing_order(edit.order_id)
        line = order.line(line_item_id)
        if line is None:
            raise StoreError("Line item does not exist.", ["lineItemId"])
        if quantity < 0 or quantity > line.current_quantity:
            raise StoreError("Quantity must be between 0 and the current quantity in this sandbox.", ["quantity"])
        if quantity < self.fulfilled_units(order, line_item_id):
            raise StoreError("Quantity cannot be lower than the fulfilled quantity.", ["quantity"])
        edit.staged[line_item_id] = quantity
        if restock:
            edit.restock.add(line_item_id)
        else:
            edit.restock.discard(line_item_id)
        return edit, line

    def commit_edit(self, edit_id: int) -> Order:
        """`orderEditCommit`: the staged quantities become the lines' current quantities (their open fulfillment
        order units go with them). Raises StoreError for an unknown or committed edit."""
        edit = self._open_edit(edit_id)
        order = self._existing_order(edit.order_id)
        for line_item_id, quantity in sorted(edit.staged.items()):
            line = order.line(line_item_id)
            if line is not None and quantity < line.current_quantity:
                self.remove_units(order.id, line_item_id, line.current_quantity - quantity,
                                  restock=line_item_id in edit.restock)
        edit.committed = True
        return order

    def _open_edit(self, edit_id: int) -> OrderEdit:
        edit = self.edits.get(edit_id)
        if edit is None or edit.committed:
            raise StoreError("The order edit does not exist or was already committed.", ["id"])
        return edit

    # -- helpers -------------------------------------------------------------------------------------------

    def _new_fulfillment_order(self, order: Order, lines: list[tuple[int, int]]) -> FulfillmentOrder:
        now = self._now()
        return FulfillmentOrder(
            id=next(self._ids), order_id=order.id, status="OPEN", created_at=now, updated_at=now,
            lines=[FulfillmentOrderLine(id=next(self._ids), line_item_id=line_id, total_quantity=quantity,
                                        remaining_quantity=quantity) for line_id, quantity in lines])

    def set_metafields(self, entries: Sequence[MetafieldInput]) -> list[Metafield]:
        """`metafieldsSet` on orders: every entry is checked before any is written (all or nothing). Raises
        StoreError (field path `metafields.<index>.<input field>`, Shopify's code) for the first refused one."""
        if len(entries) > 25:
            raise StoreError("Exceeded the maximum metafields input limit of 25.", ["metafields"],
                             "LESS_THAN_OR_EQUAL_TO")
        checked: list[tuple[Order, MetafieldInput, Metafield | None]] = []
        for index, entry in enumerate(entries):
            where = ["metafields", str(index)]
            number = gid_number(entry.owner_id, "Order")
            order = self.orders.get(number) if number is not None else None
            if order is None:
                raise StoreError("Owner does not exist.", [*where, "ownerId"], "INVALID")
            for name, value, low in (("namespace", entry.namespace, 3), ("key", entry.key, 2)):
                high = 255 if name == "namespace" else 64
                if len(value) < low:
                    raise StoreError(f"{name.capitalize()} is too short (minimum is {low} characters)",
                                     [*where, name], "TOO_SHORT")
                if len(value) > high:
                    raise StoreError(f"{name.capitalize()} is too long (maximum is {high} characters)",
                                     [*where, name], "TOO_LONG")
                if not _METAFIELD_NAME.fullmatch(value):
                    raise StoreError(f"{name.capitalize()} contains one or more invalid characters.",
                                     [*where, name], "INVALID")
            existing = order.metafields.get((entry.namespace, entry.key))
            kind = entry.type or (existing.type if existing is not None else None)
            if kind is None:
                raise StoreError("Type can't be blank", [*where, "type"], "BLANK")
            if kind not in METAFIELD_TYPES:
                raise StoreError(f"Type '{kind}' is not a valid type.", [*where, "type"], "INVALID_TYPE")
            if kind == "json":
                if len(entry.value.encode()) > MAX_JSON_METAFIELD:
                    raise StoreError("Value is too long.", [*where, "value"], "TOO_LONG")
                try:
                    json.loads(entry.value)
                except ValueError:
                    raise StoreError("Value is invalid JSON.", [*where, "value"], "INVALID_VALUE") from None
            if entry.check_digest and (existing.digest() if existing is not None else None) != entry.compare_digest:
                raise StoreError("The resource has been updated since it was loaded. Try again with an updated "
                                 "`compareDigest` value.", [*where, "compareDigest"], "STALE_OBJECT")
            checked.append((order, entry, existing))
        now = self._now()
        written = []
        for order, entry, existing in checked:
            if existing is None:
                existing = Metafield(id=next(self._ids), namespace=entry.namespace, key=entry.key,
                                     type=entry.type or "", value=entry.value, created_at=now, updated_at=now)
                order.metafields[(entry.namespace, entry.key)] = existing
            else:
                existing.value, existing.updated_at = entry.value, now
                existing.type = entry.type or existing.type
            order.updated_at = now
            written.append(existing)
        return written

    def _now(self) -> datetime:
        """Shopify keeps whole seconds."""
        return self.clock.now().replace(microsecond=0)

    def _touch(self, order: Order) -> None:
        """Bump `updatedAt`; like a shop with "automatically archive the order" on (Shopify's default, and the
        captured dev store), an order closes once fully fulfilled and reopens when that stops being true."""
        order.updated_at = self._now()
        fulfilled = order.display_fulfillment_status() == "FULFILLED"
        if fulfilled and order.closed_at is None:
            order.closed_at = order.updated_at
        elif not fulfilled and order.cancelled_at is None:
            order.closed_at = None

    def _existing_order(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise StoreError("Order does not exist.", ["orderId"])
        return order

    def _existing_fulfillment(self, fulfillment_id: int) -> tuple[Order, Fulfillment]:
        found = self.fulfillment(fulfillment_id)
        if found is None:
            raise StoreError("Fulfillment does not exist.", ["fulfillmentId"])
        return found

"""A BigCommerce store as plain Python: orders, order products, shipping addresses and shipments, and its catalog
(`sandbox.bigcommerce.catalog`).

Rules it keeps (from BigCommerce's V2 documentation):
- ids are sequential per kind, starting where a real store's demo data leaves off (orders 100, products 1...);
- an order product is a catalog item (`product_id`, with `variant_id` or `product_options` for a product with
  options; its name, SKU and price default to the catalog's, and its units are taken from inventory) or a custom
  product (`name` required, `sku` and prices as given); an unknown product or variant is refused with a 400;
- an order's totals are its products' prices times quantities plus its shipping cost
  (`shipping_cost_inc_tax`/`_ex_tax`, both or neither), in the store's currency (`currency`);
- a storefront checkout to several addresses (the admin route only: `shipping_address_index` on a product, an
  index into `shipping_addresses`) gives each product its address; `POST /v2/orders` puts every product at the
  first address;
- creating a shipment needs an `order_address_id` of the order and items of its products, never more units than
  ordered (less refunded) and not yet shipped; the order becomes Shipped (2) when every unit is shipped, else
  Partially Shipped (3);
- deleting a shipment gives its units back but does NOT change the order's status (documented behaviour);
- every change to an order or its shipments moves the order's `date_modified` (whole seconds, as V2 reports it).

Every method raises `StoreError(status, message)` for what the API would refuse; the app renders it as
`[{"status": ..., "message": ...}]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.bigcommerce.catalog import Catalog, OptionValue, Product, Variant, money
from sandbox.bigcommerce.errors import StoreError as StoreError  # re-exported: the app and tests catch it here
from sandbox.common import Clock, Ids

SHIPPED, PARTIALLY_SHIPPED, CANCELLED, AWAITING_FULFILLMENT = 2, 3, 5, 11
STATUS_NAMES = {0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded",
                5: "Cancelled", 6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup", 9: "Awaiting Shipment",
                10: "Completed", 11: "Awaiting Fulfillment", 12: "Manual Verification Required", 13: "Disputed",
                14: "Partially Refunded"}
ADDRESS_FIELDS = ("first_name", "last_name", "company", "street_1", "street_2", "city", "state", "zip", "country",
                  "country_iso2", "phone", "email")
TRACKING_FIELDS = ("tracking_number", "shipping_method", "shipping_provider", "tracking_carrier", "tracking_link",
                   "comments", "merchant_shipping_cost")
PROVIDER_NAMES = {"usps": "USPS", "ups": "UPS", "fedex": "FedEx", "auspost": "Australia Post",
                  "canadapost": "Canada Post", "royalmail": "Royal Mail", "endicia": "Endicia", "": ""}
GENERATED_LINKS = {"usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={n}",
                   "ups": "https://www.ups.com/track?tracknum={n}",
                   "fedex": "https://www.fedex.com/fedextrack/?trknbr={n}"}


@dataclass
class OrderProduct:
    id: int
    order_id: int
    order_address_id: int
    name: str
    sku: str
    quantity: int
    product_id: int = 0
    price: str = "0.0000"  # unit price including tax
    quantity_refunded: int = 0
    quantity_shipped: int = 0
    price_ex_tax: str | None = None  # None: the same as `price`
    variant_id: int = 0
    options: list[OptionValue] = field(default_factory=list)

    @property
    def unit_ex_tax(self) -> str:
        return self.price_ex_tax if self.price_ex_tax is not None else self.price


@dataclass
class ShippingAddress:
    id: int
    order_id: int
    fields: dict[str, str]
    shipping_method: str = "None"


@dataclass
class Shipment:
    id: int
    order_id: int
    order_address_id: int
    date_created: datetime
    items: list[tuple[int, int]]  # (order_product_id, quantity)
    tracking: dict[str, str] = field(default_factory=dict)


@dataclass
class Order:
    id: int
    date_created: datetime
    date_modified: datetime
    status_id: int
    billing_address: dict[str, str]
    customer_id: int = 0
    external_order_id: str | None = None
    external_source: str | None = None
    staff_notes: str = ""
    date_shipped: datetime | None = None
    currency: str = "USD"
    shipping_inc_tax: str = "0.0000"
    shipping_ex_tax: str = "0.0000"
    products: list[OrderProduct] = field(default_factory=list)
    addresses: list[ShippingAddress] = field(default_factory=list)
    shipments: dict[int, Shipment] = field(default_factory=dict)


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise StoreError(400, f"The field '{what}' is invalid.")
    return str(value)


def _shipping(body: Mapping[str, Any]) -> tuple[str, str]:
    """The order's shipping cost (including, excluding tax) from `shipping_cost_inc_tax`/`_ex_tax`: both or
    neither, as the API requires; StoreError 400 otherwise."""
    inc, ex = body.get("shipping_cost_inc_tax"), body.get("shipping_cost_ex_tax")
    if (inc is None) != (ex is None):
        raise StoreError(400, "The fields 'shipping_cost_inc_tax' and 'shipping_cost_ex_tax' go together: give "
                              "both or neither.")
    if inc is None:
        return "0.0000", "0.0000"
    return f"{money(inc, 'shipping_cost_inc_tax', 400):.4f}", f"{money(ex, 'shipping_cost_ex_tax', 400):.4f}"


def _positive(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StoreError(400, f"The field '{what}' must be a positive integer.")
    return value


class BigCommerceStore:
    """The store's state and rules. Admin methods (`place_order`, `ship`, `edit_shipment`, `delete_shipment`,
    `cancel_order`, `refund`) are what a merchant does in the control panel; the API routes call the same."""

    def __init__(self, clock: Clock, currency: str = "USD") -> None:
        self.clock = clock
        self.currency = currency
        self.catalog = Catalog(self._now)
        self.orders: dict[int, Order] = {}
        self._id = Ids({"order": 100, "product": 1, "address": 1, "shipment": 1})

    def _now(self) -> datetime:
        return self.clock.now().replace(microsecond=0)

    def _touch(self, order: Order) -> None:
        order.date_modified = max(self._now(), order.date_modified)

    def order(self, order_id: int) -> Order:
        """The order, or StoreError 404."""
        order = self.orders.get(order_id)
        if order is None:
            raise StoreError(404, "The requested resource was not found.")
        return order

    # -- orders ----------------------------------------------------------------------------------------------

    def place_order(self, products: Sequence[Mapping[str, Any]], *, billing_address: Mapping[str, Any],
                    shipping_addresses: Sequence[Mapping[str, Any]] = (), status_id: int = AWAITING_FULFILLMENT,
                    external_order_id: str | None = None, external_source: str | None = None,
                    staff_notes: str = "", customer_id: int = 0, shipping_cost: Mapping[str, Any] | None = None,
                    multi_address: bool = False) -> Order:
        """Create an order (what `POST /v2/orders` and a storefront checkout do). `products`: catalog items
        (`product_id`, `variant_id` or `product_options`) or custom products (`name`, `sku`), each with `quantity`
        and optionally `price_inc_tax`/`price_ex_tax`. Without shipping addresses the billing address is used.
        `shipping_cost`: the body's `shipping_cost_inc_tax`/`_ex_tax`. `multi_address` (a storefront checkout,
        the admin route): a product's `shipping_address_index` picks its address. Raises StoreError 400 for a
        missing billing zip or products, an unknown catalog item, or more units than are in stock; nothing is
        created or taken from inventory then."""
        if not isinstance(billing_address, Mapping) or len(_text(billing_address.get("zip"), "zip").strip()) < 2:
            raise StoreError(400, "The field 'billing_address.zip' is invalid. The billing address must include "
                                  "a ZIP code of two or more characters.")
        if not products:
            raise StoreError(400, "The field 'products' is required.")
        if status_id not in STATUS_NAMES:
            raise StoreError(400, "The field 'status_id' is invalid.")
        shipping_inc, shipping_ex = _shipping(shipping_cost or {})
        now = self._now()
        order = Order(id=0, date_created=now, date_modified=now, status_id=status_id,
                      billing_address={key: _text(billing_address.get(key), key) for key in ADDRESS_FIELDS},
                      customer_id=customer_id, external_order_id=external_order_id, external_source=external_source,
                      staff_notes=staff_notes, currency=self.currency, shipping_inc_tax=shipping_inc,
                      shipping_ex_tax=shipping_ex)
        for address in shipping_addresses or [billing_address]:
            if not isinstance(address, Mapping):
                raise StoreError(400, "The field 'shipping_addresses' is invalid.")
        lines = [self._line(product, index, len(shipping_addresses or [billing_address]), multi_address)
                 for index, product in enumerate(products)]
        self.catalog.take([(item[0], item[1], line["quantity"]) for line, item in lines if item is not None])
        order.id = self._id("order")
        for address in shipping_addresses or [billing_address]:
            order.addresses.append(ShippingAddress(
                id=self._id("address"), order_id=order.id,
                fields={key: _text(address.get(key), key) for key in ADDRESS_FIELDS},
                shipping_method=_text(address.get("shipping_method"), "shipping_method") or "None"))
        for line, _ in lines:
            address = order.addresses[line.pop("address_index")]
            order.products.append(OrderProduct(id=self._id("product"), order_id=order.id,
                                               order_address_id=address.id, **line))
        self.orders[order.id] = order
        return order

    def _line(self, product: object, index: int, addresses: int, multi_address: bool
              ) -> tuple[dict[str, Any], tuple[Product, Variant] | None]:
        """One order product's fields (and its catalog item, None for a custom product); StoreError 400."""
        where = f"products[{index}]"
        if not isinstance(product, Mapping):
            raise StoreError(400, f"The field '{where}' is invalid.")
        address_index = product.get("shipping_address_index", 0)
        if "shipping_address_index" in product and not multi_address:
            raise StoreError(400, f"The field '{where}.shipping_address_index' is not an order product field.")
        if isinstance(address_index, bool) or not isinstance(address_index, int) or not (
                0 <= address_index < addresses):
            raise StoreError(400, f"The field '{where}.shipping_address_index' is not one of the order's "
                                  "shipping addresses.")
        quantity = _positive(product.get("quantity"), f"{where}.quantity")
        inc = product.get("price_inc_tax")
        ex = product.get("price_ex_tax")
        item = None
        if product.get("product_id"):
            item = self.catalog.resolve(product, where)
            catalog_price = self.catalog.price_of(*item)
            name = _text(product.get("name"), "name") or item[0].name
            sku, product_id, variant_id, options = item[1].sku, item[0].id, item[1].id, list(item[1].option_values)
        else:
            name = _text(product.get("name"), "name")
            if not name:
                raise StoreError(400, f"The field '{where}.name' is required for a custom product.")
            catalog_price = Decimal(0)
            sku, product_id, variant_id, options = _text(product.get("sku"), "sku"), 0, 0, []
        price_inc = money(inc if inc is not None else ex if ex is not None else catalog_price,
                          f"{where}.price_inc_tax", 400)
        price_ex = money(ex, f"{where}.price_ex_tax", 400) if ex is not None else price_inc
        return ({"name": name, "sku": sku, "quantity": quantity, "product_id": product_id, "variant_id": variant_id,
                 "options": options, "price": f"{price_inc:.4f}", "price_ex_tax": f"{price_ex:.4f}",
                 "address_index": address_index}, item)

    def cancel_order(self, order_id: int) -> Order:
        """Set status 5 (Cancelled)."""
        return self.set_status(order_id, CANCELLED)

    def set_status(self, order_id: int, status_id: int) -> Order:
        order = self.order(order_id)
        if status_id not in STATUS_NAMES:
            raise StoreError(400, "The field 'status_id' is invalid.")
        order.status_id = status_id
        self._touch(order)
        return order

    def set_staff_notes(self, order_id: int, notes: str) -> Order:
        order = self.order(order_id)
        order.staff_notes = notes
        self._touch(order)
        return order

    def refund(self, order_id: int, order_product_id: int, quantity: int) -> Order:
        """Refund `quantity` units of a line (their money; they stay on the order as refunded)."""
        order = self.order(order_id)
        product = self._product(order, order_product_id)
        if quantity < 1 or product.quantity_refunded + quantity > product.quantity:
            raise StoreError(400, f"Cannot refund {quantity} of order product {order_product_id}.")
        product.quantity_refunded += quantity
        self._touch(order)
        return order

    # -- shipments -------------------------------------------------------------------------------------------

    def _product(self, order: Order, order_product_id: int) -> OrderProduct:
        for product in order.products:
            if product.id == order_product_id:
                return product
        raise StoreError(400, f"The order product {order_product_id} does not belong to order {order.id}.")

    def ship(self, order_id: int, items: Sequence[Mapping[str, Any]], *, order_address_id: int | None = None,
             **tracking: Any) -> Shipment:
        """Create a shipment (what `POST /v2/orders/{id}/shipments` does). `tracking`: any of TRACKING_FIELDS.
        Without `order_address_id` (the admin route only) the order's first address is used."""
        order = self.order(order_id)
        if order_address_id is None:
            order_address_id = order.addresses[0].id if order.addresses else 0
        if isinstance(order_address_id, bool) or not isinstance(order_address_id, int) or order_address_id not in {
                address.id for address in order.addresses}:
            raise StoreError(400, "The field 'order_address_id' is invalid.")
        if not isinstance(items, list | tuple) or not items:
            raise StoreError(400, "The field 'items' is required.")
        wanted: dict[int, int] = {}
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise StoreError(400, f"The field 'items[{index}]' is invalid.")
            line = item.get("order_product_id")
            if isinstance(line, bool) or not isinstance(line, int):
                raise StoreError(400, f"The field 'items[{index}].order_product_id' is invalid.")
            wanted[line] = wanted.get(line, 0) + _positive(item.get("quantity"), f"items[{index}].quantity")
        for line, quantity in wanted.items():
            product = self._product(order, line)
            if product.order_address_id != order_address_id:
                raise StoreError(400, f"The order product {line} does not ship to address {order_address_id}.")
            open_units = product.quantity - product.quantity_refunded - product.quantity_shipped
            if quantity > open_units:
                raise StoreError(400, f"The quantity specified for order product {line} is greater than the "
                                      f"quantity remaining to ship ({open_units}).")
        fields = self._tracking_fields(tracking)
        shipment = Shipment(id=self._id("shipment"), order_id=order.id, order_address_id=order_address_id,
                            date_created=self._now(), items=list(wanted.items()), tracking=fields)
        for line, quantity in wanted.items():
            self._product(order, line).quantity_shipped += quantity
        order.shipments[shipment.id] = shipment
        self._after_shipping(order)
        return shipment

    @staticmethod
    def _tracking_fields(tracking: Mapping[str, Any]) -> dict[str, str]:
        unknown = set(tracking) - set(TRACKING_FIELDS)
        if unknown:
            raise StoreError(400, f"The field '{sorted(unknown)[0]}' is not a shipment field.")
        fields = {key: _text(tracking.get(key), key) for key in TRACKING_FIELDS if key in tracking}
        if len(fields.get("tracking_number", "")) > 50:
            raise StoreError(400, "The field 'tracking_number' must be at most 50 characters.")
        if len(fields.get("tracking_link", "")) > 500:
            raise StoreError(400, "The field 'tracking_link' must be at most 500 characters.")
        return fields

    def _after_shipping(self, order: Order) -> None:
        to_ship = sum(p.quantity - p.quantity_refunded for p in order.products)
        shipped = sum(p.quantity_shipped for p in order.products)
        if order.status_id != CANCELLED:
            order.status_id = SHIPPED if shipped >= to_ship else PARTIALLY_SHIPPED
        if shipped >= to_ship and order.date_shipped is None:
            order.date_shipped = self._now()
        self._touch(order)

    def shipment(self, order_id: int, shipment_id: int) -> Shipment:
        shipment = self.order(order_id).shipments.get(shipment_id)
        if shipment is None:
            raise StoreError(404, "The requested resource was not found.")
        return shipment

    def edit_shipment(self, order_id: int, shipment_id: int, **tracking: Any) -> Shipment:
        """Change a shipment's tracking fields (what `PUT …/shipments/{id}` does); items cannot change."""
        shipment = self.shipment(order_id, shipment_id)
        fields = dict(tracking)
        if "order_address_id" in fields:
            address = fields.pop("order_address_id")
            if address not in {a.id for a in self.order(order_id).addresses}:
                raise StoreError(400, "The field 'order_address_id' is invalid.")
            shipment.order_address_id = address
        shipment.tracking.update(self._tracking_fields(fields))
        self._touch(self.order(order_id))
        return shipment

    def delete_shipment(self, order_id: int, shipment_id: int) -> None:
        """Delete a shipment: its units are open again, the order's status does not change."""
        order = self.order(order_id)
        shipment = self.shipment(order_id, shipment_id)
        for line, quantity in shipment.items:
            self._product(order, line).quantity_shipped -= quantity
        del order.shipments[shipment_id]
        self._touch(order)

    # -- queries ---------------------------------------------------------------------------------------------

    def generated_link(self, shipment: Shipment) -> str:
        """The link BigCommerce generates from `shipping_provider`/`tracking_carrier` when no custom link is set
        (an AfterShip link for carriers it does not integrate)."""
        number = shipment.tracking.get("tracking_number", "")
        if not number or shipment.tracking.get("tracking_link"):
            return ""
        provider = shipment.tracking.get("shipping_provider", "")
        carrier = shipment.tracking.get("tracking_carrier", "")
        if provider in GENERATED_LINKS:
            return GENERATED_LINKS[provider].format(n=number)
        if carrier:
            return f"https://track.aftership.com/{carrier}/{number}"
        return ""

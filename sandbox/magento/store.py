"""The simulated Magento store's state and behaviour, as plain Python (no HTTP here).

What it models, as Magento 2.4 does (docs/platforms/magento.md):
- orders with items (`item_id`, `qty_ordered`, `qty_shipped`, `qty_canceled`, configurable parents with a child
  item, `product_id` and prices), `ext_order_id`, state/status, totals and currency, status history comments;
- the catalog (`sandbox.magento.catalog`): a storefront order of catalog SKUs takes its units off the stock;
  `POST /V1/orders` persists what it is given (its `product_id`s checked) and moves no stock;
- shipments created by `ship` (`POST /V1/order/{id}/ship`), which validates shippable quantities and counts
  shipped units on the order items for good: there is no shipment cancel or delete;
- tracks (added, updated by `entity_id`, deleted) and shipment comments, each with its own timestamps; adding or
  removing a track touches neither the shipment's nor the order's `updated_at`; a shipment, an order comment or
  an order cancel bumps the order's `updated_at`.
Merchant (admin) actions: `place_order`, `ship` (admin fulfillment), `edit_tracking`, `cancel_shipment` (remove
tracks + a comment starting "Fulfillment cancelled", the convention sellers are asked to follow) and
`cancel_order`.

Failure: every method raises `MagentoError` with Magento's status, message template and parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.magento.catalog import SELLABLE_ALONE, Catalog, sku_key
from sandbox.magento.errors import MagentoError, invalid_value, no_such_entity, not_found, number, required
from sandbox.magento.search import SearchCriteria, search

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
NOT_SHIPPABLE_STATES = frozenset({"canceled", "closed", "holded"})


@dataclass
class OrderItem:
    item_id: int
    order_id: int
    sku: str
    name: str
    qty_ordered: float
    created_at: str
    price: float = 0.0
    qty_shipped: float = 0.0
    qty_canceled: float = 0.0
    parent_item_id: int | None = None
    product_type: str = "simple"
    ext_order_item_id: str | None = None
    product_id: int | None = None

    @property
    def remaining(self) -> float:
        return self.qty_ordered - self.qty_shipped - self.qty_canceled

    def to_json(self, updated_at: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "item_id": self.item_id, "order_id": self.order_id, "sku": self.sku, "name": self.name,
            "qty_ordered": self.qty_ordered, "qty_shipped": self.qty_shipped, "qty_canceled": self.qty_canceled,
            "qty_invoiced": 0, "qty_refunded": 0, "price": self.price, "base_price": self.price,
            "original_price": self.price, "base_original_price": self.price,
            "row_total": self.price * self.qty_ordered, "base_row_total": self.price * self.qty_ordered,
            "product_type": self.product_type, "store_id": 1, "created_at": self.created_at,
            "updated_at": updated_at, "is_virtual": int(self.product_type == "virtual")}
        if self.product_id is not None:
            body["product_id"] = self.product_id
        if self.parent_item_id is not None:
            body["parent_item_id"] = self.parent_item_id
        if self.ext_order_item_id is not None:
            body["ext_order_item_id"] = self.ext_order_item_id
        return body


@dataclass
class Order:
    entity_id: int
    increment_id: str
    customer_email: str
    created_at: str
    updated_at: str
    items: list[OrderItem]
    state: str = "new"
    status: str = "pending"
    customer_firstname: str = ""
    customer_lastname: str = ""
    shipping_address: dict[str, Any] | None = None
    billing_address: dict[str, Any] | None = None
    shipping_description: str = "Flat Rate - Fixed"
    shipping_method: str = "flatrate_flatrate"
    ext_order_id: str | None = None
    grand_total: float = 0.0
    shipping_amount: float = 0.0
    currency: str = "USD"
    customer_note: str | None = None
    histories: list[dict[str, Any]] = field(default_factory=list)

    @property
    def subtotal(self) -> float:
        return sum(item.price * item.qty_ordered for item in self.items if item.parent_item_id is None)

    def to_json(self) -> dict[str, Any]:
        items = [item.to_json(self.updated_at) for item in self.items]
        body: dict[str, Any] = {
            "entity_id": self.entity_id, "increment_id": self.increment_id, "state": self.state,
            "status": self.status, "customer_email": self.customer_email,
            "customer_firstname": self.customer_firstname, "customer_lastname": self.customer_lastname,
            "customer_is_guest": 1, "created_at": self.created_at, "updated_at": self.updated_at,
            "base_grand_total": self.grand_total, "grand_total": self.grand_total, "store_id": 1,
            "subtotal": self.subtotal, "base_subtotal": self.subtotal, "shipping_amount": self.shipping_amount,
            "base_shipping_amount": self.shipping_amount, "base_currency_code": self.currency,
            "order_currency_code": self.currency, "store_currency_code": self.currency,
            "total_qty_ordered": sum(item.qty_ordered for item in self.items if item.parent_item_id is None),
            "shipping_description": self.shipping_description, "items": items,
            "payment": {"method": "checkmo", "account_status": "", "additional_information": [], "cc_last4": ""},
            "status_histories": list(reversed(self.histories)),
        }
        if self.ext_order_id is not None:
            body["ext_order_id"] = self.ext_order_id
        if self.customer_note is not None:
            body["customer_note"] = self.customer_note
        if self.billing_address is not None:
            body["billing_address"] = self.billing_address
        shipping: dict[str, Any] = {"method": self.shipping_method}
        if self.shipping_address is not None:
            shipping["address"] = self.shipping_address
        body["extension_attributes"] = {"shipping_assignments": [{"shipping": shipping, "items": items}]}
        return body


@dataclass
class Track:
    entity_id: int
    parent_id: int
    order_id: int
    track_number: str
    title: str
    carrier_code: str
    created_at: str
    updated_at: str
    qty: float = 0.0
    weight: float = 0.0
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"entity_id": self.entity_id, "parent_id": self.parent_id, "order_id": self.order_id,
                "track_number": self.track_number, "title": self.title, "carrier_code": self.carrier_code,
                "created_at": self.created_at, "updated_at": self.updated_at, "qty": self.qty,
                "weight": self.weight, "description": self.description}


@dataclass
class Shipment:
    entity_id: int
    increment_id: str
    order_id: int
    created_at: str
    updated_at: str
    items: list[dict[str, Any]]
    tracks: list[Track] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"entity_id": self.entity_id, "increment_id": self.increment_id, "order_id": self.order_id,
                "store_id": 1, "created_at": self.created_at, "updated_at": self.updated_at,
                "total_qty": sum(float(item["qty"]) for item in self.items), "items": list(self.items),
                "tracks": [track.to_json() for track in self.tracks], "comments": list(self.comments),
                "packages": []}


class MagentoStore:
    """One store view's sales data. `now` is the store's clock (the sandbox's settable clock)."""

    def __init__(self, now: Callable[[], datetime], currency: str = "USD") -> None:
        self._now = now
        self.currency = currency
        self.orders: dict[int, Order] = {}
        self.shipments: dict[int, Shipment] = {}
        self._ids: dict[str, int] = {}
        self.catalog = Catalog(self.stamp, self._next)

    def _next(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def stamp(self) -> str:
        """The store's now as Magento writes it: UTC `Y-m-d H:i:s`."""
        return self._now().astimezone(UTC).strftime(DATETIME_FORMAT)

    # -- orders -------------------------------------------------------------------------------------------

    def place_order(self, lines: Sequence[Mapping[str, Any]], *, email: str = "customer@example.com",
                    shipping_address: Mapping[str, Any] | None = None, shipping_description: str | None = None,
                    ext_order_id: str | None = None) -> Order:
        """A customer order (admin/storefront). Each line: `sku`, `qty`, optional `name`, `price`, and
        `child_sku` to make a configurable parent item with a simple child item. A SKU of the catalog orders that
        product (its `product_id`, its price unless one is given) and takes its units off the stock, as the
        legacy inventory does at order placement; another SKU is an item without a product."""
        if not lines:
            raise MagentoError(400, "The order has no items.")
        order = self._new_order(email, shipping_address, shipping_description, ext_order_id)
        for index, line in enumerate(lines):
            sku, qty = line.get("sku"), line.get("qty", 1)
            if not isinstance(sku, str) or not sku:
                raise required(f"lines[{index}].sku")
            if isinstance(qty, bool) or not isinstance(qty, int | float) or qty <= 0:
                raise invalid_value(qty, f"lines[{index}].qty")
            product = self.catalog.by_sku(str(line.get("child_sku") or sku))
            price = line.get("price", product.price if product is not None else 10.0)
            parent = OrderItem(self._next("item"), order.entity_id, sku, str(line.get("name") or sku), float(qty),
                               order.created_at, price=float(price),
                               product_type="configurable" if line.get("child_sku") else "simple",
                               ext_order_item_id=line.get("ext_order_item_id"),
                               product_id=product.entity_id if product is not None and not line.get("child_sku")
                               else None)
            order.items.append(parent)
            if line.get("child_sku"):
                order.items.append(OrderItem(self._next("item"), order.entity_id, str(line["child_sku"]),
                                             parent.name, float(qty), order.created_at, parent_item_id=parent.item_id,
                                             product_id=product.entity_id if product is not None else None))
            if product is not None:
                self.catalog.sell(product.entity_id, float(qty))
        order.grand_total = order.subtotal
        return order

    def _new_order(self, email: str, shipping_address: Mapping[str, Any] | None, shipping_description: str | None,
                   ext_order_id: str | None) -> Order:
        now = self.stamp()
        order_id = self._next("order")
        address = dict(shipping_address) if shipping_address else None
        order = Order(order_id, f"{order_id:09d}", email, now, now, [], shipping_address=address,
                      billing_address={**address, "address_type": "billing"} if address else None,
                      customer_firstname=str((address or {}).get("firstname", "")),
                      customer_lastname=str((address or {}).get("lastname", "")), ext_order_id=ext_order_id,
                      currency=self.currency)
        if shipping_description:
            order.shipping_description = shipping_description
        self.orders[order_id] = order
        return order

    def create_order(self, entity: Any) -> Order:
        """`POST /V1/orders` (`OrderRepositoryInterface::save`): persist the given order as is, its prices and
        totals included; no stock moves. An item's `product_id` must be a catalog product (404, the product
        repository's message), and, stricter than Magento to catch a wrong link, one of type simple or virtual
        whose SKU is the item's (400)."""
        if not isinstance(entity, Mapping):
            raise required("entity")
        for name in ("customer_email", "base_grand_total", "grand_total", "items"):
            if entity.get(name) in (None, ""):
                raise required(name)
        items = entity["items"]
        if not isinstance(items, list) or not items:
            raise invalid_value(items, "items")
        for index, item in enumerate(items):
            if not isinstance(item, Mapping) or not item.get("sku"):
                raise required(f"items[{index}].sku")
            self._check_product(item, index)
        shipping = None
        extension = entity.get("extension_attributes")
        if isinstance(extension, Mapping) and isinstance(extension.get("shipping_assignments"), list):
            first = extension["shipping_assignments"][0] if extension["shipping_assignments"] else {}
            shipping = (first.get("shipping") or {}).get("address") if isinstance(first, Mapping) else None
        order = self._new_order(str(entity["customer_email"]), shipping, entity.get("shipping_description"),
                                entity.get("ext_order_id"))
        for item in items:
            product_id = item.get("product_id")
            order.items.append(OrderItem(
                self._next("item"), order.entity_id, str(item["sku"]), str(item.get("name") or item["sku"]),
                number(item.get("qty_ordered", 1), "qty_ordered"), order.created_at,
                price=number(item.get("price", 0), "price"), product_type=str(item.get("product_type") or "simple"),
                ext_order_item_id=item.get("ext_order_item_id"),
                product_id=int(product_id) if product_id is not None else None))
        order.grand_total = number(entity["grand_total"], "grand_total")
        order.shipping_amount = number(entity.get("shipping_amount", 0), "shipping_amount")
        order.currency = str(entity.get("order_currency_code") or self.currency)
        if isinstance(entity.get("customer_note"), str):
            order.customer_note = entity["customer_note"]
        if isinstance(entity.get("billing_address"), Mapping):
            order.billing_address = dict(entity["billing_address"])
        return order

    def _check_product(self, item: Mapping[str, Any], index: int) -> None:
        product_id = item.get("product_id")
        if product_id is None:
            return
        if isinstance(product_id, bool) or not str(product_id).isdigit():
            raise invalid_value(product_id, f"items[{index}].product_id")
        product = self.catalog.product(int(product_id))
        if product is None:
            raise MagentoError(404, "The product that was requested doesn't exist. Verify the product and try again.")
        if product.type_id not in SELLABLE_ALONE or sku_key(product.sku) != sku_key(str(item["sku"])):
            raise MagentoError(400, 'Order item "%1" cannot be product %2 (%3 "%4").',
                               [str(item["sku"]), str(product.entity_id), product.type_id, product.sku])

    def order(self, order_id: int) -> Order:
        if order_id not in self.orders:
            raise not_found()
        return self.orders[order_id]

    def add_order_comment(self, order_id: int, history: Any) -> bool:
        """`POST /V1/orders/{id}/comments`; saves the order (its `updated_at` moves)."""
        order = self.order(order_id)
        if not isinstance(history, Mapping) or not isinstance(history.get("comment"), str):
            raise required("statusHistory.comment")
        now = self.stamp()
        order.histories.append({
            "entity_id": self._next("history"), "parent_id": order_id, "comment": history["comment"],
            "is_customer_notified": int(history.get("is_customer_notified") or 0),
            "is_visible_on_front": int(history.get("is_visible_on_front") or 0), "created_at": now,
            "status": order.status, "entity_name": "order"})
        order.updated_at = now
        return True

    def cancel_order(self, order_id: int) -> Order:
        """Cancel what is not shipped (admin, or `POST /V1/orders/{id}/cancel`); refused when nothing is left."""
        order = self.order(order_id)
        if order.state in NOT_SHIPPABLE_STATES or all(item.remaining <= 0 for item in order.items):
            raise MagentoError(400, "You cannot cancel the order.")
        for item in order.items:
            item.qty_canceled += max(item.remaining, 0)
        order.state = order.status = "canceled" if all(i.qty_shipped == 0 for i in order.items) else "processing"
        order.updated_at = self.stamp()
        return order

    def search_orders(self, criteria: SearchCriteria, *, repeat_last_page: bool) -> dict[str, Any]:
        rows = [order.to_json() for order in self.orders.values()]
        page, total = search(rows, criteria, repeat_last_page=repeat_last_page)
        return {"items": page, "search_criteria": criteria.echo(), "total_count": total}

    # -- shipments ----------------------------------------------------------------------------------------

    def ship(self, order_id: int, items: list[tuple[int, float]] | None, *, tracks: Sequence[Mapping[str, Any]] = (),
             comment: Mapping[str, Any] | None = None, notify: bool = False) -> Shipment:
        """`POST /V1/order/{id}/ship`: validate, create the shipment with its tracks and comment, count the units
        shipped on the order items (a configurable child follows its parent). `items` None: everything left."""
        order = self.order(order_id)
        by_id = {item.item_id: item for item in order.items}
        if items is None:
            items = [(item.item_id, item.remaining) for item in order.items
                     if item.parent_item_id is None and item.remaining > 0]
        errors: list[str] = []
        if order.state in NOT_SHIPPABLE_STATES:
            errors.append("The order does not allow a shipment to be created.")
        wanted: dict[int, float] = {}
        for item_id, qty in items:
            if item_id not in by_id:
                errors.append(f"The order does not contain the item with id {item_id}.")
            elif qty > 0:
                wanted[item_id] = wanted.get(item_id, 0) + qty
        for item_id, qty in wanted.items():
            if qty > by_id[item_id].remaining:
                errors.append(f'The quantity to ship for item "{by_id[item_id].sku}" ({qty:g}) exceeds the '
                              f"quantity that can be shipped ({by_id[item_id].remaining:g}).")
        if not wanted and not errors:
            errors.append("You can't create a shipment without products.")
        if errors:
            raise MagentoError(400, "Shipment Document Validation Error(s):\n" + "\n".join(errors))
        for index, track in enumerate(tracks):
            for name in ("track_number", "title", "carrier_code"):
                if not isinstance(track.get(name), str) or not track[name]:
                    raise required(f"tracks[{index}].{name}")
        now = self.stamp()
        shipment_id = self._next("shipment")
        shipment = Shipment(shipment_id, f"{shipment_id:09d}", order_id, now, now, [
            {"entity_id": self._next("shipment_item"), "parent_id": shipment_id, "order_item_id": item_id,
             "qty": qty, "sku": by_id[item_id].sku, "name": by_id[item_id].name, "price": by_id[item_id].price,
             "weight": 0} for item_id, qty in wanted.items()])
        for item_id, qty in wanted.items():
            by_id[item_id].qty_shipped += qty
            for child in order.items:
                if child.parent_item_id == item_id:
                    child.qty_shipped += qty
        for track in tracks:
            self._new_track(shipment, track, now)
        if comment and isinstance(comment.get("comment"), str) and comment["comment"]:
            self._new_comment(shipment, comment["comment"], visible=bool(comment.get("is_visible_on_front")),
                              notified=notify)
        self.shipments[shipment_id] = shipment
        order.state = order.status = "processing"
        order.updated_at = now
        return shipment

    def shipment(self, shipment_id: int) -> Shipment:
        if shipment_id not in self.shipments:
            raise not_found()
        return self.shipments[shipment_id]

    def search_shipments(self, criteria: SearchCriteria, *, repeat_last_page: bool) -> dict[str, Any]:
        rows = [shipment.to_json() for shipment in self.shipments.values()]
        page, total = search(rows, criteria, repeat_last_page=repeat_last_page)
        return {"items": page, "search_criteria": criteria.echo(), "total_count": total}

    def _new_track(self, shipment: Shipment, track: Mapping[str, Any], now: str) -> Track:
        created = Track(self._next("track"), shipment.entity_id, shipment.order_id, str(track["track_number"]),
                        str(track["title"]), str(track["carrier_code"]), now, now,
                        qty=float(track.get("qty") or 0), weight=float(track.get("weight") or 0),
                        description=str(track.get("description") or ""))
        shipment.tracks.append(created)
        return created

    def _new_comment(self, shipment: Shipment, text: str, *, visible: bool, notified: bool) -> dict[str, Any]:
        comment = {"entity_id": self._next("shipment_comment"), "parent_id": shipment.entity_id, "comment": text,
                   "is_visible_on_front": int(visible), "is_customer_notified": int(notified),
                   "created_at": self.stamp()}
        shipment.comments.append(comment)
        return comment

    def save_track(self, entity: Any) -> Track:
        """`POST /V1/shipment/track`: a new track, or (with `entity_id`) an update of an existing one."""
        if not isinstance(entity, Mapping):
            raise required("entity")
        for name in ("parent_id", "order_id", "track_number", "carrier_code"):
            if entity.get(name) in (None, ""):
                raise required(name)
        shipment = self.shipments.get(_as_int(entity["parent_id"], "parent_id"))
        if shipment is None or shipment.order_id != _as_int(entity["order_id"], "order_id"):
            raise MagentoError(400, "Could not save the shipment tracking.")
        now = self.stamp()
        if entity.get("entity_id"):
            existing = next((t for t in shipment.tracks if t.entity_id == entity["entity_id"]), None)
            if existing is None:
                raise no_such_entity("entity_id", entity["entity_id"])
            existing.track_number = str(entity["track_number"])
            existing.title = str(entity.get("title") or existing.title)
            existing.carrier_code = str(entity["carrier_code"])
            existing.updated_at = now
            return existing
        return self._new_track(shipment, {"title": "", **entity}, now)

    def delete_track(self, track_id: int) -> bool:
        """`DELETE /V1/shipment/track/{id}`."""
        for shipment in self.shipments.values():
            for track in shipment.tracks:
                if track.entity_id == track_id:
                    shipment.tracks.remove(track)
                    return True
        raise no_such_entity("trackId", track_id)

    def add_shipment_comment(self, shipment_id: int, entity: Any) -> dict[str, Any]:
        """`POST /V1/shipment/{id}/comments`."""
        shipment = self.shipment(shipment_id)
        if not isinstance(entity, Mapping) or not isinstance(entity.get("comment"), str) or not entity["comment"]:
            raise required("comment")
        return self._new_comment(shipment, entity["comment"], visible=bool(entity.get("is_visible_on_front")),
                                 notified=bool(entity.get("is_customer_notified")))

    # -- merchant (admin) actions -------------------------------------------------------------------------

    def edit_tracking(self, shipment_id: int, tracks: list[Mapping[str, Any]]) -> Shipment:
        """The merchant replaces a shipment's tracks (delete the old ones, add the new ones)."""
        shipment = self.shipment(shipment_id)
        shipment.tracks.clear()
        now = self.stamp()
        for track in tracks:
            self._new_track(shipment, {"title": track.get("carrier_code", "custom"), **track}, now)
        return shipment

    def cancel_shipment(self, shipment_id: int, reason: str = "by the merchant") -> Shipment:
        """What a merchant can do instead of a cancel: remove the tracks, add a `Fulfillment cancelled …`
        comment on the shipment and the order. The units stay counted as shipped."""
        shipment = self.shipment(shipment_id)
        self._new_comment(shipment, f"Fulfillment cancelled {reason}", visible=False, notified=False)
        self.add_order_comment(shipment.order_id, {"comment": f"Shipment {shipment.increment_id} cancelled"})
        shipment.tracks.clear()
        return shipment


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise invalid_value(value, name)
    return int(value)

"""BigCommerce V2 JSON -> our platform types: pure functions, no I/O, so real example payloads can be tested.

Every function raises `PayloadError` (a ValueError) naming the part of the payload that is not the documented
shape; the connector turns that into a `MalformedResponseError` naming the request. Nothing here returns a
silently empty result for a payload it cannot read.

Decisions (see the package docstring for why):
- an order's lines are its order products (`id` = `order_product_id`), bundled children included; each line's
  `address_ref` is its `order_address_id` (None for 0: a digital or pickup item), and the order's `addresses` are
  its shipping addresses (`ref` = their `id`), so an order to several addresses is routed per address;
- `cancelled_quantity` = refunded units that were not shipped: `min(quantity_refunded, quantity - quantity_shipped)`;
- an order is cancelled when its `status_id` is 5 (Cancelled) or 6 (Declined);
- `our_order_id` is read from `external_order_id` only when it carries our prefix `fulfillsync:`;
- shipments whose `comments` carry the same marker line `fulfillsync-fulfillment: <id>` are ONE fulfillment
  (we write one shipment per tracking number); every other shipment is a fulfillment of its own; a fulfillment's
  ref is the id of its lowest-numbered shipment;
- a fulfillment's `updated_at` (the ledger's source version) is the order's `date_modified` when that is later
  than the shipments' `date_created`.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.bigcommerce.carriers import CARRIER_NAMES
from connectors.payload import PayloadError as PayloadError  # re-exported: callers catch it from here
from connectors.payload import json_array, json_object
from schemas.platform import (
    Address,
    ChangedOrder,
    FulfillmentLine,
    OrderAddress,
    PlatformFulfillment,
    PlatformLine,
    PlatformOrder,
    Tracking,
)

ORDER_PREFIX = "fulfillsync:"
MARKER_LINE = "fulfillsync-fulfillment: "
_MARKER = re.compile(r"^fulfillsync-fulfillment: (\S+)\s*$", re.MULTILINE)
CANCELLED_STATUSES = frozenset({5, 6})
SHIPPED_STATUSES = frozenset({2, 10})  # Shipped, Completed: nothing is left to cancel




# -- primitives --------------------------------------------------------------------------------------------


def parse_datetime(value: object, where: str) -> datetime:
    """An RFC-2822 (`Tue, 20 Nov 2012 00:00:00 +0000`, what V2 sends) or ISO-8601 date as an aware datetime.
    Raises PayloadError for anything else, including the empty string."""
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{where}: expected a date, got {value!r}")
    text = value.strip()
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise PayloadError(f"{where}: {value!r} is neither an RFC-2822 nor an ISO-8601 date") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_datetime(moment: datetime) -> str:
    """ISO-8601 with an explicit offset, as `min_date_modified` accepts it."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


_object = json_object


def object_list(value: object, where: str) -> list[Mapping[str, Any]]:
    """A JSON array of objects (what every V2 collection is). Raises PayloadError otherwise."""
    return [_object(item, f"{where}[{index}]") for index, item in enumerate(json_array(value, where))]


def _int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise PayloadError(f"{where}.{key}: expected an integer, got {value!r}")
    return int(value)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def order_id_of(order: Mapping[str, Any], where: str = "order") -> int:
    return _int(order, "id", where)


def status_of(order: Mapping[str, Any], where: str = "order") -> int:
    return _int(order, "status_id", where)


def date_modified_of(order: Mapping[str, Any], where: str = "order") -> datetime:
    return parse_datetime(order.get("date_modified"), f"{where}.date_modified")


# -- orders ------------------------------------------------------------------------------------------------


def parse_line(product: Mapping[str, Any], where: str = "product") -> PlatformLine:
    """One order product as a line (`line_ref` = its `id`, the `order_product_id` shipments use)."""
    quantity = _int(product, "quantity", where)
    shipped = _int(product, "quantity_shipped", where) if product.get("quantity_shipped") is not None else 0
    refunded = _int(product, "quantity_refunded", where) if product.get("quantity_refunded") is not None else 0
    address = product.get("order_address_id")
    return PlatformLine(
        line_ref=str(_int(product, "id", where)), sku=_text(product, "sku") or None, quantity=quantity,
        title=_text(product, "name") or None, cancelled_quantity=max(0, min(refunded, quantity - shipped)),
        address_ref=str(address) if isinstance(address, int) and not isinstance(address, bool) and address > 0
        else None)


def parse_lines(products: object) -> tuple[PlatformLine, ...]:
    """`GET /v2/orders/{id}/products` as lines, in the platform's order."""
    return tuple(parse_line(product, f"products[{index}]")
                 for index, product in enumerate(object_list(products, "products")))


def parse_address(address: Mapping[str, Any]) -> Address:
    """A V2 shipping address (or billing address) as our Address."""
    name = " ".join(part for part in (_text(address, "first_name"), _text(address, "last_name")) if part)
    return Address(
        name=name, company=_text(address, "company") or None,
        lines=tuple(line for line in (_text(address, "street_1"), _text(address, "street_2")) if line),
        city=_text(address, "city"), region=_text(address, "state") or None, postal_code=_text(address, "zip"),
        country_code=_text(address, "country_iso2").upper(), phone=_text(address, "phone") or None)


def our_order_id(order: Mapping[str, Any]) -> str | None:
    """fulfillsync's order id when `external_order_id` carries it (`fulfillsync:<id>`), else None."""
    external = _text(order, "external_order_id")
    if not external.startswith(ORDER_PREFIX):
        return None
    return external[len(ORDER_PREFIX):] or None


def changed_order(order: Mapping[str, Any]) -> ChangedOrder:
    """An order from `GET /v2/orders` (one element) as a seller poll needs it: id, ours or not, modified time."""
    return ChangedOrder(order_ref=str(order_id_of(order)), our_order_id=our_order_id(order),
                        updated_at=date_modified_of(order))


def parse_order(order: Mapping[str, Any], products: object, shipping_addresses: object) -> PlatformOrder:
    """An order from `GET /v2/orders` (one element), its products and its shipping addresses (either may be
    `[]` when the platform answered 204). The first shipping address is the order's; with several, each is in
    `addresses` (every one needs an integer `id` then: PayloadError otherwise) and each line names its own."""
    where = f"order {order.get('id')!r}"
    order_id = order_id_of(order, where)
    addresses = object_list(shipping_addresses, f"{where} shipping_addresses")
    listed = tuple(OrderAddress(ref=str(_int(address, "id", f"{where} shipping_addresses[{index}]")),
                                address=parse_address(address), shipping_method=_method(address))
                   for index, address in enumerate(addresses)
                   if len(addresses) > 1 or isinstance(address.get("id"), int))
    billing = order.get("billing_address")
    billing = billing if isinstance(billing, dict) else {}
    status = order.get("status_id")
    first = addresses[0] if addresses else None
    method = _method(first) if first is not None else None
    return PlatformOrder(
        order_ref=str(order_id), number=str(order_id), updated_at=date_modified_of(order, where),
        created_at=parse_datetime(order.get("date_created"), f"{where}.date_created"),
        lines=parse_lines(products), shipping_address=parse_address(first) if first is not None else None,
        email=_text(billing, "email") or (_text(first, "email") if first is not None else "") or None,
        phone=_text(billing, "phone") or None, shipping_method=method,
        cancelled=isinstance(status, int) and status in CANCELLED_STATUSES, our_order_id=our_order_id(order),
        addresses=listed)


def _method(address: Mapping[str, Any]) -> str | None:
    """A shipping address's `shipping_method`; None for none (V2 sends the text "None")."""
    method = _text(address, "shipping_method")
    return method if method not in ("", "None") else None


# -- shipments ---------------------------------------------------------------------------------------------


def marker_of(shipment: Mapping[str, Any]) -> str | None:
    """Our fulfillment id from the shipment's `comments`, or None for a shipment we did not write."""
    match = _MARKER.search(shipment.get("comments") or "") if isinstance(shipment.get("comments"), str) else None
    return match.group(1) if match else None


def with_marker(comments: str, our_fulfillment_id: str) -> str:
    """`comments` with our marker line appended (what `marker_of` reads back)."""
    return f"{comments}\n{MARKER_LINE}{our_fulfillment_id}" if comments else f"{MARKER_LINE}{our_fulfillment_id}"


@dataclass(frozen=True)
class ShipmentGroup:
    """Shipments read as one fulfillment: all that carry the same marker, or one unmarked shipment."""

    marker: str | None
    shipments: tuple[Mapping[str, Any], ...]  # ordered by id

    @property
    def ref(self) -> str:
        return str(self.shipments[0]["id"])

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(int(shipment["id"]) for shipment in self.shipments)


def group_shipments(shipments: object) -> tuple[ShipmentGroup, ...]:
    """`GET /v2/orders/{id}/shipments` grouped into fulfillments (see the module docstring), by first id."""
    checked = object_list(shipments, "shipments")
    for index, shipment in enumerate(checked):
        _int(shipment, "id", f"shipments[{index}]")
        object_list(shipment.get("items"), f"shipments[{index}].items")
    ordered = sorted(checked, key=lambda shipment: int(shipment["id"]))
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for shipment in ordered:
        marker = marker_of(shipment)
        key = f"m:{marker}" if marker else f"s:{shipment['id']}"
        groups.setdefault(key, []).append(shipment)
    result = [ShipmentGroup(marker=marker_of(members[0]), shipments=tuple(members)) for members in groups.values()]
    return tuple(sorted(result, key=lambda group: group.ids[0]))


def shipment_carrier(shipment: Mapping[str, Any]) -> str | None:
    """The canonical carrier of a shipment: `shipping_provider` / `tracking_carrier` through the carrier table;
    a third-party `carrier_{id}` provider by its display name; for a shipment we wrote with a carrier BigCommerce
    does not know, the name we put in `shipping_method`."""
    provider = _text(shipment, "shipping_provider")
    if provider.startswith("carrier_"):
        provider = _text(shipment, "shipping_provider_display_name") or provider
    carrier = CARRIER_NAMES.to_canonical(provider or None, _text(shipment, "tracking_carrier") or None)
    if carrier is None and marker_of(shipment) is not None:
        method = _text(shipment, "shipping_method")
        carrier = CARRIER_NAMES.to_canonical(method) if method and method != "None" else None
    return carrier


def group_lines(group: ShipmentGroup) -> tuple[FulfillmentLine, ...]:
    """Units per order product over the group's shipments, by line ref."""
    units: dict[int, int] = {}
    for shipment in group.shipments:
        for index, item in enumerate(object_list(shipment.get("items"), f"shipment {shipment['id']}.items")):
            where = f"shipment {shipment['id']}.items[{index}]"
            line, quantity = _int(item, "order_product_id", where), _int(item, "quantity", where)
            units[line] = units.get(line, 0) + quantity
    return tuple(FulfillmentLine(line_ref=str(line), quantity=quantity)
                 for line, quantity in sorted(units.items()) if quantity > 0)


def group_tracking(group: ShipmentGroup) -> Tracking:
    """Numbers in shipment order (blank ones skipped), each with its custom or generated link."""
    numbers: list[str] = []
    urls: list[str | None] = []
    for shipment in group.shipments:
        number = _text(shipment, "tracking_number")
        if number:
            numbers.append(number)
            urls.append(_text(shipment, "tracking_link") or _text(shipment, "generated_tracking_link") or None)
    carriers = [carrier for carrier in map(shipment_carrier, group.shipments) if carrier]
    return Tracking(carrier=carriers[0] if carriers else None, numbers=tuple(numbers), urls=tuple(urls))


def parse_fulfillments(order_ref: str, shipments: object, order_modified: datetime | None = None,
                       known_refs: Iterable[str] = ()) -> tuple[PlatformFulfillment, ...]:
    """The order's shipments as fulfillments (see the module docstring for grouping and `updated_at`).

    `known_refs`: fulfillments seen before; one whose shipments are gone (BigCommerce deletes shipments for good)
    is reported cancelled, versioned by `order_modified` (required then)."""
    result: list[PlatformFulfillment] = []
    for group in group_shipments(shipments):
        created = max(parse_datetime(s.get("date_created"), f"shipment {s['id']}.date_created")
                      for s in group.shipments)
        version = max(created, order_modified) if order_modified is not None else created
        lines = group_lines(group)
        if not lines:
            raise PayloadError(f"shipment {group.ref}: no items with a positive quantity")
        result.append(PlatformFulfillment(fulfillment_ref=group.ref, order_ref=order_ref, updated_at=version,
                                          lines=lines, tracking=group_tracking(group)))
    present = {fulfillment.fulfillment_ref for fulfillment in result}
    for ref in sorted(set(known_refs) - present):
        if order_modified is None:
            raise ValueError("order_modified is required to report vanished shipments as cancelled")
        result.append(PlatformFulfillment(fulfillment_ref=ref, order_ref=order_ref, updated_at=order_modified,
                                          lines=(), cancelled=True))
    return tuple(result)


# -- webhooks ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookEvent:
    """A thin BigCommerce webhook callback: which resource changed; the resource itself must be re-fetched.
    `order_ref` is the order concerned (for shipment events, `data.orderId`); `hash` dedupes deliveries."""

    scope: str
    resource_type: str
    resource_id: str
    order_ref: str
    store_id: str
    hash: str
    created_at: datetime
    new_status_id: int | None = None


def parse_webhook(payload: object) -> WebhookEvent:
    """A `store/order/*` or `store/shipment/*` callback body. Raises PayloadError for any other shape."""
    body = _object(payload, "webhook")
    data = _object(body.get("data"), "webhook.data")
    scope, kind = _text(body, "scope"), _text(data, "type")
    if not scope.startswith(("store/order/", "store/shipment/")) or kind not in {"order", "shipment"}:
        raise PayloadError(f"webhook: scope {scope!r} with data.type {kind!r} is not an order or shipment event")
    resource = _int(data, "id", "webhook.data")
    order = resource if kind == "order" else _int(data, "orderId", "webhook.data")
    status = data.get("status")
    new_status = _int(status, "new_status_id", "webhook.data.status") if isinstance(status, dict) else None
    created = body.get("created_at")
    if isinstance(created, bool) or not isinstance(created, int):
        raise PayloadError(f"webhook.created_at: expected a Unix time, got {created!r}")
    return WebhookEvent(scope=scope, resource_type=kind, resource_id=str(resource), order_ref=str(order),
                        store_id=str(body.get("store_id", "")), hash=_text(body, "hash"),
                        created_at=datetime.fromtimestamp(created, UTC), new_status_id=new_status)


def error_message(body: object) -> str:
    """The platform's message from a V2 error body `[{"status": 4xx, "message": "..."}]` (or a V3-style
    `{"title": ...}`); '' when there is none. Never raises."""
    items: Sequence[object] = body if isinstance(body, list) else [body]
    messages = []
    for item in items:
        if isinstance(item, dict):
            text = item.get("message") or item.get("title") or item.get("detail")
            if isinstance(text, str) and text.strip():
                messages.append(text.strip())
    return "; ".join(messages)

"""Magento 2 REST JSON -> our platform types: pure functions, no I/O, so real payloads can be parsed in tests.

Contract: every `parse_*` function takes decoded JSON (`Any`) and either returns our type or raises
`PayloadError` naming the part of the payload that is not the documented shape (the connector turns it into a
`MalformedResponseError`). Nothing here guesses a default for a field the platform promises: a missing id or
timestamp is an error, never a silently empty result.

Shapes follow the official Swagger 2.0 schema (`admin-schema-2.4.9.yaml`): `sales-data-order-interface`,
`sales-data-shipment-interface`, the `*-search-result-interface` envelopes and `error-response`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.magento import comments
from connectors.magento.carriers import CARRIER_NAMES
from connectors.payload import PayloadError as PayloadError  # re-exported: callers catch it from here
from connectors.payload import json_array
from schemas.platform import Address, FulfillmentLine, PlatformFulfillment, PlatformLine, PlatformOrder, Tracking

PLATFORM_ID: Literal["magento2"] = "magento2"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
OUR_ORDER_PREFIX = "fulfillsync:"
"""Prefix of our order id in `ext_order_id`, so an id another integration stored there is never taken for ours."""
UNKNOWN_CARRIER_TITLE = "Custom Value"
"""The track title Magento's admin shows for the `custom` carrier; written when we know no carrier at all."""




@dataclass(frozen=True)
class SearchResult:
    """One page of a `GET /V1/<entities>?searchCriteria…` answer: raw items and the total matching count."""

    items: tuple[Mapping[str, Any], ...]
    total_count: int


# -- scalars ------------------------------------------------------------------------------------------------

def parse_datetime(value: Any, where: str) -> datetime:
    """Magento's `Y-m-d H:i:s` (UTC in the database and the REST API) as an aware datetime."""
    if not isinstance(value, str):
        raise PayloadError(f"{where}: expected a 'Y-m-d H:i:s' string, got {type(value).__name__}")
    try:
        moment = datetime.strptime(value.strip(), DATETIME_FORMAT)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise PayloadError(f"{where}: {value!r} is not a 'Y-m-d H:i:s' timestamp") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    """An aware datetime as the `Y-m-d H:i:s` UTC string Magento compares `updated_at` with."""
    return moment.astimezone(UTC).strftime(DATETIME_FORMAT)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError(f"{where}: expected an integer id, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise PayloadError(f"{where}: expected an integer id, got {value!r}") from None


def _quantity(value: Any, where: str) -> int:
    """Magento quantities are decimals (`2.0000` in the database, `2` in JSON); ours are whole units."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(f"{where}: expected a quantity, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise PayloadError(f"{where}: expected a quantity, got {value!r}") from None
    if number < 0 or not number.is_integer():
        raise PayloadError(f"{where}: quantity {value!r} is not a whole number of units (decimal quantities are "
                           "not supported)")
    return int(number)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    return () if value is None else json_array(value, where)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


# -- envelopes and errors -----------------------------------------------------------------------------------

def parse_search_result(payload: Any, what: str) -> SearchResult:
    """The `{items, search_criteria, total_count}` envelope of a search; `what` names it in errors."""
    body = _mapping(payload, what)
    if "total_count" not in body:
        raise PayloadError(f"{what}: no total_count")
    total = _int(body["total_count"], f"{what}.total_count")
    if "items" not in body:
        raise PayloadError(f"{what}: no items")
    items = tuple(_mapping(item, f"{what}.items[{index}]")
                  for index, item in enumerate(_list(body["items"], f"{what}.items")))
    return SearchResult(items=items, total_count=total)


_NAMED = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)")
_POSITIONAL = re.compile(r"%(\d+)")


def render_error(payload: Any) -> str:
    """Magento's error body `{"message": "… %1 … %name …", "parameters": [...] | {...}}` with the parameters put
    into the message, as the admin would read it; '' when the body is not that shape. Never raises."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("message"), str):
        return ""
    message: str = payload["message"]
    parameters = payload.get("parameters")
    if isinstance(parameters, Mapping):
        message = _NAMED.sub(lambda m: str(parameters.get(m.group(1), m.group(0))), message)
    elif isinstance(parameters, list):
        def positional(match: re.Match[str]) -> str:
            index = int(match.group(1)) - 1
            return str(parameters[index]) if 0 <= index < len(parameters) else match.group(0)
        message = _POSITIONAL.sub(positional, message)
    errors = payload.get("errors")
    if isinstance(errors, list):
        details = [render_error(error) for error in errors]
        message = "; ".join([message, *[detail for detail in details if detail]])
    return " ".join(message.split())


# -- orders -------------------------------------------------------------------------------------------------

def parse_order(payload: Any) -> PlatformOrder:
    """A `sales-data-order-interface` as a PlatformOrder.

    Lines are the top-level items only (`parent_item_id` empty): for configurable and bundle products Magento
    ships the parent item. `cancelled_quantity` is `qty_canceled`; `cancelled` is state `canceled`; our order id
    is `ext_order_id` without its `fulfillsync:` prefix (None when another integration put something there)."""
    order = _mapping(payload, "order")
    order_id = _int(order.get("entity_id"), "order.entity_id")
    where = f"order {order_id}"
    lines = tuple(_parse_line(item, f"{where}.items[{index}]")
                  for index, item in enumerate(_list(order.get("items"), f"{where}.items"))
                  if not _mapping(item, f"{where}.items[{index}]").get("parent_item_id"))
    ext = _text(order.get("ext_order_id"))
    address, method = _shipping(order, where)
    return PlatformOrder(
        order_ref=str(order_id),
        number=_text(order.get("increment_id")),
        updated_at=parse_datetime(order.get("updated_at"), f"{where}.updated_at"),
        created_at=parse_datetime(order["created_at"], f"{where}.created_at") if order.get("created_at") else None,
        lines=lines,
        shipping_address=address,
        email=_text(order.get("customer_email")),
        phone=address.phone if address else None,
        shipping_method=_text(order.get("shipping_description")) or method,
        cancelled=order.get("state") == "canceled",
        our_order_id=ext[len(OUR_ORDER_PREFIX):] if ext and ext.startswith(OUR_ORDER_PREFIX) else None,
    )


def cancellation_state(payload: Any) -> tuple[str, int, list[str]]:
    """What `cancel_order` needs of an order: its `state`, the units of its top-level items still open (ordered,
    not shipped, cancelled or refunded) and the texts of its status history comments."""
    order = _mapping(payload, "order")
    where = f"order {order.get('entity_id')}"
    open_units = 0
    for index, raw in enumerate(_list(order.get("items"), f"{where}.items")):
        item = _mapping(raw, f"{where}.items[{index}]")
        if item.get("parent_item_id"):
            continue
        done = sum(_quantity(item.get(key), f"{where}.items[{index}].{key}")
                   for key in ("qty_shipped", "qty_canceled", "qty_refunded"))
        open_units += max(_quantity(item.get("qty_ordered"), f"{where}.items[{index}].qty_ordered") - done, 0)
    return str(order.get("state") or ""), open_units, order_comments(order)


def order_comments(payload: Any) -> list[str]:
    """The texts of an order's status history comments (`status_histories`; none when the field is absent)."""
    order = _mapping(payload, "order")
    where = f"order {order.get('entity_id')}"
    return [str(_mapping(h, f"{where}.status_histories").get("comment") or "")
            for h in _list(order.get("status_histories") or [], f"{where}.status_histories")]


def _parse_line(payload: Any, where: str) -> PlatformLine:
    item = _mapping(payload, where)
    item_id = _int(item.get("item_id"), f"{where}.item_id")
    ordered = _quantity(item.get("qty_ordered"), f"{where}.qty_ordered")
    cancelled = min(_quantity(item.get("qty_canceled"), f"{where}.qty_canceled"), ordered)
    return PlatformLine(line_ref=str(item_id), sku=_text(item.get("sku")), quantity=ordered,
                        title=_text(item.get("name")), cancelled_quantity=cancelled)


def _shipping(order: Mapping[str, Any], where: str) -> tuple[Address | None, str | None]:
    """The shipping address and method from `extension_attributes.shipping_assignments[0].shipping`."""
    extension = order.get("extension_attributes")
    if not isinstance(extension, Mapping):
        return None, None
    assignments = _list(extension.get("shipping_assignments"), f"{where}.shipping_assignments")
    if not assignments:
        return None, None
    shipping = _mapping(assignments[0], f"{where}.shipping_assignments[0]").get("shipping")
    if not isinstance(shipping, Mapping):
        return None, None
    raw = shipping.get("address")
    address = parse_address(raw, f"{where}.shipping.address") if isinstance(raw, Mapping) else None
    return address, _text(shipping.get("method"))


def parse_address(payload: Mapping[str, Any], where: str) -> Address:
    """A `sales-data-order-address-interface` as our Address (name = first + middle + last name)."""
    name = " ".join(part for part in (_text(payload.get(key)) for key in ("firstname", "middlename", "lastname"))
                    if part)
    street = tuple(line.strip() for line in _list(payload.get("street"), f"{where}.street")
                   if isinstance(line, str) and line.strip())
    return Address(name=name, company=_text(payload.get("company")), lines=street,
                   city=_text(payload.get("city")) or "",
                   region=_text(payload.get("region_code")) or _text(payload.get("region")),
                   postal_code=_text(payload.get("postcode")) or "",
                   country_code=(_text(payload.get("country_id")) or "").upper(),
                   phone=_text(payload.get("telephone")))


def order_item_refs(payload: Any) -> dict[str, str]:
    """`ext_order_item_id` (our line id, written at creation) -> Magento `item_id`, for top-level items."""
    order = _mapping(payload, "order")
    refs: dict[str, str] = {}
    for index, raw in enumerate(_list(order.get("items"), "order.items")):
        item = _mapping(raw, f"order.items[{index}]")
        ours = _text(item.get("ext_order_item_id"))
        if ours and not item.get("parent_item_id"):
            refs[ours] = str(_int(item.get("item_id"), f"order.items[{index}].item_id"))
    return refs


def order_products(payload: Any) -> tuple[dict[str, int], list[str]]:
    """What an order we created holds, as Magento stored it: the units per SKU of its top-level items linked to a
    catalog product (`product_id`), and the SKUs of those linked to none (custom lines), in item order."""
    order = _mapping(payload, "order")
    linked: dict[str, int] = {}
    custom: list[str] = []
    for index, raw in enumerate(_list(order.get("items"), "order.items")):
        item = _mapping(raw, f"order.items[{index}]")
        if item.get("parent_item_id"):
            continue
        sku = _text(item.get("sku")) or ""
        if item.get("product_id") is None:
            custom.append(sku)
        else:
            linked[sku] = linked.get(sku, 0) + _quantity(item.get("qty_ordered"), f"order.items[{index}].qty_ordered")
    return linked, custom


# -- shipments ----------------------------------------------------------------------------------------------

def parse_shipment(payload: Any) -> PlatformFulfillment:
    """A `sales-data-shipment-interface` as a PlatformFulfillment.

    - lines: `items[].order_item_id` / `qty` (items with qty 0 left out);
    - tracking: one number per track; the carrier from the first track (`carrier_code`, then `title`);
      URLs from our comments (`Tracking <number>: <url>`; Magento tracks have no URL field);
    - cancelled: no tracks left and a cancel comment newer than any reinstate comment (Magento has no shipment
      cancel; see `connectors.magento.comments`);
    - updated_at: the newest of the shipment's, its tracks' and its comments' timestamps, because adding or
      removing a track does not touch the shipment's own `updated_at`.
    """
    shipment = _mapping(payload, "shipment")
    shipment_id = _int(shipment.get("entity_id"), "shipment.entity_id")
    where = f"shipment {shipment_id}"
    order_id = _int(shipment.get("order_id"), f"{where}.order_id")
    stamps = [parse_datetime(shipment.get("updated_at") or shipment.get("created_at"), f"{where}.updated_at")]
    lines: list[FulfillmentLine] = []
    for index, raw in enumerate(_list(shipment.get("items"), f"{where}.items")):
        item = _mapping(raw, f"{where}.items[{index}]")
        quantity = _quantity(item.get("qty"), f"{where}.items[{index}].qty")
        if quantity > 0:
            lines.append(FulfillmentLine(line_ref=str(_int(item.get("order_item_id"),
                                                           f"{where}.items[{index}].order_item_id")),
                                         quantity=quantity))
    tracks = [_mapping(raw, f"{where}.tracks[{index}]")
              for index, raw in enumerate(_list(shipment.get("tracks"), f"{where}.tracks"))]
    notes = shipment_comments(shipment, where)
    for track in tracks:
        for key in ("updated_at", "created_at"):
            if track.get(key):
                stamps.append(parse_datetime(track[key], f"{where}.tracks.{key}"))
    stamps.extend(moment for moment, _ in notes if moment is not None)
    numbers = tuple(number for number in (_text(track.get("track_number")) for track in tracks) if number)
    urls = comments.tracking_urls(text for _, text in notes)
    carrier = None
    if tracks:
        carrier = read_carrier(_text(tracks[0].get("title")), _text(tracks[0].get("carrier_code")))
    return PlatformFulfillment(
        fulfillment_ref=str(shipment_id), order_ref=str(order_id), updated_at=max(stamps), lines=tuple(lines),
        tracking=Tracking(carrier=carrier, numbers=numbers, urls=tuple(urls.get(number) for number in numbers)),
        cancelled=not numbers and comments.is_cancelled(text for _, text in notes))


def read_carrier(title: str | None, code: str | None) -> str | None:
    """The canonical carrier of a track; None for our own placeholder (`custom` + `Custom Value`)."""
    if (code or "custom").lower() == "custom" and (title is None or title == UNKNOWN_CARRIER_TITLE):
        return None
    return CARRIER_NAMES.to_canonical(title, code)


def shipment_comments(shipment: Mapping[str, Any], where: str) -> list[tuple[datetime | None, str]]:
    """The shipment's comments oldest first (by `created_at`, then `entity_id`) as (time, text)."""
    keyed: list[tuple[datetime | None, int, int, str]] = []
    for index, raw in enumerate(_list(shipment.get("comments"), f"{where}.comments")):
        comment = _mapping(raw, f"{where}.comments[{index}]")
        text = comment.get("comment")
        if not isinstance(text, str):
            continue
        moment = parse_datetime(comment["created_at"], f"{where}.comments[{index}].created_at") \
            if comment.get("created_at") else None
        entity = comment.get("entity_id")
        keyed.append((moment, entity if isinstance(entity, int) else 0, index, text))
    keyed.sort(key=lambda row: (row[0] or datetime.min.replace(tzinfo=UTC), row[1], row[2]))
    return [(moment, text) for moment, _, _, text in keyed]


def shipment_tracks(payload: Any) -> list[tuple[int, str, str, str]]:
    """The shipment's tracks as (track entity_id, track_number, title, carrier_code)."""
    shipment = _mapping(payload, "shipment")
    rows = []
    for index, raw in enumerate(_list(shipment.get("tracks"), "shipment.tracks")):
        track = _mapping(raw, f"shipment.tracks[{index}]")
        rows.append((_int(track.get("entity_id"), f"shipment.tracks[{index}].entity_id"),
                     _text(track.get("track_number")) or "", _text(track.get("title")) or "",
                     _text(track.get("carrier_code")) or "custom"))
    return rows


def our_fulfillment_refs(payload: Any) -> list[str]:
    """Every `our_fulfillment_id` that our comments on this shipment name, oldest first (the last one is the
    fulfillment the shipment carries now, after a reinstatement)."""
    shipment = _mapping(payload, "shipment")
    found: list[str] = []
    for _, text in shipment_comments(shipment, "shipment"):
        found.extend(ref for ref in comments.references([text]) if ref not in found)
    return found

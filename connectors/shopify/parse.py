"""Pure functions from Shopify JSON to our types, and from our types to Shopify's inputs. No I/O.

Two shapes are read:
- the GraphQL Admin API nodes the connector's operations select (`graphql_order`, `graphql_fulfillment`,
  `graphql_fulfillment_orders`, `created_order`);
- the REST / webhook shape (`webhook_order`, `webhook_fulfillment`, `webhook_fulfillment_order`), which
  `orders/*` and `fulfillments/*` webhooks deliver. Numeric REST ids become the GIDs the GraphQL API uses
  (`admin_graphql_api_id` when present), so both paths give the same refs.

Every reader raises `ShapeError` naming the missing or mistyped part; the connector turns it into a
`MalformedResponseError`. Decisions (also in the connector's docstring): a fulfillment whose status is CANCELLED,
ERROR or FAILURE counts as cancelled (it ships nothing); a line's `cancelled_quantity` is `quantity` minus
`currentQuantity` (units removed by edits or refunds); our order id is read from the order's custom attribute
`fulfillsync_order_id` and our line id from the line's `_fulfillsync_line` property.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.payload import PayloadError, json_array, json_object
from connectors.shopify.carriers import CARRIER_NAMES
from schemas.carriers import tracking_url
from schemas.platform import (
    Address,
    ChangedOrder,
    FulfillmentLine,
    PlatformFulfillment,
    PlatformLine,
    PlatformOrder,
    Tracking,
)

ORDER_MARKER = "fulfillsync_order_id"
LINE_MARKER = "_fulfillsync_line"
SHIPPING_METHOD = "Shipping method"
ORDER_TAG = "fulfillsync"
INACTIVE_FULFILLMENT = frozenset({"CANCELLED", "ERROR", "FAILURE"})


ShapeError = PayloadError  # the JSON lacks what the documented shape promises; the message says which part


# -- small readers -----------------------------------------------------------------------------------------

_obj = json_object
_list = json_array


def _str(value: Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ShapeError(f"{where} is {value!r}, not a non-empty string")
    return value


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(f"{where} is {value!r}, not an integer")
    return value


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ShapeError(f"{where} is {value!r}, not a date-time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ShapeError(f"{where} is {value!r}, not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ShapeError(f"{where} is {value!r}, a date-time without a time zone")
    return moment


def _nodes(connection: Any, where: str) -> Sequence[Any]:
    return _list(_obj(connection, where).get("nodes"), f"{where}.nodes")


def _attributes(values: Any, where: str, key: str = "key") -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for index, item in enumerate(_list(values or [], where)):
        entry = _obj(item, f"{where}[{index}]")
        name = entry.get(key)
        if isinstance(name, str):
            found[name] = entry.get("value") if isinstance(entry.get("value"), str) else None
    return found


def rest_gid(kind: str, payload: Mapping[str, Any], where: str) -> str:
    """The GID of a REST object: its `admin_graphql_api_id`, else built from its numeric `id`."""
    api_id = payload.get("admin_graphql_api_id")
    if isinstance(api_id, str) and api_id.startswith("gid://"):
        return api_id
    return f"gid://shopify/{kind}/{_str(payload.get('id'), f'{where}.id')}"


# -- GraphQL -----------------------------------------------------------------------------------------------

def graphql_address(value: Any, where: str) -> Address | None:
    """A `MailingAddress` (GraphQL field names), or None."""
    return _address(value, where, first="firstName", last="lastName", region="provinceCode", country="countryCodeV2")


def _address(value: Any, where: str, *, first: str, last: str, region: str, country: str) -> Address | None:
    """An address in either of Shopify's spellings (GraphQL camelCase, REST snake_case): the keys that differ
    are named; `name`, `company`, `address1/2`, `city`, `zip` and `phone` are the same in both."""
    if value is None:
        return None
    address = _obj(value, where)
    name = _opt_str(address.get("name")) or " ".join(
        part for part in (_opt_str(address.get(first)), _opt_str(address.get(last))) if part)
    return Address(name=name, company=_opt_str(address.get("company")),
                   lines=tuple(line for line in (_opt_str(address.get("address1")),
                                                 _opt_str(address.get("address2"))) if line),
                   city=_opt_str(address.get("city")) or "", region=_opt_str(address.get(region)),
                   postal_code=_opt_str(address.get("zip")) or "",
                   country_code=_opt_str(address.get(country)) or "", phone=_opt_str(address.get("phone")))


def graphql_line(value: Any, where: str) -> PlatformLine:
    line = _obj(value, where)
    quantity = _int(line.get("quantity"), f"{where}.quantity")
    current = line.get("currentQuantity")
    remaining = _int(current, f"{where}.currentQuantity") if current is not None else quantity
    return PlatformLine(line_ref=_str(line.get("id"), f"{where}.id"), sku=_opt_str(line.get("sku")),
                        quantity=quantity, title=_opt_str(line.get("title")),
                        cancelled_quantity=max(quantity - remaining, 0))


def graphql_order(value: Any, where: str = "order") -> PlatformOrder:
    """An `Order` node as `ORDERS_CHANGED_SINCE` selects it (every line item already fetched)."""
    order = _obj(value, where)
    attributes = _attributes(order.get("customAttributes"), f"{where}.customAttributes")
    shipping_line = order.get("shippingLine")
    shipping = (_opt_str(_obj(shipping_line, f"{where}.shippingLine").get("title")) if shipping_line is not None
                else None) or attributes.get(SHIPPING_METHOD)
    lines = _nodes(order.get("lineItems"), f"{where}.lineItems")
    return PlatformOrder(
        order_ref=_str(order.get("id"), f"{where}.id"), number=_opt_str(order.get("name")),
        updated_at=_time(order.get("updatedAt"), f"{where}.updatedAt"),
        created_at=_time(order["createdAt"], f"{where}.createdAt") if order.get("createdAt") else None,
        lines=tuple(graphql_line(line, f"{where}.lineItems.nodes[{i}]") for i, line in enumerate(lines)),
        shipping_address=graphql_address(order.get("shippingAddress"), f"{where}.shippingAddress"),
        email=_opt_str(order.get("email")), phone=_opt_str(order.get("phone")), shipping_method=shipping,
        cancelled=order.get("cancelledAt") is not None, our_order_id=attributes.get(ORDER_MARKER),
        cancel_mark=cancel_mark(order))


def graphql_changed_order(value: Any, where: str = "order") -> ChangedOrder:
    """An `Order` node as `ORDERS_CHANGED_SINCE` lists it: ours when it carries our tag and our order id as its
    `sourceIdentifier` (`create_order_input`)."""
    order = _obj(value, where)
    tags = order.get("tags")
    ours = isinstance(tags, list) and ORDER_TAG in tags
    return ChangedOrder(order_ref=_str(order.get("id"), f"{where}.id"),
                        updated_at=_time(order.get("updatedAt"), f"{where}.updatedAt"),
                        our_order_id=_opt_str(order.get("sourceIdentifier")) if ours else None,
                        cancel_mark=cancel_mark(order))


def cancel_mark(order: Mapping[str, Any]) -> str | None:
    """`ChangedOrder.cancel_mark` of an `Order` node: `cancelledAt`, `subtotalLineItemsQuantity` (ordered units,
    which only grow: an edit that adds units adds to it) and `currentSubtotalLineItemsQuantity` (what remains).
    Cancelling a units while adding b changes the first sum by b and the second by b - a, so no cancellation
    leaves both alone. None when Shopify left a sum out."""
    ordered, current = order.get("subtotalLineItemsQuantity"), order.get("currentSubtotalLineItemsQuantity")
    if not isinstance(ordered, int) or not isinstance(current, int):
        return None
    return f"{order.get('cancelledAt') or '-'}|{ordered}|{current}"


def graphql_tracking(value: Any, where: str) -> Tracking:
    """`trackingInfo` (a list of `{company number url}`) as one Tracking: the first company names the carrier;
    entries without a number are dropped."""
    infos = [_obj(item, f"{where}[{i}]") for i, item in enumerate(_list(value or [], where))]
    company = next((_opt_str(info.get("company")) for info in infos if _opt_str(info.get("company"))), None)
    numbered = [info for info in infos if _opt_str(info.get("number"))]
    return Tracking(carrier=CARRIER_NAMES.to_canonical(company),
                    numbers=tuple(str(info["number"]).strip() for info in numbered),
                    urls=tuple(_opt_str(info.get("url")) for info in numbered))


def graphql_fulfillment(value: Any, order_ref: str, where: str = "fulfillment") -> PlatformFulfillment:
    """A `Fulfillment` as `ORDER_FULFILLMENTS` selects it (every fulfillment line item already fetched)."""
    fulfillment = _obj(value, where)
    status = _str(fulfillment.get("status"), f"{where}.status")
    lines: dict[str, int] = {}
    for index, item in enumerate(_nodes(fulfillment.get("fulfillmentLineItems"),
                                        f"{where}.fulfillmentLineItems")):
        entry = _obj(item, f"{where}.fulfillmentLineItems.nodes[{index}]")
        line_ref = _str(_obj(entry.get("lineItem"), f"{where}.fulfillmentLineItems.nodes[{index}].lineItem")
                        .get("id"), f"{where}.fulfillmentLineItems.nodes[{index}].lineItem.id")
        quantity = entry.get("quantity")
        lines[line_ref] = lines.get(line_ref, 0) + _int(quantity, f"{where}.fulfillmentLineItems.nodes[{index}]"
                                                                  ".quantity")
    return PlatformFulfillment(
        fulfillment_ref=_str(fulfillment.get("id"), f"{where}.id"), order_ref=order_ref,
        updated_at=_time(fulfillment.get("updatedAt"), f"{where}.updatedAt"),
        lines=tuple(FulfillmentLine(line_ref=ref, quantity=qty) for ref, qty in lines.items() if qty > 0),
        tracking=graphql_tracking(fulfillment.get("trackingInfo"), f"{where}.trackingInfo"),
        cancelled=status in INACTIVE_FULFILLMENT)


@dataclass(frozen=True)
class OpenLine:
    """Units of an order line that one fulfillment order can still fulfill."""

    fulfillment_order_id: str
    fulfillment_order_line_id: str
    line_ref: str
    remaining: int


def graphql_fulfillment_orders(nodes: Sequence[Any], where: str = "fulfillmentOrders") -> list[OpenLine]:
    """The fulfillable units of `FulfillmentOrder` nodes: only FOs that offer CREATE_FULFILLMENT. Raises
    ShapeError also when an FO has more line items than one page holds (more than 100 lines)."""
    found = []
    for index, value in enumerate(nodes):
        here = f"{where}.nodes[{index}]"
        fulfillment_order = _obj(value, here)
        actions = {_obj(a, f"{here}.supportedActions").get("action")
                   for a in _list(fulfillment_order.get("supportedActions") or [], f"{here}.supportedActions")}
        if "CREATE_FULFILLMENT" not in actions:
            continue
        items = _obj(fulfillment_order.get("lineItems"), f"{here}.lineItems")
        if _obj(items.get("pageInfo") or {}, f"{here}.lineItems.pageInfo").get("hasNextPage"):
            raise ShapeError(f"{here}.lineItems has more than one page; fulfillment orders with over 100 lines "
                             "are not supported")
        fo_id = _str(fulfillment_order.get("id"), f"{here}.id")
        for line_index, item in enumerate(_nodes(items, f"{here}.lineItems")):
            line = _obj(item, f"{here}.lineItems.nodes[{line_index}]")
            found.append(OpenLine(
                fulfillment_order_id=fo_id,
                fulfillment_order_line_id=_str(line.get("id"), f"{here}.lineItems.nodes[{line_index}].id"),
                line_ref=_str(_obj(line.get("lineItem"), f"{here}.lineItems.nodes[{line_index}].lineItem")
                              .get("id"), f"{here}.lineItems.nodes[{line_index}].lineItem.id"),
                remaining=_int(line.get("remainingQuantity"),
                               f"{here}.lineItems.nodes[{line_index}].remainingQuantity")))
    return found


def created_order(value: Any, our_lines: Sequence[str], where: str = "order") -> tuple[str, str | None,
                                                                                     dict[str, str]]:
    """(order ref, name, our line id -> Shopify line ref) of an order created by `create_order_input`: lines are
    matched by their `_fulfillsync_line` property, else by position when no line carries one. Raises ShapeError
    when a line of ours is missing."""
    order = _obj(value, where)
    nodes = _nodes(order.get("lineItems"), f"{where}.lineItems")
    mapping: dict[str, str] = {}
    for index, item in enumerate(nodes):
        line = _obj(item, f"{where}.lineItems.nodes[{index}]")
        marker = _attributes(line.get("customAttributes"), f"{where}.lineItems.nodes[{index}].customAttributes")
        ours = marker.get(LINE_MARKER)
        if ours:
            mapping[ours] = _str(line.get("id"), f"{where}.lineItems.nodes[{index}].id")
    if not mapping and len(nodes) == len(our_lines):
        mapping = {ours: _str(_obj(item, f"{where}.lineItems.nodes[{i}]").get("id"),
                              f"{where}.lineItems.nodes[{i}].id") for i, (ours, item) in
                   enumerate(zip(our_lines, nodes, strict=True))}
    missing = [line for line in our_lines if line not in mapping]
    if missing:
        raise ShapeError(f"{where}.lineItems lacks our lines {missing} (no {LINE_MARKER} property on them)")
    return _str(order.get("id"), f"{where}.id"), _opt_str(order.get("name")), mapping


# -- our fulfillment marks (buyer side) --------------------------------------------------------------------

MARK_NAMESPACE = "fulfillsync"
_MARK_KEY = re.compile(r"[A-Za-z0-9_-]{2,64}")


@dataclass(frozen=True)
class FulfillmentMark:
    """What a buyer order's metafield `fulfillsync.<key>` says about one `our_fulfillment_id`.

    `fulfillment`: the Shopify fulfillment created for it, None while the create's outcome is unknown (the mark
    is written before `fulfillmentCreate`, completed after). `before`: every fulfillment the order had when that
    create began (none of them can be its), `seq`: the mark's place among the order's marks (1 + the highest
    when it was written), which tells which create came later."""

    fulfillment: str | None
    before: frozenset[str]
    seq: int

    def to_json(self) -> str:
        return json.dumps({"fulfillment": self.fulfillment, "before": sorted(self.before), "seq": self.seq},
                          separators=(",", ":"))


def mark_key(our_fulfillment_id: str) -> str:
    """The metafield key for `our_fulfillment_id`: the id itself when Shopify accepts it as a key (2-64 letters,
    digits, `-`, `_`: our ids are UUIDs), else a digest of it."""
    if _MARK_KEY.fullmatch(our_fulfillment_id):
        return our_fulfillment_id
    return "h_" + hashlib.sha256(our_fulfillment_id.encode()).hexdigest()[:62]


def fulfillment_marks(nodes: Sequence[Any], where: str = "order.metafields") -> dict[str, FulfillmentMark]:
    """The marks among metafield nodes `{key value}` of our namespace, by key. A value that is not a mark (someone
    edited it by hand) is left out: its fulfillment is then not found, and a retry creates it again."""
    marks: dict[str, FulfillmentMark] = {}
    for index, value in enumerate(nodes):
        node = _obj(value, f"{where}.nodes[{index}]")
        key, text = node.get("key"), node.get("value")
        if not isinstance(key, str) or not isinstance(text, str):
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        ref, before, seq = data.get("fulfillment"), data.get("before"), data.get("seq")
        if (ref is not None and not isinstance(ref, str)) or not isinstance(before, list) \
                or not all(isinstance(item, str) for item in before) or isinstance(seq, bool) \
                or not isinstance(seq, int):
            continue
        marks[key] = FulfillmentMark(ref, frozenset(before), seq)
    return marks


def _fulfillment_number(ref: str) -> tuple[int, str]:
    tail = ref.rsplit("/", 1)[-1]
    return (int(tail), ref) if tail.isdigit() else (-1, ref)


def marked_fulfillment(key: str, marks: Mapping[str, FulfillmentMark], fulfillments: Sequence[PlatformFulfillment],
                       lines: Mapping[str, int], numbers: Sequence[str]) -> str | None:
    """The active fulfillment that mark `key` names, or None (no mark, or its fulfillment is cancelled or gone).

    A mark whose create's outcome is unknown is resolved from what the order shows: a fulfillment created after
    the mark was written (not in its `before`), that no completed mark claims, with exactly `lines` (line ref ->
    units) and the same tracking `numbers`, and of which this mark is the latest unresolved one written before
    it existed (highest `seq` among the unresolved marks whose `before` lacks it). The sink writes one fulfillment
    of an order at a time, so the create that made a fulfillment is the latest begun before it: a create that
    failed or was abandoned earlier never takes the fulfillment of a later one, even of identical content, and
    two seller fulfillments of identical parcels keep two buyer fulfillments. Pure."""
    mark = marks.get(key)
    if mark is None:
        return None
    if mark.fulfillment is not None:
        named = next((f for f in fulfillments if f.fulfillment_ref == mark.fulfillment), None)
        return named.fulfillment_ref if named is not None and not named.cancelled else None
    claimed = {other.fulfillment for other in marks.values() if other.fulfillment is not None}
    unresolved = [(other.seq, other_key, other) for other_key, other in marks.items() if other.fulfillment is None]
    wanted = (dict(lines), sorted(numbers))
    for fulfillment in sorted(fulfillments, key=lambda f: _fulfillment_number(f.fulfillment_ref)):
        ref = fulfillment.fulfillment_ref
        if fulfillment.cancelled or ref in claimed or ref in mark.before:
            continue
        content = ({line.line_ref: 0 for line in fulfillment.lines}, sorted(fulfillment.tracking.numbers))
        for line in fulfillment.lines:
            content[0][line.line_ref] += line.quantity
        if content != wanted:
            continue
        owner = max((seq, other_key) for seq, other_key, other in unresolved if ref not in other.before)
        if owner[1] == key:
            return ref
    return None


# -- our types to Shopify inputs ---------------------------------------------------------------------------

def tracking_input(tracking: Tracking) -> dict[str, Any] | None:
    """`FulfillmentTrackingInput` for `tracking` (None when there is nothing to send). The company is Shopify's
    name for a carrier it knows (it then builds URLs itself), else the carrier's own name. `urls` is sent only
    when every number has one (given, or built for a carrier Shopify does not know), since Shopify pairs them by
    position."""
    carrier = CARRIER_NAMES.to_platform(tracking.carrier)
    result: dict[str, Any] = {}
    if carrier is not None:
        result["company"] = carrier.name
    if tracking.numbers:
        result["numbers"] = list(tracking.numbers)
        urls = [tracking.urls[i] if i < len(tracking.urls) and tracking.urls[i] else None
                for i in range(len(tracking.numbers))]
        if carrier is not None and not carrier.known:
            urls = [url or tracking_url(tracking.carrier, number) for url, number in zip(urls, tracking.numbers,
                                                                                         strict=True)]
        if all(urls):
            result["urls"] = urls
    return result or None


def mailing_address(address: Address) -> dict[str, Any]:
    """`MailingAddressInput`: the name split at its last space into first and last name."""
    first, _, last = address.name.strip().rpartition(" ")
    result: dict[str, Any] = {"firstName": first or None, "lastName": last or None,
                              "company": address.company, "address1": address.lines[0] if address.lines else None,
                              "address2": ", ".join(address.lines[1:]) or None, "city": address.city or None,
                              "provinceCode": address.region, "zip": address.postal_code or None,
                              "countryCode": address.country_code.upper() or None, "phone": address.phone}
    return {key: value for key, value in result.items() if value is not None}


# -- REST / webhook shape ----------------------------------------------------------------------------------

def _unwrap(payload: Any, key: str) -> Mapping[str, Any]:
    body = _obj(payload, key)
    inner = body.get(key)
    return _obj(inner, key) if inner is not None else body


def rest_tracking(fulfillment: Mapping[str, Any], where: str) -> Tracking:
    numbers = fulfillment.get("tracking_numbers")
    if numbers is None:
        numbers = [fulfillment["tracking_number"]] if fulfillment.get("tracking_number") else []
    urls = fulfillment.get("tracking_urls")
    if urls is None:
        urls = [fulfillment["tracking_url"]] if fulfillment.get("tracking_url") else []
    numbers = [str(n).strip() for n in _list(numbers, f"{where}.tracking_numbers") if str(n).strip()]
    urls = list(_list(urls, f"{where}.tracking_urls"))
    return Tracking(carrier=CARRIER_NAMES.to_canonical(_opt_str(fulfillment.get("tracking_company"))),
                    numbers=tuple(numbers),
                    urls=tuple(_opt_str(urls[i]) if i < len(urls) else None for i in range(len(numbers))))


def webhook_fulfillment(payload: Any, where: str = "fulfillment") -> PlatformFulfillment:
    """A REST / `fulfillments/*` webhook fulfillment (`{"fulfillment": {...}}` or the bare object)."""
    fulfillment = _unwrap(payload, "fulfillment")
    status = _str(fulfillment.get("status"), f"{where}.status").upper()
    lines: dict[str, int] = {}
    for index, item in enumerate(_list(fulfillment.get("line_items") or [], f"{where}.line_items")):
        line = _obj(item, f"{where}.line_items[{index}]")
        ref = rest_gid("LineItem", line, f"{where}.line_items[{index}]")
        lines[ref] = lines.get(ref, 0) + _int(line.get("quantity"), f"{where}.line_items[{index}].quantity")
    return PlatformFulfillment(
        fulfillment_ref=rest_gid("Fulfillment", fulfillment, where),
        order_ref=f"gid://shopify/Order/{_str(fulfillment.get('order_id'), f'{where}.order_id')}",
        updated_at=_time(fulfillment.get("updated_at"), f"{where}.updated_at"),
        lines=tuple(FulfillmentLine(line_ref=ref, quantity=qty) for ref, qty in lines.items() if qty > 0),
        tracking=rest_tracking(fulfillment, where), cancelled=status in INACTIVE_FULFILLMENT)


def webhook_order(payload: Any, where: str = "order") -> PlatformOrder:
    """A REST / `orders/*` webhook order (`{"order": {...}}` or the bare object)."""
    order = _unwrap(payload, "order")
    lines = []
    for index, item in enumerate(_list(order.get("line_items"), f"{where}.line_items")):
        line = _obj(item, f"{where}.line_items[{index}]")
        quantity = _int(line.get("quantity"), f"{where}.line_items[{index}].quantity")
        current = line.get("current_quantity")
        current_quantity = _int(current, f"{where}.line_items[{index}].current_quantity") if current is not None \
            else quantity
        lines.append(PlatformLine(line_ref=rest_gid("LineItem", line, f"{where}.line_items[{index}]"),
                                  sku=_opt_str(line.get("sku")), quantity=quantity,
                                  title=_opt_str(line.get("name")) or _opt_str(line.get("title")),
                                  cancelled_quantity=max(quantity - current_quantity, 0)))
    attributes = _attributes(order.get("note_attributes"), f"{where}.note_attributes", key="name")
    shipping_lines = _list(order.get("shipping_lines") or [], f"{where}.shipping_lines")
    shipping = _opt_str(_obj(shipping_lines[0], f"{where}.shipping_lines[0]").get("title")) if shipping_lines \
        else attributes.get(SHIPPING_METHOD)
    address = order.get("shipping_address")
    return PlatformOrder(
        order_ref=rest_gid("Order", order, where), number=_opt_str(order.get("name")),
        updated_at=_time(order.get("updated_at"), f"{where}.updated_at"),
        created_at=_time(order["created_at"], f"{where}.created_at") if order.get("created_at") else None,
        lines=tuple(lines), shipping_address=_rest_address(address, f"{where}.shipping_address"),
        email=_opt_str(order.get("email")), phone=_opt_str(order.get("phone")), shipping_method=shipping,
        cancelled=order.get("cancelled_at") is not None, our_order_id=attributes.get(ORDER_MARKER))


def _rest_address(value: Any, where: str) -> Address | None:
    return _address(value, where, first="first_name", last="last_name", region="province_code",
                    country="country_code")


def webhook_fulfillment_order(payload: Any, where: str = "fulfillment_order") -> list[OpenLine]:
    """A REST / `fulfillment_orders/*` webhook fulfillment order as fulfillable units (empty when it does not
    offer `create_fulfillment`)."""
    fulfillment_order = _unwrap(payload, "fulfillment_order")
    actions = _list(fulfillment_order.get("supported_actions") or [], f"{where}.supported_actions")
    if "create_fulfillment" not in actions:
        return []
    fo_id = rest_gid("FulfillmentOrder", fulfillment_order, where)
    found = []
    for index, item in enumerate(_list(fulfillment_order.get("line_items"), f"{where}.line_items")):
        line = _obj(item, f"{where}.line_items[{index}]")
        found.append(OpenLine(
            fulfillment_order_id=fo_id,
            fulfillment_order_line_id=rest_gid("FulfillmentOrderLineItem", line, f"{where}.line_items[{index}]"),
            line_ref=f"gid://shopify/LineItem/{_str(line.get('line_item_id'), f'{where}.line_items[{index}]')}",
            remaining=_int(line.get("fulfillable_quantity"), f"{where}.line_items[{index}].fulfillable_quantity")))
    return found

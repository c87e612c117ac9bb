"""Buyer side, as pure rules: which seller ships which line of a buyer order, and what a buyer later cancelled.

`route_order` turns one buyer order (as a buyer connector's `orders_changed_since` returns it) into one
`order.placed` per seller that any line routes to, plus the lines no seller takes (the buyer's own products).
`buyer_cancellation` compares an `order.placed` with the buyer's current order and says what the buyer cancelled
since; `buyer_cancelled_event` makes that an `order.buyer_cancelled` event. `placement_mismatch` checks an
`order.placed` read back from Kafka against the configuration: the seller order sink creates only what
`route_order` could have made. None of them reads a clock, the
network or Kafka: the caller (the buyer order poller) hands in the time and publishes the result. The same input
always gives the same events, with the same ids.

Rules (docs/routing.md, "Routing buyer orders", says why):
- Only the routes whose `buyer` is this connection apply; a line goes to the seller whose routes
  cover its SKU (`Route.covers`, shell-style, case-sensitive). Several routes to the *same* seller may overlap.
- A SKU has at most one seller: the configuration check refuses routes of one buyer to different sellers whose
  patterns share a SKU (`Config`, `schemas.config.sku_overlap`). Should routes that were never validated still
  give a SKU two sellers, its line is sent nowhere and reported unrouted as `ambiguous_route` (file order is an
  invisible priority, and goods shipped by the wrong seller cannot be called back).
- A line with no SKU (None or empty) is reported unrouted as `no_sku`; one no route covers as `no_route`.
- Quantities are net of `cancelled_quantity`. A line with nothing left to ship (net <= 0) is neither routed nor
  reported. A buyer order already cancelled when first seen yields nothing at all.
- Several shipping addresses (`PlatformOrder.addresses` holds two or more, BigCommerce): each address's lines are
  a stored order of their own, per seller: one `order.placed` per (seller, address), shipped to that address
  (with its shipping method), whose order id also derives from the address ref (`schemas.ids.order_id`); the
  event id is the factory's event id made from that order id. A routed line at no address the order lists (a
  digital or pickup item, an address the order does not list) cannot be served: it is reported unrouted as
  `no_address` (its `message` says what to do). An order with one address (or none listed) is routed as before,
  with the same ids: the lines' address refs are not looked at.
- Our line id is the buyer's line ref, verbatim: deterministic, unique within the buyer order (hence within each
  stored order), and it maps back onto the buyer's line with no lookup when tracking is written there.
- `shipping` carries the buyer order's shipping address, email, phone, method and number, so the seller order
  sink can create the order with them; None when the buyer order has no address, email, phone or method. It is
  not part of the event id (it comes from the same buyer order as the lines).
- The seller's `order_ref` is None (the order does not exist on the seller's platform yet); `occurred_at` is the
  time observed. The event id does not depend on it, so a re-poll of an unchanged order is a duplicate.
- Route an order only when it is first seen: a stored order's lines never change (the ledger refuses a second
  `order.placed` with other lines as `order_conflict`); later cancellations go through `buyer_cancellation`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas.config import Connection, Route
from schemas.events import (
    CancelledLine,
    OrderBuyerCancelled,
    OrderLine,
    OrderPlaced,
    PartyRef,
    ShippingAddress,
    ShippingDetails,
    SourceRef,
)
from schemas.factories import order_buyer_cancelled, order_placed
from schemas.ids import event_id, order_id
from schemas.platform import OrderAddress, PlatformLine, PlatformOrder

UnroutedReason = Literal["no_route", "no_sku", "ambiguous_route", "no_address"]
_WHAT_TO_DO: dict[str, str] = {
    "no_route": "no route of this buyer covers its SKU: it is the buyer's own to ship",
    "no_sku": "it has no SKU, so no route can cover it: it is the buyer's own to ship",
    "ambiguous_route": "routes to several sellers cover its SKU; fix the routes so one seller has it (the "
                       "configuration check refuses such routes)",
    "no_address": "the order ships to several addresses and this line is at none of them (a digital or pickup "
                  "item, or an address the order does not list), so no seller can be told where to send it: ship "
                  "it from the buyer's store, or place it again as an order of its own",
}
_MAX_REF = 512  # an OrderLine's line_id, like every id in the events, is at most 512 characters


class RoutingError(ValueError):
    """The input cannot be routed at all: a connection with the wrong role, a route naming a seller connection
    that does not exist or is not a seller, a naive time, or a buyer order whose line refs repeat or are empty.
    These are configuration or connector bugs, not properties of one order; the message names ids, never secrets.
    """


@dataclass(frozen=True)
class UnroutedLine:
    """A line of the buyer order that no seller ships: left alone on the buyer's store, counted and logged once
    per order by the caller. `quantity` is net of cancelled units (always positive)."""

    line_ref: str
    sku: str | None
    quantity: int
    reason: UnroutedReason

    @property
    def message(self) -> str:
        """Why the line is left to the buyer, and what to do about it, for logs."""
        return _WHAT_TO_DO[self.reason]


@dataclass(frozen=True)
class Routing:
    """What one buyer order becomes: one `order.placed` per seller (in the order the sellers first appear among
    the buyer's lines), and the lines left to the buyer. Both empty: the order creates nothing."""

    placed: tuple[OrderPlaced, ...]
    unrouted: tuple[UnroutedLine, ...]


def route_order(
    buyer: Connection,
    order: PlatformOrder,
    *,
    routes: Sequence[Route],
    connections: Iterable[Connection],
    observed_at: datetime,
) -> Routing:
    """Route the lines of `order`, read from the buyer connection `buyer`, to the sellers of `routes`.

    `routes` and `connections` are the configuration's (`Config.routes`, `Config.connections`); routes of other
    buyers are ignored. Raises `RoutingError` when `buyer` is not a buyer connection, when a route of this buyer
    names a seller connection that is missing or not a seller (a validated `Config` never does), when
    `observed_at` has no time zone, or when the order's line refs or address refs repeat or are empty. Never
    raises for what a buyer may legitimately do (lines without SKU, unrouted SKUs, cancelled units or orders,
    lines at no address of an order to several).
    """
    if buyer.role != "buyer":
        raise RoutingError(f"connection {buyer.id!r} has role {buyer.role}, not buyer: it has no orders to route")
    if observed_at.tzinfo is None or observed_at.utcoffset() is None:
        raise RoutingError("observed_at must carry a time zone")
    _check_line_refs(buyer, order)
    own_routes = [route for route in routes if route.buyer == buyer.id]
    sellers = _seller_connections(buyer, own_routes, connections)
    if order.cancelled:
        return Routing(placed=(), unrouted=())

    addresses = {address.ref: address for address in order.addresses} if len(order.addresses) > 1 else {}
    by_seller: dict[tuple[str, str | None], list[OrderLine]] = {}
    unrouted: list[UnroutedLine] = []
    for line in order.lines:
        quantity = net_quantity(line)
        if quantity <= 0:
            continue
        if not line.sku:
            unrouted.append(UnroutedLine(line.line_ref, line.sku, quantity, "no_sku"))
            continue
        covering = list(dict.fromkeys(route.seller for route in own_routes if route.covers(line.sku)))
        if len(covering) != 1:
            reason: UnroutedReason = "no_route" if not covering else "ambiguous_route"
            unrouted.append(UnroutedLine(line.line_ref, line.sku, quantity, reason))
            continue
        if addresses and line.address_ref not in addresses:
            unrouted.append(UnroutedLine(line.line_ref, line.sku, quantity, "no_address"))
            continue
        by_seller.setdefault((covering[0], line.address_ref if addresses else None), []).append(
            OrderLine(line_id=line.line_ref, sku=line.sku, quantity=quantity, title=line.title))

    buyer_party = PartyRef(partner=buyer.partner, connection=buyer.id, platform=buyer.platform,
                           order_ref=order.order_ref)
    placed = []
    for (seller_id, address_ref), lines in by_seller.items():
        event = order_placed(buyer=buyer_party, seller=_party(sellers[seller_id]), lines=lines,
                             occurred_at=observed_at)
        shipping = shipping_details(order, addresses[address_ref] if address_ref is not None else None)
        if address_ref is not None:
            event = placed_as(event, order_id(buyer.id, order.order_ref, seller_id, address_ref))
        placed.append(event if shipping is None else event.model_copy(update={"shipping": shipping}))
    return Routing(placed=tuple(placed), unrouted=tuple(unrouted))


def placed_as(event: OrderPlaced, stored_order_id: str) -> OrderPlaced:
    """`event` as an `order.placed` of the stored order `stored_order_id`: `event` itself when that is its order
    id already (the factory's, `schemas.ids.order_id` of its buyer order and seller), else a copy with that order
    id and an event id derived from both ids. A stored order per address of an order to several (`route_order`)
    has an id the factory cannot derive from the parties; whatever re-makes such an event (the seller order sink
    confirming the seller's order reference) keeps the routed id through this."""
    if event.order_id == stored_order_id:
        return event
    return event.model_copy(update={"order_id": stored_order_id,
                                    "event_id": event_id("order.placed", stored_order_id, event.event_id)})


def placement_mismatch(placed: OrderPlaced, *, routes: Sequence[Route],
                       connections: Iterable[Connection]) -> str | None:
    """Why `placed` is not an order the configuration sends to its seller, or None when it is. It is one when its
    buyer is a configured buyer connection (same partner and platform as the event says), its seller a configured
    seller connection (likewise), and every line's SKU is routed by that buyer's routes to that seller and no
    other (`route_order`'s rule). Whoever produced the event, an order failing this must not reach a seller: the
    caller dead-letters it (`tenant_mismatch`). Never raises; names and SKUs in the text are shortened and
    quoted, as the event may be hostile."""
    known = {connection.id: connection for connection in connections}
    for side, party in (("buyer", placed.buyer), ("seller", placed.seller)):
        connection = known.get(party.connection)
        if connection is None or connection.role != side:
            return f"its {side} connection {_quoted(party.connection)} is not a configured {side}"
        if (connection.partner, connection.platform) != (party.partner, party.platform):
            return (f"its {side} {_quoted(party.partner)} on {_quoted(party.platform)} is not connection "
                    f"{connection.id}'s partner {connection.partner} on {connection.platform}")
    own_routes = [route for route in routes if route.buyer == placed.buyer.connection]
    for line in placed.lines:
        covering = sorted({route.seller for route in own_routes if line.sku and route.covers(line.sku)})
        if covering != [placed.seller.connection]:
            where = "no seller" if not covering else ", ".join(covering)
            return (f"line {_quoted(line.line_id)} (SKU {_quoted(line.sku)}) is routed by buyer "
                    f"{placed.buyer.connection}'s routes to {where}, not to seller {placed.seller.connection}")
    return None


def _quoted(text: str, limit: int = 64) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def shipping_details(order: PlatformOrder, to: OrderAddress | None = None) -> ShippingDetails | None:
    """The shipping details of a buyer order for its sellers: its address and shipping method, or `to`'s for the
    lines of an order to several addresses that ship there; None when there is no address, email, phone or
    shipping method (its number alone ships nothing)."""
    address = order.shipping_address if to is None else to.address
    method = order.shipping_method if to is None else to.shipping_method
    if not (address or order.email or order.phone or method):
        return None
    return ShippingDetails(
        address=None if address is None else ShippingAddress(
            name=address.name, company=address.company, lines=list(address.lines), city=address.city,
            region=address.region, postal_code=address.postal_code, country_code=address.country_code,
            phone=address.phone),
        email=order.email, phone=order.phone, method=method, buyer_order_number=order.number)


def net_quantity(line: PlatformLine) -> int:
    """Units of `line` still to ship: ordered minus cancelled, never below zero."""
    return max(0, line.quantity - line.cancelled_quantity)


def _party(seller: Connection) -> PartyRef:
    return PartyRef(partner=seller.partner, connection=seller.id, platform=seller.platform)


def _seller_connections(buyer: Connection, routes: Sequence[Route],
                        connections: Iterable[Connection]) -> Mapping[str, Connection]:
    """The seller connections that `routes` name, by id; RoutingError for one that is missing or not a seller."""
    known = {connection.id: connection for connection in connections}
    sellers: dict[str, Connection] = {}
    for route in routes:
        seller = known.get(route.seller)
        if seller is None:
            raise RoutingError(f"a route of buyer {buyer.id!r} names seller {route.seller!r}, "
                               "which is not a configured connection")
        if seller.role != "seller":
            raise RoutingError(f"a route of buyer {buyer.id!r} names connection {route.seller!r}, "
                               f"which has role {seller.role}, not seller")
        sellers[seller.id] = seller
    return sellers


def _check_line_refs(buyer: Connection, order: PlatformOrder) -> None:
    addresses = Counter(address.ref for address in order.addresses) if len(order.addresses) > 1 else Counter()
    if any(not ref or len(ref) > _MAX_REF or count > 1 for ref, count in addresses.items()):
        raise RoutingError(f"order {order.order_ref!r} of {buyer.id!r} has shipping address refs that are empty, "
                           f"longer than {_MAX_REF} characters or repeated; each address must have its own")
    refs = Counter(line.line_ref for line in order.lines)
    if any(not ref or len(ref) > _MAX_REF for ref in refs):
        raise RoutingError(f"order {order.order_ref!r} of {buyer.id!r} has a line ref that is empty or longer "
                           f"than {_MAX_REF} characters")
    repeated = sorted(ref for ref, count in refs.items() if count > 1)
    if repeated:
        raise RoutingError(f"order {order.order_ref!r} of {buyer.id!r} repeats line refs {', '.join(repeated)}; "
                           "each line must have its own")


# -- buyer cancellations after placement ---------------------------------------------------------------------


@dataclass(frozen=True)
class LineCancellation:
    """One line of a stored order with units the buyer cancelled: `cancelled` units since placement (cumulative,
    at least 1) and `remaining` units still to ship (`cancelled + remaining` is the placed quantity)."""

    line_id: str
    sku: str
    cancelled: int
    remaining: int


@dataclass(frozen=True)
class BuyerCancellation:
    """What the buyer cancelled of one stored order since it was placed. `whole_order`: nothing is left to ship
    (the buyer cancelled the order, or every unit of it); `lines` then lists every line, fully cancelled.

    It states totals since placement, not the change since the last look: computing it again from the same
    buyer order gives the same value, so a re-poll is a duplicate and a missed poll loses nothing."""

    order_id: str
    whole_order: bool
    lines: tuple[LineCancellation, ...]


def buyer_cancellation(placed: OrderPlaced, current: PlatformOrder) -> BuyerCancellation | None:
    """What the buyer cancelled of `placed` (one seller's share of a buyer order) according to `current`, the
    buyer's order as read now; None when every placed unit is still wanted.

    A line is matched by its line ref (our line id). A placed line the buyer's order no longer lists counts as
    cancelled in full. Units the buyer added after placement are not a cancellation and are ignored (a stored
    order's lines never grow). Raises `RoutingError` when `current` is not the buyer order `placed` came from.
    """
    if current.order_ref != placed.buyer.order_ref:
        raise RoutingError(f"buyer order {current.order_ref!r} is not the one stored order {placed.order_id} "
                           f"was placed for ({placed.buyer.order_ref!r})")
    still_wanted = {} if current.cancelled else {line.line_ref: net_quantity(line) for line in current.lines}
    lines = tuple(
        LineCancellation(line_id=line.line_id, sku=line.sku, cancelled=line.quantity - remaining, remaining=remaining)
        for line in placed.lines
        if (remaining := min(line.quantity, still_wanted.get(line.line_id, 0))) < line.quantity
    )
    if not lines:
        return None
    whole = len(lines) == len(placed.lines) and all(line.remaining == 0 for line in lines)
    return BuyerCancellation(order_id=placed.order_id, whole_order=whole, lines=lines)


def buyer_cancelled_event(cancellation: BuyerCancellation, buyer: Connection,
                          observed_at: datetime) -> OrderBuyerCancelled:
    """The `order.buyer_cancelled` event of `cancellation`, observed on the buyer connection `buyer` at
    `observed_at`. Its id depends on the totals only: the same cancellation seen again is a duplicate. Raises
    `RoutingError` when `buyer` is not a buyer connection or `observed_at` has no time zone."""
    if buyer.role != "buyer":
        raise RoutingError(f"connection {buyer.id!r} has role {buyer.role}, not buyer: it cannot cancel orders")
    if observed_at.tzinfo is None or observed_at.utcoffset() is None:
        raise RoutingError("observed_at must carry a time zone")
    return order_buyer_cancelled(
        order_id=cancellation.order_id,
        source=SourceRef(partner=buyer.partner, connection=buyer.id, platform=buyer.platform),
        whole_order=cancellation.whole_order,
        lines=[CancelledLine(line_id=line.line_id, sku=line.sku, cancelled_quantity=line.cancelled,
                             remaining_quantity=line.remaining) for line in cancellation.lines],
        occurred_at=observed_at)

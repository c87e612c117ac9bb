"""Seller side, as pure rules: the lines of the order to create on a seller's platform, linked to the seller's
catalog and priced (docs/routing.md, "Seller orders", says why).

`seller_order(placed, routes, lookup)` takes a stored order's `order.placed`, the configuration's routes and what
the seller's catalog holds for the order's SKUs (`connectors.base.SellerConnector.catalog_variants`), and returns
the lines, currency and shipping price of the order to create (`SellerOrder`), or why it must not be created
(`CatalogRefusal`). It reads no clock, network or Kafka: the same inputs always give the same answer.

Rules:
- A line's route is the first route, in configuration order, from the order's buyer to its seller that covers
  the line's SKU (routes of one buyer to one seller may overlap; the first one's settings win).
- Exactly one catalog item has the SKU: the line is linked to it. Its unit price is the route's price-list entry
  for the SKU when the route has one, else the item's catalog price; an item without a catalog price and no list
  entry is not sellable, and counts as missing.
- No item has the SKU: with the route's `unknown_sku: reject` (the default) the order is refused
  (`unknown_sku`); with `custom_line` the line goes as a custom line (title and SKU, flagged on the order by the
  connector) at its price-list entry, or 0.
- Several items have the SKU: the order is refused (`ambiguous_sku`) whatever `unknown_sku` says: picking one would
  ship and bill a guess.
- One refusal names every SKU at fault; `ambiguous_sku` wins over `unknown_sku` as the reason, since it cannot be
  fixed by adding a product. Nothing is created in part: a seller order is the whole stored order or nothing.
- Shipping is charged once per order: the largest flat charge among the routes the lines came by (`free`: 0).
- Prices are in the seller store's currency (`CatalogLookup.currency`); the buyer's own prices never come in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from schemas.config import FlatShipping, PriceList, Route
from schemas.events import OrderLine, OrderPlaced
from schemas.platform import CatalogLookup, CatalogVariant, SellerLine

CatalogReason = Literal["unknown_sku", "ambiguous_sku"]
_SHOWN = 10  # SKUs named in a refusal's message; the rest are counted


@dataclass(frozen=True)
class SellerOrder:
    """The lines of the order to create, priced in `currency` (None: the store's own), and the shipping charged
    for it."""

    lines: tuple[SellerLine, ...]
    currency: str | None
    shipping_price: Decimal


@dataclass(frozen=True)
class CatalogRefusal:
    """Why the order is not created: the dead-letter reason, the SKUs at fault and a message for a person."""

    reason: CatalogReason
    unknown: tuple[str, ...]
    ambiguous: tuple[str, ...]

    def text(self, seller: str) -> str:
        """What is wrong and what to do, naming the seller connection and the SKUs."""
        parts = []
        if self.ambiguous:
            parts.append(f"several items of {seller}'s catalog have SKU {_listed(self.ambiguous)}: give each its "
                         "own SKU there")
        if self.unknown:
            parts.append(f"{seller}'s catalog has no sellable item with SKU {_listed(self.unknown)}: add it there "
                         "(or set the route's unknown_sku to custom_line)")
        return "; ".join(parts) + ", then requeue this dead letter"


def _listed(skus: Sequence[str]) -> str:
    shown = ", ".join(repr(sku) for sku in skus[:_SHOWN])
    return shown if len(skus) <= _SHOWN else f"{shown} and {len(skus) - _SHOWN} more"


def line_route(placed: OrderPlaced, routes: Sequence[Route], sku: str) -> Route:
    """The route `sku` of `placed` came by (module docstring). LookupError when none covers it: callers check
    `ledger.routing.placement_mismatch` first."""
    for route in routes:
        if (route.buyer == placed.buyer.connection and route.seller == placed.seller.connection
                and route.covers(sku)):
            return route
    raise LookupError(f"no route from {placed.buyer.connection} to {placed.seller.connection} covers SKU {sku!r}")


def order_skus(placed: OrderPlaced) -> tuple[str, ...]:
    """The SKUs to look up in the seller's catalog for `placed`, each once, sorted."""
    return tuple(sorted({line.sku for line in placed.lines}))


def seller_order(placed: OrderPlaced, routes: Sequence[Route], lookup: CatalogLookup
                 ) -> SellerOrder | CatalogRefusal:
    """The seller order for `placed` (module docstring). LookupError as `line_route`."""
    lines: list[SellerLine] = []
    unknown: list[str] = []
    ambiguous: list[str] = []
    shipping = Decimal(0)
    for line in placed.lines:
        route = line_route(placed, routes, line.sku)
        if isinstance(route.shipping, FlatShipping):
            shipping = max(shipping, route.shipping.flat)
        listed = route.price.prices.get(line.sku) if isinstance(route.price, PriceList) else None
        found = lookup.variants.get(line.sku, ())
        if len(found) > 1:
            ambiguous.append(line.sku)
            continue
        variant = found[0] if found and (found[0].price is not None or listed is not None) else None
        if variant is None and route.unknown_sku == "reject":
            unknown.append(line.sku)
            continue
        lines.append(_seller_line(line, variant, listed))
    if unknown or ambiguous:
        return CatalogRefusal(reason="ambiguous_sku" if ambiguous else "unknown_sku",
                              unknown=tuple(dict.fromkeys(unknown)), ambiguous=tuple(dict.fromkeys(ambiguous)))
    return SellerOrder(lines=tuple(lines), currency=lookup.currency, shipping_price=shipping)


def unlinked(placed: OrderPlaced) -> SellerOrder:
    """`placed`'s lines as they are, linked to nothing and priced at 0: what finding the order an earlier attempt
    created needs (`SellerConnector.find_order` matches lines by what the platform keeps, not by catalog item)."""
    return SellerOrder(lines=tuple(_seller_line(line, None, None) for line in placed.lines), currency=None,
                       shipping_price=Decimal(0))


def _seller_line(line: OrderLine, variant: CatalogVariant | None, listed: Decimal | None) -> SellerLine:
    if listed is not None:
        price = listed
    elif variant is not None and variant.price is not None:
        price = variant.price
    else:
        price = Decimal(0)
    return SellerLine(line_ref=line.line_id, sku=line.sku, quantity=line.quantity, title=line.title,
                      variant=variant, unit_price=price)

"""What the connectors hand to the pipeline and take from it: orders and fulfillments in our own terms.

Every platform's JSON is parsed into these types inside its connector; nothing outside `connectors/` sees a
platform's payload. References (`order_ref`, `line_ref`, `fulfillment_ref`) are the platform's own ids as strings
(a Shopify GID, a BigCommerce numeric id, a WooCommerce tracking id...). Carriers are canonical names
(`schemas.carriers.canonical_carrier`); each connector maps them to and from its platform's names.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

T = TypeVar("T")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(_Frozen):
    """A postal address as the seller needs it on a label."""

    name: str
    company: str | None = None
    lines: tuple[str, ...] = ()
    city: str = ""
    region: str | None = None  # state or province code where the platform has one
    postal_code: str = ""
    country_code: str = ""  # ISO 3166-1 alpha-2
    phone: str | None = None


class PlatformLine(_Frozen):
    """One line of a platform order. `cancelled_quantity` counts units the buyer cancelled (or refunded before
    shipping) on the platform; they are not to be shipped."""

    line_ref: str
    sku: str | None
    quantity: int
    title: str | None = None
    cancelled_quantity: int = 0
    address_ref: str | None = None
    """The `OrderAddress.ref` of the address this line ships to, on a platform whose lines each ship to one of
    their order's addresses (BigCommerce `order_address_id`); None: the order's address, or none at all."""


class OrderAddress(_Frozen):
    """One shipping address of an order whose lines may ship to several (`PlatformOrder.addresses`): `ref` is the
    platform's id of it, `shipping_method` the method chosen for it."""

    ref: str
    address: Address
    shipping_method: str | None = None


class PlatformOrder(_Frozen):
    """An order as read from a platform.

    `our_order_id` is set when the order carries fulfillsync's reference (a seller order we created);
    `number` is what people call the order (`#1001`, `100000023`), `order_ref` what the API calls it.
    """

    order_ref: str
    number: str | None = None
    updated_at: AwareDatetime
    created_at: AwareDatetime | None = None
    lines: tuple[PlatformLine, ...]
    shipping_address: Address | None = None
    email: str | None = None
    phone: str | None = None
    shipping_method: str | None = None
    cancelled: bool = False
    our_order_id: str | None = None
    cancel_mark: str | None = None
    """See `ChangedOrder.cancel_mark`: the same mark, when the platform's light listing gives one."""
    addresses: tuple[OrderAddress, ...] = ()
    """Every shipping address of the order, where its lines may ship to several (BigCommerce); empty where the
    platform has one per order. With two or more, each line's `address_ref` names its own, and the order is
    routed per address (`ledger.routing`); `shipping_address` and `shipping_method` are the first one's."""


class FulfillmentLine(_Frozen):
    """Units of one platform line covered by a fulfillment."""

    line_ref: str
    quantity: int


class Tracking(_Frozen):
    """A fulfillment's carrier and tracking. `urls[i]` belongs to `numbers[i]` (None: build it or leave it out)."""

    carrier: str | None = None
    numbers: tuple[str, ...] = ()
    urls: tuple[str | None, ...] = ()


class PlatformFulfillment(_Frozen):
    """A fulfillment (shipment) as read from a platform; `updated_at` becomes the event's `source_version`.

    Platforms without a cancel (Magento) report a fulfillment whose tracks were all removed as cancelled
    (see the connector's docstring)."""

    fulfillment_ref: str
    order_ref: str
    updated_at: AwareDatetime
    lines: tuple[FulfillmentLine, ...]
    tracking: Tracking = Tracking()
    cancelled: bool = False


Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
"""An amount in a store's currency, never negative."""


class CatalogVariant(_Frozen):
    """One sellable item of a seller's catalog, as found by its SKU (`SellerConnector.catalog_variants`).

    `variant_ref` is what the platform's order-create call takes for the line (Shopify: the ProductVariant GID;
    BigCommerce: the variant id; Magento: the simple product's id; WooCommerce: the variation id, or the product
    id for a simple product); `product_ref` is its product (Shopify product GID, BigCommerce product id, Magento
    product id, WooCommerce product id). `options` are the option values that make the variant, where the
    platform's order-create call needs them (BigCommerce: option id -> option value id). `price` is the catalog
    price in the store's currency (None: the catalog gives none); `inventory` the units on hand, where tracked."""

    sku: str
    product_ref: str
    variant_ref: str
    title: str | None = None
    price: Money | None = None
    options: tuple[tuple[str, str], ...] = ()
    inventory: int | None = None


class CatalogLookup(_Frozen):
    """What a seller's catalog holds for some SKUs: for each SKU asked, every variant whose SKU is exactly it
    (empty: none; more than one: ambiguous), and the store's currency (ISO 4217) its prices are in."""

    currency: str
    variants: dict[str, tuple[CatalogVariant, ...]]


class SellerLine(_Frozen):
    """One line of an order to create on a seller's platform. `line_ref` is our stored order's line id.

    `variant` is the seller's catalog item the line is linked to; None makes a custom line (title and SKU only,
    the route's `unknown_sku: custom_line`), which the connector flags on the order so the seller sees it is not
    one of its products. `unit_price` is what the seller charges the buyer per unit, in the seller store's
    currency."""

    line_ref: str
    sku: str | None
    quantity: int = Field(ge=1)
    title: str | None = None
    variant: CatalogVariant | None = None
    unit_price: Money = Decimal(0)


class NewOrder(_Frozen):
    """An order to create on a seller's platform: its lines priced in `currency` (the seller store's; None: the
    store's default) and `shipping_price` charged once for the order."""

    our_order_id: str
    buyer_order_number: str | None = None
    lines: tuple[SellerLine, ...] = Field(min_length=1)
    shipping_address: Address | None = None
    email: str | None = None
    phone: str | None = None
    shipping_method: str | None = None
    currency: str | None = None
    shipping_price: Money = Decimal(0)

    def unlinked_skus(self) -> tuple[str, ...]:
        """The SKUs (or line refs, for a line without one) of the custom lines, for the flag on the order."""
        return tuple(line.sku or line.line_ref for line in self.lines if line.variant is None)


class CreatedOrder(_Frozen):
    """The seller-side order: its reference, and our line id -> the seller's line ref."""

    order_ref: str
    number: str | None = None
    line_refs: dict[str, str]


class CancelledUnits(_Frozen):
    """Units of one line of a seller's order that the buyer cancelled: totals since the order was placed, so
    `cancelled_quantity + remaining_quantity` is the line's ordered quantity. `line_ref` is the seller's."""

    line_ref: str
    sku: str | None = None
    cancelled_quantity: int = Field(ge=0)
    remaining_quantity: int = Field(ge=0)


class OrderCancellation(_Frozen):
    """What to cancel of an order on a seller's platform. `whole_order`: all of it (the buyer cancelled the order
    or every unit); else the units of `lines`. `our_order_id` is our reference, written where the platform keeps a
    note, so a repeated cancellation is recognised."""

    our_order_id: str
    whole_order: bool
    lines: tuple[CancelledUnits, ...] = ()

    def note(self) -> str:
        """A note for the seller's staff saying what not to ship, ending with our order id. The same totals always
        give the same text, so a connector that finds it among the order's notes knows it was written already."""
        if self.whole_order:
            what = "the buyer cancelled this whole order: do not ship it"
        else:
            what = "the buyer cancelled units of this order, do not ship them: " + "; ".join(
                f"{line.sku or 'line ' + line.line_ref}: {line.cancelled_quantity} cancelled, "
                f"{line.remaining_quantity} still to ship" for line in self.lines)
        return f"fulfillsync: {what} [order fulfillsync:{self.our_order_id}]"


class FulfillmentRequest(_Frozen):
    """A fulfillment to write onto a buyer's order. `our_fulfillment_id` is stored on the platform where it has a
    place for it (a comment, a note) so a retry finds what an earlier attempt created."""

    our_fulfillment_id: str
    lines: tuple[FulfillmentLine, ...] = Field(min_length=1)
    tracking: Tracking = Tracking()
    notify_customer: bool = False


class ChangedOrder(_Frozen):
    """An order a poll saw change, as a light listing gives it: its ref on the platform, fulfillsync's order id
    when it carries our reference (None: not ours), its updated time, and its cancellation mark.

    `cancel_mark` is an opaque string that changes whenever the order, or any unit of it, is cancelled (Shopify:
    `cancelledAt` and the sums of its line items' ordered and current quantities); two equal marks of one order
    mean nothing was cancelled in between, whatever else changed (a fulfillment we wrote, a note). None: the
    platform gives no such mark."""

    order_ref: str
    our_order_id: str | None = None
    updated_at: AwareDatetime
    cancel_mark: str | None = None


RejectReason = Literal["invalid_order", "invalid_payload"]
"""Why a connector could not read one order of a page: `invalid_payload` when the order's JSON itself is unusable
(invalid UTF-8 or an unpaired surrogate in a string, nesting deeper than the connectors accept), `invalid_order`
when it is JSON but not an order we can take (a required field missing, a decimal quantity, a SKU or reference
longer than the events allow). Both are dead-letter reasons of `schemas.events.DeadLetterReason`."""


class RejectedOrder(_Frozen):
    """One order of a page that did not parse, as `Page.rejected` reports it.

    `order_ref` is the platform's id when it could be read (None otherwise); `message` says what is wrong and where
    (a field path such as `order 7.items[0].qty_ordered`); `raw` is the order's JSON as the platform sent it
    (invalid UTF-8 bytes kept as they were), with the connection's secrets redacted and cut to
    `connectors.rejects.MAX_RAW_CHARS` characters; `updated_at` is its modification time when readable (the
    connector's cursor moves past it like past any order)."""

    order_ref: str | None
    reason: RejectReason
    message: str
    raw: bytes
    updated_at: AwareDatetime | None = None


class Page(_Frozen, Generic[T]):
    """One page of a poll: what changed, the cursor to resume from, and whether more is waiting right now.

    `rejected` are the page's orders that could not be read (each on its own: the others are in `items`); the
    cursor moves past them as past the others, so the caller reports each (a dead letter) and goes on."""

    items: tuple[T, ...]
    cursor: str
    has_more: bool = False
    rejected: tuple[RejectedOrder, ...] = ()

"""The one interface every platform connector implements (Shopify, BigCommerce, WooCommerce, Magento 2, manual).

Connectors speak the platform's API and hand back our normalised types; the pipeline never sees platform JSON.
Contract for every method:
- it raises `RetryableError` for failures worth retrying later (429, 5xx, timeouts, connection errors) and
  `PermanentError` for the rest (4xx, a payload the platform refuses), each carrying the platform's own message
  and never a credential;
- a write is safe to retry: before creating, it looks for what an earlier attempt may already have created
  (keyed by our order id or fulfillment id on the platform).
Cursors are opaque strings: the caller stores them and hands them back; they survive restarts and overlap a
little, so a change made while a poll runs is seen by the next one (duplicates are the ledger's to drop).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from schemas.platform import (
    CatalogLookup,
    ChangedOrder,
    CreatedOrder,
    FulfillmentRequest,
    NewOrder,
    OrderCancellation,
    Page,
    PlatformFulfillment,
    PlatformOrder,
    Tracking,
)


class ConnectorError(Exception):
    """A platform call failed. `platform_message` is what the platform said, with secrets removed."""

    def __init__(self, message: str, *, connection: str, platform_message: str = "",
                 status: int | None = None) -> None:
        super().__init__(message)
        self.connection = connection
        self.platform_message = platform_message
        self.status = status


class RetryableError(ConnectorError):
    """Worth retrying later; `retry_after_s` is the platform's hint, when it gave one."""

    def __init__(self, message: str, *, connection: str, platform_message: str = "", status: int | None = None,
                 retry_after_s: float | None = None, not_applied: bool = False) -> None:
        super().__init__(message, connection=connection, platform_message=platform_message, status=status)
        self.retry_after_s = retry_after_s
        self.not_applied = not_applied  # the platform surely did nothing (429, no connection): safe to resend


class PermanentError(ConnectorError):
    """Retrying will not help: the record is dead-lettered as `platform_rejected` with the platform's message."""


class FulfillmentGone(PermanentError):
    """The fulfillment to update is no longer on the platform: deleted there, or by a rewrite of ours that stopped
    between its delete and its write (BigCommerce). The buyer tracking sink writes the fulfillment again (found
    first, should part of it be there)."""


class MalformedResponseError(RetryableError):
    """The platform answered 2xx with a body we cannot read (not JSON, truncated, or not the documented shape).
    Retryable, because a cut connection or a proxy page looks the same; the message says what was wrong."""


def described(error: Exception) -> str:
    """`error`'s message, followed by the platform's own message (already redacted) when it adds something."""
    text = str(error)
    platform_message = getattr(error, "platform_message", "")
    if platform_message and platform_message not in text:
        text = f"{text} (platform said: {platform_message})"
    return text


class Connector(ABC):
    """Shared by both sides: closing the HTTP client."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the connection pool. Never raises."""


Skip = Callable[[ChangedOrder], bool]
"""See `BuyerConnector.orders_changed_since`."""


class BuyerConnector(Connector):
    """What the pipeline needs of a buyer's store."""

    @abstractmethod
    async def orders_changed_since(self, cursor: str | None, skip: Skip | None = None) -> Page[PlatformOrder]:
        """One page of orders created or changed since `cursor` (None: from the connection's start window).
        Call again with the returned cursor while `has_more`.

        Orders are parsed one by one (`connectors.rejects`): an order that does not parse (a field missing, a
        decimal quantity, a SKU over 512 characters, invalid UTF-8, nesting too deep) is in `Page.rejected` with
        its reason, and the cursor moves past it. A body that is not JSON or is truncated fails the whole page
        (`MalformedResponseError`, retryable).

        `skip` is the caller's hint, asked of each changed order as the light listing gives it, that it needs
        nothing of that order (known to it, and `cancel_mark` unchanged). Connectors whose full reads cost more
        than their listing (Shopify's query cost) list light first and read in full only the orders not skipped;
        the others may ignore it, so a caller still handles a skipped order that comes back."""

    @abstractmethod
    async def find_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str | None:
        """The buyer-side id of a fulfillment an earlier attempt of `request` created, if any: by the
        `our_fulfillment_id` marker where the platform stores one, else by the same lines and tracking numbers."""

    @abstractmethod
    async def create_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str:
        """Create it and return the buyer-side id. Callers run `find_fulfillment` first; a RetryableError from
        a create may mean it was created anyway, so the retry starts with `find_fulfillment` again."""

    @abstractmethod
    async def update_tracking(self, order_ref: str, fulfillment_ref: str, tracking: Tracking) -> str:
        """Replace the carrier and tracking of a fulfillment we created; returns its (possibly new) ref
        (WooCommerce Shipment Tracking has no update: delete and re-add gives a new id)."""

    @abstractmethod
    async def cancel_fulfillment(self, order_ref: str, fulfillment_ref: str) -> None:
        """Cancel a fulfillment we created; a no-op when it is already cancelled."""


class SellerConnector(Connector):
    """What the pipeline needs of a seller's store."""

    @abstractmethod
    async def catalog_variants(self, skus: Sequence[str]) -> CatalogLookup:
        """Every variant of the seller's catalog whose SKU is exactly one of `skus` (case-sensitive, as the
        platforms compare them), and the store's currency. A SKU nothing has maps to an empty tuple; archived,
        deleted or draft products are not sellable and not returned. Reads only; RetryableError/PermanentError
        as every call. The caller caches the answer (`streams.sellers.catalog`)."""

    @abstractmethod
    async def find_order(self, order: NewOrder) -> CreatedOrder | None:
        """The order an earlier attempt of `create_order(order)` created, found by our reference stored on the
        platform, with our lines mapped to its lines; None when there is none. Lines are matched by what the
        platform keeps of each (our line marker, or the SKU in creation order), never by `SellerLine.variant`, which
        may have changed since: callers may pass the lines unlinked. PermanentError when the order found does not
        match them (edited on the platform); RetryableError as every call. `create_order` begins with it."""

    @abstractmethod
    async def create_order(self, order: NewOrder) -> CreatedOrder:
        """Create the order, or return the one an earlier attempt created for `order.our_order_id` (found by
        our reference stored on the platform). Lines with a `variant` are created as that catalog item (the
        seller's inventory moves as the platform moves it for an order of its products) at `unit_price`; lines
        without one as custom lines, and the order is flagged (a tag or note naming `NewOrder.unlinked_skus`).
        `shipping_price` is the order's shipping charge."""

    @abstractmethod
    async def orders_changed_since(self, cursor: str | None, skip: Skip | None = None) -> Page[PlatformOrder]:
        """One page of orders changed since `cursor`; see `BuyerConnector.orders_changed_since`."""

    async def changed_orders_since(self, cursor: str | None) -> Page[ChangedOrder]:
        """`orders_changed_since` reduced to what a seller poll needs (same cursor, same errors). Connectors whose
        full listing costs more than a light one (Shopify's query cost) list less instead."""
        page = await self.orders_changed_since(cursor)
        return Page(items=tuple(ChangedOrder(order_ref=order.order_ref, our_order_id=order.our_order_id,
                                             updated_at=order.updated_at) for order in page.items),
                    cursor=page.cursor, has_more=page.has_more, rejected=page.rejected)

    @abstractmethod
    async def cancel_order(self, order_ref: str, cancellation: OrderCancellation) -> None:
        """Cancel on the seller's platform what the buyer cancelled of order `order_ref`: the order when
        `cancellation.whole_order`, else its cancelled units, as far as the platform allows (each connector's
        docstring says how). It states totals, so cancelling the same again is a no-op. PermanentError when the
        platform refuses (an order already shipped or closed)."""

    @abstractmethod
    async def fulfillments(self, order_ref: str, known_refs: Iterable[str] = ()) -> tuple[PlatformFulfillment, ...]:
        """Every fulfillment of the order, active and cancelled. `known_refs` are the refs the caller saw before:
        one the platform no longer lists (BigCommerce deletes shipments, WooCommerce Shipment Tracking deletes
        items) comes back cancelled, with no lines (see `vanished_as_cancelled`)."""


class StoreConnector(BuyerConnector, SellerConnector):
    """A platform's connector: the same store can be a buyer in one route and a seller in another."""


def vanished_as_cancelled(order_ref: str, found: tuple[PlatformFulfillment, ...], known_refs: Iterable[str],
                          version: datetime) -> tuple[PlatformFulfillment, ...]:
    """`found` plus a cancelled, line-less fulfillment for every known ref that is not in it, versioned `version`
    (the platform's newest time for the order, so the cancellation sorts after what was seen before)."""
    present = {fulfillment.fulfillment_ref for fulfillment in found}
    gone = sorted(set(known_refs) - present)
    return found + tuple(PlatformFulfillment(fulfillment_ref=ref, order_ref=order_ref, updated_at=version, lines=(),
                                             cancelled=True) for ref in gone)

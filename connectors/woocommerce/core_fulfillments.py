"""Fulfillments on WooCommerce's core Order Fulfillments API (`/wc/v3/orders/{id}/fulfillments`).

Close to our model: per-item quantities (`_items`), one tracking number (`_tracking_number`, `_shipping_provider`,
`_tracking_url`), free meta, soft delete. We write our fulfillment id as `_fulfillsync_id` and, when a
fulfillment has several numbers, all of them as `_fulfillsync_tracking` beside the first one in the core keys.
A PUT with `meta_data` replaces all meta, so tracking updates send the whole meta back. Only fulfillments with
`is_fulfilled` count (a draft is not a shipment); `date_deleted` marks a cancelled one.
Failure: ConnectorError subclasses only, as `connectors.base` says.
"""

from __future__ import annotations

from typing import Any

from connectors.base import PermanentError
from connectors.woocommerce.client import WooClient
from connectors.woocommerce.parse import (
    EXTRA_TRACKING,
    CoreFulfillment,
    parse_core_fulfillment,
    parse_core_fulfillments,
)
from connectors.woocommerce.payloads import core_fulfillment_meta, core_tracking_meta
from schemas.platform import FulfillmentRequest, PlatformFulfillment, Tracking

_TRACKING_KEYS = frozenset({"_tracking_number", "_tracking_url", "_shipping_provider", "_shipment_provider",
                            EXTRA_TRACKING})


class CoreFulfillmentsApi:
    """One site's core fulfillments endpoints, as buyer and as seller."""

    def __init__(self, client: WooClient, *, notify_customer: bool) -> None:
        self._client = client
        self._notify = notify_customer

    @staticmethod
    def _path(order_ref: str) -> str:
        return f"/wp-json/wc/v3/orders/{order_ref}/fulfillments"

    async def _list(self, order_ref: str) -> list[CoreFulfillment]:
        raw, response = await self._client.get(self._path(order_ref))
        return self._client.parse(response, parse_core_fulfillments, raw)

    async def _one(self, order_ref: str, fulfillment_ref: str) -> tuple[CoreFulfillment, Any] | None:
        """The fulfillment and its raw JSON; None when the store does not know it."""
        try:
            raw, response = await self._client.get(f"{self._path(order_ref)}/{fulfillment_ref}")
        except PermanentError as error:
            if error.status == 404 and "rest_no_route" not in error.platform_message:
                return None
            raise
        return self._client.parse(response, parse_core_fulfillment, raw), raw

    def _params(self, notify: bool) -> dict[str, str]:
        return {"notify_customer": "true" if notify else "false"}

    # -- buyer ---------------------------------------------------------------------------------------------

    async def find(self, order_ref: str, request: FulfillmentRequest) -> str | None:
        """An active fulfillment carrying our id, else None. Never one found by its lines and numbers: our id is
        sent in the request that creates the fulfillment (`_fulfillsync_id`), and matching content would let two
        seller fulfillments of identical parcels share one (or both take a merchant's own)."""
        for fulfillment in await self._list(order_ref):
            if fulfillment.deleted_at is None and fulfillment.our_fulfillment_id == request.our_fulfillment_id:
                return fulfillment.fulfillment_id
        return None

    async def create(self, order_ref: str, request: FulfillmentRequest) -> str:
        body = {"status": "fulfilled", "is_fulfilled": True,
                "meta_data": core_fulfillment_meta(request.our_fulfillment_id, request.lines, request.tracking)}
        raw, response = await self._client.call("POST", self._path(order_ref),
                                                 params=self._params(self._notify or request.notify_customer),
                                                 body=body)
        return self._client.parse(response, parse_core_fulfillment, raw).fulfillment_id

    async def update(self, order_ref: str, fulfillment_ref: str, tracking: Tracking) -> str:
        """Replace the tracking meta in place (other meta kept); the ref stays. PermanentError when the
        fulfillment is unknown or deleted."""
        found = await self._one(order_ref, fulfillment_ref)
        if found is None or found[0].deleted_at is not None:
            raise self._client.connection_error(
                f"fulfillment {fulfillment_ref} of order {order_ref} does not exist or was deleted; its tracking "
                "cannot be updated (create a new fulfillment instead)", status=404)
        kept = [{"key": e["key"], "value": e.get("value")} for e in found[1].get("meta_data") or []
                if isinstance(e, dict) and e.get("key") not in _TRACKING_KEYS]
        await self._client.call("PUT", f"{self._path(order_ref)}/{fulfillment_ref}",
                                params=self._params(self._notify),
                                body={"meta_data": kept + core_tracking_meta(tracking)})
        return fulfillment_ref

    async def cancel(self, order_ref: str, fulfillment_ref: str) -> None:
        """Soft-delete it; a no-op when it is already deleted or unknown."""
        found = await self._one(order_ref, fulfillment_ref)
        if found is None or found[0].deleted_at is not None:
            return
        try:
            await self._client.call("DELETE", f"{self._path(order_ref)}/{fulfillment_ref}")
        except PermanentError as error:
            if error.status != 404 or "rest_no_route" in error.platform_message:
                raise

    # -- seller --------------------------------------------------------------------------------------------

    async def fulfillments(self, order_ref: str) -> tuple[PlatformFulfillment, ...]:
        """Every fulfilled (not draft) fulfillment, deleted ones as cancelled (versioned by their deletion)."""
        return tuple(
            PlatformFulfillment(
                fulfillment_ref=f.fulfillment_id, order_ref=f.order_ref, lines=f.lines, tracking=f.tracking,
                updated_at=max(f.updated_at, f.deleted_at) if f.deleted_at else f.updated_at,
                cancelled=f.deleted_at is not None)
            for f in await self._list(order_ref) if f.is_fulfilled)

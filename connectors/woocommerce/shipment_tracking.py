"""Fulfillments on the WooCommerce Shipment Tracking API (`wc-shipment-tracking/v3`, also served by AST).

The plugin keeps tracking items per order with no quantities and no update verb. How we map that (see also the
package docstring):
- Buyer side (we write): a fulfillment is one tracking item per number; its ref is the first item's
  `tracking_id`. Which items and lines form which fulfillment is recorded in the order meta
  `fulfillsync_tracking` ({our fulfillment id: {tracking_ids, lines, cancelled}}). Updating tracking deletes the
  group's items and adds new ones (new ref); cancelling deletes them and marks the group cancelled.
- Seller side (we read): the seller's items all together are one fulfillment of the whole order (every unit not
  cancelled), ref `{order_id}-shipment-tracking`, versioned by the order's `date_modified_gmt`. When every item
  is deleted (the order meta `_wc_shipment_tracking_items` remains, empty), it is reported cancelled.
Failure: ConnectorError subclasses only, as `connectors.base` says.
"""

from __future__ import annotations

from typing import Any

from connectors.base import PermanentError
from connectors.woocommerce.client import WooClient
from connectors.woocommerce.parse import (
    GROUPS_MARKER,
    WCST_META,
    TrackingGroup,
    TrackingItem,
    has_meta,
    parse_order,
    parse_tracking_groups,
    parse_tracking_item,
    parse_tracking_items,
    tracking_of_items,
)
from connectors.woocommerce.payloads import shipment_tracking_bodies
from schemas.platform import FulfillmentLine, FulfillmentRequest, PlatformFulfillment, Tracking

SELLER_REF_SUFFIX = "-shipment-tracking"


class ShipmentTrackingApi:
    """One site's Shipment Tracking endpoints, as buyer and as seller."""

    def __init__(self, client: WooClient) -> None:
        self._client = client

    @staticmethod
    def _path(order_ref: str) -> str:
        return f"/wp-json/wc-shipment-tracking/v3/orders/{order_ref}/shipment-trackings"

    async def _items(self, order_ref: str) -> list[TrackingItem]:
        raw, response = await self._client.get(self._path(order_ref))
        return self._client.parse(response, parse_tracking_items, raw)

    async def _groups(self, order_ref: str) -> dict[str, TrackingGroup]:
        raw, response = await self._client.get(f"/wp-json/wc/v3/orders/{order_ref}", {"_fields": "id,meta_data"})
        meta = raw.get("meta_data") if isinstance(raw, dict) else None
        if not isinstance(meta, list):
            raise self._client.http.shape_error(response, f"order {order_ref} has no meta_data array")
        return parse_tracking_groups(meta)

    async def _save_groups(self, order_ref: str, groups: dict[str, TrackingGroup]) -> None:
        body = {"meta_data": [{"key": GROUPS_MARKER, "value": {k: g.to_json() for k, g in groups.items()}}]}
        await self._client.call("PUT", f"/wp-json/wc/v3/orders/{order_ref}", body=body)

    async def _add(self, order_ref: str, body: dict[str, Any]) -> TrackingItem:
        raw, response = await self._client.call("POST", self._path(order_ref), body=body)
        return self._client.parse(response, parse_tracking_item, raw)

    async def _delete(self, order_ref: str, tracking_id: str) -> None:
        """Delete one item; one that is already gone counts as deleted."""
        try:
            await self._client.call("DELETE", f"{self._path(order_ref)}/{tracking_id}")
        except PermanentError as error:
            if error.status != 404 or "rest_no_route" in error.platform_message:
                raise

    # -- buyer ---------------------------------------------------------------------------------------------

    async def find(self, order_ref: str, request: FulfillmentRequest) -> str | None:
        """Our group for `request` whose items all still exist, else unclaimed items with exactly the request's
        tracking numbers (an attempt that added items but failed before recording the group: recorded now)."""
        groups = await self._groups(order_ref)
        items = await self._items(order_ref)
        present = {item.tracking_id for item in items}
        group = groups.get(request.our_fulfillment_id)
        if group is not None and not group.cancelled and group.tracking_ids and set(group.tracking_ids) <= present:
            return group.tracking_ids[0]
        matched = _match(items, request.tracking.numbers, _claimed(groups, request.our_fulfillment_id))
        if not request.tracking.numbers or len(matched) < len(request.tracking.numbers):
            return None
        groups[request.our_fulfillment_id] = TrackingGroup(tuple(i.tracking_id for i in matched), request.lines)
        await self._save_groups(order_ref, groups)
        return matched[0].tracking_id

    async def create(self, order_ref: str, request: FulfillmentRequest) -> str:
        """Add one item per tracking number (reusing unclaimed items an interrupted attempt added) and record
        the group. A fulfillment without a tracking number cannot be written: PermanentError."""
        if not request.tracking.numbers:
            raise self._client.connection_error(
                f"fulfillment {request.our_fulfillment_id} has no tracking number, and WooCommerce Shipment Tracking "
                "stores nothing but tracking numbers; nothing was written to order " + order_ref)
        groups = await self._groups(order_ref)
        existing = _match(await self._items(order_ref), request.tracking.numbers,
                          _claimed(groups, request.our_fulfillment_id))
        reused = {item.number: item for item in existing}
        ids = []
        for body in shipment_tracking_bodies(request.tracking):
            item = reused.pop(body["tracking_number"], None) or await self._add(order_ref, body)
            ids.append(item.tracking_id)
        groups[request.our_fulfillment_id] = TrackingGroup(tuple(ids), request.lines)
        await self._save_groups(order_ref, groups)
        return ids[0]

    async def update(self, order_ref: str, fulfillment_ref: str, tracking: Tracking) -> str:
        """Delete the group's items and add the new ones (the plugin has no update); returns the new ref. An
        attempt stopped after adding some of the new items (the group still records the old ones) is resumed:
        the retry reuses those unclaimed items instead of adding their numbers twice."""
        if not tracking.numbers:
            raise self._client.connection_error(
                f"new tracking for {fulfillment_ref} on order {order_ref} has no tracking number; Shipment Tracking "
                "cannot hold a fulfillment without one (cancel it instead)")
        groups = await self._groups(order_ref)
        our_id, group = _group_of(groups, fulfillment_ref)
        for tracking_id in group.tracking_ids if group else (fulfillment_ref,):
            await self._delete(order_ref, tracking_id)
        unclaimed = [] if our_id is None else _match(await self._items(order_ref), tracking.numbers,
                                                     _claimed(groups, our_id))
        reused = {item.number: item for item in unclaimed}
        ids = tuple([(reused.pop(body["tracking_number"], None) or await self._add(order_ref, body)).tracking_id
                     for body in shipment_tracking_bodies(tracking)])
        if our_id is not None and group is not None:
            groups[our_id] = TrackingGroup(ids, group.lines)
            await self._save_groups(order_ref, groups)
        return ids[0]

    async def cancel(self, order_ref: str, fulfillment_ref: str) -> None:
        """Delete the group's items and mark it cancelled; a no-op when already done."""
        groups = await self._groups(order_ref)
        our_id, group = _group_of(groups, fulfillment_ref)
        if group is not None and group.cancelled:
            return
        for tracking_id in group.tracking_ids if group else (fulfillment_ref,):
            await self._delete(order_ref, tracking_id)
        if our_id is not None and group is not None:
            groups[our_id] = TrackingGroup(group.tracking_ids, group.lines, cancelled=True)
            await self._save_groups(order_ref, groups)

    # -- seller --------------------------------------------------------------------------------------------

    async def fulfillments(self, order_ref: str) -> tuple[PlatformFulfillment, ...]:
        """The seller's tracking read as one fulfillment of the whole order (see the module docstring)."""
        raw, response = await self._client.get(f"/wp-json/wc/v3/orders/{order_ref}")
        order = self._client.parse(response, parse_order, raw)
        items = await self._items(order_ref)
        if not items and not has_meta(raw.get("meta_data"), WCST_META):
            return ()
        lines = tuple(FulfillmentLine(line_ref=line.line_ref, quantity=line.quantity - line.cancelled_quantity)
                      for line in order.lines if line.quantity - line.cancelled_quantity > 0)
        return (PlatformFulfillment(
            fulfillment_ref=f"{order.order_ref}{SELLER_REF_SUFFIX}", order_ref=order.order_ref,
            updated_at=order.updated_at, lines=lines, tracking=tracking_of_items(items) if items else Tracking(),
            cancelled=not items),)


def _claimed(groups: dict[str, TrackingGroup], except_id: str) -> set[str]:
    return {tid for our_id, g in groups.items() if our_id != except_id and not g.cancelled for tid in g.tracking_ids}


def _match(items: list[TrackingItem], numbers: tuple[str, ...], claimed: set[str]) -> list[TrackingItem]:
    """Unclaimed items carrying `numbers`, one per number, in the numbers' order (may be fewer than numbers)."""
    pool = [item for item in items if item.tracking_id not in claimed]
    found = []
    for number in numbers:
        hit = next((item for item in pool if item.number == number), None)
        if hit is not None:
            pool.remove(hit)
            found.append(hit)
    return found


def _group_of(groups: dict[str, TrackingGroup], ref: str) -> tuple[str | None, TrackingGroup | None]:
    for our_id, group in groups.items():
        if ref in group.tracking_ids:
            return our_id, group
    return None, None

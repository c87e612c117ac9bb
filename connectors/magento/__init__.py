"""Magento 2 / Adobe Commerce connector (platform id `magento2`): REST `/rest/{store_code}/V1/…`, Bearer token.

Every platform-specific decision, in one place (docs/platforms/magento.md has the connection settings and failure
modes, and points here):

- **Auth**: `Authorization: Bearer <credentials.access_token>`. Since 2.4.4 an integration token works as a
  bearer token only when the merchant enables *Allow OAuth Access Tokens to be used as standalone Bearer tokens*;
  OAuth 1.0a signing is not implemented. A 401 surfaces as PermanentError with that hint; the token is redacted
  from every message.
- **Rate limits**: Magento core has none for these endpoints; `requests_per_s` defaults to 4. A 429 from the
  host's CDN/WAF is retried as `PlatformHttp` does, and its `Retry-After` pauses the whole connection.
- **Polling** (`orders_changed_since`, both sides): `GET /V1/orders` filtered `updated_at gteq` (UTC
  `Y-m-d H:i:s`, the cursor's time minus the 2-minute overlap), sorted `updated_at, entity_id` ascending, keyset
  paged (see the method), `pageSize` never above 300 (Magento's input limit), stopping when
  `currentPage * pageSize >= total_count` because older versions answer the last page again past the end.
- **Lines**: an order's lines are its top-level items (`parent_item_id` empty); configurable and bundle products
  are shipped by their parent item. Quantities must be whole numbers (decimal quantities raise a
  MalformedResponseError). `cancelled_quantity` is `qty_canceled`; an order in state `canceled` is cancelled.
- **Shipments are fulfillments**: one per `POST /V1/order/{id}/ship`; each tracking number is one track
  (`track_number`, `title`, `carrier_code` from `connectors/magento/carriers.py`; no carrier: `custom` /
  `Custom Value`).
  Shipments are read with `GET /V1/shipments` (`order_id eq`) and `GET /V1/shipment/{id}`.
- **Tracking URLs**: Magento tracks have no URL field. When writing to a Magento buyer the URLs go into the
  shipment comment (`Tracking <number>: <url>`, visible on the storefront); reading, those lines give the URLs
  back, and a track without one has URL None (the pipeline builds one for known carriers).
- **Our fulfillment id** is written in the shipment comment (`[ref fulfillsync:<id>]`), in the request that
  creates the shipment; `find_fulfillment` looks for it only, never for a shipment with the same lines and
  tracking numbers (two seller fulfillments of identical parcels would share one).
- **Cancel**: Magento cannot cancel or delete a shipment. `cancel_fulfillment` writes a comment `Fulfillment
  cancelled …` on the shipment and the order, then deletes every track. A shipment with no tracks whose newest
  cancel/reinstate comment is a cancel reads as cancelled (`connectors.magento.comments`). Sellers on Magento
  cancel a shipment the same way in the admin: delete its tracks and add a shipment comment beginning with
  `Fulfillment cancelled`; a shipment without tracks and without that comment is active, without tracking.
  **Magento keeps the units counted as shipped** (`qty_shipped`), so a replacement for the same units cannot be
  shipped again: `create_fulfillment` then reinstates the cancelled shipment with exactly those lines (tracks
  added back, `Fulfillment reinstated …` comment naming the new fulfillment) and returns its id.
- **Tracking edits**: tracks are added and deleted until they match (added first, so a shipment never looks
  trackless midway); changed URLs are told in a new comment. A fulfillment's `updated_at` (the ledger's source
  version) is the newest of the shipment's, its tracks' and its comments' timestamps, because track changes do
  not touch the shipment's own `updated_at`. Deleting a track without a comment leaves no newer timestamp
  (a Magento limitation): our own edits always add a track or a comment, and a seller's such deletion is seen as
  soon as anything else on the shipment changes.
- **Timestamps** are read and filtered as UTC `Y-m-d H:i:s` (Magento's database convention; unverified on
  installs with a non-UTC database).
- **Seller order creation**: `POST /V1/orders` (a persisted order with our prices at 0), not the quote flow. The
  quote flow needs products with stock and prices in the seller's catalog, a customer or guest cart, a shipping
  method the store offers and a payment step, in four to five calls, any of which can fail halfway and leave an
  orphan cart; a dropship order is already paid on the buyer's store and settled between marketplace and
  seller, so the seller's totals, stock reservation and payment capture are not wanted. The cost: no totals or
  stock logic run on the seller's Magento. Our order id goes in `ext_order_id` as `fulfillsync:<our_order_id>`
  (the prefix keeps ids other integrations store there from being read as ours) and our line ids in each item's
  `ext_order_item_id`; `create_order` first searches `ext_order_id eq` and returns the existing order.
  Required fields we have no value for: email `dropship+<our_order_id>@fulfillsync.invalid`, telephone `n/a`,
  payment method `checkmo` (offline).
- **A buyer's cancellation** (`cancel_order`): the whole order by `POST /V1/orders/{id}/cancel` (Magento cancels
  what is not shipped; `false` for an order it cannot cancel is a PermanentError); cancelled units by an order
  comment saying what not to ship, since REST cannot cancel single items. An order `complete` or `closed` is
  refused; one already cancelled, or with the same comment, is left alone.
- **Errors**: Magento's `{"message": "… %1 … %name …", "parameters": [...] | {...}}` is rendered with its
  parameters before it is surfaced.
"""

from connectors.magento.carriers import CARRIER_NAMES
from connectors.magento.connector import MagentoConnector
from connectors.platform import PlatformDescription

__all__ = ["PLATFORM", "MagentoConnector"]

PLATFORM = PlatformDescription(
    platform="magento2", title="Magento 2", connector=MagentoConnector,
    webhooks=None,  # core Magento sends no webhooks fulfillsync can verify: deliveries are refused
    carrier_names=CARRIER_NAMES,
    tracking_edits_keep_order_time=True)  # tracks added to or removed from a shipment leave the order's updated_at

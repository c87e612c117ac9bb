"""Magento 2 / Adobe Commerce connector (platform id `magento2`): REST `/rest/{store_code}/V1/…`, Bearer token.

Every platform-specific decision, in one place (docs/platforms/magento.md has the connection settings and failure
modes, and points here):

- **Auth** (`connectors/magento/auth.py`), chosen by the credentials: `access_token` alone is sent as
  `Authorization: Bearer`; an integration's `consumer_key`, `consumer_secret`, `access_token` and
  `access_token_secret` sign every request with OAuth 1.0a HMAC-SHA256 (oauthlib, an httpx auth hook: header
  and query parameters signed, as Magento checks them). Since 2.4.4 an integration token works as a bearer token
  only when the merchant enables *Allow OAuth Access Tokens to be used as standalone Bearer tokens*. A 401 surfaces
  as PermanentError naming the connection and what to check for its way of authenticating (a bearer connection
  is told to configure the four OAuth credentials); every credential is redacted from every message.
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
- **Catalog** (`catalog_variants`, `connectors/magento/catalog.py`): `GET /V1/products` `sku in` (50 SKUs a
  search; a SKU with a comma by its own `eq`), matched exactly; enabled `simple` and `virtual` products only (a
  configurable parent is no order line, its child simple products are); price `price` in the base currency
  (`GET /V1/directory/currency`); inventory only when the list carries `stock_item` (Magento 2.3+ lists do not).
- **Seller order creation**: `POST /V1/orders` (a persisted order), not the quote flow. The quote flow needs a
  customer or guest cart, a shipping method the store offers and a payment step, in four to five calls, any of
  which can fail halfway and leave an orphan cart, and it recomputes prices and shipping from the seller's rules
  instead of the route's; a dropship order is already paid on the buyer's store and settled between marketplace
  and seller. A linked line is its catalog product (`product_id`, `sku`, `product_type`), a custom line has no
  product; every line is priced `unit_price` (`price`, `original_price`, `row_total` and `base_` twins),
  `shipping_amount` is the route's shipping, `subtotal`/`grand_total` add up, in the order's currency or else the
  store's base currency. Custom lines are named in `customer_note` and in an order comment. Our order id goes in
  `ext_order_id` as `fulfillsync:<our_order_id>` (the prefix keeps ids other integrations store there from being
  read as ours) and our line ids in each item's `ext_order_item_id`; `create_order` first searches
  `ext_order_id eq` and, found, reads the order whole and finishes what an earlier attempt left undone.
  Required fields we have no value for: email `dropship+<our_order_id>@fulfillsync.invalid`, telephone `n/a`,
  payment method `checkmo` (offline).
- **Seller stock**: `POST /V1/orders` runs no inventory logic, and Magento's REST API has no decrement and no
  reservation call, only quantity writes. So `create_order` reads each linked SKU's legacy stock item
  (`GET /V1/stockItems/{sku}`; unmanaged stock is left alone), writes a plan comment (`SKU: before -> after`),
  sets each quantity (`PUT /V1/products/{sku}/stockItems/{itemId}`, the whole item as read, `qty` changed), then
  a "stock moved" comment. A retry finding the plan sets the quantities still as planned and names those that changed
  since in a comment; one finding the second comment does nothing: a crash never skips nor doubles the move
  (`connectors/magento/seller_notes.py`). Trade-offs: a sale on the seller's store between our read and our write
  within one attempt is overwritten;
  the legacy stock item is MSI's default source (single-source stores); and on stores running MSI, Magento
  deducts the shipped units from the source once more when the seller ships (with a compensating reservation for
  a placement reservation that `POST /V1/orders` never made: magento/magento2#40313), so the salable quantity is
  right but the source quantity ends that many units low. docs/platforms/magento.md tells sellers.
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

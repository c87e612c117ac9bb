"""WooCommerce connector: REST `wp-json/wc/v3` plus a tracking API. Every WooCommerce-specific decision is listed
here, in one place (docs/platforms/woocommerce.md has the connection settings, the key's permissions, failure modes
and the simulated store, and points here); `connector.py` is the class, `parse.py` / `payloads.py` the pure
JSON mapping, `shipment_tracking.py` / `core_fulfillments.py` the two tracking APIs, `client.py` the JSON layer
over the shared `connectors.http.PlatformHttp` (timeouts, rate limit, retries, redaction).

Connection and auth
- `base_url` is the site root (what precedes `/wp-json`). Consumer key and secret go as HTTP Basic auth, never in
  the URL. Basic auth is readable on plain http, so the constructor refuses an `http://` base_url
  (`InsecureConnectionError`) unless the host is loopback (127.0.0.1, localhost, ::1: the simulated store). We do
  not implement OAuth 1.0a, WooCommerce's scheme for plain http.
- Both keys and their Basic token are redacted from every error. A refused key answers 401 (WooCommerce says
  `woocommerce_rest_authentication_error` "Consumer key is invalid." / "Consumer secret is invalid.", or
  `woocommerce_rest_cannot_view` when no credentials arrived, e.g. a host stripping the Authorization header):
  a PermanentError saying to check the connection's credentials.
- Rate limits: WooCommerce has none, hosts and WAFs do. Default 2 requests/s per connection (`requests_per_s`
  overrides). A 429 is retried after its `Retry-After`, and holds every request of the connection meanwhile.

Polling (`orders_changed_since`)
- `GET /wc/v3/orders?modified_after=…&dates_are_gmt=true&orderby=modified&order=asc&per_page=100&page=N` with
  `status=processing,completed,cancelled,refunded`: paid orders and cancellations only. Pending, on-hold
  (awaiting payment) and failed orders are not passed on until they become processing.
- Page numbers alone lose changes: an order edited during a walk jumps to the end and shifts every later order
  one place back, so one is never read. So each request starts after the newest `date_modified_gmt` read so far
  minus one second (keyset pagination; `modified_after` is exclusive and times have one-second resolution, so
  ties are re-read, never skipped), and moves to the next page number under the same bound only when a full
  page holds one single second. The page token (`bound|page`) lives in the shared `PollCursor`, which adds its
  overlap between walks. Duplicates are expected downstream.
- An order: `order_ref` = `id`, `number`, times from the `_gmt` fields (site-local fields ignored), lines from
  `line_items` (`line_ref` = the item id that fulfillments name), shipping address from `shipping` (name falls
  back to billing's), email and phone from `billing`, `shipping_method` = the first shipping line's title,
  `cancelled` for status cancelled, refunded or trash, `our_order_id` from order meta `fulfillsync_order_id`.
  Partial refunds are not read (`cancelled_quantity` stays 0): they need `/orders/{id}/refunds`; cancelled and
  refunded orders are.

The seller's catalog (`catalog_variants`)
- Currency: `GET /wc/v3/data/currencies/current` ({code, name, symbol}). It needs the same permission as
  `GET /wc/v3/settings/general/woocommerce_currency` (the key's user must have `manage_woocommerce`: a Shop
  manager or an Administrator, who can also create orders) and answers three fields instead of the setting with
  every currency WooCommerce knows as its options.
- Items: `GET /wc/v3/products?sku=A,B&status=publish&_fields=…`, at most 100 SKUs (and 2,000 characters) a
  request, every page (X-WP-TotalPages). With a `sku` filter WooCommerce lists variations beside products; it
  splits the value at commas (and also matches the whole value), so a SKU holding a comma is asked alone. It
  matches without case (MySQL's collation): we keep only items whose SKU is exactly the one asked.
- Sellable: status `publish` (a disabled variation is `private`), `purchasable` (for an administrator's key: it
  has a price), not a variable, grouped or external product (a variable product is sold as one of its
  variations), and for a variation a published parent, read in one more request (`include=<parent ids>`,
  `_fields=id,status`) because a variation stays `publish` when its product is drafted or trashed.
- `product_ref` is the product id (a variation's parent), `variant_ref` the item's own id; `price` is `price`
  (the sale price while on sale); `inventory` is `stock_quantity` when stock is managed (`manage_stock` true, or
  a variation using its product's stock), else None. WooCommerce's SKUs are unique, so a SKU has one item at most.

Creating orders on a seller (`create_order`)
- Idempotency: WooCommerce cannot filter orders by meta, and `search` covers only addresses, email and item
  names. So before creating, we scan the newest orders (`orderby=date&order=desc`, 100 per page, `_fields`
  trimmed) back to 48 hours before the newest one for order meta `fulfillsync_order_id`. A retry more than
  48 hours after an attempt that did create the order would create a second one.
- One `POST /wc/v3/orders`, paid: `set_paid` with status processing. WooCommerce takes the stock of the order's
  products when it first reaches processing (`wc_maybe_reduce_stock_levels`, guarded by the order's
  `_order_stock_reduced`), so the seller's stock moves once; a retry finds the order and sends nothing. Our order
  id (and the buyer's order number) go in the order meta, our line id in each line item's meta
  `fulfillsync_line_id`, which gives the line mapping (on creation and when found again).
- A linked line is `product_id` (the parent) plus `variation_id` for a variation, never `sku` (WooCommerce would
  look the SKU up first). Every line carries `subtotal` = `total` = unit price x quantity as strings: WooCommerce
  keeps posted totals instead of pricing the item from the catalog, and computes the order's totals from them
  (plus any tax its own settings add; a store whose catalog prices include tax gets tax on top of our amounts,
  unverified).
- A custom line (no catalog item) is a line item by `sku` with the line's title as `name` and the SKU in the
  visible item meta `SKU` (WooCommerce shows no SKU for an item without a product); a line item needs a product
  id or a SKU, so a custom line without a SKU is a PermanentError. WooCommerce looks a posted `sku` up among
  all its items but trashed ones, whatever their status and case: a SKU a draft or private product has makes the
  line that product's (its stock moves; the price stays ours). Otherwise the item has no product and moves no
  stock.
- The flag: order meta `fulfillsync_unlinked_skus` ("A, B") in the same POST, then an order note naming them
  (`POST /orders/{id}/notes`; best effort: a failure is logged, the meta flags the order anyway; a retry that
  finds an order whose answer was lost does not write the note).
- WooCommerce does not refuse a product id it no longer has (github.com/woocommerce/woocommerce/issues/50698): a product
  deleted between the catalog lookup and the order makes a line without a product. The created order is read
  for such lines; they are added to the flag (a PUT of the meta) and named in the note, and logged.
- Shipping: one shipping line, method id `other` (WooCommerce's "Other"), titled with the buyer's shipping method
  (else "Shipping"), at `shipping_price`; none when the price is 0 and there is no method. `currency` is sent when
  the order has one (an unknown code: 400 `rest_invalid_param`, a PermanentError).

A buyer's cancellation on a seller (`cancel_order`)
- The whole order: `PUT /wc/v3/orders/{id}` `{"status": "cancelled"}`. Units: the same PUT with
  `line_items: [{id, quantity}]` lowering each item to the units still to ship (0 keeps the item with nothing to
  ship; removing it would lose our line mapping). Already cancelled, or quantities already that low: nothing is
  sent. A completed order is refused (PermanentError). WooCommerce keeps the line totals it had (unverified on a
  live store), and gives the stock back when the order is cancelled (`wc_maybe_increase_stock_levels`); newer
  versions also adjust it for a lowered quantity (unverified).

Tracking (both sides): `connection.tracking_api` chooses; "auto"/unset reads the REST index `GET /wp-json/` once
per connector: core fulfillments route first, then the `wc-shipment-tracking/v3` namespace;
neither is a PermanentError. A 404 `rest_no_route` says which plugin or feature is missing.
- Shipment Tracking (WCST/AST; see `shipment_tracking.py`): one tracking item per number; no quantities, so the
  lines of a fulfillment we write are kept in order meta `fulfillsync_tracking` beside its item ids; the ref is
  the first item's id, and `update_tracking` (delete + re-add) returns the new one. A seller's items together
  are one fulfillment of the whole order (ref `{order_id}-shipment-tracking`, versioned by the order's
  `date_modified_gmt`), cancelled when all are deleted; per-item tracking (AST PRO `sku`/`qty`) is not read.
  Whether the real plugins move an order's `date_modified` on a tracking write is unverified (the simulated store
  does), so `tracking_edits_keep_order_time` is set: watched orders' fulfillments are also re-read directly, once
  per sweep interval (`streams/fulfillments/sweep.py`). A fulfillment without a tracking number cannot be written
  (PermanentError). Known carriers are sent as `tracking_provider` (Shipment Tracking's names, from
  `connectors/woocommerce/carriers.py`), others as `custom_tracking_provider` + `custom_tracking_link`.
- Core fulfillments (`core_fulfillments.py`): per-item `_items`, our id in `_fulfillsync_id`, first number in
  `_tracking_number`/`_tracking_url`, `_shipping_provider` as WooCommerce's provider key (`ups`, `fedex`…), all
  numbers in `_fulfillsync_tracking` when several; updates keep the ref; cancel is the soft DELETE. Their dates
  (`date_updated`, `date_deleted`) are taken as GMT. A fulfillment with `date_deleted` is read as cancelled: the
  simulated store keeps listing soft-deleted ones; whether a real store hides them is unverified, and if it does,
  one seen before that disappears is reported as cancelled (`fulfillments(order, known_refs=…)`).
  `notify_customer=true` when the connection or the request asks for it.
- Tracking URLs: only URLs the request carries are written (the ledger fills them in for carriers it knows);
  otherwise WooCommerce builds the link from the provider, as both APIs do for providers they know.
"""

from connectors.platform import PlatformDescription, Webhooks
from connectors.woocommerce import webhooks
from connectors.woocommerce.carriers import CARRIER_NAMES
from connectors.woocommerce.connector import InsecureConnectionError, WooCommerceConnector

__all__ = ["PLATFORM", "InsecureConnectionError", "WooCommerceConnector"]

PLATFORM = PlatformDescription(
    platform="woocommerce", title="WooCommerce", connector=WooCommerceConnector,
    webhooks=Webhooks(verify=webhooks.verify, order_ref=webhooks.order_ref), carrier_names=CARRIER_NAMES,
    # Shipment Tracking writes may keep the order's date_modified (the tracking bullet above): re-read
    tracking_edits_keep_order_time=True)

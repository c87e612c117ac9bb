"""BigCommerce connector: one class (`BigCommerceConnector`) for both sides, over the V2 REST API (and the Catalog
V3 API for the seller's products).

`connection.base_url` is `https://api.bigcommerce.com/stores/{store_hash}`; requests go to `{base_url}/v2/...` (and
`{base_url}/v3/catalog/...`) with `X-Auth-Token`, `Accept` and `Content-Type: application/json`. Sources:
BigCommerce's documentation and the official `orders.v2.oas2.yml`, `catalog-variants.v3.yml`,
`catalog-products.v3.yml`.

Every platform-specific decision, in one place (docs/platforms/bigcommerce.md has the connection settings, the
token's scope, webhook setup and failure modes, and points here):

Reading orders (both sides)
- Poll: `GET /v2/orders?min_date_modified=…&sort=date_modified:asc&limit=…` through `PollCursor` (2 min overlap).
  A seller poll (`changed_orders_since`) lists 250 a page and reads no details: `external_order_id` in the
  listing says whether an order is ours, and the check agent reads the order and its shipments afterwards.
  Pages are keyed by time, not page number: the next page asks `min_date_modified` = the last time seen on this
  page and skips the ids already seen at exactly that second (`page` only grows when more than a page of orders
  share one second). Page numbers over a list sorted by modification time would lose an order: one modified
  mid-walk moves to the end and shifts an unseen order back onto a page already read.
- Each order costs two more requests: `/products` (lines: `line_ref` = order_product_id, bundled children
  included as lines of their own, `address_ref` = their `order_address_id`) and `/shipping_addresses` (the first
  is the order's address; all of them are the order's `addresses`, so an order to several is routed per address,
  `ledger.routing`).
- 204 No Content is an empty collection everywhere.
- `cancelled`: status 5 (Cancelled) or 6 (Declined). `cancelled_quantity`: refunded units not shipped.
- `our_order_id`: only from an `external_order_id` of the form `fulfillsync:<our order id>`, so a buyer order
  imported from Amazon (whose id lives there too) is never taken for ours.

Seller side
- `catalog_variants`: `GET /v2/store` (the default currency), `GET /v3/catalog/variants` by `sku:in` batches,
  `GET /v3/catalog/products` for their products; exact SKUs, sellable items only, price and inventory as
  `connectors/bigcommerce/catalog.py` says.
- `create_order`: look up `GET /v2/orders?external_order_id=fulfillsync:<id>` first; else `POST /v2/orders` with a
  catalog product per linked line (`product_id` + `variant_id`, BigCommerce fills in name and SKU and takes the
  units from its inventory) and a custom product per other line (name, SKU), each at the line's unit price as
  `price_inc_tax` = `price_ex_tax` (no tax added: the wholesale price is what the buyer owes); the shipping price as
  `shipping_cost_inc_tax`/`_ex_tax`; `staff_notes` naming the buyer's order and, when there are custom lines, a
  flag naming their SKUs (`plan.UNLINKED_FLAG`); the shipping address as billing address too; status 11 (Awaiting
  Fulfillment). V2 prices are in the store's default currency: an order priced in another is refused. V2 does not
  email the customer. Lines map by creation order, checked by catalog item (linked) or SKU (custom).
- `cancel_order` (a buyer's cancellation): the whole order gets status 5 (Cancelled, `PUT /v2/orders/{id}`);
  cancelled units are written as a line of the order's `staff_notes` ("do not ship"), because V2 cannot lower an
  order product's quantity without re-pricing the order. An order already Shipped or Completed is refused;
  one already cancelled (status 5 or 6), or whose notes already hold the same line, is left alone.
- `fulfillments`: each shipment is one fulfillment (shipments carrying our marker are grouped, see below);
  carrier from `shipping_provider` / `tracking_carrier` (AfterShip slug) via `connectors/bigcommerce/carriers.py`, a
  third-party `carrier_{id}` by its display name; URL = `tracking_link`, else `generated_tracking_link`.
- Source version (`updated_at`): shipments have no update time. We use the order's `date_modified` (later than
  any shipment's `date_created`), which moves whenever a shipment is created, edited or deleted on the order, so
  a tracking edit is always a newer version for the ledger (with `date_created` alone an edit would keep the
  version and win or lose on its digest). That PUT on a shipment bumps the order's `date_modified` on a real
  store is unverified (the sandbox does it): if it did not, an in-place edit would carry the previous version.
  Unrelated order edits also move it: the ledger sees the same content at a newer version, which changes nothing.
- Deleting a shipment is the cancel; BigCommerce keeps no trace of it, so `fulfillments(order, known_refs=…)`
  reports the refs seen before whose shipments are gone as cancelled.

Buyer side
- BigCommerce has one tracking number per shipment: a fulfillment with n numbers is n shipments, units split as
  evenly as possible (each at least one unit), all carrying `fulfillsync-fulfillment: <our_fulfillment_id>` as a
  line of `comments`; read back as ONE fulfillment whose ref is its lowest shipment id. A fulfillment without
  numbers is one shipment, written to the `order_address_id` of its lines: an order to several addresses is
  stored per address, so each fulfillment's lines share one; lines at several addresses are refused.
- Carriers BigCommerce knows go into `shipping_provider` + `tracking_carrier` (BigCommerce generates the link);
  others into `shipping_method` by name with the URL given as `tracking_link` (the ledger fills in URLs it knows).
- `find_fulfillment` matches the marker only (never content: two seller fulfillments of identical parcels stay two
  groups) and requires the group to be complete; `create_fulfillment` writes only
  the shipments an interrupted attempt did not (matched by tracking number), so retries never duplicate.
- `update_tracking`: in place by PUT when the number of numbers does not grow; otherwise delete/re-create (see the
  method). `cancel_fulfillment`: DELETE each shipment; the order's status stays Shipped (documented behaviour).
- `notify_customer` cannot be chosen per call: shipment emails are a store setting.

Rate limits: every response's `X-Rate-Limit-Requests-Left` is read; at `QUOTA_RESERVE` left the connection pauses
for `X-Rate-Limit-Time-Reset-Ms`; a 429 is retried after that reset (connectors.http). Default pace 4 requests/s.
Webhooks: `parse.parse_webhook` reads the thin `store/order/*` and `store/shipment/*` callbacks (ids only);
`connectors/bigcommerce/webhooks.py` verifies their Standard Webhooks signature.
"""

from connectors.bigcommerce import webhooks
from connectors.bigcommerce.carriers import CARRIER_NAMES
from connectors.bigcommerce.connector import BigCommerceConnector
from connectors.platform import PlatformDescription, Webhooks

__all__ = ["PLATFORM", "BigCommerceConnector"]

PLATFORM = PlatformDescription(
    platform="bigcommerce", title="BigCommerce", connector=BigCommerceConnector,
    webhooks=Webhooks(verify=webhooks.verify, order_ref=webhooks.order_ref), carrier_names=CARRIER_NAMES,
    tracking_edits_keep_order_time=False)  # a fulfillment's version is the order's date_modified (above)

"""Shopify connector (platform id `shopify`): `ShopifyConnector`, buyer and seller side, over the GraphQL Admin API
only (REST Admin is legacy since 2024-10).

Every platform-specific decision, in one place (docs/platforms/shopify.md has the connection settings, scopes,
webhook setup and failure modes, and points here). `connector.py` is the class, `operations.py` every GraphQL
document (sizes chosen for query cost), `parse.py` the pure JSON mapping, `client.py` HTTP, retries, throttling and
Shopify's error layers.

- **Endpoint and auth**: `POST {base_url}/admin/api/{version}/graphql.json`, version `connection.api_version` or
  `2026-07` (operations need 2024-10+: `fulfillmentCreate`, `orderCreate`), token `credentials.access_token` in
  `X-Shopify-Access-Token`; the token never appears in an error.
- **Polling** (both sides): `orders(sortKey: UPDATED_AT, query: "updated_at:>='…'")` listing scalars only
  (`changed_orders_since`: `id updatedAt cancelledAt subtotalLineItemsQuantity currentSubtotalLineItemsQuantity
  sourceIdentifier tags`), `first: 100`, cursor = PollCursor (`page` is Shopify's `endCursor`, the filter starts
  at `since` minus the overlap); a page cursor Shopify no longer accepts restarts the walk from `since` (safe:
  what is seen twice is dropped downstream). The listing costs about 1 query-cost point an order, 100 a page.
  A seller poll needs nothing more: our orders carry our tag and our id as `sourceIdentifier`. A buyer poll
  (`orders_changed_since`) then reads in full, 10 at a time by `nodes(ids:)` (about 56 points an order), only
  the listed orders its caller does not skip: new ones, and known ones whose cancellation mark changed. The mark
  is `cancelledAt` plus the two quantity sums (units ordered, which only grow; units remaining), so removing
  units, even while adding others in the same edit, always changes it, while our own fulfillment writes and other
  edits (notes, tags) do not. On a buyer whose orders our writes touch once a second, a 20-second poll's listing
  (about 300 orders inside the 2-minute overlap) costs about 300 points instead of about 1,700 with full reads.
  Orders with more than 50 line items get their other lines from follow-up `order.lineItems` pages. The first
  poll looks back `start_window` (default 60 days: what Shopify shows without `read_all_orders`).
- **Cancelled units**: `cancelled_quantity` = `quantity − currentQuantity`; an order with `cancelledAt` is
  cancelled.
- **Fulfillments** are read from `order.fulfillments` (all of them, cancelled ones included); status CANCELLED,
  ERROR or FAILURE counts as cancelled. Several tracking numbers per fulfillment are native (`trackingInfo` is
  a list); the first company names the carrier.
- **Creating a fulfillment**: order lines are mapped to fulfillment-order line items through
  `order.fulfillmentOrders` (only FOs whose `supportedActions` include CREATE_FULFILLMENT), taking units from
  the first FO that still has them; `fulfillmentCreate` (never the deprecated V2). Too few units left is a
  PermanentError naming the line. `notifyCustomer` is the request's flag or the connection's `notify_customer`.
- **Tracking**: the company is Shopify's exact name for carriers it knows (Shopify builds their URLs; names in
  `connectors/shopify/carriers.py`); other carriers are sent by name with URLs (given, or built from our carrier
  table); `urls` only when every number has one, since Shopify pairs them by position. Edits use
  `fulfillmentTrackingInfoUpdate` (the id stays).
- **Cancel**: `fulfillmentCancel`; when Shopify refuses, the fulfillment is re-read and an already cancelled one
  is a no-op.
- **Idempotency of fulfillments** (buyer side): a `Fulfillment` has no field for our id (the 2025-01 and 2026-07
  schemas: no metafields, and tracking info or notify flags are not ours to misuse), so our id lives on the
  buyer's order: one metafield `fulfillsync.<our_fulfillment_id>` (type `json`; a key is 2-64 letters, digits,
  `-`, `_`, which our UUIDs are, else a digest) per fulfillment we write, set with `metafieldsSet`
  (`parse.FulfillmentMark`). `create_fulfillment` writes the mark first with the order's fulfillments so far
  (`before`) and its place among the order's marks (`seq`), then `fulfillmentCreate`, then completes the mark
  with the new fulfillment's id. `find_fulfillment` returns only what a mark names: a completed mark's active
  fulfillment, or, for a mark whose create's outcome is unknown, the one `parse.marked_fulfillment` resolves (new
  since `before`, claimed by no completed mark, same lines and numbers, and this mark the latest unresolved one
  written before it existed). Never content alone: two seller fulfillments of identical parcels are two buyer
  fulfillments, and cancelling one leaves the other. Costs: a create adds one read of the marks and two
  `metafieldsSet` calls (a point each). Assumes one create at a time per order (the buyer sink's lanes); a
  fulfillment created before this scheme existed, by an attempt whose outcome was still unknown at the upgrade,
  is not found again (created a second time).
- **The seller's catalog** (`catalog_variants`, `connectors/shopify/catalog.py`): `productVariants(query:)`
  searched with up to 25 SKUs a request (`sku:'A' OR sku:'B'`, quoted and escaped), 50 variants a page (about 151
  points), every page walked; Shopify's search ignores case and matches SKU tokens and prefixes, so only variants
  whose `sku` is exactly an asked SKU and whose product is ACTIVE are kept (ARCHIVED and DRAFT are not sellable);
  two variants may share a SKU on Shopify, and both are returned (the caller refuses the ambiguity). Price is the
  variant's `price` in the shop's currency (`shop { currencyCode }`, asked once per connector instance);
  inventory its `inventoryQuantity` when its inventory item is tracked.
- **Orders on a seller** (`orderCreate`, `sendReceipt`/`sendFulfillmentReceipt` false so the seller's shop never
  emails the buyer's customer; `connectors/shopify/order_input.py`). Linked lines are `variantId` line items (the
  seller's inventory moves: `inventoryBehaviour: DECREMENT_IGNORING_POLICY`, since the sale already happened on
  the buyer's store and must not be refused for stock; a count may go negative), custom lines (SKUs the catalog
  lacked) are title/SKU line items and flag the order (tag `fulfillsync-custom-lines`, a note naming the SKUs);
  every line is priced (`priceSet`) at its `unit_price` in the shop's currency (an order priced in another
  currency is a PermanentError); `shipping_price` above 0 is a shipping line titled the buyer's method (or
  "Shipping"), a free one names the method when there is one. No transaction: the order is payment-pending. What
  is stored on Shopify:
  - `Order.sourceIdentifier`: our order id; `create_order` finds an earlier attempt with the search filter
    `source_identifier:'…'`, then checks it exactly;
  - `Order.customAttributes["fulfillsync_order_id"]`: our order id, read back as `PlatformOrder.our_order_id`;
  - `Order.tags`: `fulfillsync`, so merchants can filter our orders;
  - `Order.poNumber`: the buyer's order number, shown to the seller;
  - `Order.customAttributes["Shipping method"]`: the buyer's shipping method (also the shipping line's title);
  - `LineItem.customAttributes["_fulfillsync_line"]`: our line id, how `CreatedOrder.line_refs` is rebuilt on a
    retry (underscore properties are hidden from customers).

  A retry that finds the earlier attempt's order sends nothing, so inventory moves once. Shopify's search index
  can lag a few seconds behind a write, so a retry within that window may not see the order an earlier attempt
  created (docs/platforms/shopify.md says how to allow for it).
- **A buyer's cancellation on a seller** (`cancel_order`): the whole order by `orderCancel` (reason CUSTOMER,
  restock, no refund, no customer email, our note as staff note; Shopify runs it as a job); refused but already
  cancelled is a no-op. Units by an order edit (`orderEditBegin` / `orderEditSetQuantity` / `orderEditCommit`),
  lowering each line to what remains; lines already that low are left alone, and nothing is committed when no
  line changes. A calculated line item is matched to the order's line item by the number of its GID (Shopify
  gives both the same number). Shopify edits only unfulfilled units: units already fulfilled stay, the rest is
  committed, then a PermanentError names those lines.
"""

from connectors.platform import PlatformDescription, Webhooks
from connectors.shopify import webhooks
from connectors.shopify.carriers import CARRIER_NAMES
from connectors.shopify.connector import ShopifyConnector

__all__ = ["PLATFORM", "ShopifyConnector"]

PLATFORM = PlatformDescription(
    platform="shopify", title="Shopify", connector=ShopifyConnector,
    webhooks=Webhooks(verify=webhooks.verify, order_ref=webhooks.order_ref), carrier_names=CARRIER_NAMES,
    tracking_edits_keep_order_time=False)  # a tracking update moves the order's updatedAt

"""Every GraphQL document the Shopify connector sends, as constants (tests validate each one against the 2026-07
SDL and the 2025-01 introspection, and check its calculated cost stays under Shopify's 1000-point limit).

Sizes are chosen for cost (a connection costs `first` × its node): polls list orders light (`ORDERS_CHANGED_SINCE`,
scalars only, about a point an order, 100 a page) and read in full only the orders the caller needs, 10 at a time
(`ORDERS_BY_ID`, about 56 points an order with 50 line items); line items, fulfillment line items and fulfillment
orders beyond one page are fetched with the follow-up queries below, never dropped. The catalog is searched
`VARIANT_PAGE_SIZE` variants a page (`CATALOG_VARIANTS`, about 3 points a variant: the variant, its inventory item
and its product), several SKUs a search (`connectors.shopify.catalog.SKU_BATCH`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    """A named GraphQL document; `name` is sent as `operationName` and appears in errors."""

    name: str
    text: str


LISTING_PAGE_SIZE = 100
ORDER_BATCH = 10
LINE_PAGE_SIZE = 50

_ORDER_FIELDS = """
fragment PolledOrder on Order {
  id name createdAt updatedAt cancelledAt email phone subtotalLineItemsQuantity currentSubtotalLineItemsQuantity
  customAttributes { key value }
  shippingLine { title }
  shippingAddress { name firstName lastName company address1 address2 city provinceCode zip countryCodeV2 phone }
  lineItems(first: 50) { pageInfo { hasNextPage endCursor } nodes { id sku title quantity currentQuantity } }
}"""

ORDERS_CHANGED_SINCE = Operation("OrdersChangedSince", """
query OrdersChangedSince($q: String!, $after: String, $first: Int!) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $q) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt cancelledAt subtotalLineItemsQuantity currentSubtotalLineItemsQuantity sourceIdentifier tags }
  }
}""")
"""Every poll's listing, buyer and seller: what changed, whether it is ours (our tag and our order id as
`sourceIdentifier`) and its cancellation mark (`cancelledAt` and the two line-item quantity sums), all scalars:
1 point an order instead of 55 for a full read, so a page of 100 costs about 102 and the cursor's overlap, listed
again by every poll, stays cheap."""

ORDERS_BY_ID = Operation("OrdersById", """
query OrdersById($ids: [ID!]!) {
  nodes(ids: $ids) { id ...PolledOrder }
}""" + _ORDER_FIELDS)
"""The orders a poll needs in full (at most `ORDER_BATCH` ids); an id that is no order any more answers null."""

ORDER_LINE_ITEMS = Operation("OrderLineItems", """
query OrderLineItems($id: ID!, $after: String) {
  order(id: $id) {
    id
    lineItems(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id sku title quantity currentQuantity customAttributes { key value } }
    }
  }
}""")

ORDER_FULFILLMENTS = Operation("OrderFulfillments", """
query OrderFulfillments($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 250) {
      id status createdAt updatedAt
      trackingInfo(first: 250) { company number url }
      fulfillmentLineItems(first: 100) { pageInfo { hasNextPage endCursor } nodes { quantity lineItem { id } } }
    }
  }
}""")

FULFILLMENT_LINE_ITEMS = Operation("FulfillmentLineItems", """
query FulfillmentLineItems($id: ID!, $after: String) {
  fulfillment(id: $id) {
    id
    fulfillmentLineItems(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { quantity lineItem { id } }
    }
  }
}""")

FULFILLMENT_ORDERS = Operation("FulfillmentOrdersForOrder", """
query FulfillmentOrdersForOrder($id: ID!, $after: String) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 3, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id status
        supportedActions { action }
        lineItems(first: 100) { pageInfo { hasNextPage } nodes { id remainingQuantity totalQuantity lineItem { id } } }
      }
    }
  }
}""")

FULFILLMENT_STATUS = Operation("FulfillmentStatus", """
query FulfillmentStatus($id: ID!) {
  fulfillment(id: $id) { id status }
}""")

CREATE_FULFILLMENT = Operation("CreateFulfillment", """
mutation CreateFulfillment($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo(first: 10) { company number url } }
    userErrors { field message }
  }
}""")

UPDATE_TRACKING = Operation("UpdateTracking", """
mutation UpdateTracking($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!, $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput,
                                notifyCustomer: $notifyCustomer) {
    fulfillment { id trackingInfo(first: 10) { company number url } }
    userErrors { field message }
  }
}""")

CANCEL_FULFILLMENT = Operation("CancelFulfillment", """
mutation CancelFulfillment($id: ID!) {
  fulfillmentCancel(id: $id) {
    fulfillment { id status }
    userErrors { field message }
  }
}""")

MARKS_PAGE_SIZE = 100

ORDER_FULFILLMENT_MARKS = Operation("OrderFulfillmentMarks", """
query OrderFulfillmentMarks($id: ID!, $after: String) {
  order(id: $id) {
    id
    metafields(first: 100, after: $after, namespace: "fulfillsync") {
      pageInfo { hasNextPage endCursor }
      nodes { key value }
    }
  }
}""")
"""Our fulfillment marks on a buyer's order (`connectors.shopify.parse.FulfillmentMark`): Shopify fulfillments
have no field of their own for our id, the order's metafields are where an app keeps its data."""

SET_FULFILLMENT_MARK = Operation("SetFulfillmentMark", """
mutation SetFulfillmentMark($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { key }
    userErrors { field message code }
  }
}""")

_CREATED_ORDER_FIELDS = """
fragment CreatedOrder on Order {
  id name sourceIdentifier
  customAttributes { key value }
  lineItems(first: 100) { pageInfo { hasNextPage endCursor } nodes { id sku title quantity currentQuantity
    customAttributes { key value } } }
}"""

FIND_ORDER_BY_SOURCE = Operation("FindOrderBySource", """
query FindOrderBySource($q: String!) {
  orders(first: 2, query: $q) { nodes { ...CreatedOrder } }
}""" + _CREATED_ORDER_FIELDS)

CREATE_ORDER = Operation("CreateOrder", """
mutation CreateOrder($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { ...CreatedOrder }
    userErrors { field message code }
  }
}""" + _CREATED_ORDER_FIELDS)

CANCEL_ORDER = Operation("CancelOrder", """
mutation CancelOrder($orderId: ID!, $reason: OrderCancelReason!, $refund: Boolean!, $restock: Boolean!,
                     $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, refund: $refund, restock: $restock,
              notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id }
    orderCancelUserErrors { field message code }
    userErrors { field message }
  }
}""")

ORDER_CANCELLED_AT = Operation("OrderCancelledAt", """
query OrderCancelledAt($id: ID!) {
  order(id: $id) { id cancelledAt }
}""")

ORDER_EDIT_BEGIN = Operation("OrderEditBegin", """
mutation OrderEditBegin($id: ID!) {
  orderEditBegin(id: $id) {
    calculatedOrder { id lineItems(first: 100) { nodes { id quantity editableQuantity } } }
    userErrors { field message }
  }
}""")

ORDER_EDIT_SET_QUANTITY = Operation("OrderEditSetQuantity", """
mutation OrderEditSetQuantity($id: ID!, $lineItemId: ID!, $quantity: Int!, $restock: Boolean) {
  orderEditSetQuantity(id: $id, lineItemId: $lineItemId, quantity: $quantity, restock: $restock) {
    calculatedLineItem { id quantity }
    userErrors { field message }
  }
}""")

ORDER_EDIT_COMMIT = Operation("OrderEditCommit", """
mutation OrderEditCommit($id: ID!, $notifyCustomer: Boolean, $staffNote: String) {
  orderEditCommit(id: $id, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    order { id }
    userErrors { field message }
  }
}""")

VARIANT_PAGE_SIZE = 50

CATALOG_VARIANTS = Operation("CatalogVariantsBySku", """
query CatalogVariantsBySku($q: String!, $first: Int!, $after: String) {
  productVariants(first: $first, after: $after, query: $q) {
    pageInfo { hasNextPage endCursor }
    nodes { id sku title price inventoryQuantity inventoryItem { tracked } product { id title status } }
  }
}""")
"""The seller's variants a SKU search finds (`sku:'A' OR sku:'B'`; Shopify's search is loose, the connector keeps
exact SKUs of ACTIVE products). About 151 points for a page of 50."""

SHOP_CURRENCY = Operation("ShopCurrency", """
query ShopCurrency {
  shop { currencyCode }
}""")
"""The shop's currency: catalog prices are in it, and order prices must be."""

ALL = (ORDERS_CHANGED_SINCE, ORDERS_BY_ID, ORDER_LINE_ITEMS, ORDER_FULFILLMENTS, FULFILLMENT_LINE_ITEMS,
       FULFILLMENT_ORDERS, FULFILLMENT_STATUS, CREATE_FULFILLMENT, UPDATE_TRACKING, CANCEL_FULFILLMENT,
       FIND_ORDER_BY_SOURCE, CREATE_ORDER, CANCEL_ORDER, ORDER_CANCELLED_AT, ORDER_EDIT_BEGIN, ORDER_EDIT_SET_QUANTITY,
       ORDER_EDIT_COMMIT, ORDER_FULFILLMENT_MARKS, SET_FULFILLMENT_MARK, CATALOG_VARIANTS, SHOP_CURRENCY)

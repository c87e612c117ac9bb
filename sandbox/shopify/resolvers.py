"""The GraphQL face of the simulated store: root values whose entries graphql-core's default resolver calls.

graphql-core resolves a field by reading the key of the parent dict and, when the value is callable, calling it
with `(info, **arguments)`. So each object is a dict of plain values and, for fields with arguments or that are
expensive, callables. Fields the store does not serve are absent and resolve to null (a non-null one then
becomes a top-level error, as a broken field would on Shopify).

Served: `orders`, `order`, `nodes` (orders, products and variants; at most 250 ids, as Shopify allows),
`fulfillment`, `fulfillmentOrder`, `productVariants` (cursor pagination by id, `reverse`, the search of
`sandbox.shopify.variant_search`), `productVariant`, `product`, `shop { name myshopifyDomain currencyCode }` and,
on them, the fields the connector reads (orders with their prices, `currencyCode`, shipping lines and money
totals; line items with their variant and unit price);
mutations `orderCreate` (custom and variant line items, `priceSet`, `shippingLines`, `currency`,
`options.inventoryBehaviour`), `fulfillmentCreate`, `fulfillmentTrackingInfoUpdate`, `fulfillmentCancel`, `orderCancel`
(done at once; its job comes back done), `metafieldsSet` (orders only; `Order.metafields` / `Order.metafield`
read them back, in creation order) and order editing (`orderEditBegin`, `orderEditSetQuantity` down only,
`orderEditCommit`; a calculated line item has its line item's number). Store
refusals become `userErrors` (with `field` paths as Shopify gives them), never exceptions.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from sandbox.shopify.catalog import Product, Variant
from sandbox.shopify.search import parse_search
from sandbox.shopify.store import (
    Fulfillment,
    FulfillmentItem,
    FulfillmentOrder,
    FulfillmentOrderLine,
    LineItem,
    Metafield,
    MetafieldInput,
    NewLine,
    Order,
    OrderEdit,
    ShippingLine,
    ShopifyStore,
    StoreError,
    TrackingInfo,
    gid,
    gid_number,
)
from sandbox.shopify.variant_search import parse_variant_search

View = dict[str, Any]
Info = GraphQLResolveInfo[Any]
MAX_PAGE = 250
MAX_INPUT_ARRAY = 250
# URLs Shopify builds itself for a few integrated carriers when none is sent (its real templates differ a little).
_CARRIER_URLS = {
    "UPS": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "DHL Express": "https://www.dhl.com/en/express/tracking.html?AWB={}",
}


def timestamp(moment: datetime | None) -> str | None:
    """Shopify's DateTime: UTC, whole seconds, `Z`."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def amount(value: Decimal) -> str:
    """Shopify's `Money` / `Decimal` text: at least two decimals (`12.50`), more only when the value has them."""
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else format(value.normalize(), "f")


def money_bag(value: Decimal, currency: str) -> View:
    """A `MoneyBag`: the shop's money and the presentment money (the same here: no other presentment currency)."""
    money = {"amount": amount(value), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


# -- connections -------------------------------------------------------------------------------------------

def _cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_cursor(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from None


def connection(items: Sequence[Any], view: Callable[[Any], View], key: Callable[[Any], Any], *,
               first: int | None = None, after: str | None = None, last: int | None = None,
               before: str | None = None) -> View:
    """A Relay connection over `items` (already in order); cursors encode `key(item)`. Raises GraphQLError as
    Shopify does when neither or both of `first`/`last` are given or one exceeds 250."""
    if (first is None) == (last is None):
        raise GraphQLError("you must provide one of first or last")
    size = first if first is not None else last
    assert size is not None
    if size < 0 or size > MAX_PAGE:
        raise GraphQLError(f"The value of the argument `{'first' if first is not None else 'last'}` must be "
                           f"between 0 and {MAX_PAGE}")
    keyed = [(json.loads(json.dumps(key(item))), item) for item in items]
    start, end = 0, len(keyed)
    if after is not None:
        after_key = _decode_cursor(after)
        start = next((index + 1 for index, (k, _) in enumerate(keyed) if k == after_key),
                     next((index for index, (k, _) in enumerate(keyed) if k > after_key), len(keyed)))
    if before is not None:
        before_key = _decode_cursor(before)
        end = next((index for index, (k, _) in enumerate(keyed) if k >= before_key), len(keyed))
    window = keyed[start:end]
    page = window[:size] if first is not None else window[max(len(window) - size, 0):]
    edges = [{"cursor": _cursor(k), "node": view(item)} for k, item in page]
    has_next = first is not None and len(window) > size
    has_previous = last is not None and len(window) > size
    return {"edges": edges, "nodes": [edge["node"] for edge in edges],
            "pageInfo": {"hasNextPage": has_next or (last is not None and end < len(keyed)),
                         "hasPreviousPage": has_previous or (first is not None and start > 0),
                         "startCursor": edges[0]["cursor"] if edges else None,
                         "endCursor": edges[-1]["cursor"] if edges else None}}


# -- object views ------------------------------------------------------------------------------------------

class Views:
    """Builds the GraphQL objects of one store."""

    def __init__(self, store: ShopifyStore) -> None:
        self.store = store

    def order(self, order: Order) -> View:
        def line_items(_info: Info, **args: Any) -> View:
            return connection(order.line_items, lambda line: self.line_item(order, line), lambda line: line.id,
                              **_paging(args))

        def fulfillments(_info: Info, first: int | None = None, **_: Any) -> list[View]:
            chosen = order.fulfillments if first is None else order.fulfillments[:first]
            return [self.fulfillment(order, fulfillment) for fulfillment in chosen]

        def fulfillment_orders(_info: Info, **args: Any) -> View:
            shown = order.fulfillment_orders
            if args.get("displayable"):
                shown = [fo for fo in shown if fo.status not in ("CLOSED", "CANCELLED")]
            return connection(shown, lambda fo: self.fulfillment_order(order, fo), lambda fo: fo.id,
                              **_paging(args))

        def metafields(_info: Info, namespace: str | None = None, keys: list[str] | None = None,
                       **args: Any) -> View:
            chosen = sorted(order.metafields.values(), key=lambda field: field.id)
            if namespace is not None:
                chosen = [field for field in chosen if field.namespace == namespace]
            if keys is not None:
                chosen = [field for field in chosen if f"{field.namespace}.{field.key}" in keys]
            return connection(chosen, lambda field: metafield_view(order, field), lambda field: field.id,
                              **_paging(args))

        def metafield(_info: Info, key: str, namespace: str | None = None) -> View | None:
            found = order.metafields.get((namespace or "", key))
            return metafield_view(order, found) if found is not None else None

        def shipping_lines(_info: Info, **args: Any) -> View:
            return connection(order.shipping_lines, lambda line: self.shipping_line(order, line),
                              lambda line: order.shipping_lines.index(line), **_paging(args))

        address = order.shipping_address
        money = order.currency
        total = order.subtotal() + order.shipping()
        return {
            "__typename": "Order", "id": gid("Order", order.id), "legacyResourceId": str(order.id),
            "name": order.name,
            "subtotalLineItemsQuantity": sum(line.quantity for line in order.line_items),
            "currentSubtotalLineItemsQuantity": sum(line.current_quantity for line in order.line_items),
            "email": order.email, "phone": order.phone, "createdAt": timestamp(order.created_at),
            "updatedAt": timestamp(order.updated_at), "processedAt": timestamp(order.created_at),
            "cancelledAt": timestamp(order.cancelled_at), "closed": order.closed_at is not None,
            "closedAt": timestamp(order.closed_at),
            "cancelReason": "OTHER" if order.cancelled_at else None, "note": order.note, "tags": order.tags,
            "sourceIdentifier": order.source_identifier, "sourceName": order.source_name,
            "poNumber": order.po_number, "test": False,
            "customAttributes": [{"key": key, "value": value} for key, value in order.custom_attributes],
            "displayFulfillmentStatus": order.display_fulfillment_status(),
            "displayFinancialStatus": "PAID",
            "shippingAddress": _address(address) if address is not None else None,
            "shippingLine": self.shipping_line(order, order.shipping_lines[0]) if order.shipping_lines else None,
            "shippingLines": shipping_lines,
            "currencyCode": money, "presentmentCurrencyCode": money,
            "subtotalPriceSet": money_bag(order.subtotal(), money),
            "currentSubtotalPriceSet": money_bag(order.subtotal(), money),
            "totalShippingPriceSet": money_bag(order.shipping(), money),
            "currentShippingPriceSet": money_bag(order.shipping(), money),
            "totalPriceSet": money_bag(total, money), "currentTotalPriceSet": money_bag(total, money),
            "totalOutstandingSet": money_bag(total, money),
            "totalTaxSet": money_bag(Decimal(0), money), "totalDiscountsSet": money_bag(Decimal(0), money),
            "lineItems": line_items, "fulfillments": fulfillments, "fulfillmentOrders": fulfillment_orders,
            "metafields": metafields, "metafield": metafield,
        }

    def line_item(self, order: Order, line: LineItem) -> View:
        fulfilled = self.store.fulfilled_units(order, line.id)
        unfulfilled = max(line.current_quantity - fulfilled, 0)
        found = self.store.catalog.variant(line.variant_id) if line.variant_id is not None else None
        name = f"{line.title} - {line.variant_title}" if line.variant_title else line.title
        unit, currency = line.unit_price, order.currency
        return {"id": gid("LineItem", line.id), "title": line.title, "name": name, "sku": line.sku,
                "variantTitle": line.variant_title,
                "quantity": line.quantity, "currentQuantity": line.current_quantity,
                "unfulfilledQuantity": unfulfilled, "fulfillableQuantity": unfulfilled,
                "nonFulfillableQuantity": line.quantity - line.current_quantity, "requiresShipping": True,
                "customAttributes": [{"key": key, "value": value} for key, value in line.custom_attributes],
                "originalUnitPriceSet": money_bag(unit, currency), "discountedUnitPriceSet": money_bag(unit, currency),
                "originalTotalSet": money_bag(unit * line.quantity, currency),
                "discountedTotalSet": money_bag(unit * line.current_quantity, currency),
                "variant": self.variant(*found) if found is not None else None,
                "product": self.product(found[0]) if found is not None else None}

    def shipping_line(self, order: Order, line: ShippingLine) -> View:
        price = money_bag(line.price, order.currency)
        return {"id": gid("ShippingLine", order.id * 100 + order.shipping_lines.index(line)), "title": line.title,
                "code": line.code or line.title, "source": "fulfillsync", "custom": True, "isRemoved": False,
                "originalPriceSet": price, "discountedPriceSet": price, "currentDiscountedPriceSet": price}

    def product(self, product: Product) -> View:
        def variants(_info: Info, **args: Any) -> View:
            return connection(product.variants, lambda variant: self.variant(product, variant),
                              lambda variant: variant.id, **_paging(args))

        tracked = sum(variant.inventory_quantity for variant in product.variants)
        return {"__typename": "Product", "id": gid("Product", product.id), "legacyResourceId": str(product.id),
                "title": product.title, "handle": product.title.lower().replace(" ", "-"), "status": product.status,
                "createdAt": timestamp(product.created_at), "updatedAt": timestamp(product.updated_at),
                "totalInventory": tracked, "tracksInventory": True, "totalVariants": len(product.variants),
                "hasOnlyDefaultVariant": len(product.variants) == 1, "variants": variants}

    def variant(self, product: Product, variant: Variant) -> View:
        return {"__typename": "ProductVariant", "id": gid("ProductVariant", variant.id),
                "legacyResourceId": str(variant.id), "sku": variant.sku, "title": variant.title,
                "displayName": product.display_name(variant), "price": amount(variant.price),
                "inventoryQuantity": variant.inventory_quantity, "inventoryPolicy": variant.inventory_policy,
                "sellableOnlineQuantity": max(variant.inventory_quantity, 0), "position": variant.position,
                "availableForSale": product.status == "ACTIVE" and (
                    variant.inventory_quantity > 0 or variant.inventory_policy == "CONTINUE"),
                "taxable": True, "barcode": None, "compareAtPrice": None, "selectedOptions": [],
                "createdAt": timestamp(variant.created_at), "updatedAt": timestamp(variant.updated_at),
                "inventoryItem": {"id": gid("InventoryItem", variant.id), "legacyResourceId": str(variant.id),
                                  "sku": variant.sku, "tracked": True, "requiresShipping": True},
                "product": lambda _info: self.product(product)}

    def fulfillment(self, order: Order, fulfillment: Fulfillment) -> View:
        def tracking(_info: Info, first: int | None = None) -> list[View]:
            chosen = fulfillment.tracking if first is None else fulfillment.tracking[:first]
            return [{"company": info.company, "number": info.number, "url": info.url} for info in chosen]

        def line_items(_info: Info, **args: Any) -> View:
            def view(item: Any) -> View:
                line = order.line(item.line_item_id)
                return {"id": gid("FulfillmentLineItem", item.id), "quantity": item.quantity,
                        "lineItem": self.line_item(order, line) if line is not None else None}
            return connection(fulfillment.lines, view, lambda item: item.id, **_paging(args))

        cancelled = fulfillment.status == "CANCELLED"
        return {"id": gid("Fulfillment", fulfillment.id), "legacyResourceId": str(fulfillment.id),
                "name": f"{order.name}-F{order.fulfillments.index(fulfillment) + 1}",
                "status": fulfillment.status, "displayStatus": "CANCELED" if cancelled else "FULFILLED",
                "createdAt": timestamp(fulfillment.created_at), "updatedAt": timestamp(fulfillment.updated_at),
                "totalQuantity": sum(item.quantity for item in fulfillment.lines), "requiresShipping": True,
                "trackingInfo": tracking, "fulfillmentLineItems": line_items,
                "order": lambda _info: self.order(order)}

    def fulfillment_order(self, order: Order, fulfillment_order: FulfillmentOrder) -> View:
        def line_items(_info: Info, **args: Any) -> View:
            return connection(fulfillment_order.lines, lambda line: self._fo_line(order, line),
                              lambda line: line.id, **_paging(args))

        actions = ["CREATE_FULFILLMENT", "MOVE", "HOLD", "SPLIT"] if fulfillment_order.status == "OPEN" else []
        return {"id": gid("FulfillmentOrder", fulfillment_order.id), "orderId": gid("Order", order.id),
                "orderName": order.name, "status": fulfillment_order.status, "requestStatus": "UNSUBMITTED",
                "createdAt": timestamp(fulfillment_order.created_at),
                "updatedAt": timestamp(fulfillment_order.updated_at),
                "supportedActions": [{"action": action} for action in actions],
                "assignedLocation": {"name": "Shop location",
                                     "location": {"id": "gid://shopify/Location/1", "name": "Shop location"}},
                "lineItems": line_items, "order": lambda _info: self.order(order)}

    def _fo_line(self, order: Order, line: FulfillmentOrderLine) -> View:
        item = order.line(line.line_item_id)
        return {"id": gid("FulfillmentOrderLineItem", line.id), "totalQuantity": line.total_quantity,
                "remainingQuantity": line.remaining_quantity, "sku": item.sku if item else None,
                "productTitle": item.title if item else None, "requiresShipping": True,
                "lineItem": self.line_item(order, item) if item is not None else None}


def metafield_view(order: Order, field: Metafield) -> View:
    """A `Metafield` of an order."""
    json_value: Any = None
    if field.type == "json":
        json_value = json.loads(field.value)
    return {"__typename": "Metafield", "id": gid("Metafield", field.id), "legacyResourceId": str(field.id),
            "namespace": field.namespace, "key": field.key, "type": field.type, "value": field.value,
            "jsonValue": json_value if field.type == "json" else field.value, "compareDigest": field.digest(),
            "ownerType": "ORDER", "createdAt": timestamp(field.created_at),
            "updatedAt": timestamp(field.updated_at)}


def _paging(args: dict[str, Any]) -> dict[str, Any]:
    return {name: args.get(name) for name in ("first", "after", "last", "before")}


def _address(address: dict[str, str | None]) -> View:
    first, last = address.get("firstName"), address.get("lastName")
    name = " ".join(part for part in (first, last) if part) or None
    return {**address, "name": name, "countryCodeV2": address.get("countryCode"),
            "province": address.get("provinceCode"), "country": address.get("countryCode")}


# -- root values -------------------------------------------------------------------------------------------

def query_root(store: ShopifyStore, warnings: list[str]) -> View:
    """The root value for queries; search warnings are appended to `warnings`."""
    views = Views(store)

    def orders(_info: Info, sortKey: str | None = None, reverse: bool = False,
               query: str | None = None, **args: Any) -> View:
        search = parse_search(query)
        warnings.extend(search.warnings)
        chosen = [order for order in store.orders.values() if search.matches(order)]
        key = _sort_key(sortKey)
        chosen.sort(key=key, reverse=reverse)
        if reverse:
            return _reverse_connection(chosen, views, args)
        return connection(chosen, views.order, key, **_paging(args))

    def order(_info: Info, id: str) -> View | None:
        number = gid_number(id, "Order")
        found = store.order(number) if number is not None else None
        return views.order(found) if found is not None else None

    def fulfillment(_info: Info, id: str) -> View | None:
        number = gid_number(id, "Fulfillment")
        found = store.fulfillment(number) if number is not None else None
        return views.fulfillment(*found) if found is not None else None

    def fulfillment_order(_info: Info, id: str) -> View | None:
        number = gid_number(id, "FulfillmentOrder")
        found = store.fulfillment_order(number) if number is not None else None
        return views.fulfillment_order(*found) if found is not None else None

    def product(_info: Info, id: str) -> View | None:
        number = gid_number(id, "Product")
        found = store.catalog.products.get(number) if number is not None else None
        return views.product(found) if found is not None else None

    def product_variant(_info: Info, id: str) -> View | None:
        number = gid_number(id, "ProductVariant")
        found = store.catalog.variant(number) if number is not None else None
        return views.variant(*found) if found is not None else None

    def product_variants(_info: Info, query: str | None = None, reverse: bool = False, **args: Any) -> View:
        """By id (whatever `sortKey`: the sandbox sorts no other way), filtered by the loose search."""
        search = parse_variant_search(query)
        warnings.extend(search.warnings)
        chosen = [item for item in store.catalog.variants() if search.matches(item)]
        if reverse:
            chosen.reverse()
            positions = {item[1].id: index for index, item in enumerate(chosen)}
            return connection(chosen, lambda item: views.variant(*item), lambda item: positions[item[1].id],
                              **_paging(args))
        return connection(chosen, lambda item: views.variant(*item), lambda item: item[1].id, **_paging(args))

    def nodes(_info: Info, ids: list[str]) -> list[View | None]:
        """Orders, products and variants by id; any other id answers null, as an unknown one."""
        if len(ids) > MAX_INPUT_ARRAY:
            raise GraphQLError(f"The input array size of {len(ids)} is greater than the maximum allowed of "
                               f"{MAX_INPUT_ARRAY}.", extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"})
        readers = {"Order": order, "Product": product, "ProductVariant": product_variant}
        return [readers.get(id.split("/")[3] if id.count("/") >= 4 else "", _unknown)(_info, id) for id in ids]

    return {"orders": orders, "order": order, "nodes": nodes, "fulfillment": fulfillment,
            "fulfillmentOrder": fulfillment_order, "product": product, "productVariant": product_variant,
            "productVariants": product_variants,
            "shop": {"name": store.name, "myshopifyDomain": f"{store.name}.myshopify.com",
                     "currencyCode": store.currency}}


def _unknown(_info: Info, id: str) -> None:
    return None


def _sort_key(sort_key: str | None) -> Callable[[Order], list[Any]]:
    """`OrderSortKeys`: UPDATED_AT, CREATED_AT / PROCESSED_AT, anything else by id; ties broken by id."""
    def by_updated(order: Order) -> list[Any]:
        return [timestamp(order.updated_at), order.id]

    def by_created(order: Order) -> list[Any]:
        return [timestamp(order.created_at), order.id]

    def by_id(order: Order) -> list[Any]:
        return [order.id]

    if sort_key == "UPDATED_AT":
        return by_updated
    return by_created if sort_key in ("CREATED_AT", "PROCESSED_AT") else by_id


def _reverse_connection(chosen: list[Order], views: Views, args: dict[str, Any]) -> View:
    """Reverse order: cursors compare the other way, so page by position in the reversed list."""
    positions = {order.id: index for index, order in enumerate(chosen)}
    return connection(chosen, views.order, lambda order: positions[order.id], **_paging(args))


def mutation_root(store: ShopifyStore) -> View:
    """The root value for mutations."""
    views = Views(store)

    def order_create(_info: Info, order: dict[str, Any], options: dict[str, Any] | None = None
                     ) -> View:
        try:
            currency = order.get("currency") or store.currency
            lines = [_new_line(index, line) for index, line in enumerate(order.get("lineItems") or ())]
            shipping = [_shipping_line(index, line, currency)
                        for index, line in enumerate(order.get("shippingLines") or ())]
            created = store.place_order(
                lines, email=order.get("email"), phone=order.get("phone"),
                shipping_address=dict(order["shippingAddress"]) if order.get("shippingAddress") else None,
                shipping_lines=shipping, currency=currency,
                inventory_behaviour=(options or {}).get("inventoryBehaviour") or "BYPASS",
                source_identifier=order.get("sourceIdentifier"), source_name=order.get("sourceName"),
                po_number=order.get("poNumber"), note=order.get("note"), tags=order.get("tags") or (),
                custom_attributes=[(a["key"], a.get("value")) for a in order.get("customAttributes") or ()])
        except StoreError as error:
            return {"order": None, "userErrors": [_user_error(error, code=error.code or "INVALID")]}
        return {"order": views.order(created), "userErrors": []}

    def fulfillment_create(_info: Info, fulfillment: dict[str, Any], message: str | None = None
                           ) -> View:
        plan: dict[int, list[FulfillmentItem] | None] = {}
        for index, group in enumerate(fulfillment.get("lineItemsByFulfillmentOrder") or ()):
            fo_id = gid_number(group["fulfillmentOrderId"], "FulfillmentOrder")
            if fo_id is None:
                return _refused(StoreError("Fulfillment order does not exist.", [
                    "fulfillment", "lineItemsByFulfillmentOrder", str(index), "fulfillmentOrderId"]))
            items = group.get("fulfillmentOrderLineItems")
            plan[fo_id] = None if items is None else [
                FulfillmentItem(gid_number(item["id"], "FulfillmentOrderLineItem") or -1, item["quantity"])
                for item in items]
        try:
            tracking = _tracking(fulfillment.get("trackingInfo"), ["fulfillment", "trackingInfo"])
            order, created = store.fulfill(plan, tracking=tracking,
                                           notify_customer=bool(fulfillment.get("notifyCustomer")))
        except StoreError as error:
            return _refused(error)
        return {"fulfillment": views.fulfillment(order, created), "userErrors": []}

    def tracking_update(_info: Info, fulfillmentId: str,
                        trackingInfoInput: dict[str, Any], notifyCustomer: bool | None = None) -> View:
        try:
            number = gid_number(fulfillmentId, "Fulfillment")
            if number is None:
                raise StoreError("Fulfillment does not exist.", ["fulfillmentId"])
            updated = store.update_tracking(number, _tracking(trackingInfoInput, ["trackingInfoInput"]))
        except StoreError as error:
            return _refused(error)
        found = store.fulfillment(updated.id)
        assert found is not None
        return {"fulfillment": views.fulfillment(*found), "userErrors": []}

    def fulfillment_cancel(_info: Info, id: str) -> View:
        try:
            number = gid_number(id, "Fulfillment")
            if number is None:
                raise StoreError("Fulfillment does not exist.", ["id"])
            cancelled = store.cancel_fulfillment(number)
        except StoreError as error:
            return _refused(error)
        found = store.fulfillment(cancelled.id)
        assert found is not None
        return {"fulfillment": views.fulfillment(*found), "userErrors": []}

    def order_cancel(_info: Info, orderId: str, restock: bool = False, **_options: Any) -> View:
        try:
            number = gid_number(orderId, "Order")
            if number is None:
                raise StoreError("Order does not exist.", ["orderId"])
            store.cancel_order(number, restock=restock)
        except StoreError as error:
            refused = _user_error(error, code="INVALID")
            return {"job": None, "orderCancelUserErrors": [refused], "userErrors": [refused]}
        return {"job": {"id": gid("Job", number), "done": True}, "orderCancelUserErrors": [], "userErrors": []}

    def metafields_set(_info: Info, metafields: list[dict[str, Any]]) -> View:
        entries = [MetafieldInput(owner_id=entry["ownerId"], namespace=entry.get("namespace") or "",
                                  key=entry["key"], value=entry["value"], type=entry.get("type"),
                                  compare_digest=entry.get("compareDigest"), check_digest="compareDigest" in entry)
                   for entry in metafields]
        try:
            written = store.set_metafields(entries)
        except StoreError as error:
            refused = _user_error(error, code=error.code)
            index = error.field[1] if len(error.field) > 1 and error.field[1].isdigit() else None
            return {"metafields": None, "userErrors": [{**refused,
                                                        "elementIndex": int(index) if index is not None else None}]}
        views_by_field = []
        for field in written:
            owner = next(order for order in store.orders.values() if field in order.metafields.values())
            views_by_field.append(metafield_view(owner, field))
        return {"metafields": views_by_field, "userErrors": []}

    def edit_begin(_info: Info, id: str) -> View:
        try:
            number = gid_number(id, "Order")
            if number is None:
                raise StoreError("Order does not exist.", ["id"])
            edit = store.begin_edit(number)
        except StoreError as error:
            return {"calculatedOrder": None, "userErrors": [_user_error(error)]}
        return {"calculatedOrder": _calculated_order(store, edit),
                "orderEditSession": {"id": gid("OrderEditSession", edit.id)}, "userErrors": []}

    def edit_set_quantity(_info: Info, id: str, lineItemId: str, quantity: int, restock: bool = False,
                          **_options: Any) -> View:
        try:
            edit_id, line_id = gid_number(id, "CalculatedOrder"), gid_number(lineItemId, "CalculatedLineItem")
            if edit_id is None or line_id is None:
                raise StoreError("The order edit or line item does not exist.", ["id"])
            edit, line = store.stage_quantity(edit_id, line_id, quantity, restock=bool(restock))
        except StoreError as error:
            return {"calculatedLineItem": None, "calculatedOrder": None, "userErrors": [_user_error(error)]}
        return {"calculatedLineItem": _calculated_line(store, edit, line),
                "calculatedOrder": _calculated_order(store, edit), "userErrors": []}

    def edit_commit(_info: Info, id: str, **_options: Any) -> View:
        try:
            edit_id = gid_number(id, "CalculatedOrder")
            if edit_id is None:
                raise StoreError("The order edit does not exist.", ["id"])
            order = store.commit_edit(edit_id)
        except StoreError as error:
            return {"order": None, "userErrors": [_user_error(error)]}
        return {"order": views.order(order), "userErrors": []}

    return {"orderCreate": order_create, "fulfillmentCreate": fulfillment_create,
            "fulfillmentTrackingInfoUpdate": tracking_update, "fulfillmentCancel": fulfillment_cancel,
            "orderCancel": order_cancel, "orderEditBegin": edit_begin, "orderEditSetQuantity": edit_set_quantity,
            "orderEditCommit": edit_commit, "metafieldsSet": metafields_set}


def _new_line(index: int, line: dict[str, Any]) -> NewLine:
    """An `OrderCreateLineItemInput` as the store takes it. Raises StoreError for a variant id that is not a
    ProductVariant GID (Shopify refuses it like an unknown one)."""
    variant_id = None
    if line.get("variantId") is not None:
        variant_id = gid_number(str(line["variantId"]), "ProductVariant")
        if variant_id is None:
            raise StoreError(f"The product variant {line['variantId']} does not exist",
                             ["order", "lineItems", str(index), "variantId"], "INVALID")
    price, currency = _money(line.get("priceSet"), ["order", "lineItems", str(index), "priceSet"])
    return NewLine(title=line.get("title") or line.get("sku") or "", quantity=line["quantity"], sku=line.get("sku"),
                   properties=tuple((p["name"], p.get("value")) for p in line.get("properties") or ()),
                   variant_id=variant_id, price=price, price_currency=currency)


def _shipping_line(index: int, line: dict[str, Any], currency: str) -> ShippingLine:
    """An `OrderCreateShippingLineInput` of an order in `currency`. Raises StoreError for a negative price or one
    in another currency."""
    where = ["order", "shippingLines", str(index), "priceSet"]
    price, given = _money(line.get("priceSet"), where)
    if price is not None and price < 0:
        raise StoreError("Price can't be negative", where, "INVALID")
    if given is not None and given != currency:
        raise StoreError(f"Price currency {given} does not match the order currency {currency}",
                         [*where, "shopMoney", "currencyCode"], "INVALID")
    return ShippingLine(title=line["title"], price=price or Decimal(0), code=line.get("code"))


def _money(bag: dict[str, Any] | None, where: list[str]) -> tuple[Decimal | None, str | None]:
    """(amount, currency) of a `MoneyBagInput`'s shop money; (None, None) without one. Raises StoreError for an
    amount that is not a number."""
    if not bag:
        return None, None
    shop = bag["shopMoney"]
    try:
        value = Decimal(str(shop["amount"]))
    except ArithmeticError:
        raise StoreError(f"{shop['amount']!r} is not a valid decimal", [*where, "shopMoney", "amount"],
                         "INVALID") from None
    if not value.is_finite():
        raise StoreError(f"{shop['amount']!r} is not a valid decimal", [*where, "shopMoney", "amount"], "INVALID")
    return value, str(shop["currencyCode"])


def _calculated_order(store: ShopifyStore, edit: OrderEdit) -> View:
    order = store.orders[edit.order_id]

    def line_items(_info: Info, **args: Any) -> View:
        return connection(order.line_items, lambda line: _calculated_line(store, edit, line), lambda line: line.id,
                          **_paging(args))

    return {"id": gid("CalculatedOrder", edit.id), "committed": edit.committed, "lineItems": line_items,
            "originalOrder": Views(store).order(order)}


def _calculated_line(store: ShopifyStore, edit: OrderEdit, line: LineItem) -> View:
    order = store.orders[edit.order_id]
    quantity = edit.staged.get(line.id, line.current_quantity)
    fulfilled = store.fulfilled_units(order, line.id)
    return {"id": gid("CalculatedLineItem", line.id), "quantity": quantity, "sku": line.sku, "title": line.title,
            "editableQuantity": max(quantity - fulfilled, 0),
            "editableQuantityBeforeChanges": max(line.current_quantity - fulfilled, 0),
            "customAttributes": [{"key": key, "value": value} for key, value in line.custom_attributes]}


def _refused(error: StoreError) -> View:
    return {"fulfillment": None, "userErrors": [_user_error(error)]}


def _user_error(error: StoreError, code: str | None = None) -> View:
    return {"field": error.field or None, "message": error.message, "code": code}


def _tracking(given: dict[str, Any] | None, where: list[str]) -> list[TrackingInfo]:
    """`FulfillmentTrackingInput` as stored: `numbers`/`urls` paired by position (else `number`/`url`); a
    known company without URL gets the carrier's URL. Raises StoreError for a URL that is not http(s)."""
    if not given:
        return []
    company = given.get("company")
    numbers = list(given.get("numbers") or ([given["number"]] if given.get("number") else []))
    urls = list(given.get("urls") or ([given["url"]] if given.get("url") else []))
    for index, url in enumerate(urls):
        if not str(url).startswith(("http://", "https://")):
            raise StoreError("Url is invalid", [*where, "urls", str(index)])
    if not numbers:
        return [TrackingInfo(company, None, urls[0] if urls else None)] if company or urls else []
    infos = []
    for index, number in enumerate(numbers):
        url = urls[index] if index < len(urls) else None
        if url is None and company in _CARRIER_URLS:
            url = _CARRIER_URLS[company].format(number)
        infos.append(TrackingInfo(company, number, url))
    return infos

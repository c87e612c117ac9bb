"""`ShopifyConnector`: a Shopify shop as buyer and as seller, over the GraphQL Admin API (decisions: the package
docstring, `connectors/shopify/__init__.py`).

Failure: every method raises only ConnectorError subclasses (see connectors.base); the token never appears.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.base import (
    ConnectorError,
    MalformedResponseError,
    PermanentError,
    Skip,
    StoreConnector,
    vanished_as_cancelled,
)
from connectors.cursor import CursorError, PollCursor
from connectors.http import MIB, RetryPolicy
from connectors.rejects import PageReader
from connectors.shopify import operations as ops
from connectors.shopify.catalog import exact_variants, search_batches
from connectors.shopify.client import ShopifyGraphQL, user_errors
from connectors.shopify.order_input import CREATE_OPTIONS, create_order_input
from connectors.shopify.parse import (
    MARK_NAMESPACE,
    FulfillmentMark,
    OpenLine,
    ShapeError,
    created_order,
    fulfillment_marks,
    graphql_changed_order,
    graphql_fulfillment,
    graphql_fulfillment_orders,
    graphql_order,
    mark_key,
    marked_fulfillment,
    tracking_input,
)
from schemas.config import Connection
from schemas.platform import (
    CatalogLookup,
    CatalogVariant,
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

log = logging.getLogger(__name__)
DEFAULT_VERSION = "2026-07"
DEFAULT_REQUESTS_PER_S = 40.0
"""GraphQL Admin limits by query cost only (paced by `connectors.shopify.client`); this cap only bounds a runaway."""
_DEFAULT_RETRY = RetryPolicy()


class ShopifyConnector(StoreConnector):
    """One Shopify shop, as a buyer or a seller. See the module docstring for every platform decision."""

    def __init__(self, connection: Connection, *, transport: httpx.AsyncBaseTransport | None = None,
                 retry: RetryPolicy = _DEFAULT_RETRY, sleep: Callable[[float], Awaitable[None]] | None = None,
                 start_window: timedelta = timedelta(days=60), page_size: int = ops.LISTING_PAGE_SIZE,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 max_response_bytes: int | None = None) -> None:
        """`max_response_bytes`: the cap on one response body (`connectors.http.PlatformHttp`; None: the
        connection's `max_response_mb`).
        Raises ValueError when `connection` is not a usable Shopify connection (platform, base_url, token)."""
        if connection.platform != "shopify":
            raise ValueError(f"connection {connection.id!r} is for {connection.platform}, not shopify")
        if connection.base_url is None:
            raise ValueError(f"connection {connection.id!r}: base_url is required for shopify")
        token = connection.credentials.get("access_token")
        if token is None or not token.get_secret_value():
            raise ValueError(f"connection {connection.id!r}: credentials.access_token is required for shopify")
        self.connection = connection
        self._currency: str | None = None  # the shop's, asked once (`_shop_currency`)
        self._start_window = start_window
        self._page_size = page_size
        self._now = now
        self.api = ShopifyGraphQL(
            connection=connection.id, base_url=str(connection.base_url),
            version=connection.api_version or DEFAULT_VERSION, token=token.get_secret_value(),
            requests_per_s=connection.requests_per_s or DEFAULT_REQUESTS_PER_S, retry=retry, transport=transport,
            sleep=sleep, max_response_bytes=max_response_bytes or connection.max_response_mb * MIB)

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- polling -------------------------------------------------------------------------------------------

    async def orders_changed_since(self, cursor: str | None, skip: Skip | None = None) -> Page[PlatformOrder]:
        """The light listing's page (`changed_orders_since`), then the orders not skipped read in full, `ORDER_BATCH`
        a request (`ops.ORDERS_BY_ID`); an order deleted in between is left out. An order whose full read does not
        parse is in `rejected` (with those the listing rejected)."""
        listed = await self.changed_orders_since(cursor)
        wanted = [order.order_ref for order in listed.items if skip is None or not skip(order)]
        reader = self._reader()
        orders: list[PlatformOrder] = []
        for start in range(0, len(wanted), ops.ORDER_BATCH):
            data = await self._query(ops.ORDERS_BY_ID, {"ids": wanted[start:start + ops.ORDER_BATCH]}, lenient=True)
            with self._reading(ops.ORDERS_BY_ID):
                nodes = _field(data, "nodes", list)
            for index, node in enumerate(nodes, start):
                if node is None or reader.problem(node, index):
                    continue
                await self._complete_line_items(node)
                order = reader.parse(node, index, graphql_order)
                if order is not None:
                    orders.append(order)
        return Page(items=tuple(orders), cursor=listed.cursor, has_more=listed.has_more,
                    rejected=listed.rejected + tuple(reader.rejected))

    def _reader(self) -> PageReader[Any]:
        return PageReader(ref_of=lambda node: node.get("id"), updated_of=_updated_of, secrets=self.api.http.secrets)

    async def changed_orders_since(self, cursor: str | None) -> Page[ChangedOrder]:
        """Every poll's listing (`ops.ORDERS_CHANGED_SINCE`): refs, updated times, our reference and cancellation
        marks at about a point an order. Orders the cursor saw at the same updated time are left out; an order
        the listing cannot read is in `rejected`."""
        operation = ops.ORDERS_CHANGED_SINCE
        try:
            position = PollCursor.start(cursor, default_since=self._now() - self._start_window)
        except CursorError as error:
            raise PermanentError(f"shopify connection {self.connection.id!r}: {error}",
                                 connection=self.connection.id) from None
        since = position.query_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        variables = {"q": f"updated_at:>='{since}'", "after": position.page, "first": self._page_size}
        try:
            data = await self._query(operation, variables, lenient=True)
        except PermanentError as error:
            if position.page is None or "cursor" not in error.platform_message.lower():
                raise
            log.warning("%s: Shopify refused the stored page cursor (%s); restarting the walk from %s",
                        self.connection.id, error.platform_message, since)
            position = PollCursor(since=position.since)
            data = await self._query(operation, {**variables, "after": None}, lenient=True)
        reader = self._reader()
        with self._reading(operation):
            orders = _field(data, "orders", dict)
            page_info = _field(orders, "pageInfo", dict)
            nodes = _field(orders, "nodes", list)
        items: list[ChangedOrder] = list(reader.read(nodes, graphql_changed_order))
        has_next = page_info.get("hasNextPage") is True
        end = page_info.get("endCursor")
        if has_next and not isinstance(end, str):
            raise self._malformed(operation, "pageInfo.hasNextPage is true but endCursor is missing")
        seen = [(item.order_ref, item.updated_at) for item in items] + reader.rejected_items()
        newest = max((at for _, at in seen), default=None)
        advanced = position.advanced(newest, end if has_next else None, seen, now=self._now())
        changed = tuple(item for item in items if not position.seen_before(item.order_ref, item.updated_at))
        return Page(items=changed, cursor=advanced.encode(), has_more=has_next,
                    rejected=reader.unseen(position.seen_before))

    async def _complete_line_items(self, node: Any) -> None:
        await self._complete(node, "lineItems", "order", ops.ORDER_LINE_ITEMS, lenient=True)

    async def _complete(self, node: Any, field: str, parent: str, operation: ops.Operation, *,
                        lenient: bool = False) -> None:
        """Append to `node[field]` (a connection, in place) the nodes beyond its first page, read with
        `operation(id: node.id, after:)` whose answer holds them under `parent.field` (`lenient`: see
        `PlatformHttp.json`; the caller checks the nodes)."""
        if not isinstance(node, dict) or not isinstance(node.get(field), dict):
            return
        connection = node[field]
        more, after = self._next_page(connection, None, operation=operation)
        while more:
            data = await self._query(operation, {"id": node.get("id"), "after": after}, lenient=lenient)
            with self._reading(operation):
                page = _field(_field(data, parent, dict), field, dict)
                connection["nodes"] = [*connection.get("nodes", []), *_field(page, "nodes", list)]
            more, after = self._next_page(page, after, operation=operation)

    # -- fulfillments (seller side reads, buyer side writes) -----------------------------------------------

    async def fulfillments(self, order_ref: str, known_refs: Iterable[str] = ()) -> tuple[PlatformFulfillment, ...]:
        data = await self._query(ops.ORDER_FULFILLMENTS, {"id": order_ref})
        order = data.get("order")
        if order is None:
            raise PermanentError(f"shopify connection {self.connection.id!r}: order {order_ref} does not exist "
                                 "(deleted, older than 60 days without read_all_orders, or another shop's)",
                                 connection=self.connection.id, status=200)
        with self._reading(ops.ORDER_FULFILLMENTS):
            nodes = _field(order, "fulfillments", list)
        found = []
        for node in nodes:
            await self._complete_fulfillment_lines(node)
            with self._reading(ops.ORDER_FULFILLMENTS):
                found.append(graphql_fulfillment(node, order_ref))
        # Shopify keeps cancelled fulfillments; one that vanished anyway reads as cancelled.
        newest = max((f.updated_at for f in found), default=datetime.now(UTC))
        return vanished_as_cancelled(order_ref, tuple(found), known_refs, newest)

    async def _complete_fulfillment_lines(self, node: Any) -> None:
        await self._complete(node, "fulfillmentLineItems", "fulfillment", ops.FULFILLMENT_LINE_ITEMS)

    async def find_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str | None:
        """The active fulfillment our mark for `request.our_fulfillment_id` names (`parse.marked_fulfillment`),
        never one found by its content alone: two seller fulfillments of identical parcels are two buyer
        fulfillments. None without a mark (nothing was created for it)."""
        key = mark_key(request.our_fulfillment_id)
        marks = await self._marks(order_ref)
        if key not in marks:
            return None
        return marked_fulfillment(key, marks, await self.fulfillments(order_ref), _line_totals(request),
                                  request.tracking.numbers)

    async def create_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str:
        """Write our mark (outcome unknown, with the order's fulfillments so far), `fulfillmentCreate`, then
        complete the mark with the new fulfillment's id. A failure to complete it is logged, not raised: the
        fulfillment exists and `find_fulfillment` resolves the incomplete mark to it."""
        key = mark_key(request.our_fulfillment_id)
        marks = await self._marks(order_ref)
        existing = frozenset(f.fulfillment_ref for f in await self.fulfillments(order_ref))
        mark = FulfillmentMark(None, existing, max((m.seq for m in marks.values()), default=0) + 1)
        open_by_line: dict[str, list[OpenLine]] = {}
        for open_line in await self._open_lines(order_ref):  # grouped once: linear in the order's lines
            open_by_line.setdefault(open_line.line_ref, []).append(open_line)
        by_order: dict[str, list[dict[str, Any]]] = {}
        for line_ref, quantity in _line_totals(request).items():
            left = quantity
            for line in open_by_line.get(line_ref, ()):
                if line.remaining <= 0 or left == 0:
                    continue
                taken = min(left, line.remaining)
                by_order.setdefault(line.fulfillment_order_id, []).append(
                    {"id": line.fulfillment_order_line_id, "quantity": taken})
                left -= taken
            if left:
                available = sum(line.remaining for line in open_by_line.get(line_ref, ()))
                raise PermanentError(
                    f"shopify connection {self.connection.id!r}: order {order_ref} line {line_ref}: {quantity} "
                    f"unit(s) to fulfill but only {available} open on Shopify (already fulfilled, removed, or at a "
                    "location this app may not fulfill)", connection=self.connection.id, status=200)
        fulfillment: dict[str, Any] = {
            "notifyCustomer": request.notify_customer or self.connection.notify_customer,
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": items}
                                            for fo_id, items in by_order.items()]}
        tracking = tracking_input(request.tracking)
        if tracking is not None:
            fulfillment["trackingInfo"] = tracking
        await self._set_mark(order_ref, key, mark)
        payload = await self._mutate(ops.CREATE_FULFILLMENT, {"fulfillment": fulfillment}, "fulfillmentCreate")
        created = self._created_id(payload, ops.CREATE_FULFILLMENT, "fulfillment")
        try:
            await self._set_mark(order_ref, key, replace(mark, fulfillment=created))
        except ConnectorError as error:
            log.warning("%s: order %s: fulfillment %s created for %s, but its mark was not completed (%s); it is "
                        "found again from the incomplete mark", self.connection.id, order_ref, created,
                        request.our_fulfillment_id, error)
        return created

    async def _marks(self, order_ref: str) -> dict[str, FulfillmentMark]:
        """Our fulfillment marks on buyer order `order_ref` (every page). PermanentError when the order is
        unknown."""
        nodes = await self._order_pages(ops.ORDER_FULFILLMENT_MARKS, "metafields", order_ref)
        with self._reading(ops.ORDER_FULFILLMENT_MARKS):
            return fulfillment_marks(nodes)

    async def _order_pages(self, operation: ops.Operation, connection_field: str, order_ref: str) -> list[Any]:
        """Every node of the order's `connection_field`, walking the pages of `operation`. PermanentError when
        the order is unknown."""
        nodes: list[Any] = []
        after: str | None = None
        while True:
            data = await self._query(operation, {"id": order_ref, "after": after})
            if data.get("order") is None:
                raise PermanentError(f"shopify connection {self.connection.id!r}: order {order_ref} does not exist",
                                     connection=self.connection.id, status=200)
            with self._reading(operation):
                page = _field(data["order"], connection_field, dict)
                nodes += _field(page, "nodes", list)
            more, after = self._next_page(page, after, operation=operation)
            if not more:
                return nodes

    async def _set_mark(self, order_ref: str, key: str, mark: FulfillmentMark) -> None:
        await self._mutate(ops.SET_FULFILLMENT_MARK, {"metafields": [{
            "ownerId": order_ref, "namespace": MARK_NAMESPACE, "key": key, "type": "json",
            "value": mark.to_json()}]}, "metafieldsSet")

    async def _open_lines(self, order_ref: str) -> list[OpenLine]:
        nodes = await self._order_pages(ops.FULFILLMENT_ORDERS, "fulfillmentOrders", order_ref)
        with self._reading(ops.FULFILLMENT_ORDERS):
            return graphql_fulfillment_orders(nodes)

    async def update_tracking(self, order_ref: str, fulfillment_ref: str, tracking: Tracking) -> str:
        variables = {"fulfillmentId": fulfillment_ref, "trackingInfoInput": tracking_input(tracking) or {},
                     "notifyCustomer": self.connection.notify_customer}
        payload = await self._mutate(ops.UPDATE_TRACKING, variables, "fulfillmentTrackingInfoUpdate")
        return self._created_id(payload, ops.UPDATE_TRACKING, "fulfillment")

    async def cancel_fulfillment(self, order_ref: str, fulfillment_ref: str) -> None:
        data = await self.api.run(ops.CANCEL_FULFILLMENT, {"id": fulfillment_ref}, read_only=False)
        payload = data.get("fulfillmentCancel")
        refused = user_errors(self.connection.id, ops.CANCEL_FULFILLMENT, payload)
        if refused is None:
            return
        status = await self._query(ops.FULFILLMENT_STATUS, {"id": fulfillment_ref})
        current = status.get("fulfillment")
        if isinstance(current, dict) and current.get("status") == "CANCELLED":
            return
        raise refused

    # -- the seller's catalog ------------------------------------------------------------------------------

    async def catalog_variants(self, skus: Sequence[str]) -> CatalogLookup:
        """`ops.CATALOG_VARIANTS` per batch of SKUs (`connectors.shopify.catalog.search_batches`), every page of
        each, keeping the variants whose SKU is exactly an asked one and whose product is ACTIVE; the currency from
        `_shop_currency`. Paced by the query-cost bucket like every call."""
        wanted: dict[str, list[CatalogVariant]] = {sku: [] for sku in skus}
        currency = await self._shop_currency()
        for batch, search in search_batches(skus):
            batch_wanted = {sku: wanted[sku] for sku in batch}
            after: str | None = None
            while True:
                data = await self._query(ops.CATALOG_VARIANTS,
                                         {"q": search, "first": ops.VARIANT_PAGE_SIZE, "after": after})
                with self._reading(ops.CATALOG_VARIANTS):
                    page = _field(data, "productVariants", dict)
                    exact_variants(_field(page, "nodes", list), batch_wanted)
                more, after = self._next_page(page, after, operation=ops.CATALOG_VARIANTS)
                if not more:
                    break
        return CatalogLookup(currency=currency, variants={sku: tuple(found) for sku, found in wanted.items()})

    async def _shop_currency(self) -> str:
        """The shop's currency (`ops.SHOP_CURRENCY`), asked once per connector instance."""
        if self._currency is None:
            data = await self._query(ops.SHOP_CURRENCY, {})
            with self._reading(ops.SHOP_CURRENCY):
                currency = _field(_field(data, "shop", dict), "currencyCode", str)
            self._currency = currency
        return self._currency

    # -- orders on a seller --------------------------------------------------------------------------------

    async def find_order(self, order: NewOrder) -> CreatedOrder | None:
        """Our earlier attempt's order, by `sourceIdentifier` (`_find_our_order`), its lines mapped by our line
        markers."""
        existing = await self._find_our_order(order.our_order_id)
        if existing is None:
            return None
        return self._created(existing, [line.line_ref for line in order.lines], ops.FIND_ORDER_BY_SOURCE)

    async def create_order(self, order: NewOrder) -> CreatedOrder:
        """Our earlier attempt's order when `find_order` finds it (nothing is sent again: its inventory
        moved once), else `orderCreate` with `connectors.shopify.order_input` (linked lines as the seller's
        variants, custom lines flagged, prices in the shop's currency, inventory claimed). PermanentError when
        `order.currency` is not the shop's (Shopify takes line prices in the shop's currency), or for Shopify's
        `userErrors` (an unknown variant among them)."""
        existing = await self.find_order(order)
        if existing is not None:
            return existing
        sent_lines = [line.line_ref for line in order.lines]
        currency = await self._shop_currency()
        if order.currency is not None and order.currency != currency:
            raise PermanentError(f"shopify connection {self.connection.id!r}: order {order.our_order_id} is priced "
                                 f"in {order.currency} but the shop's currency is {currency}",
                                 connection=self.connection.id)
        payload = await self._mutate(ops.CREATE_ORDER, {"order": create_order_input(order, currency),
                                                        "options": CREATE_OPTIONS}, "orderCreate")
        created = payload.get("order")
        if not isinstance(created, dict):
            raise self._malformed(ops.CREATE_ORDER, "orderCreate.order is missing without userErrors")
        return self._created(created, sent_lines, ops.CREATE_ORDER)

    async def cancel_order(self, order_ref: str, cancellation: OrderCancellation) -> None:
        """The whole order: `orderCancel` (reason CUSTOMER, restock, no refund: the buyer's store took the money,
        no customer notification; our note as staff note); refused but already cancelled is a no-op. Units: an
        order edit (`orderEditBegin`, `orderEditSetQuantity` down to what remains, `orderEditCommit`), which
        Shopify allows for unfulfilled units only: lines already at most that low are left alone and nothing is
        committed when no line changes. Units the seller already fulfilled cannot be removed: the rest is
        committed, then a PermanentError names those lines."""
        note = cancellation.note()[:255]  # Shopify's staff note limit
        if cancellation.whole_order:
            await self._cancel_whole(order_ref, note)
            return
        begun = await self._mutate(ops.ORDER_EDIT_BEGIN, {"id": order_ref}, "orderEditBegin")
        with self._reading(ops.ORDER_EDIT_BEGIN):
            calculated = _field(begun, "calculatedOrder", dict)
            nodes = _field(_field(calculated, "lineItems", dict), "nodes", list)
            by_number = {_gid_number(_field(node, "id", str)): node for node in nodes}
        changed, fulfilled = False, []
        for line in cancellation.lines:
            node = by_number.get(_gid_number(line.line_ref))
            if node is None:
                continue  # no longer on the order: nothing of it to ship
            quantity, editable = int(node.get("quantity") or 0), int(node.get("editableQuantity") or 0)
            target = max(line.remaining_quantity, quantity - editable)
            if line.remaining_quantity < quantity - editable:
                fulfilled.append(f"{line.sku or line.line_ref} ({quantity - editable} fulfilled, "
                                 f"{line.remaining_quantity} wanted)")
            if target < quantity:
                await self._mutate(ops.ORDER_EDIT_SET_QUANTITY, {"id": calculated["id"], "lineItemId": node["id"],
                                                                 "quantity": target, "restock": True},
                                   "orderEditSetQuantity")
                changed = True
        if changed:
            await self._mutate(ops.ORDER_EDIT_COMMIT, {"id": calculated["id"], "notifyCustomer": False,
                                                       "staffNote": note}, "orderEditCommit")
        if fulfilled:
            raise PermanentError(f"shopify connection {self.connection.id!r}: order {order_ref}: units the buyer "
                                 f"cancelled were already fulfilled: {', '.join(fulfilled)}",
                                 connection=self.connection.id)

    async def _cancel_whole(self, order_ref: str, note: str) -> None:
        data = await self.api.run(ops.CANCEL_ORDER, {
            "orderId": order_ref, "reason": "CUSTOMER", "refund": False, "restock": True, "notifyCustomer": False,
            "staffNote": note}, read_only=False)
        payload = data.get("orderCancel")
        if not isinstance(payload, dict):
            raise self._malformed(ops.CANCEL_ORDER, "data.orderCancel is missing")
        errors = [*(payload.get("orderCancelUserErrors") or []), *(payload.get("userErrors") or [])]
        refused = user_errors(self.connection.id, ops.CANCEL_ORDER, {"userErrors": errors})
        if refused is None:
            return
        status = await self._query(ops.ORDER_CANCELLED_AT, {"id": order_ref})
        current = status.get("order")
        if isinstance(current, dict) and current.get("cancelledAt"):
            return
        raise refused

    async def _find_our_order(self, our_order_id: str) -> dict[str, Any] | None:
        quoted = our_order_id.replace("\\", "\\\\").replace("'", "\\'")
        data = await self._query(ops.FIND_ORDER_BY_SOURCE, {"q": f"source_identifier:'{quoted}'"})
        with self._reading(ops.FIND_ORDER_BY_SOURCE):
            nodes = _field(_field(data, "orders", dict), "nodes", list)
        for node in nodes:
            if isinstance(node, dict) and node.get("sourceIdentifier") == our_order_id:
                return node
        return None

    def _created(self, node: dict[str, Any], sent_lines: list[str], operation: ops.Operation) -> CreatedOrder:
        with self._reading(operation):
            order_ref, name, line_refs = created_order(node, sent_lines)
        return CreatedOrder(order_ref=order_ref, number=name, line_refs=line_refs)

    # -- helpers -------------------------------------------------------------------------------------------

    async def _query(self, operation: ops.Operation, variables: dict[str, Any], *,
                     lenient: bool = False) -> dict[str, Any]:
        return await self.api.run(operation, variables, read_only=True, lenient=lenient)

    async def _mutate(self, operation: ops.Operation, variables: dict[str, Any], field: str) -> dict[str, Any]:
        data = await self.api.run(operation, variables, read_only=False)
        payload = data.get(field)
        if not isinstance(payload, dict):
            raise self._malformed(operation, f"data.{field} is missing")
        refused = user_errors(self.connection.id, operation, payload)
        if refused is not None:
            raise refused
        return payload

    def _next_page(self, connection: Any, after: Any, *, operation: ops.Operation) -> tuple[bool, str | None]:
        """(more pages?, the cursor to ask for next) of a connection; MalformedResponseError when Shopify says
        there is more but gives no new cursor (which would loop forever)."""
        info = connection.get("pageInfo") if isinstance(connection, dict) else None
        info = info if isinstance(info, dict) else {}
        if info.get("hasNextPage") is not True:
            return False, None
        cursor = info.get("endCursor")
        if not isinstance(cursor, str) or cursor == after:
            raise self._malformed(operation, f"pageInfo.hasNextPage is true but endCursor is {cursor!r}")
        return True, cursor

    def _created_id(self, payload: dict[str, Any], operation: ops.Operation, key: str) -> str:
        thing = payload.get(key)
        if not isinstance(thing, dict) or not isinstance(thing.get("id"), str):
            raise self._malformed(operation, f"{key}.id is missing without userErrors")
        return str(thing["id"])

    @contextmanager
    def _reading(self, operation: ops.Operation) -> Iterator[None]:
        """Turn a ShapeError raised inside into a MalformedResponseError naming `operation`."""
        try:
            yield
        except ShapeError as error:
            raise self._malformed(operation, str(error)) from None

    def _malformed(self, operation: ops.Operation, what: str) -> MalformedResponseError:
        return MalformedResponseError(
            f"shopify connection {self.connection.id!r}: {operation.name} answered JSON that is not the documented "
            f"shape: {what}; it will be retried", connection=self.connection.id, status=200)


def _updated_of(node: Any) -> datetime:
    """An order node's `updatedAt`, read on its own (for an order that does not parse). Raises when it is not an
    ISO 8601 time with a zone."""
    moment = datetime.fromisoformat(node["updatedAt"])
    if moment.tzinfo is None:
        raise ValueError("updatedAt has no time zone")
    return moment


def _field(container: Any, key: str, kind: type) -> Any:
    if not isinstance(container, dict):
        raise ShapeError(f"expected an object holding {key!r}, got {type(container).__name__}")
    value = container.get(key)
    if not isinstance(value, kind):
        raise ShapeError(f"{key} is {type(value).__name__}, not {kind.__name__}")
    return value


def _gid_number(ref: str) -> str:
    """The number at the end of a GID: a `CalculatedLineItem` of an order edit has its `LineItem`'s number."""
    return ref.rsplit("/", 1)[-1]


def _line_totals(request: FulfillmentRequest) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in request.lines:
        totals[line.line_ref] = totals.get(line.line_ref, 0) + line.quantity
    return totals

"""`BigCommerceConnector`: a BigCommerce store as buyer and as seller, over the V2 REST API (see the package
docstring for every platform decision)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from connectors.base import FulfillmentGone, MalformedResponseError, PermanentError, Skip, StoreConnector
from connectors.bigcommerce import catalog, parse, plan
from connectors.cursor import CursorError, PollCursor
from connectors.http import MIB, PlatformHttp, RetryPolicy
from connectors.rejects import PageReader
from schemas.config import Connection
from schemas.platform import (
    CatalogLookup,
    ChangedOrder,
    CreatedOrder,
    FulfillmentLine,
    FulfillmentRequest,
    NewOrder,
    OrderCancellation,
    Page,
    PlatformFulfillment,
    PlatformOrder,
    Tracking,
)

log = logging.getLogger(__name__)

DEFAULT_REQUESTS_PER_S = 4.0  # 150 requests per 30 s on Standard/Plus plans, shared by every app on the store
_DEFAULT_RETRY = RetryPolicy()
T = TypeVar("T")
_Changed = TypeVar("_Changed", PlatformOrder, ChangedOrder)
MAX_PAGE_SIZE = 250  # V2 list endpoints
QUOTA_RESERVE = 2  # requests left in the window at which we pause until it resets


@dataclass(frozen=True)
class _PageToken:
    """Where a walk of `GET /v2/orders` continues: orders modified at or after `at`, skipping the ids already
    seen at exactly `at`, from page `page` of that query (> 1 only when more than a page share one second)."""

    at: datetime
    seen: tuple[int, ...] = ()
    page: int = 1

    def encode(self) -> str:
        return json.dumps({"at": self.at.isoformat(), "seen": list(self.seen), "page": self.page},
                          separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> _PageToken:
        raw = json.loads(text)
        return cls(at=datetime.fromisoformat(raw["at"]), seen=tuple(int(i) for i in raw["seen"]),
                   page=int(raw["page"]))


class BigCommerceConnector(StoreConnector):
    """One BigCommerce store (`connection.base_url` = `https://api.bigcommerce.com/stores/{store_hash}`).

    Every method raises only `ConnectorError` subclasses: `RetryableError` (429, 5xx, network; with the wait the
    store asked for), `PermanentError` (4xx with the platform's message and a hint, a request BigCommerce cannot
    express) and `MalformedResponseError` (a 2xx body that is not JSON or not the documented shape).

    `page_size`: orders per poll page (1-250); `start_window`: how far back a poll without a cursor looks;
    `max_response_bytes`: the cap on one response body (`connectors.http.PlatformHttp`; None: the connection's
    `max_response_mb`);
    `transport`, `retry`, `sleep`, `now`: for tests. Raises ValueError for a connection that is not BigCommerce."""

    def __init__(self, connection: Connection, *, transport: httpx.AsyncBaseTransport | None = None,
                 retry: RetryPolicy = _DEFAULT_RETRY, sleep: Callable[[float], Awaitable[None]] | None = None,
                 page_size: int = 50, start_window: timedelta = timedelta(days=30),
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 max_response_bytes: int | None = None) -> None:
        if connection.platform != "bigcommerce" or connection.base_url is None:
            raise ValueError(f"connection {connection.id!r}: not a BigCommerce connection with a base_url")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError("page_size: BigCommerce V2 pages hold 1 to 250 items")
        token = connection.credentials["access_token"].get_secret_value()
        self.connection = connection
        self._currency: str | None = None  # the store's default currency, once read
        self._page_size = page_size
        self._start_window = start_window
        self._now = now
        self._http = PlatformHttp(
            connection=connection.id, platform="bigcommerce", base_url=connection.base_url,
            headers={"X-Auth-Token": token, "Content-Type": "application/json"}, secrets=[token],
            requests_per_s=connection.requests_per_s or DEFAULT_REQUESTS_PER_S,
            error_message=self._error_message, on_response=self._read_quota, retry=retry, transport=transport,
            sleep=sleep, max_response_bytes=max_response_bytes or connection.max_response_mb * MIB)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- HTTP helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def _error_message(response: httpx.Response) -> str:
        try:
            return parse.error_message(response.json())
        except ValueError:
            return ""

    def _read_quota(self, response: httpx.Response) -> None:
        """Pause before the window's quota runs dry: at QUOTA_RESERVE requests left, wait for the reset. A 429
        is not paused for here: the retry already waits the reset it names (connectors.http)."""
        if response.status_code == 429:
            return
        left = response.headers.get("x-rate-limit-requests-left", "")
        reset = response.headers.get("x-rate-limit-time-reset-ms") or response.headers.get(
            "x-rate-limit-time-window-ms", "")
        if left.strip().isdigit() and int(left) <= QUOTA_RESERVE and reset.strip().isdigit():
            log.info("%s: %s requests left in the rate-limit window; pausing %s ms", self.connection.id, left, reset)
            self._http.pause_for(int(reset) / 1000)

    async def _get(self, path: str, params: Mapping[str, Any] | None = None, *,
                   lenient: bool = False) -> tuple[Any, httpx.Response]:
        """GET a JSON body; 204 (an empty collection) is `[]`. `lenient`: see `PlatformHttp.json`."""
        response = await self._http.request("GET", path, params=params)
        if response.status_code == 204:
            return [], response
        return self._http.json(response, lenient=lenient), response

    async def _list(self, path: str, what: str, params: Mapping[str, Any] | None = None, *,
                    lenient: bool = False) -> list[Mapping[str, Any]]:
        """Every element of a V2 collection, page by page (250 a page) until a short page."""
        items: list[Mapping[str, Any]] = []
        page = 1
        while True:
            body, response = await self._get(path, {**(params or {}), "page": page, "limit": 250}, lenient=lenient)
            batch = self._shape(response, parse.object_list, body, what)
            items.extend(batch)
            if len(batch) < 250:
                return items
            page += 1

    def _shape(self, response: httpx.Response | None, read: Callable[..., T], *args: Any) -> T:
        """`read(*args)`, with a payload that is not the documented shape raised as MalformedResponseError."""
        try:
            return read(*args)
        except (parse.PayloadError, plan.PlanError, KeyError, TypeError, ValueError) as error:
            if response is None:
                raise MalformedResponseError(f"bigcommerce connection {self.connection.id!r}: {error}",
                                             connection=self.connection.id) from None
            raise self._http.shape_error(response, str(error)) from None

    def _refuse(self, message: str) -> PermanentError:
        return PermanentError(f"bigcommerce connection {self.connection.id!r}: {message}",
                              connection=self.connection.id)

    def _order_path(self, order_ref: str) -> str:
        if not order_ref.isdigit():
            raise self._refuse(f"BigCommerce order refs are numeric ids, got {order_ref[:40]!r}")
        return f"/v2/orders/{order_ref}"

    # -- polling ---------------------------------------------------------------------------------------------

    async def orders_changed_since(self, cursor: str | None, skip: Skip | None = None) -> Page[PlatformOrder]:
        """One page of orders modified since the cursor, oldest change first (`min_date_modified`,
        `sort=date_modified:asc`). Pages are keyed by the last modification time seen, not by page number, so
        an order modified while a walk runs moves behind the walk instead of shifting another order out of it.
        Each changed order costs two more requests (its products and shipping addresses). An order that does not
        parse (its listing, products or addresses) is in `rejected`, its raw payload the listing's order with
        `products` and `shipping_addresses` replaced by the lists read."""
        async def full(order: Mapping[str, Any]) -> dict[str, Any]:
            path = self._order_path(str(order["id"]))
            products = await self._list(f"{path}/products", "products", lenient=True)
            addresses = await self._list(f"{path}/shipping_addresses", "shipping_addresses", lenient=True)
            return {**order, "products": products, "shipping_addresses": addresses}

        def parsed(raw: Mapping[str, Any]) -> PlatformOrder:
            return parse.parse_order(raw, raw["products"], raw["shipping_addresses"])
        return await self._changed_since(cursor, self._page_size, full, parsed)

    async def changed_orders_since(self, cursor: str | None) -> Page[ChangedOrder]:
        """The seller poll's listing: the same walk and cursor, 250 orders a page, and no detail reads (the
        listing carries `external_order_id`, where our order id is)."""
        async def light(order: Mapping[str, Any]) -> Mapping[str, Any]:
            return order
        return await self._changed_since(cursor, MAX_PAGE_SIZE, light, parse.changed_order)

    async def _changed_since(self, cursor: str | None, page_size: int,
                             read: Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]],
                             parsed: Callable[[Any], _Changed]) -> Page[_Changed]:
        """One page of the walk: `read` gives an order's raw payload (detail reads included), `parsed` the
        order from it. An order whose id, modification time or payload is unreadable is rejected; the token
        and cursor move past it as past any other."""
        try:
            state = PollCursor.start(cursor, default_since=self._now() - self._start_window)
            token = _PageToken.decode(state.page) if state.page else _PageToken(at=state.query_since)
        except (CursorError, ValueError, KeyError, TypeError) as error:
            raise self._refuse(f"unreadable poll cursor ({error}); reset the connection's cursor") from None
        params = {"min_date_modified": parse.format_datetime(token.at), "sort": "date_modified:asc",
                  "limit": page_size, "page": token.page}
        body, response = await self._get("/v2/orders", params, lenient=True)
        listed = self._shape(response, parse.object_list, body, "orders")
        reader = PageReader[_Changed](ref_of=parse.order_id_of, updated_of=parse.date_modified_of,
                                      secrets=self._http.secrets)
        raw: list[tuple[Mapping[str, Any], int, datetime, int]] = []
        for index, order in enumerate(listed):
            if reader.problem(order, index):
                continue
            try:
                raw.append((order, parse.order_id_of(order), parse.date_modified_of(order), index))
            except parse.PayloadError as error:
                reader.reject(order, "invalid_order", f"{reader.where(order, index)}: {error}")
        items = []
        for order, order_id, modified, index in raw:
            if modified.replace(microsecond=0) == token.at.replace(microsecond=0) and order_id in token.seen:
                continue
            if state.seen_before(str(order_id), modified):
                continue  # listed again only because of the overlap: unchanged, so no detail reads
            item = reader.parse(await read(order), index, parsed)
            if item is not None:
                items.append(item)
        keys = [(order_id, modified) for _, order_id, modified, _ in raw]
        if len(listed) >= page_size and not keys:
            raise self._http.shape_error(response, "no order of a full page has a readable id and date_modified")
        next_token = _next_token(token, keys, page_size) if len(listed) >= page_size else None
        newest = max((modified for _, modified in keys), default=None)
        remembered = [(str(order_id), modified) for order_id, modified in keys] + reader.rejected_items()
        advanced = state.advanced(newest, next_token.encode() if next_token else None, remembered, now=self._now())
        return Page(items=tuple(items), cursor=advanced.encode(), has_more=next_token is not None,
                    rejected=reader.unseen(state.seen_before))

    # -- seller side -----------------------------------------------------------------------------------------

    async def fulfillments(self, order_ref: str,
                           known_refs: Iterable[str] = ()) -> tuple[PlatformFulfillment, ...]:
        """Every shipment of the order as fulfillments, versioned by the order's `date_modified`. BigCommerce
        deletes shipments for good, so a cancelled one cannot be listed: pass the refs seen before as
        `known_refs` and those whose shipments are gone come back cancelled."""
        path = self._order_path(order_ref)
        order, order_response = await self._get(path)
        modified = self._shape(order_response, parse.date_modified_of, order)
        shipments = await self._list(f"{path}/shipments", "shipments")
        return self._shape(order_response, parse.parse_fulfillments, order_ref, shipments, modified, known_refs)

    async def catalog_variants(self, skus: Sequence[str]) -> CatalogLookup:
        """The sellable catalog variants whose SKU is exactly one of `skus`, and the store's default currency
        (`connectors/bigcommerce/catalog.py` says how: `GET /v2/store`, `GET /v3/catalog/variants` by `sku:in`
        batches, `GET /v3/catalog/products` for the variants' products). Reads only."""
        currency = await self._store_currency(fresh=True)
        variants: list[Mapping[str, Any]] = []
        for query in catalog.sku_queries(skus):
            variants += await self._v3_list("/v3/catalog/variants", "variants",
                                            {**query, "include_fields": catalog.VARIANT_FIELDS})
        wanted = set(skus)
        found = [variant for variant in variants if isinstance(variant.get("sku"), str) and variant["sku"] in wanted]
        product_ids = [self._shape(None, catalog.variant_product_id, variant, index)
                       for index, variant in enumerate(found)]
        products: list[Mapping[str, Any]] = []
        for ids in catalog.id_batches(product_ids):
            products += await self._v3_list("/v3/catalog/products", "products",
                                            {"id:in": ids, "include_fields": catalog.PRODUCT_FIELDS})
        by_id = self._shape(None, catalog.products_by_id, products)
        return self._shape(None, catalog.lookup, skus, currency, found, by_id)

    async def _store_currency(self, *, fresh: bool = False) -> str:
        """The store's default currency (`GET /v2/store`), read once per connector unless `fresh`."""
        if self._currency is None or fresh:
            body, response = await self._get("/v2/store")
            self._currency = self._shape(response, catalog.store_currency, body)
        return self._currency

    async def _v3_list(self, path: str, what: str, params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Every item of a V3 collection, page by page (`limit=250`) while `meta.pagination` says more follow."""
        items: list[Mapping[str, Any]] = []
        page = 1
        while True:
            body, response = await self._get(path, {**params, "page": page, "limit": catalog.PAGE_LIMIT})
            batch, more = self._shape(response, catalog.collection_page, body, what)
            items += batch
            if not more or not batch:
                return items
            page += 1

    async def create_order(self, order: NewOrder) -> CreatedOrder:
        """Find the order an earlier attempt created (`external_order_id` = `fulfillsync:<our id>`), else
        create it (`plan.order_body`: catalog lines by `product_id` + `variant_id` at `unit_price`, custom lines by
        name and SKU, the order flagged in `staff_notes` when it has custom lines, `shipping_price` as its shipping
        cost); then map our lines to its order products. V2 orders are in the store's default currency: an order
        priced in another (`order.currency`) is refused with PermanentError, as is one BigCommerce refuses (an
        unknown product, not enough stock: its message says which)."""
        try:
            body = plan.order_body(order)
        except plan.PlanError as error:
            raise self._refuse(str(error)) from None
        if order.currency is not None and order.currency.upper() != await self._store_currency():
            raise self._refuse(f"order {order.our_order_id} is priced in {order.currency}, but BigCommerce V2 "
                               f"orders are in the store's default currency {self._currency}; price the route in "
                               f"{self._currency}")
        existing = await self.find_order(order)
        if existing is not None:
            return existing
        response = await self._http.request("POST", "/v2/orders", json_body=body)
        return await self._mapped(order, self._shape(response, parse.order_id_of, self._http.json(response)))

    async def find_order(self, order: NewOrder) -> CreatedOrder | None:
        """Our earlier attempt's order, by `external_order_id` = `fulfillsync:<our id>`, its order products mapped
        to our lines in creation order (`plan.map_lines`)."""
        reference = f"{parse.ORDER_PREFIX}{order.our_order_id}"
        existing, response = await self._get("/v2/orders", {"external_order_id": reference})
        found = self._shape(response, parse.object_list, existing, "orders")
        if not found:
            return None
        return await self._mapped(order, self._shape(response, parse.order_id_of, found[0]))

    async def _mapped(self, order: NewOrder, order_id: int) -> CreatedOrder:
        products = await self._list(f"/v2/orders/{order_id}/products", "products")
        try:
            mapping = plan.map_lines(order, products)
        except (plan.PlanError, KeyError, ValueError) as error:
            raise self._refuse(str(error)) from None
        return CreatedOrder(order_ref=str(order_id), number=str(order_id), line_refs=mapping)

    async def cancel_order(self, order_ref: str, cancellation: OrderCancellation) -> None:
        """The whole order: status 5 (Cancelled) by `PUT /v2/orders/{id}`. Units: V2 cannot lower an order
        product's quantity without re-pricing the order, so what not to ship is added as a line of the order's
        `staff_notes` (the seller's staff see it on the order). No-op when already done (status 5 or 6; the same
        note present). PermanentError for an order already Shipped (2) or Completed (10)."""
        path = self._order_path(order_ref)
        order, response = await self._get(path)
        status = self._shape(response, parse.status_of, order)
        if status in parse.CANCELLED_STATUSES:
            return
        if status in parse.SHIPPED_STATUSES:
            raise self._refuse(f"order {order_ref} is already shipped (status {status}); the buyer's cancellation "
                               "cannot stop it")
        if cancellation.whole_order:
            await self._http.request("PUT", path, json_body={"status_id": 5})
            return
        notes = order.get("staff_notes") if isinstance(order.get("staff_notes"), str) else ""
        note = cancellation.note()
        if note not in notes:
            await self._http.request("PUT", path, json_body={"staff_notes": f"{notes}\n{note}".strip()})

    # -- buyer side ------------------------------------------------------------------------------------------

    async def _groups(self, order_ref: str) -> tuple[parse.ShipmentGroup, ...]:
        shipments = await self._list(f"{self._order_path(order_ref)}/shipments", "shipments")
        return self._shape(None, parse.group_shipments, shipments)

    async def find_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str | None:
        """The ref of the complete shipment group carrying our marker for `request.our_fulfillment_id`; None when
        there is none or an earlier attempt was cut short (then `create_fulfillment` writes the missing
        shipments). Never a shipment without our marker, however alike: every shipment we write carries it (it
        is sent with the shipment), and matching by content would let two seller fulfillments of identical
        parcels share one shipment (or both take a merchant's own)."""
        wanted_lines = sorted((line.line_ref, line.quantity) for line in request.lines)
        wanted_numbers = sorted(request.tracking.numbers)
        for group in await self._groups(order_ref):
            if group.marker != request.our_fulfillment_id:
                continue
            lines = sorted((line.line_ref, line.quantity) for line in parse.group_lines(group))
            numbers = sorted(parse.group_tracking(group).numbers)
            if lines == wanted_lines and numbers == wanted_numbers:
                return group.ref
        return None

    async def create_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str:
        """One shipment per tracking number, each with our marker; shipments an earlier, interrupted attempt
        already wrote (same marker and tracking number) are kept, not written twice. `notify_customer` is a
        store setting on BigCommerce (shipment emails), so it cannot be chosen per request."""
        path = self._order_path(order_ref)
        products = await self._list(f"{path}/products", "products")
        addresses = {str(p.get("id")): p.get("order_address_id") for p in products}
        unknown = [line.line_ref for line in request.lines if line.line_ref not in addresses]
        if unknown:
            raise self._refuse(f"order {order_ref} has no products {', '.join(unknown)}")
        used = {addresses[line.line_ref] for line in request.lines}
        if len(used) != 1 or not isinstance(next(iter(used)), int):
            raise self._refuse(f"order {order_ref}: the fulfillment's lines go to {len(used)} shipping addresses; "
                               "BigCommerce needs one shipment per address and fulfillsync writes one address")
        address_id = next(iter(used))
        assert isinstance(address_id, int)
        try:
            plans = plan.plan_shipments(request.lines, request.tracking)
        except plan.PlanError as error:
            raise self._refuse(str(error)) from None
        written = [group for group in await self._groups(order_ref) if group.marker == request.our_fulfillment_id]
        done = {str(s.get("tracking_number") or "") for group in written for s in group.shipments}
        ids = [shipment_id for group in written for shipment_id in group.ids]
        for shipment in plans:
            if written and shipment.tracking["tracking_number"] in done:
                continue
            body = plan.shipment_body(shipment, address_id, request.our_fulfillment_id)
            response = await self._http.request("POST", f"{path}/shipments", json_body=body)
            created = self._http.json(response)
            ids.append(self._shape(response, parse.order_id_of, created, "shipment"))
        return str(min(ids))

    async def update_tracking(self, order_ref: str, fulfillment_ref: str, tracking: Tracking) -> str:
        """Rewrite the tracking of the group `fulfillment_ref` names. As many numbers as shipments or fewer:
        PUT in place (spare shipments get a blank number). More: keep the first shipment, delete the others and
        write new ones for the remaining units, or, when the first shipment holds too many units for that,
        delete the group and write it again (a new ref). Raises `FulfillmentGone` when no shipment carries
        `fulfillment_ref` (also after such a rewrite failed between its delete and its write: the caller creates the
        fulfillment again)."""
        path = self._order_path(order_ref)
        group = await self._group_of(order_ref, fulfillment_ref)
        if group is None:
            raise FulfillmentGone(f"bigcommerce connection {self.connection.id!r}: order {order_ref} has no shipment "
                                  f"{fulfillment_ref} (deleted on the platform, or by a rewrite that stopped)",
                                  connection=self.connection.id)
        count = max(len(tracking.numbers), 1)
        try:
            if count <= len(group.shipments):
                for index, shipment in enumerate(group.shipments):
                    await self._put_tracking(path, shipment, plan.tracking_fields(tracking, index))
                return group.ref
            lines = parse.group_lines(group)
            first_units = sum(quantity for _, quantity in self._items(group.shipments[0]))
            marker = group.marker or f"shipment-{group.ref}"  # an unmarked group is one shipment: rewritten below
            if sum(line.quantity for line in lines) - first_units >= count - 1:
                await self._put_tracking(path, group.shipments[0], plan.tracking_fields(tracking, 0))
                keep = self._items(group.shipments[0])
                rest = _subtract(lines, keep)
                for shipment in group.shipments[1:]:
                    await self._http.request("DELETE", f"{path}/shipments/{shipment['id']}")
                rest_tracking = Tracking(carrier=tracking.carrier, numbers=tracking.numbers[1:],
                                         urls=tracking.urls[1:])
                await self._write(path, plan.plan_shipments(rest, rest_tracking), group, marker)
                return group.ref
            for shipment in group.shipments:
                await self._http.request("DELETE", f"{path}/shipments/{shipment['id']}")
            ids = await self._write(path, plan.plan_shipments(lines, tracking), group, marker)
            return str(min(ids))
        except plan.PlanError as error:
            raise self._refuse(str(error)) from None

    async def cancel_fulfillment(self, order_ref: str, fulfillment_ref: str) -> None:
        """DELETE every shipment of the group (BigCommerce keeps the order's Shipped status, as documented); a
        group already gone is a no-op."""
        path = self._order_path(order_ref)
        group = await self._group_of(order_ref, fulfillment_ref)
        for shipment in group.shipments if group is not None else ():
            try:
                await self._http.request("DELETE", f"{path}/shipments/{shipment['id']}")
            except PermanentError as error:
                if error.status != 404:
                    raise

    async def _group_of(self, order_ref: str, fulfillment_ref: str) -> parse.ShipmentGroup | None:
        for group in await self._groups(order_ref):
            if fulfillment_ref in {str(shipment_id) for shipment_id in group.ids}:
                return group
        return None

    @staticmethod
    def _items(shipment: Mapping[str, Any]) -> list[tuple[str, int]]:
        return [(str(item["order_product_id"]), int(item["quantity"])) for item in shipment.get("items") or []]

    async def _put_tracking(self, path: str, shipment: Mapping[str, Any], fields: dict[str, str]) -> None:
        current = {key: shipment.get(key) or "" for key in fields}
        if current != fields:
            await self._http.request("PUT", f"{path}/shipments/{shipment['id']}", json_body=fields)

    async def _write(self, path: str, plans: list[plan.ShipmentPlan], group: parse.ShipmentGroup,
                     marker: str) -> list[int]:
        address = int(group.shipments[0].get("order_address_id") or 0)
        ids = []
        for shipment in plans:
            response = await self._http.request("POST", f"{path}/shipments",
                                                json_body=plan.shipment_body(shipment, address, marker))
            created = self._http.json(response)
            ids.append(self._shape(response, parse.order_id_of, created, "shipment"))
        return ids


def _subtract(lines: Iterable[FulfillmentLine], items: list[tuple[str, int]]) -> list[FulfillmentLine]:
    """`lines` less the units in `items` (order_product_id, quantity); lines left with none are dropped."""
    left = {line.line_ref: line.quantity for line in lines}
    for ref, quantity in items:
        left[ref] = left.get(ref, 0) - quantity
    return [FulfillmentLine(line_ref=ref, quantity=quantity) for ref, quantity in left.items() if quantity > 0]


def _next_token(token: _PageToken, seen: list[tuple[int, datetime]], page_size: int) -> _PageToken:
    """Where the walk goes on after a full page whose readable orders are `seen` (id, modified; not empty)."""
    last = seen[-1][1]
    at_last = tuple(order_id for order_id, modified in seen if modified == last)
    if last == token.at:
        return _PageToken(at=last, seen=tuple(sorted({*token.seen, *at_last})), page=token.page + 1)
    return _PageToken(at=last, seen=at_last)

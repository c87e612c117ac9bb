"""`WooCommerceConnector`: a WooCommerce site as buyer and as seller (decisions: the package docstring).

Failure: the interface methods raise only ConnectorError subclasses (see `connectors.base`); the constructor
raises `InsecureConnectionError` (a ValueError) for a plain-http base_url that is not loopback, and ValueError for
a connection that is not a WooCommerce one or lacks its consumer key and secret.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.base import (
    ConnectorError,
    MalformedResponseError,
    PermanentError,
    Skip,
    StoreConnector,
    described,
    vanished_as_cancelled,
)
from connectors.cursor import CursorError, PollCursor
from connectors.http import MIB, PlatformHttp, RetryPolicy, retry_after_seconds
from connectors.payload import json_array
from connectors.rejects import PageReader
from connectors.woocommerce.client import WooClient
from connectors.woocommerce.core_fulfillments import CoreFulfillmentsApi
from connectors.woocommerce.parse import (
    ORDER_MARKER,
    UNLINKED_MARKER,
    CatalogItem,
    TrackingApi,
    catalog_lookup,
    error_message,
    line_markers,
    meta_value,
    parse_catalog_items,
    parse_currency,
    parse_gmt,
    parse_order,
    parse_statuses,
    tracking_api_from_index,
)
from connectors.woocommerce.payloads import PayloadError, lines_without_product, order_body, unlinked_note
from connectors.woocommerce.shipment_tracking import ShipmentTrackingApi
from schemas.config import Connection
from schemas.platform import (
    CatalogLookup,
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

ORDERS = "/wp-json/wc/v3/orders"
PRODUCTS = "/wp-json/wc/v3/products"
CURRENCY = "/wp-json/wc/v3/data/currencies/current"
CATALOG_FIELDS = "id,name,type,status,sku,price,parent_id,purchasable,manage_stock,stock_quantity"
MAX_SKU_QUERY = 2000  # characters of one `sku` filter: 100 long SKUs would make a URL servers refuse
DEFAULT_REQUESTS_PER_S = 2.0
POLLED_STATUSES = "processing,completed,cancelled,refunded"
FIND_ORDER_WINDOW = timedelta(hours=48)
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WP_DATE = "%Y-%m-%dT%H:%M:%S"
_ONE_SECOND = timedelta(seconds=1)


class InsecureConnectionError(ValueError):
    """The connection would send WooCommerce keys over plain HTTP to a host that is not this machine."""


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WooCommerceConnector(StoreConnector):
    """One WooCommerce site (`connection.base_url` is the site root, before `/wp-json`). `max_response_bytes`: the
    cap on one response body (None: the connection's `max_response_mb`)."""

    def __init__(self, connection: Connection, *, transport: httpx.AsyncBaseTransport | None = None,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], Awaitable[None]] | None = None,
                 page_size: int = 100, start_window: timedelta = timedelta(days=30),
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 max_response_bytes: int | None = None) -> None:
        if connection.platform != "woocommerce" or connection.base_url is None:
            raise ValueError(f"connection {connection.id!r}: not a WooCommerce connection with a base_url")
        parts = urlsplit(connection.base_url)
        if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
            raise InsecureConnectionError(
                f"connection {connection.id!r}: base_url must use https:// — WooCommerce consumer keys travel as "
                "HTTP Basic auth, which is readable on plain http (only loopback hosts such as 127.0.0.1 are "
                "allowed over http, for the simulated store)")
        try:
            key = connection.credentials["consumer_key"].get_secret_value()
            secret = connection.credentials["consumer_secret"].get_secret_value()
        except KeyError:
            raise ValueError(f"connection {connection.id!r}: credentials need consumer_key and consumer_secret"
                             ) from None
        if not 1 <= page_size <= 100:
            raise ValueError("page_size must be between 1 and 100 (WooCommerce's per_page limit)")
        self.connection = connection
        self._page_size = page_size
        self._start_window = start_window
        self._now = now
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        self._http = PlatformHttp(
            connection=connection.id, platform="woocommerce", base_url=connection.base_url,
            auth=httpx.BasicAuth(key, secret), secrets=(key, secret, token),
            requests_per_s=connection.requests_per_s or DEFAULT_REQUESTS_PER_S,
            error_message=error_message, on_response=self._on_response, retry=retry or RetryPolicy(),
            transport=transport, sleep=sleep,
            max_response_bytes=max_response_bytes or connection.max_response_mb * MIB)
        self._client = WooClient(self._http)
        self._tracking: ShipmentTrackingApi | CoreFulfillmentsApi | None = None

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    def _on_response(self, response: httpx.Response) -> None:
        """A host's 429 holds every request of this connection, not just the one retried."""
        if response.status_code == 429:
            wait = retry_after_seconds(response.headers)
            if wait is not None:
                self._http.pause_for(wait)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- polling -------------------------------------------------------------------------------------------

    async def orders_changed_since(self, cursor: str | None, skip: Skip | None = None) -> Page[PlatformOrder]:
        """One page of paid or cancelled orders modified since the cursor (package docstring: "Polling")."""
        try:
            position = PollCursor.start(cursor, default_since=self._now() - self._start_window)
            bound, page = _decode_page(position)
        except CursorError as error:
            raise PermanentError(f"woocommerce connection {self.connection.id!r}: {error}",
                                 connection=self.connection.id) from None
        params = {"modified_after": bound.strftime(_WP_DATE), "dates_are_gmt": "true", "orderby": "modified",
                  "order": "asc", "per_page": self._page_size, "page": page, "status": POLLED_STATUSES}
        raw, response = await self._client.get(ORDERS, params, lenient=True)
        listed = self._client.parse(response, lambda body: json_array(body, "the orders list"), raw)
        reader = PageReader[PlatformOrder](ref_of=lambda order: order.get("id"), secrets=self._client.http.secrets,
                                           updated_of=_modified_gmt)
        orders = list(reader.read(listed, parse_order))
        seen = [(order.order_ref, order.updated_at) for order in orders] + reader.rejected_items()
        total_pages = _header_int(response, "x-wp-totalpages")
        newest = max((at for _, at in seen), default=None)
        done = len(listed) < self._page_size or (total_pages is not None and page >= total_pages)
        token = None
        if not done and newest is not None:
            next_bound = newest.replace(microsecond=0) - _ONE_SECOND
            token = _encode_page(next_bound, 1) if next_bound > bound else _encode_page(bound, page + 1)
        elif not done:
            token = _encode_page(bound, page + 1)
        advanced = position.advanced(newest, token, seen, now=self._now())
        changed = tuple(order for order in orders if not position.seen_before(order.order_ref, order.updated_at))
        return Page(items=changed, cursor=advanced.encode(), has_more=token is not None,
                    rejected=reader.unseen(position.seen_before))

    # -- seller: catalog -----------------------------------------------------------------------------------

    async def catalog_variants(self, skus: Sequence[str]) -> CatalogLookup:
        """The store's currency (`GET /wc/v3/data/currencies/current`) and, per SKU, its sellable items (package
        docstring: "The seller's catalog"): `GET /wc/v3/products?sku=A,B&status=publish` in batches of at most 100
        SKUs, every page of each, then the statuses of the variations' parents (`include=…`)."""
        wanted = list(dict.fromkeys(sku for sku in skus if sku))
        raw, response = await self._client.get(CURRENCY)
        currency = self._client.parse(response, parse_currency, raw)
        items: list[CatalogItem] = []
        for batch in sku_batches(wanted):
            items += await self._catalog_pages({"sku": ",".join(batch), "status": "publish",
                                                "_fields": CATALOG_FIELDS})
        asked = set(wanted)
        parents = sorted({item.parent_id for item in items if item.parent_id and item.variant.sku in asked})
        statuses: dict[int, str] = {}
        for start in range(0, len(parents), 100):
            raw, response = await self._client.get(PRODUCTS, {
                "include": ",".join(map(str, parents[start:start + 100])), "per_page": 100, "_fields": "id,status"})
            statuses.update(self._client.parse(response, parse_statuses, raw))
        return catalog_lookup(wanted, items, statuses, currency)

    async def _catalog_pages(self, params: dict[str, Any]) -> list[CatalogItem]:
        items: list[CatalogItem] = []
        page = 1
        while True:
            raw, response = await self._client.get(PRODUCTS, {**params, "per_page": 100, "page": page})
            found = self._client.parse(response, parse_catalog_items, raw)
            items += found
            total_pages = _header_int(response, "x-wp-totalpages")
            if len(found) < 100 or total_pages is None or page >= total_pages:
                return items
            page += 1

    # -- seller: orders ------------------------------------------------------------------------------------

    async def find_order(self, order: NewOrder) -> CreatedOrder | None:
        """Our earlier attempt's order (`_find_order`: our order id in the order meta), its line items mapped to our
        lines by their markers; PermanentError when one of ours is missing (the order was edited)."""
        found = await self._find_order(order.our_order_id)
        if found is None:
            return None
        missing = [line.line_ref for line in order.lines if line.line_ref not in found.line_refs]
        if missing:
            raise PermanentError(f"woocommerce connection {self.connection.id!r}: order {found.order_ref} (ours: "
                                 f"{order.our_order_id}) lacks the line item(s) marked {', '.join(missing)}; it was "
                                 "edited on the store, fix or recreate it there", connection=self.connection.id)
        return found

    async def create_order(self, order: NewOrder) -> CreatedOrder:
        """Find the order an earlier attempt created, else create it (package docstring: "Creating orders"):
        one POST with every line priced, the shipping line and the flag; then, when some lines are not catalog
        items, an order note naming them (best effort: a failure is logged, the order meta flags them anyway)."""
        existing = await self.find_order(order)
        if existing is not None:
            log.info("%s: order %s already exists as %s", self.connection.id, order.our_order_id,
                     existing.order_ref)
            return existing
        try:
            body = order_body(order)
        except PayloadError as error:
            raise self._client.connection_error(f"cannot create order {order.our_order_id}: {error}") from None
        raw, response = await self._client.call("POST", ORDERS, body=body, ok=(200, 201))
        created = self._created(raw, response, order)
        if created is None:
            raise self._http.shape_error(response, "the created order has no id")
        lost = lines_without_product(order, raw)
        unlinked = order.unlinked_skus() + lost
        if lost:
            log.warning("%s: order %s (ours: %s): the catalog items of SKU %s are gone from the store; their lines "
                        "were created without a product", self.connection.id, created.order_ref,
                        order.our_order_id, ", ".join(lost))
            await self._best_effort(created, "PUT", f"{ORDERS}/{created.order_ref}", {
                "meta_data": [{"key": UNLINKED_MARKER, "value": ", ".join(unlinked)}]})
        if unlinked:
            await self._best_effort(created, "POST", f"{ORDERS}/{created.order_ref}/notes", {
                "note": unlinked_note(order.our_order_id, unlinked), "customer_note": False})
        return created

    async def _best_effort(self, created: CreatedOrder, method: str, path: str, body: dict[str, Any]) -> None:
        """A write that completes the flag of an order already created: logged, not raised, when it fails (the
        order exists; a retry of `create_order` would find it and not come here again)."""
        try:
            await self._client.call(method, path, body=body, ok=(200, 201))
        except ConnectorError as error:
            log.warning("%s: order %s was created but flagging it failed (%s %s): %s", self.connection.id,
                        created.order_ref, method, path, described(error))

    def _created(self, raw: Any, response: httpx.Response, order: NewOrder) -> CreatedOrder | None:
        if not isinstance(raw, dict) or raw.get("id") in (None, ""):
            return None
        line_refs = self._client.parse(response, line_markers, raw)
        missing = [line.line_ref for line in order.lines if line.line_ref not in line_refs]
        if missing:
            raise MalformedResponseError(
                f"woocommerce connection {self.connection.id!r}: order {raw['id']} (ours: {order.our_order_id}) "
                f"lacks the {len(missing)} line item(s) marked {', '.join(missing)}; check the order on the store",
                connection=self.connection.id, status=response.status_code)
        number = raw.get("number")
        return CreatedOrder(order_ref=str(raw["id"]), number=str(number) if number else None, line_refs=line_refs)

    async def _find_order(self, our_order_id: str) -> CreatedOrder | None:
        """Scan the newest orders (48 h back from the newest one) for our order id in the order meta."""
        newest: datetime | None = None
        page = 1
        while True:
            params = {"orderby": "date", "order": "desc", "per_page": self._page_size, "page": page, "status": "any",
                      "_fields": "id,number,date_created_gmt,meta_data,line_items"}
            raw, response = await self._client.get(ORDERS, params)
            if not isinstance(raw, list):
                raise self._http.shape_error(response, "the orders list is not an array")
            for index, item in enumerate(raw):
                if not isinstance(item, dict):
                    raise self._http.shape_error(response, f"orders[{index}] is not an object")
                created = self._client.parse(response, lambda o: parse_gmt(o.get("date_created_gmt"),
                                                                           "order.date_created_gmt"), item)
                newest = newest or created
                if created < newest - FIND_ORDER_WINDOW:
                    return None
                marker = self._client.parse(response, lambda o: meta_value(o.get("meta_data") or [],
                                                                           ORDER_MARKER), item)
                if marker is not None and str(marker) == our_order_id:
                    number = item.get("number")
                    return CreatedOrder(order_ref=str(item["id"]), number=str(number) if number else None,
                                        line_refs=self._client.parse(response, line_markers, item))
            total_pages = _header_int(response, "x-wp-totalpages")
            if len(raw) < self._page_size or total_pages is None or page >= total_pages:
                return None
            page += 1

    async def cancel_order(self, order_ref: str, cancellation: OrderCancellation) -> None:
        """The whole order: `PUT /wc/v3/orders/{id}` status `cancelled`. Units: the same PUT with `line_items`
        `[{id, quantity}]`, lowering each line item to the units still to ship (0 keeps the item, with nothing to
        ship), WooCommerce's own order edit. No-op when done already (status cancelled, refunded or trash; every
        quantity already at most what remains). PermanentError for a completed order (shipped)."""
        if not order_ref.isdigit():
            raise self._client.connection_error(f"order ref {order_ref[:40]!r} is not a WooCommerce order id")
        raw, response = await self._client.get(f"{ORDERS}/{order_ref}")
        current = self._client.parse(response, parse_order, raw)
        status = str(raw.get("status") or "")
        if current.cancelled:
            return
        if status == "completed":
            raise self._client.connection_error(f"order {order_ref} is completed (shipped); the buyer's "
                                                "cancellation cannot stop it")
        if cancellation.whole_order:
            await self._client.call("PUT", f"{ORDERS}/{order_ref}", body={"status": "cancelled"})
            return
        quantities = {line.line_ref: line.quantity for line in current.lines}
        lowered = [{"id": int(line.line_ref), "quantity": line.remaining_quantity} for line in cancellation.lines
                   if line.line_ref.isdigit() and quantities.get(line.line_ref, 0) > line.remaining_quantity]
        if lowered:
            await self._client.call("PUT", f"{ORDERS}/{order_ref}", body={"line_items": lowered})

    # -- tracking (both sides) -----------------------------------------------------------------------------

    async def _tracking_api(self) -> ShipmentTrackingApi | CoreFulfillmentsApi:
        """The configured tracking API, or the one the REST index offers (detected once per instance)."""
        if self._tracking is None:
            choice: TrackingApi | None
            if self.connection.tracking_api in ("shipment-tracking", "fulfillments"):
                choice = self.connection.tracking_api
            else:
                raw, response = await self._client.get("/wp-json/")
                choice = self._client.parse(response, tracking_api_from_index, raw)
                if choice is None:
                    raise self._client.connection_error(
                        "the site offers no tracking API: neither core Order Fulfillments nor the Shipment "
                        "Tracking plugin (wc-shipment-tracking/v3) is in its REST index; activate one of them")
                log.info("%s: tracking through %s (from the REST index)", self.connection.id, choice)
            self._tracking = (ShipmentTrackingApi(self._client) if choice == "shipment-tracking"
                              else CoreFulfillmentsApi(self._client, notify_customer=self.connection.notify_customer))
        return self._tracking

    async def fulfillments(self, order_ref: str, known_refs: Iterable[str] = ()) -> tuple[PlatformFulfillment, ...]:
        found = await (await self._tracking_api()).fulfillments(order_ref)
        return vanished_as_cancelled(order_ref, found, known_refs, _newest(found))

    async def find_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str | None:
        return await (await self._tracking_api()).find(order_ref, request)

    async def create_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str:
        return await (await self._tracking_api()).create(order_ref, request)

    async def update_tracking(self, order_ref: str, fulfillment_ref: str, tracking: Tracking) -> str:
        return await (await self._tracking_api()).update(order_ref, fulfillment_ref, tracking)

    async def cancel_fulfillment(self, order_ref: str, fulfillment_ref: str) -> None:
        await (await self._tracking_api()).cancel(order_ref, fulfillment_ref)


def _modified_gmt(order: Any) -> datetime:
    """An order's `date_modified_gmt`, read on its own (for an order that does not parse). Raises when unreadable."""
    return parse_gmt(order.get("date_modified_gmt"), "order.date_modified_gmt")


def sku_batches(skus: list[str]) -> list[list[str]]:
    """`skus` split for WooCommerce's comma-separated `sku` filter: at most 100 a request (per_page's limit) and
    `MAX_SKU_QUERY` characters; a SKU holding a comma goes alone (WooCommerce also matches the whole value
    then)."""
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for sku in skus:
        if "," in sku:
            batches.append([sku])
            continue
        if current and (len(current) == 100 or size + len(sku) + 1 > MAX_SKU_QUERY):
            batches.append(current)
            current, size = [], 0
        current.append(sku)
        size += len(sku) + 1
    if current:
        batches.append(current)
    return batches


def _header_int(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _encode_page(bound: datetime, page: int) -> str:
    return f"{bound.strftime(_WP_DATE)}|{page}"


def _decode_page(position: PollCursor) -> tuple[datetime, int]:
    """Where this request of the walk starts: (exclusive lower bound on date_modified_gmt, page number)."""
    if position.page is None:
        return position.query_since, 1
    try:
        bound, _, page = position.page.partition("|")
        return datetime.strptime(bound, _WP_DATE).replace(tzinfo=UTC), int(page)
    except ValueError:
        raise CursorError(f"unreadable WooCommerce page token {position.page!r}; reset the connection's cursor"
                          ) from None


def _newest(found: tuple[PlatformFulfillment, ...]) -> datetime:
    """The version of a vanished fulfillment's cancellation: the newest seen on the order, else now."""
    return max((fulfillment.updated_at for fulfillment in found), default=datetime.now(UTC))

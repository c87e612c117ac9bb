"""`MagentoConnector`: one Magento 2 / Adobe Commerce store, as a buyer and as a seller (REST `/rest/{code}/V1`).

The platform decisions are listed in the package docstring (`connectors/magento/__init__.py`). Every request
goes through `PlatformHttp` (timeouts, rate limit, retries, typed and redacted errors); JSON is turned into our
types by `connectors.magento.parse` and built by `connectors.magento.payloads`.

Failure behaviour (on top of `connectors.base`): a body that is not JSON or not the documented shape raises
`MalformedResponseError` naming the request and the offending field; an order or fulfillment ref that is not a
Magento numeric id, an unreadable cursor, or a shipment that belongs to another order raise `PermanentError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from connectors.base import PermanentError, Skip, StoreConnector, vanished_as_cancelled
from connectors.cursor import CursorError, PollCursor
from connectors.http import MIB, PlatformHttp, RetryPolicy, retry_after_seconds
from connectors.magento import catalog, comments, payloads, seller_notes
from connectors.magento.auth import connection_auth
from connectors.magento.parse import (
    OUR_ORDER_PREFIX,
    PLATFORM_ID,
    PayloadError,
    SearchResult,
    cancellation_state,
    format_datetime,
    order_comments,
    order_item_refs,
    order_products,
    our_fulfillment_refs,
    parse_datetime,
    parse_order,
    parse_search_result,
    parse_shipment,
    render_error,
    shipment_tracks,
)
from connectors.magento.payloads import Filter
from connectors.rejects import PageReader
from schemas.config import Connection
from schemas.platform import (
    CatalogLookup,
    CatalogVariant,
    CreatedOrder,
    FulfillmentRequest,
    NewOrder,
    OrderCancellation,
    Page,
    PlatformFulfillment,
    PlatformOrder,
    Tracking,
)

DEFAULT_REQUESTS_PER_S = 4.0
DEFAULT_PAGE_SIZE = 100
DEFAULT_START_WINDOW = timedelta(days=30)
_DEFAULT_RETRY = RetryPolicy()
T = TypeVar("T")
_ORDER_SORT = (("updated_at", "ASC"), ("entity_id", "ASC"))
_BEARER_HINT = (
    "check the connection's credentials: since Magento 2.4.4 an integration's access token is refused as a bearer "
    "token unless the store enables Stores > Configuration > Services > OAuth > Consumer Settings > Allow OAuth "
    "Access Tokens to be used as standalone Bearer tokens; configure the integration's four credentials instead "
    "(consumer_key, consumer_secret, access_token, access_token_secret: OAuth 1.0a), or check that the token is "
    "current and the integration active with access to the resource named")
_OAUTH_HINT = (
    "check the connection's consumer_key, consumer_secret, access_token and access_token_secret against the "
    "integration (System > Extensions > Integrations; reauthorizing it issues new tokens), that the integration is "
    "active with access to the resource named, that base_url is the address Magento itself sees (a proxy that "
    "changes the host, port or scheme breaks the signature), and that this machine's clock is right")


def _error_message(response: httpx.Response) -> str:
    """Magento's `{"message", "parameters"}` error rendered; '' when the body is not that shape."""
    try:
        return render_error(response.json())
    except ValueError:
        return ""


class MagentoConnector(StoreConnector):
    """A Magento 2 store. Built from a `Connection` with platform `magento2`, `base_url` ending in
    `/rest/{store_code}` and credentials: `access_token` alone (sent as `Authorization: Bearer`), or the
    integration's `consumer_key`, `consumer_secret`, `access_token` and `access_token_secret` (every request signed
    with OAuth 1.0a HMAC-SHA256; `connectors.magento.auth`). A 401 is a PermanentError saying what to check.

    `page_size` (1..300) is the searchCriteria page size of polls; `start_window` how far back the first poll
    (no cursor) looks; `now` the clock for that window; `max_response_bytes` the cap on one response body (None:
    the connection's `max_response_mb`). Raises ValueError for a connection of another platform or with credentials
    that are not one of those two sets.
    """

    def __init__(self, connection: Connection, *, transport: httpx.AsyncBaseTransport | None = None,
                 retry: RetryPolicy = _DEFAULT_RETRY, sleep: Callable[[float], Awaitable[None]] | None = None,
                 page_size: int = DEFAULT_PAGE_SIZE, start_window: timedelta = DEFAULT_START_WINDOW,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 max_response_bytes: int | None = None) -> None:
        if connection.platform != PLATFORM_ID:
            raise ValueError(f"connection {connection.id!r} is for platform {connection.platform}, not {PLATFORM_ID}")
        if connection.base_url is None:
            raise ValueError(f"connection {connection.id!r}: a magento2 connection needs base_url")
        if not 1 <= page_size <= payloads.MAX_PAGE_SIZE:
            raise ValueError(f"page_size {page_size} is outside 1..{payloads.MAX_PAGE_SIZE} (Magento's input limit)")
        auth = connection_auth(connection)
        self.connection = connection.id
        self._oauth = auth.oauth
        self._page_size = page_size
        self._start_window = start_window
        self._now = now
        self._http = PlatformHttp(
            connection=connection.id, platform=PLATFORM_ID, base_url=str(connection.base_url),
            headers={**auth.headers, "Content-Type": "application/json"}, auth=auth.auth, secrets=auth.secrets,
            requests_per_s=connection.requests_per_s or DEFAULT_REQUESTS_PER_S, error_message=_error_message,
            on_response=self._on_response, retry=retry, transport=transport, sleep=sleep,
            max_response_bytes=max_response_bytes or connection.max_response_mb * MIB)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- both sides: polling ------------------------------------------------------------------------------

    async def orders_changed_since(self, cursor: str | None, skip: Skip | None = None) -> Page[PlatformOrder]:
        """One page of `GET /V1/orders` changed since the cursor's time minus the overlap, oldest first.

        Paging is keyset paging on (`updated_at`, `entity_id`), both sorted ascending: the next page asks for
        `updated_at gteq T` AND (`updated_at gt T` OR `entity_id gt N`) where (T, N) is the last order of this
        page (searchCriteria groups are AND'ed, filters in a group OR'ed), always `currentPage` 1. So an order
        edited during a walk cannot shift another order out of it (as `currentPage` offsets would), no order is
        read twice within a walk, and many orders sharing one timestamp cannot loop. The walk stops when
        `currentPage * pageSize >= total_count`, never by waiting for an empty page (older Magento versions
        answer the last page again past the end)."""
        start = self._cursor(cursor)
        groups = [[Filter("updated_at", format_datetime(start.query_since), "gteq")]]
        if start.page is not None:
            bound, last_id = self._page_token(start.page, cursor or "")
            groups = [[Filter("updated_at", bound, "gteq")],
                      [Filter("updated_at", bound, "gt"), Filter("entity_id", str(last_id), "gt")]]
        response, result = await self._search("/V1/orders", groups, sort=_ORDER_SORT, page=1,
                                              page_size=self._page_size, what="order search", lenient=True)
        reader = PageReader[PlatformOrder](ref_of=lambda item: _int_id(item.get("entity_id")),
                                           updated_of=lambda item: parse_datetime(item.get("updated_at"), "updated_at"),
                                           secrets=self._http.secrets)
        orders = tuple(reader.read(result.items, parse_order))
        keys = [(order.updated_at, order.order_ref) for order in orders]
        keys += [(at, ref) for ref, at in reader.rejected_items()]
        more = bool(result.items) and self._page_size < result.total_count
        if more and not keys:
            raise self._http.shape_error(response, "no order of the page has a readable entity_id and updated_at")
        last = max(keys, key=lambda key: (key[0], int(key[1]))) if keys else None
        token = f"{format_datetime(last[0])}|{last[1]}" if more and last is not None else None
        seen = last[0] if last is not None else None
        advanced = start.advanced(seen, token, [(ref, at) for at, ref in keys], now=self._now())
        changed = tuple(order for order in orders if not start.seen_before(order.order_ref, order.updated_at))
        return Page(items=changed, cursor=advanced.encode(), has_more=more, rejected=reader.unseen(start.seen_before))

    def _cursor(self, cursor: str | None) -> PollCursor:
        try:
            return PollCursor.start(cursor, default_since=self._now() - self._start_window)
        except CursorError as error:
            raise PermanentError(f"{PLATFORM_ID} connection {self.connection!r}: {error}",
                                 connection=self.connection) from None

    def _page_token(self, token: str, cursor: str) -> tuple[str, int]:
        """(updated_at, entity_id) of the last order the walk has read."""
        bound, _, page = token.rpartition("|")
        if not bound or not page.isdigit():
            raise PermanentError(f"{PLATFORM_ID} connection {self.connection!r}: unreadable page {token!r} in poll "
                                 f"cursor {cursor[:40]!r}; reset the connection's cursor", connection=self.connection)
        return bound, int(page)

    # -- seller side --------------------------------------------------------------------------------------

    async def fulfillments(self, order_ref: str, known_refs: Iterable[str] = ()) -> tuple[PlatformFulfillment, ...]:
        """Every shipment of the order (`GET /V1/shipments` with `order_id eq`), cancelled ones included.
        Magento never deletes a shipment; one that vanished anyway (a database clean-up) reads as cancelled."""
        order_id = self._numeric(order_ref, "order")
        found: list[PlatformFulfillment] = []
        for response, item in await self._shipments_of(order_id):
            found.append(self._parsed(response, parse_shipment, item))
        newest = max((f.updated_at for f in found), default=datetime.now(UTC))
        return vanished_as_cancelled(order_ref, tuple(found), known_refs, newest)

    async def catalog_variants(self, skus: Sequence[str]) -> CatalogLookup:
        """The catalog products whose SKU is exactly one of `skus`, enabled and of a type an order line can be
        (`connectors.magento.catalog`), and the store's base currency.

        `GET /V1/products` filtered by SKU, `SKU_BATCH` SKUs a search, every page read (stopping on
        `page * pageSize >= total_count`); then `GET /V1/directory/currency`. Magento keeps SKUs unique, so a SKU
        maps to at most one variant here."""
        found: dict[str, list[CatalogVariant]] = {sku: [] for sku in skus}
        for batch in catalog.sku_batches(skus):
            page = 1
            while True:
                response, result = await self._search(
                    "/V1/products", [catalog.sku_filters(batch)], sort=(("entity_id", "ASC"),), page=page,
                    page_size=catalog.SKU_BATCH, what="product search by sku")
                for index, item in enumerate(result.items):
                    variant = self._parsed(response, catalog.parse_product, item, f"products.items[{index}]")
                    if variant is not None and variant.sku in found:  # exact, case-sensitive
                        found[variant.sku].append(variant)
                if not result.items or page * catalog.SKU_BATCH >= result.total_count:
                    break
                page += 1
        return CatalogLookup(currency=await self._currency(),
                             variants={sku: tuple(variants) for sku, variants in found.items()})

    async def create_order(self, order: NewOrder) -> CreatedOrder:
        """Find the order by `ext_order_id = fulfillsync:<our_order_id>`, else create it with `POST /V1/orders`
        (`payloads.order_body`: linked lines as the catalog product at `unit_price`, custom lines, shipping, totals,
        in `order.currency` or else the store's base currency); then make sure of what a retry may have missed: the
        order comment naming the custom lines, and the stock of the linked lines moved (`_move_stock`), both read
        from the order as Magento stored it (items with and without `product_id`).

        Raises PermanentError when the order found lacks one of our lines (someone edited it on Magento), or when a
        line's variant is no Magento product id."""
        for line in order.lines:
            if line.variant is not None and not line.variant.variant_ref.isdigit():
                raise PermanentError(f"{PLATFORM_ID} connection {self.connection!r}: line {line.line_ref} is linked "
                                     f"to {line.variant.variant_ref!r}, not a Magento product id",
                                     connection=self.connection)
        found = await self._our_order(order.our_order_id)
        if found is None:
            currency = order.currency or await self._currency()
            response = await self._request("POST", "/V1/orders", json_body=payloads.order_body(order, currency))
            found = response, self._http.json(response)
        response, raw = found
        created = self._mapped(order, response, raw)
        order_id = int(created.order_ref)
        history = self._parsed(response, order_comments, raw)
        linked, custom = self._parsed(response, order_products, raw)  # as stored, whatever a retry now links
        if custom and seller_notes.unlinked(custom) not in history:
            await self._comment_order(order_id, seller_notes.unlinked(custom))
        await self._move_stock(order_id, order.our_order_id, linked, history)
        return created

    async def find_order(self, order: NewOrder) -> CreatedOrder | None:
        """Our earlier attempt's order, by `ext_order_id = fulfillsync:<our_order_id>`, its items mapped to our
        lines by `ext_order_item_id`. Only `create_order` makes sure of what that attempt may have missed (the
        custom-lines comment, the stock moved)."""
        found = await self._our_order(order.our_order_id)
        return None if found is None else self._mapped(order, *found)

    async def _our_order(self, our_order_id: str) -> tuple[httpx.Response, Any] | None:
        """The order an earlier attempt made (`ext_order_id eq`), read whole with every comment it may have
        written; None when there is none."""
        ext = f"{OUR_ORDER_PREFIX}{our_order_id}"
        response, result = await self._search("/V1/orders", [[Filter("ext_order_id", ext)]], page=1, page_size=1,
                                              what="order search by ext_order_id")
        if not result.items:
            return None
        found = self._parsed(response, parse_order, result.items[0])
        response = await self._request("GET", f"/V1/orders/{found.order_ref}")
        return response, self._http.json(response)

    def _mapped(self, order: NewOrder, response: httpx.Response, raw: Any) -> CreatedOrder:
        """The created order `raw`, our lines mapped to its items; PermanentError when one of ours is missing."""
        created = self._parsed(response, parse_order, raw)
        refs = self._parsed(response, order_item_refs, raw)
        missing = [line.line_ref for line in order.lines if line.line_ref not in refs]
        if missing:
            raise PermanentError(
                f"{PLATFORM_ID} connection {self.connection!r}: order {created.order_ref} "
                f"({OUR_ORDER_PREFIX}{order.our_order_id}) has no item with ext_order_item_id {', '.join(missing)}; "
                "it was changed on Magento, fix or recreate it there", connection=self.connection)
        return CreatedOrder(order_ref=created.order_ref, number=created.number,
                            line_refs={line.line_ref: refs[line.line_ref] for line in order.lines})

    async def _move_stock(self, order_id: int, ours: str, wanted: Mapping[str, int], history: list[str]) -> None:
        """Take `wanted` (units per SKU of the order's items linked to a product) off the seller's stock, exactly
        once per order (`seller_notes`): nothing when the order's comments say it is done; when a plan is there (a
        retry), the planned quantities of the SKUs still as planned, naming the others in a comment; else read
        each SKU's stock item (`GET /V1/stockItems/{sku}`; SKUs whose stock Magento does not manage are left
        alone, and SKUs holding a `/` too, named in the plan: Magento's REST paths cannot carry them reliably,
        magento/magento2#21179), write the plan, set the quantities (`PUT /V1/products/{sku}/stockItems/{itemId}`,
        the legacy stock item, which Magento's MSI keeps in step with the default source), then write that it is
        done."""
        if seller_notes.stock_moved(history, ours):
            return
        moves = seller_notes.read_plan(history, ours)
        items: dict[str, Mapping[str, Any]] = {}
        if moves is not None:  # a retry: set only what is still as planned
            moves, skipped = await self._still_planned(moves, items)
            if skipped:
                await self._comment_order(order_id, seller_notes.changed(skipped))
        else:
            unreachable = [sku for sku in wanted if "/" in sku]
            planned: list[seller_notes.StockMove] = []
            for sku, units in wanted.items():
                if sku in unreachable:
                    continue
                item, quantity, managed = await self._stock_item(sku)
                if managed:
                    items[sku] = item
                    planned.append(seller_notes.StockMove(sku, quantity, quantity - units))
            moves = tuple(planned)
            if not moves and not unreachable:
                return
            await self._comment_order(order_id, seller_notes.plan(ours, moves, unreachable))
        for move in moves:
            item = items.get(move.sku) or (await self._stock_item(move.sku))[0]
            item_id = item.get("item_id") or 0  # Magento finds the item by SKU; the path needs one
            await self._request("PUT", f"/V1/products/{quote(move.sku, safe='')}/stockItems/{item_id}",
                                json_body=payloads.stock_item_body(item, move.after), idempotent=True)
        await self._comment_order(order_id, seller_notes.done(ours))

    async def _still_planned(self, moves: Sequence[seller_notes.StockMove], items: dict[str, Mapping[str, Any]]
                             ) -> tuple[tuple[seller_notes.StockMove, ...], list[tuple[seller_notes.StockMove, int]]]:
        """Of a plan found on retry, the moves to make now (quantity still `before`; their stock items go into
        `items`), and those whose quantity changed since the plan, with the quantity now (`seller_notes.on_retry`)."""
        to_make, changed = [], []
        for move in moves:
            item, quantity, _managed = await self._stock_item(move.sku)
            action = seller_notes.on_retry(move, quantity)
            if action == "set":
                items[move.sku] = item
                to_make.append(move)
            elif action == "changed":
                changed.append((move, quantity))
        return tuple(to_make), changed

    async def _stock_item(self, sku: str) -> tuple[Mapping[str, Any], int, bool]:
        """The legacy stock item of `sku` (`GET /V1/stockItems/{sku}`), its whole quantity and whether Magento
        manages its stock."""
        response = await self._request("GET", f"/V1/stockItems/{quote(sku, safe='')}")
        raw = self._http.json(response)
        quantity, managed = self._parsed(response, catalog.stock_quantity, raw, sku)
        return raw, quantity, managed

    async def _currency(self) -> str:
        """The store's base currency (`GET /V1/directory/currency`)."""
        response = await self._request("GET", "/V1/directory/currency")
        return self._parsed(response, catalog.parse_currency, self._http.json(response))

    async def _comment_order(self, order_id: int, text: str) -> None:
        await self._request("POST", f"/V1/orders/{order_id}/comments",
                            json_body=payloads.order_comment_body(order_id, text))

    async def cancel_order(self, order_ref: str, cancellation: OrderCancellation) -> None:
        """The whole order: `POST /V1/orders/{id}/cancel` (Magento cancels every unit not shipped; it answers false
        when it cannot, e.g. an invoiced order). Units: Magento's REST API cannot cancel single items (a credit memo
        needs an invoice), so an order comment (`POST /V1/orders/{id}/comments`, admin only) says what not to ship.
        No-op when done already: state `canceled`, no unit left open after an earlier cancel, the same comment
        present. PermanentError for an order `complete` or `closed`, or one Magento refuses to cancel."""
        order_id = self._numeric(order_ref, "order")
        response = await self._request("GET", f"/V1/orders/{order_id}")
        state, open_units, history = self._parsed(response, cancellation_state, self._http.json(response))
        if state == "canceled":
            return
        if state in ("complete", "closed"):
            raise PermanentError(f"{PLATFORM_ID} connection {self.connection!r}: order {order_id} is {state} "
                                 "(shipped); the buyer's cancellation cannot stop it", connection=self.connection)
        if cancellation.whole_order:
            if open_units == 0:
                return
            answer = await self._request("POST", f"/V1/orders/{order_id}/cancel")
            if self._http.json(answer) is not True:
                raise PermanentError(f"{PLATFORM_ID} connection {self.connection!r}: Magento refused to cancel order "
                                     f"{order_id} (state {state}; an invoiced order needs a credit memo)",
                                     connection=self.connection)
            return
        note = cancellation.note()
        if note not in history:
            await self._request("POST", f"/V1/orders/{order_id}/comments",
                                     json_body=payloads.order_comment_body(order_id, note))

    # -- buyer side ---------------------------------------------------------------------------------------

    async def find_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str | None:
        """The shipment whose comments name `our_fulfillment_id`, else None. Never a shipment found by its lines
        and numbers: our id is written in the same request that creates the shipment (`POST
        /V1/order/{id}/ship` with its comment), so a shipment of ours always names it, and matching content would
        let two seller fulfillments of identical parcels share one shipment."""
        order_id = self._numeric(order_ref, "order")
        for response, item in await self._shipments_of(order_id):
            if request.our_fulfillment_id in self._parsed(response, our_fulfillment_refs, item):
                return self._parsed(response, parse_shipment, item).fulfillment_ref
        return None

    async def create_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str:
        """`POST /V1/order/{id}/ship` with the lines, one track per number and our comment; returns the shipment id.

        Magento refuses (400) units already counted as shipped, which includes units of a shipment we cancelled:
        then a cancelled shipment with exactly these lines is reinstated (tracks added, comment naming the new
        fulfillment) and its id returned; without one, the 400 surfaces as PermanentError."""
        order_id = self._numeric(order_ref, "order")
        for line in request.lines:
            self._numeric(line.line_ref, "order item")
        try:
            response = await self._request("POST", f"/V1/order/{order_id}/ship",
                                                json_body=payloads.ship_body(request))
        except PermanentError as error:
            if error.status != 400:
                raise
            reused = await self._reinstate(order_id, request)
            if reused is None:
                raise
            return reused
        value = self._http.json(response)
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise self._http.shape_error(response, f"expected the new shipment id (an integer), got {value!r}")
        return str(int(value))

    async def _reinstate(self, order_id: int, request: FulfillmentRequest) -> str | None:
        wanted = _lines_key(request.lines)
        for response, item in await self._shipments_of(order_id):
            shipment = self._parsed(response, parse_shipment, item)
            if shipment.cancelled and _lines_key(shipment.lines) == wanted:
                shipment_id = int(shipment.fulfillment_ref)
                units = sum(line.quantity for line in shipment.lines)
                for track in payloads.tracks(request.tracking):
                    await self._request("POST", "/V1/shipment/track",
                                             json_body=payloads.track_body(order_id, shipment_id, track, units))
                text = comments.reinstated(request.our_fulfillment_id, request.tracking.numbers,
                                           request.tracking.urls)
                await self._comment_shipment(shipment_id, text, visible=True)
                return shipment.fulfillment_ref
        return None

    async def update_tracking(self, order_ref: str, fulfillment_ref: str, tracking: Tracking) -> str:
        """Make the shipment's tracks exactly `tracking`: add the missing tracks first, then delete the others
        (so it never looks trackless), then a comment with the URLs when they changed. Same ref returned."""
        order_id, shipment_id, response, raw = await self._own_shipment(order_ref, fulfillment_ref)
        existing = self._parsed(response, shipment_tracks, raw)
        current = self._parsed(response, parse_shipment, raw)
        wanted = payloads.tracks(tracking)
        wanted_keys = {(t["track_number"], t["title"], t["carrier_code"]) for t in wanted}
        have_keys = {(number, title, code) for _, number, title, code in existing}
        units = sum(line.quantity for line in current.lines)
        for track in wanted:
            if (track["track_number"], track["title"], track["carrier_code"]) not in have_keys:
                await self._request("POST", "/V1/shipment/track",
                                         json_body=payloads.track_body(order_id, shipment_id, track, units))
        for track_id, number, title, code in existing:
            if (number, title, code) not in wanted_keys:
                await self._delete_track(track_id)
        known = dict(zip(current.tracking.numbers, current.tracking.urls, strict=False))
        if any(url and known.get(number) != url for number, url in zip(tracking.numbers, tracking.urls,
                                                                         strict=False)):
            text = comments.tracking_updated(tracking.numbers, tracking.urls)
            if text:
                await self._comment_shipment(shipment_id, text, visible=True)
        return fulfillment_ref

    async def cancel_fulfillment(self, order_ref: str, fulfillment_ref: str) -> None:
        """Magento cannot cancel a shipment: write the cancel comment (shipment, then order), then delete every
        track. The units stay counted as shipped on Magento. No-op when the shipment already reads as cancelled."""
        order_id, shipment_id, response, raw = await self._own_shipment(order_ref, fulfillment_ref)
        if self._parsed(response, parse_shipment, raw).cancelled:
            return
        ours = self._parsed(response, our_fulfillment_refs, raw)
        await self._comment_shipment(shipment_id, comments.cancelled(ours[-1] if ours else None), visible=False)
        await self._request("POST", f"/V1/orders/{order_id}/comments", json_body=payloads.order_comment_body(
            order_id, f"Shipment {raw.get('increment_id') or shipment_id} cancelled by fulfillsync: its tracking "
                      "was removed; Magento still counts its units as shipped."))
        for track_id, *_ in self._parsed(response, shipment_tracks, raw):
            await self._delete_track(track_id)

    # -- helpers ------------------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """`PlatformHttp.request`, with a 401 turned into a PermanentError that says what to check for the way this
        connection authenticates (no secret in it: the platform's message is already redacted)."""
        try:
            return await self._http.request(method, path, **options)
        except PermanentError as error:
            if error.status != 401:
                raise
            raise PermanentError(f"{PLATFORM_ID} connection {self.connection!r}: Magento refused the "
                                 f"{'OAuth 1.0a signature' if self._oauth else 'bearer token'} of {method} "
                                 f"{path.split('?', 1)[0]} (401: {error.platform_message or 'no message'}); "
                                 f"{_OAUTH_HINT if self._oauth else _BEARER_HINT}", connection=self.connection,
                                 platform_message=error.platform_message, status=401) from None

    async def _search(self, path: str, groups: list[list[Filter]], *, page: int, page_size: int, what: str,
                      sort: tuple[tuple[str, str], ...] = (),
                      lenient: bool = False) -> tuple[httpx.Response, SearchResult]:
        """One search page; `lenient`: its items are read one by one (`PlatformHttp.json`)."""
        params = payloads.search_params(groups, sort=sort, page_size=page_size, page=page)
        response = await self._request("GET", path, params=params)
        body = self._http.json(response, lenient=lenient)
        return response, self._parsed(response, parse_search_result, body, what)

    async def _shipments_of(self, order_id: int) -> list[tuple[httpx.Response, Mapping[str, Any]]]:
        """Every shipment of an order, walking pages until `page * pageSize >= total_count`."""
        found: list[tuple[httpx.Response, Mapping[str, Any]]] = []
        page = 1
        while True:
            response, result = await self._search(
                "/V1/shipments", [[Filter("order_id", str(order_id))]], sort=(("entity_id", "ASC"),), page=page,
                page_size=self._page_size, what="shipment search")
            found.extend((response, item) for item in result.items)
            if not result.items or page * self._page_size >= result.total_count:
                return found
            page += 1

    async def _own_shipment(self, order_ref: str,
                            fulfillment_ref: str) -> tuple[int, int, httpx.Response, Mapping[str, Any]]:
        order_id = self._numeric(order_ref, "order")
        shipment_id = self._numeric(fulfillment_ref, "shipment")
        response = await self._request("GET", f"/V1/shipment/{shipment_id}")
        raw = self._http.json(response)
        if not isinstance(raw, Mapping):
            raise self._http.shape_error(response, f"expected a shipment object, got {type(raw).__name__}")
        if str(raw.get("order_id")) != str(order_id):
            raise PermanentError(f"{PLATFORM_ID} connection {self.connection!r}: shipment {shipment_id} belongs to "
                                 f"order {raw.get('order_id')}, not {order_id}; check the stored refs",
                                 connection=self.connection)
        return order_id, shipment_id, response, raw

    async def _comment_shipment(self, shipment_id: int, text: str, *, visible: bool) -> None:
        await self._request("POST", f"/V1/shipment/{shipment_id}/comments",
                                 json_body=payloads.shipment_comment_body(shipment_id, text, visible=visible))

    async def _delete_track(self, track_id: int) -> None:
        # 404: an earlier attempt already deleted it (DELETE is retried after a 5xx that may have been applied).
        await self._request("DELETE", f"/V1/shipment/track/{track_id}", ok=(200, 204, 404))

    def _parsed(self, response: httpx.Response, parse: Callable[..., T], *args: Any) -> T:
        """`parse(*args)`, with a PayloadError turned into a MalformedResponseError naming the request."""
        try:
            return parse(*args)
        except PayloadError as error:
            raise self._http.shape_error(response, str(error)) from None

    def _numeric(self, ref: str, what: str) -> int:
        if not ref.isdigit():
            raise PermanentError(f"{PLATFORM_ID} connection {self.connection!r}: {what} ref {ref!r} is not a Magento "
                                 "numeric id (entity_id); check the stored ref", connection=self.connection)
        return int(ref)

    def _on_response(self, response: httpx.Response) -> None:
        """Magento core has no quota headers; a 429 from the host's CDN/WAF may say how long to wait: hold every
        request of this connection for that long, not just the one retried."""
        if response.status_code == 429:
            wait = retry_after_seconds(response.headers)
            if wait is not None:
                self._http.pause_for(wait)


def _int_id(value: Any) -> int:
    """A Magento entity id read on its own (for an order that does not parse). Raises ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValueError(f"not an entity id: {value!r}")
    return int(value)


def _lines_key(lines: tuple[Any, ...]) -> list[tuple[str, int]]:
    return sorted((line.line_ref, line.quantity) for line in lines)


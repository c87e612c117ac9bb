"""The web app's pages: a Starlette ASGI app, server-rendered HTML (Jinja2), no JavaScript.

`create_app(config, read_model, publisher)` answers:

    GET  /signin, POST /signin, POST /signout
    GET  /orders                                    seller: open orders (search, pages) and recently shipped;
                                                    buyer: its orders with status and tracking
    GET  /orders/{id}                               the order page (read-only for a buyer)
    GET  /orders/{id}/fulfill, POST the same         record a fulfillment (manual sellers)
    GET  /orders/{id}/fulfillments/{fid}/edit, POST edit its tracking in place
    POST /orders/{id}/fulfillments/{fid}/cancel     cancel it

Every POST needs the session's CSRF token (403 without it). A page of an order the signed-in partner is not a
party to answers exactly like a missing order (404). Writes go through `Publisher` and then redirect
(POST-redirect-GET); the order page shows them as pending until the read model has them applied.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from schemas.carriers import canonical_carrier, tracking_url
from schemas.config import Config, Connection
from schemas.events import FulfillmentRecorded, SourceRef
from schemas.factories import fulfillment_cancelled
from webapp import forms
from webapp.auth import Session as WebSession
from webapp.auth import (
    SignInThrottle,
    csrf_token,
    csrf_valid,
    decode_session,
    encode_session,
    hash_password,
    verify_password,
)
from webapp.model import FulfillmentView, OrderView, ReadModel
from webapp.publisher import Publisher, WebEvent

HERE = Path(__file__).resolve().parent
COOKIE = "fulfillsync_session"
PAGE_SIZE = 20
RECENTLY_SHIPPED = timedelta(days=30)
MAX_FORM_BYTES = 64 * 1024
MAX_ORDERS_REMEMBERED = 10_000
_DUMMY_HASH = hash_password("not a password", n=2**14)  # checked for unknown accounts: same work, same timing

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Settings:
    secret: str
    ttl: timedelta
    secure: bool
    accounts: Mapping[str, Connection]


class _Refused(Exception):
    """Answer the request with this response instead (raised by the access checks)."""

    def __init__(self, response: Response) -> None:
        self.response = response


class WebApp:
    """The request handlers; `create_app` wires them into Starlette."""

    def __init__(self, config: Config, read_model: ReadModel, publisher: Publisher, *, clock: Clock = utc_now,
                 monotonic: Callable[[], float] = time.monotonic, throttle: SignInThrottle | None = None) -> None:
        secret = config.web.session_secret
        if secret is None:
            raise ValueError("web.session_secret is not set: the web app cannot sign sessions without it")
        self.settings = _Settings(
            secret=secret.get_secret_value(), ttl=config.web.session_ttl,
            secure=(config.web.public_url or "").startswith("https://"),
            accounts={c.id: c for c in config.connections if c.web_access is not None})
        self.read_model, self.publisher = read_model, publisher
        self.clock, self.monotonic = clock, monotonic
        self.throttle = throttle or SignInThrottle()
        # What this process sent, per order, until the read model shows it applied: shown on the pending
        # fulfillment (the changelogs do not carry it yet) and counted when checking the next form.
        self.sent: dict[str, dict[str, WebEvent]] = {}
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)

    # -- plumbing ---------------------------------------------------------------------------------------------

    def session(self, request: Request) -> WebSession | None:
        value = request.cookies.get(COOKIE)
        if not value:
            return None
        return decode_session(value, self.settings.secret, now=self.clock(), ttl=self.settings.ttl)

    def page(self, name: str, session: WebSession | None, status: int = 200, **values: Any) -> HTMLResponse:
        signed_in = session.connection_id if session is not None else None
        account = self.settings.accounts.get(signed_in) if signed_in else None
        html = self.templates.get_template(name).render(
            csrf=csrf_token(session, self.settings.secret) if session else "", account=account, **values)
        response = HTMLResponse(html, status_code=status)
        response.headers.update({
            "Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'"})
        return response

    def set_cookie(self, response: Response, session: WebSession) -> None:
        response.set_cookie(COOKIE, encode_session(session, self.settings.secret),
                            max_age=int(self.settings.ttl.total_seconds()), httponly=True, samesite="lax",
                            secure=self.settings.secure, path="/")

    def account(self, request: Request) -> tuple[WebSession, Connection]:
        """The signed-in session and its connection; otherwise a redirect to the sign-in page."""
        session = self.session(request)
        connection = self.settings.accounts.get(session.connection_id or "") if session else None
        if session is None or connection is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise _Refused(RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303))
        return session, connection

    async def posted(self, request: Request, session: WebSession | None) -> dict[str, list[str]]:
        """The form of a POST whose CSRF token is this session's; 403 otherwise (or 413 for a huge body)."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise _Refused(Response("form too large", status_code=413))
        data = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=500)
        token = (data.get("csrf") or [""])[0]
        if session is None or not csrf_valid(session, self.settings.secret, token):
            raise _Refused(self.page("error.html", session, 403, title="Form refused",
                                     message="This form has expired or did not come from this site. Go back, "
                                             "reload the page and try again."))
        return data

    def visible_order(self, session: WebSession, connection: Connection, order_id: str) -> OrderView:
        """The order if `connection` is a party to it; the same 404 for a missing order and another's."""
        order = self.read_model.order(order_id)
        side = order.seller if order is not None and connection.role == "seller" else (
            order.buyer if order is not None else None)
        if order is None or side is None or side.connection != connection.id:
            raise _Refused(self.page("error.html", session, 404, title="Order not found",
                                     message="There is no such order among yours."))
        return self.with_sent(order)

    def with_sent(self, order: OrderView) -> OrderView:
        """`order` with what this process sent shown on its pending fulfillments; forgets what is no longer
        pending."""
        sent = self.sent.get(order.order_id)
        if not sent:
            return order
        status = {view.fulfillment_id: view.status for view in order.fulfillments}
        for fulfillment_id in [fid for fid in sent if status.get(fid, "pending") != "pending"]:
            del sent[fulfillment_id]
        views = tuple(_filled(view, sent.get(view.fulfillment_id)) for view in order.fulfillments)
        return replace(order, fulfillments=views)

    def pending(self, order: OrderView) -> tuple[WebEvent, ...]:
        return tuple(self.sent.get(order.order_id, {}).values())

    def remember(self, event: WebEvent) -> None:
        if len(self.sent) >= MAX_ORDERS_REMEMBERED and event.order_id not in self.sent:
            del self.sent[next(iter(self.sent))]  # the oldest order: its events are long applied
        self.sent.setdefault(event.order_id, {})[event.fulfillment_id] = event

    def seller_only(self, session: WebSession, connection: Connection) -> None:
        if connection.role != "seller":
            raise _Refused(self.page("error.html", session, 403, title="Read-only",
                                     message="Buyers can look at their orders here but not change them."))

    def fulfillment(self, session: WebSession, order: OrderView, fulfillment_id: str) -> FulfillmentView:
        found = next((f for f in order.fulfillments if f.fulfillment_id == fulfillment_id), None)
        if found is None or found.status in ("cancelled", "rejected") or not found.lines:
            raise _Refused(self.page("error.html", session, 404, title="Fulfillment not found",
                                     message="This order has no such fulfillment that can still be changed."))
        return found

    async def send(self, event: WebEvent) -> None:
        await run_in_threadpool(self.publisher.publish, event)
        self.remember(event)
        self.read_model.note_sent(event.order_id, event.fulfillment_id, event.source_version)

    # -- sign-in ----------------------------------------------------------------------------------------------

    async def signin_form(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            session = WebSession.new(None, self.clock())
        response = self.page("signin.html", session, next=_local(request.query_params.get("next")), errors={},
                             connection_id="")
        self.set_cookie(response, session)
        return response

    async def signin(self, request: Request) -> Response:
        session = self.session(request)
        data = await self.posted(request, session)
        assert session is not None
        connection_id = (data.get("connection_id") or [""])[0].strip()
        password = (data.get("password") or [""])[0]
        target = _local((data.get("next") or [""])[0])
        address = request.client.host if request.client else "unknown"
        wait = self.throttle.retry_after(connection_id, address, self.monotonic())
        if wait > 0:
            return self.page("signin.html", session, 429, next=target, connection_id=connection_id, errors={
                "password": f"Too many failed sign-ins. Wait {int(wait) + 1} seconds, then try again."})
        account = self.settings.accounts.get(connection_id)
        encoded = account.web_access.password_hash.get_secret_value() if account and account.web_access else None
        good = await run_in_threadpool(verify_password, password, encoded or _DUMMY_HASH)
        if not good or encoded is None:
            self.throttle.failed(connection_id, address, self.monotonic())
            return self.page("signin.html", session, 401, next=target, connection_id=connection_id,
                             errors={"password": "Wrong connection id or password."})
        self.throttle.succeeded(connection_id)
        response = RedirectResponse(target or "/orders", status_code=303)
        self.set_cookie(response, WebSession.new(connection_id, self.clock()))  # a new nonce: no fixation
        return response

    async def signout(self, request: Request) -> Response:
        session = self.session(request)
        await self.posted(request, session)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=self.settings.secure)
        return response

    # -- pages ------------------------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/orders", status_code=303)

    async def orders(self, request: Request) -> Response:
        session, connection = self.account(request)
        every = self.read_model.orders_of(connection.id)
        if connection.role == "buyer":
            mine = [order for order in every if order.buyer.connection == connection.id]
            return self.page("buyer_orders.html", session, orders=mine)
        mine = [order for order in every if order.seller.connection == connection.id]
        query = request.query_params.get("q", "").strip()
        open_orders = [order for order in mine if not order.shipped and _matches(order, query)]
        pages = max(1, -(-len(open_orders) // PAGE_SIZE))
        page = min(max(1, _int(request.query_params.get("page"), 1)), pages)
        since = self.clock() - RECENTLY_SHIPPED
        shipped = sorted((order for order in mine if order.shipped_at is not None and order.shipped_at >= since
                          and _matches(order, query)), key=lambda order: order.shipped_at or since, reverse=True)
        return self.page("orders.html", session, query=query, page=page, pages=pages,
                         orders=open_orders[(page - 1) * PAGE_SIZE:page * PAGE_SIZE], total=len(open_orders),
                         shipped=shipped[:PAGE_SIZE])

    async def order(self, request: Request) -> Response:
        session, connection = self.account(request)
        order = self.visible_order(session, connection, request.path_params["order_id"])
        return self.page("order.html", session, order=order, editable=connection.role == "seller",
                         done=request.query_params.get("done", ""))

    async def fulfill(self, request: Request) -> Response:
        session, connection = self.account(request)
        self.seller_only(session, connection)
        order = self.visible_order(session, connection, request.path_params["order_id"])
        if request.method == "GET":
            return self.fulfill_page(session, order, forms.blank_form(order))
        form = forms.read_form(await self.posted(request, session), len(order.lines))
        draft = forms.Draft(source=_source(connection), fulfillment_id=f"web-{uuid.uuid4()}", at=self.clock(),
                            pending=self.pending(order))
        return await self.check_and_send(session, order, form, draft, "recorded")

    async def edit(self, request: Request) -> Response:
        session, connection = self.account(request)
        self.seller_only(session, connection)
        order = self.visible_order(session, connection, request.path_params["order_id"])
        fulfillment = self.fulfillment(session, order, request.path_params["fulfillment_id"])
        if request.method == "GET":
            return self.fulfill_page(session, order, forms.edit_form(fulfillment), fulfillment)
        form = forms.read_form(await self.posted(request, session), 0)
        draft = forms.Draft(source=_source(connection), fulfillment_id=fulfillment.fulfillment_id, at=self.clock(),
                            replaces=fulfillment, pending=self.pending(order))
        return await self.check_and_send(session, order, form, draft, "updated")

    async def cancel(self, request: Request) -> Response:
        session, connection = self.account(request)
        data = await self.posted(request, session)
        self.seller_only(session, connection)
        order = self.visible_order(session, connection, request.path_params["order_id"])
        fulfillment = self.fulfillment(session, order, request.path_params["fulfillment_id"])
        if (data.get("confirm") or [""])[0] != "yes":
            return self.page("order.html", session, 400, order=order, editable=True, done="",
                             cancel_error={fulfillment.fulfillment_id: "Tick the box to confirm the cancellation."})
        event = fulfillment_cancelled(order_id=order.order_id, source=_source(connection),
                                      fulfillment_id=fulfillment.fulfillment_id,
                                      source_version=max(self.clock(), fulfillment.recorded_at))
        return await self.deliver(session, order, event, "cancelled", lambda: self.page(
            "order.html", session, 503, order=order, editable=True, done="",
            cancel_error={fulfillment.fulfillment_id: "Could not send the cancellation just now; try again."}))

    def fulfill_page(self, session: WebSession, order: OrderView, form: forms.FulfillmentForm,
                    editing: FulfillmentView | None = None, status: int = 200) -> HTMLResponse:
        return self.page("fulfill.html", session, status, order=order, form=form, editing=editing,
                         carriers=forms.CARRIER_NAMES)

    async def check_and_send(self, session: WebSession, order: OrderView, form: forms.FulfillmentForm,
                             draft: forms.Draft, done: str) -> Response:
        event = forms.check(order, form, draft)
        if event is None:
            return self.fulfill_page(session, order, form, draft.replaces, 400 if form.errors else 200)

        def failed() -> Response:
            form.errors["lines"] = "Could not send the fulfillment just now; nothing was recorded. Try again."
            return self.fulfill_page(session, order, form, draft.replaces, 503)

        return await self.deliver(session, order, event, done, failed)

    async def deliver(self, session: WebSession, order: OrderView, event: WebEvent, done: str,
                      failed: Callable[[], Response]) -> Response:
        try:
            await self.send(event)
        except Exception:  # noqa: BLE001 - any failure to send is shown to the person, who may try again
            return failed()
        return RedirectResponse(f"/orders/{quote(order.order_id, safe='')}?done={done}", status_code=303)


def create_app(config: Config, read_model: ReadModel, publisher: Publisher, *, clock: Clock = utc_now,
               monotonic: Callable[[], float] = time.monotonic, throttle: SignInThrottle | None = None,
               ready: Callable[[], bool] = lambda: True) -> Starlette:
    """The ASGI app. ValueError when `web.session_secret` is not configured. While `ready()` is false (the read
    model has not caught up with the topics yet) order pages answer 503 rather than show an old picture."""
    web = WebApp(config, read_model, publisher, clock=clock, monotonic=monotonic, throttle=throttle)

    def handle(method: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.url.path.startswith("/orders") and not ready():
                response = web.page("error.html", web.session(request), 503, title="Catching up",
                                    message="The order list is being loaded. Try again in a few seconds.")
                response.headers["Retry-After"] = "5"
                return response
            try:
                return await method(request)
            except _Refused as refused:
                return refused.response
        return endpoint

    order = "/orders/{order_id}"
    fulfillment = order + "/fulfillments/{fulfillment_id}"
    routes = [
        Route("/", handle(web.home)),
        Route("/signin", handle(web.signin_form), methods=["GET"]),
        Route("/signin", handle(web.signin), methods=["POST"]),
        Route("/signout", handle(web.signout), methods=["POST"]),
        Route("/orders", handle(web.orders)),
        Route(order, handle(web.order)),
        Route(order + "/fulfill", handle(web.fulfill), methods=["GET", "POST"]),
        Route(fulfillment + "/edit", handle(web.edit), methods=["GET", "POST"]),
        Route(fulfillment + "/cancel", handle(web.cancel), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)


def _filled(view: FulfillmentView, sent: WebEvent | None) -> FulfillmentView:
    """A pending fulfillment the read model knows only by id, with the content this process sent."""
    if view.status != "pending" or view.lines or not isinstance(sent, FulfillmentRecorded):
        return view
    urls = tuple(url or tracking_url(sent.carrier, number)
                 for number, url in zip(sent.tracking_numbers, [*sent.tracking_urls, *[None] * 99], strict=False))
    return replace(view, carrier=canonical_carrier(sent.carrier), numbers=tuple(sent.tracking_numbers), urls=urls,
                   lines={line.line_id: line.quantity for line in sent.lines})


def _source(connection: Connection) -> SourceRef:
    return SourceRef(partner=connection.partner, connection=connection.id, platform=connection.platform)


def _local(target: str | None) -> str:
    """`target` when it is a path on this site, else "" (no open redirect to another host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or "")
    except ValueError:
        return default


def _matches(order: OrderView, query: str) -> bool:
    """Whether `query` is part of one of the order's references: our id, either side's order ref, the buyer's
    order number (case-insensitive; a leading # is optional)."""
    if not query:
        return True
    wanted = query.casefold().lstrip("#")
    refs: Sequence[str | None] = (order.order_id, order.seller.order_ref, order.buyer.order_ref,
                                  order.shipping.buyer_order_number if order.shipping else None)
    return any(wanted in ref.casefold() for ref in refs if ref)

"""The web app's pages: a Starlette ASGI app, server-rendered HTML (Jinja2), no JavaScript.

`create_app(config, read_model, publisher)` answers:

    GET  /signin, POST /signin, POST /signout
    GET  /orders                                    seller: open orders (search, pages) and recently shipped;
                                                    buyer: its orders with status and tracking
    GET  /orders/{id}                               the order page (read-only for a buyer)
    GET  /orders/{id}/fulfill, POST the same         record a fulfillment (manual sellers)
    GET  /orders/{id}/fulfillments/{fid}/edit, POST edit its tracking in place
    POST /orders/{id}/fulfillments/{fid}/cancel     cancel it
    GET  /healthz                                   liveness: 200 while the process serves requests
    GET  /readyz                                    readiness: 200 once the read model caught up and while the
                                                    publisher has not failed for good (`health_views`)

Every POST needs the session's CSRF token (403 without it); a form body over `MAX_FORM_BYTES` or with more than
`MAX_FORM_FIELDS` fields answers 413 without being parsed further. A page of an order the signed-in partner is not a
party to answers exactly like a missing order (404). Writes go through `Publisher` and then redirect
(POST-redirect-GET); the order page shows them as pending until the read model has them applied.

The fulfillment forms carry a `form_key` made when the form is rendered (`webapp.auth.new_form_key`, bound to the
session): the fulfillment id and version come from it, so sending the same form again (a double click, a retry after
"nothing was recorded") makes the very same event, which the ledger recognises as a duplicate.

Every response carries the security headers (`security_headers`); behind a reverse proxy listed in
`web.trusted_proxies` the client address is taken from its X-Forwarded-For (uvicorn's `ProxyHeadersMiddleware`),
else it is the socket peer's.
"""

from __future__ import annotations

import asyncio
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
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from schemas.carriers import canonical_carrier, tracking_url
from schemas.config import Config, Connection
from schemas.events import FulfillmentRecorded, SourceRef
from schemas.factories import fulfillment_cancelled
from webapp import forms
from webapp.auth import (
    FormKey,
    RevokedSessions,
    SignInThrottle,
    csrf_token,
    csrf_valid,
    decode_session,
    dummy_hash,
    encode_session,
    new_form_key,
    read_form_key,
    verify_password,
)
from webapp.auth import Session as WebSession
from webapp.model import FulfillmentView, OrderView, ReadModel
from webapp.publisher import Publisher, WebEvent

HERE = Path(__file__).resolve().parent
COOKIE = "fulfillsync_session"
PAGE_SIZE = 20
RECENTLY_SHIPPED = timedelta(days=30)
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 1000  # a fulfillment form has one quantity per order line, plus about ten
MAX_CONNECTION_ID = 63  # the longest id the configuration allows
MAX_ORDERS_REMEMBERED = 10_000
MAX_FORMS_REMEMBERED = 10_000
MAX_PASSWORD_CHECKS = 4  # scrypt checks at once per process: each takes about 128 MiB at today's parameters
HSTS = "max-age=31536000"  # one year; no includeSubDomains: other hosts of the domain are not ours to decide
CONTENT_SECURITY_POLICY = "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Settings:
    secret: str
    ttl: timedelta
    secure: bool
    accounts: Mapping[str, Connection]


def security_headers(config: Config) -> dict[str, str]:
    """The headers every response carries: a strict Content-Security-Policy (no inline script or style, no
    framing), X-Content-Type-Options, X-Frame-Options, Referrer-Policy, and Strict-Transport-Security when
    `web.public_url` is https (browsers then refuse plain http to the site for a year)."""
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
               "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
    if (config.web.public_url or "").startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


class _SecurityHeaders:
    """ASGI middleware: adds `headers` to every HTTP response that does not set them itself, and
    `Cache-Control: no-store` to every one but the static files' (pages show orders and addresses)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app, self.headers = app, dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith("/static/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                if not cacheable:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, sending)


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
        self.revoked = RevokedSessions()
        # Unknown connection ids are checked against a hash with the parameters the accounts' hashes carry.
        self.dummy_hash = dummy_hash(account.web_access.password_hash.get_secret_value()
                                     for account in self.settings.accounts.values() if account.web_access)
        self.checking: set[str] = set()  # connection ids whose password is being checked (one at a time each)
        self.password_checks = asyncio.Semaphore(MAX_PASSWORD_CHECKS)
        # The last event made of each form key (a rendering of a fulfillment form): a resubmission with other
        # content becomes a newer version rather than a rival of the same version.
        self.attempts: dict[str, WebEvent] = {}
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
        session = decode_session(value, self.settings.secret, now=self.clock(), ttl=self.settings.ttl)
        return None if session is None or self.revoked.is_revoked(session) else session

    def page(self, name: str, session: WebSession | None, status: int = 200, **values: Any) -> HTMLResponse:
        signed_in = session.connection_id if session is not None else None
        account = self.settings.accounts.get(signed_in) if signed_in else None
        html = self.templates.get_template(name).render(
            csrf=csrf_token(session, self.settings.secret) if session else "", account=account, **values)
        return HTMLResponse(html, status_code=status)

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
        """The form of a POST whose CSRF token is this session's; 403 otherwise. 413 for a body over
        `MAX_FORM_BYTES` (read no further than that) or with more than `MAX_FORM_FIELDS` fields."""
        def too_large() -> _Refused:
            return _Refused(self.page(
                "error.html", session, 413, title="Form too large",
                message="This form is larger than any form of this site. Go back, reload the page and try again."))

        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            raise too_large()
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise too_large()
        try:
            data = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True,
                            max_num_fields=MAX_FORM_FIELDS)
        except ValueError:  # more fields than max_num_fields
            raise too_large() from None
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

    def form_key(self, session: WebSession, purpose: str) -> str:
        return new_form_key(session, self.settings.secret, purpose, self.clock())

    def read_key(self, data: Mapping[str, Sequence[str]], session: WebSession, purpose: str) -> FormKey | None:
        return read_form_key((data.get("form_key") or [""])[0], session, self.settings.secret, purpose)

    def attempted(self, form_id: str, event: WebEvent) -> WebEvent:
        """`event`, made of form `form_id`, as it is to be sent. When this process already made an event of the same
        form: that very event if the content is the same (an edit form's version may have moved on meanwhile, as
        the first sending is pending), else a newer version than it (the content changed before the form was sent
        again), so the latest sending wins should both reach the ledger. Remembers it (bounded: the oldest forms
        are forgotten first)."""
        previous = self.attempts.pop(form_id, None)
        if (isinstance(previous, FulfillmentRecorded) and isinstance(event, FulfillmentRecorded)
                and previous.fulfillment_id == event.fulfillment_id and previous.event_id != event.event_id):
            if _content(previous) == _content(event):
                event = previous
            else:
                event = forms.at_version(event, max(self.clock(), event.source_version,
                                                    previous.source_version + timedelta(milliseconds=1)))
        if len(self.attempts) >= MAX_FORMS_REMEMBERED:
            del self.attempts[next(iter(self.attempts))]
        self.attempts[form_id] = event
        return event

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
        if len(connection_id) > MAX_CONNECTION_ID:
            return self.page("signin.html", session, 400, next=target, connection_id="", errors={
                "connection_id": f"A connection id has at most {MAX_CONNECTION_ID} characters."})
        address = request.client.host if request.client else "unknown"
        if connection_id in self.checking:  # no second guess for an account while one is being checked
            return self.page("signin.html", session, 429, next=target, connection_id=connection_id, errors={
                "password": "Another sign-in to this connection is being checked. Try again in a few seconds."})
        wait = self.throttle.begin(connection_id, address, self.monotonic())  # counted before the check
        if wait > 0:
            return self.page("signin.html", session, 429, next=target, connection_id=connection_id, errors={
                "password": f"Too many failed sign-ins. Wait {int(wait) + 1} seconds, then try again."})
        account = self.settings.accounts.get(connection_id)
        encoded = account.web_access.password_hash.get_secret_value() if account and account.web_access else None
        self.checking.add(connection_id)
        try:
            async with self.password_checks:
                good = await run_in_threadpool(verify_password, password, encoded or self.dummy_hash)
        finally:
            self.checking.discard(connection_id)
        if not good or encoded is None:
            return self.page("signin.html", session, 401, next=target, connection_id=connection_id,
                             errors={"password": "Wrong connection id or password."})
        self.throttle.succeeded(connection_id, address)
        response = RedirectResponse(target or "/orders", status_code=303)
        self.set_cookie(response, WebSession.new(connection_id, self.clock()))  # a new nonce: no fixation
        return response

    async def signout(self, request: Request) -> Response:
        session = self.session(request)
        await self.posted(request, session)
        if session is not None:  # posted() refused a request without one
            self.revoked.revoke(session, now=self.clock(), ttl=self.settings.ttl)  # copies of the cookie too
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
        purpose = f"{order.order_id}/new"
        if request.method == "GET":
            return self.fulfill_page(session, order, forms.blank_form(order), key=self.form_key(session, purpose))
        data = await self.posted(request, session)
        form = forms.read_form(data, len(order.lines))
        key = self.read_key(data, session, purpose)
        if key is None:
            return self.stale_form(session, order, form, purpose)
        draft = forms.Draft(source=_source(connection), fulfillment_id=f"web-{uuid.UUID(hex=key.form_id)}",
                            at=key.rendered_at, pending=self.pending(order))
        return await self.check_and_send(session, order, form, draft, "recorded", data)

    async def edit(self, request: Request) -> Response:
        session, connection = self.account(request)
        self.seller_only(session, connection)
        order = self.visible_order(session, connection, request.path_params["order_id"])
        fulfillment = self.fulfillment(session, order, request.path_params["fulfillment_id"])
        purpose = f"{order.order_id}/{fulfillment.fulfillment_id}"
        if request.method == "GET":
            return self.fulfill_page(session, order, forms.edit_form(fulfillment), fulfillment,
                                     key=self.form_key(session, purpose))
        data = await self.posted(request, session)
        form = forms.read_form(data, 0)
        key = self.read_key(data, session, purpose)
        if key is None:
            return self.stale_form(session, order, form, purpose, fulfillment)
        draft = forms.Draft(source=_source(connection), fulfillment_id=fulfillment.fulfillment_id,
                            at=key.rendered_at, replaces=fulfillment, pending=self.pending(order))
        return await self.check_and_send(session, order, form, draft, "updated", data)

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
                     editing: FulfillmentView | None = None, status: int = 200, *, key: str) -> HTMLResponse:
        """The fulfillment form; `key` its `form_key` (a new one for a new rendering, the posted one when the form
        comes back with errors, so sending it again is still the same form)."""
        return self.page("fulfill.html", session, status, order=order, form=form, editing=editing,
                         carriers=forms.CARRIER_NAMES, form_key=key)

    def stale_form(self, session: WebSession, order: OrderView, form: forms.FulfillmentForm, purpose: str,
                   editing: FulfillmentView | None = None) -> Response:
        """400: the form's key is missing or not this session's (a form from before a sign-in or a restart of the
        web app with another secret). The values typed come back in a new rendering, to be checked and sent."""
        form.errors["lines"] = "This form was out of date. Check it and send it again."
        return self.fulfill_page(session, order, form, editing, 400, key=self.form_key(session, purpose))

    async def check_and_send(self, session: WebSession, order: OrderView, form: forms.FulfillmentForm,
                             draft: forms.Draft, done: str, data: Mapping[str, Sequence[str]]) -> Response:
        """Check the form against the ledger's rules and send its event, or show the form again (400 with the
        reasons, 200 with warnings, 503 when the event could not be sent: then nothing was recorded)."""
        key = (data.get("form_key") or [""])[0]
        event = forms.check(order, form, draft)
        if event is None:
            return self.fulfill_page(session, order, form, draft.replaces, 400 if form.errors else 200, key=key)
        if draft.replaces is None and forms.already_recorded(order, event):
            return RedirectResponse(f"/orders/{quote(order.order_id, safe='')}?done={done}", status_code=303)
        form_id = key.split(".", 1)[0]
        sending = self.attempted(form_id, event)

        def failed() -> Response:
            form.errors["lines"] = "Could not send the fulfillment just now; nothing was recorded. Try again."
            return self.fulfill_page(session, order, form, draft.replaces, 503, key=key)

        return await self.deliver(session, order, sending, done, failed)

    async def deliver(self, session: WebSession, order: OrderView, event: WebEvent, done: str,
                      failed: Callable[[], Response]) -> Response:
        try:
            await self.send(event)
        except Exception:  # noqa: BLE001 - any failure to send is shown to the person, who may try again
            return failed()
        return RedirectResponse(f"/orders/{quote(order.order_id, safe='')}?done={done}", status_code=303)


def health_views(ready: Callable[[], bool], publisher_failure: Callable[[], str | None]) -> list[Route]:
    """`GET /healthz` and `GET /readyz`, for Kubernetes' probes (no sign-in; JSON; docs/webapp.md, "Health").

    `/healthz` (liveness) answers 200 `{"status": "ok"}` whenever the process serves requests. `/readyz`
    (readiness) answers 200 once `ready()` is true (the read model reached the end offsets it found at start; it
    stays true) and while `publisher_failure()` is None; otherwise 503 `{"status": "not ready", "reason": ...}`,
    the reason being "catching up" or "cannot publish: <the producer's fatal error>". A broker that is merely
    unreachable does not make it 503: every web process shares that broker, pages still answer from the read
    model, and forms say nothing was recorded; taking every process out of the Service would only turn that into
    the proxy's error page."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        failure = publisher_failure()
        if not ready():
            return JSONResponse({"status": "not ready", "reason": "catching up"}, status_code=503)
        if failure is not None:
            return JSONResponse({"status": "not ready", "reason": f"cannot publish: {failure}"}, status_code=503)
        return JSONResponse({"status": "ready", "reason": "caught up"})

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]


def create_app(config: Config, read_model: ReadModel, publisher: Publisher, *, clock: Clock = utc_now,
               monotonic: Callable[[], float] = time.monotonic, throttle: SignInThrottle | None = None,
               ready: Callable[[], bool] = lambda: True,
               publisher_failure: Callable[[], str | None] = lambda: None) -> Starlette:
    """The ASGI app. ValueError when `web.session_secret` is not configured. While `ready()` is false (the read
    model has not caught up with the topics yet) order pages answer 503 rather than show an old picture.
    `ready` and `publisher_failure` also decide `/readyz` (`health_views`).

    Every response gets `security_headers(config)`. With `web.trusted_proxies`, a request whose socket peer is one
    of them has its client address (and scheme) taken from X-Forwarded-For (and X-Forwarded-Proto): the address
    nearest to us that is not a trusted proxy (uvicorn's `ProxyHeadersMiddleware`); any other request keeps its
    socket peer, whatever headers it sends. The sign-in throttle counts per that address."""
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
        *health_views(ready, publisher_failure),
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
    middleware = [Middleware(_SecurityHeaders, headers=security_headers(config))]
    if config.web.trusted_proxies:
        middleware.insert(0, Middleware(ProxyHeadersMiddleware, trusted_hosts=list(config.web.trusted_proxies)))
    return Starlette(routes=routes, middleware=middleware)


def _filled(view: FulfillmentView, sent: WebEvent | None) -> FulfillmentView:
    """A pending fulfillment the read model knows only by id, with the content this process sent."""
    if view.status != "pending" or view.lines or not isinstance(sent, FulfillmentRecorded):
        return view
    urls = tuple(url or tracking_url(sent.carrier, number)
                 for number, url in zip(sent.tracking_numbers, [*sent.tracking_urls, *[None] * 99], strict=False))
    return replace(view, carrier=canonical_carrier(sent.carrier), numbers=tuple(sent.tracking_numbers), urls=urls,
                   lines={line.line_id: line.quantity for line in sent.lines})


def _content(event: FulfillmentRecorded) -> tuple[object, ...]:
    """What a fulfillment form decides: the lines, carrier and tracking (not the version or the ids)."""
    return (event.lines, event.carrier, event.tracking_numbers, event.tracking_urls)


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

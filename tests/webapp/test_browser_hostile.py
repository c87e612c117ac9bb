"""Hostile order data is shown as text, never run, in a real browser (docs/webapp.md, "Security choices").

Everything the web app shows of an order comes from other parties: product titles and SKUs, the buyer's order
number and reference and the shipping address come from the buyer's store; carriers, tracking numbers, tracking
links and fulfillment ids from the seller's; refusal messages from the ledger and platforms. Here each of them
carries markup and script: `<script>` tags, attribute break-outs (`"><img src=x onerror=...>`), `javascript:` links.
The app (`webapp/app.py` on the in-memory read model of `tests/support/webapp_fakes.py`: no Kafka) is served over
HTTP, and headless Chromium (`tests/support/browser.py`) opens every page that shows them, signed in as the seller
and as the buyer: the order list and its search, the order pages, the fulfillment form (also as it comes back
refused), the edit forms and the buyer's view; and the sign-in page with a hostile `next` and connection id.

On every page: no payload ran (`window.__pwned`, which each payload would set, stays undefined; no dialog opened;
no console message, such as the Content-Security-Policy violation an injected inline script causes even where the
policy stops it); no element a payload would make exists (scripts, `on*` attributes, images, frames, styles) and
the page loaded nothing but itself and its stylesheet; every link and form target resolves to http(s); the hostile
strings are there, as text or as form values, and the safe hostile link as its own `href`; and every response
carries the security headers (HSTS when `web.public_url` is https, and only then).

A `javascript:` tracking link cannot come in through today's input events (`schemas/events.py` refuses any URL but
http(s)), but order states that earlier releases wrote to the order table's changelog can hold one: such a state is
made here by applying an event that skipped that check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Request, Response, expect

from schemas.config import Config
from schemas.events import (
    DeadLetter,
    FulfilledLine,
    FulfillmentRecorded,
    OrderLine,
    OrderPlaced,
    OriginalRecord,
    PartyRef,
    ShippingAddress,
    ShippingDetails,
    SourceRef,
)
from schemas.factories import fulfillment_recorded, order_placed
from tests.support.browser import DEFAULT_TIMEOUT_MS
from tests.support.stores import served
from tests.support.webapp_fakes import FakePublisher, FakeReadModel, later
from webapp.app import create_app
from webapp.auth import SignInThrottle, hash_password
from webapp.model import OrderView
from webapp.readmodel import order_view

SELLER, BUYER = "maker", "shop"
PASSWORDS = {SELLER: "maker hostile pw", BUYER: "shop hostile pw"}
HTTPS_URL = "https://orders.example.com"

# Each payload would set window.__pwned, open a dialog or load something if the browser ran it.
SCRIPT = "<script>window.__pwned='script'</script>"
IMG = "\"><img src=x onerror=\"window.__pwned='img';alert('img')\">"
SVG = "'><svg/onload=window.__pwned='svg'>"
CLOSE = "</td></tr></table><script>window.__pwned='close'</script>"
IFRAME = "<iframe src=\"javascript:window.__pwned='frame'\"></iframe>"
STYLE = "<style>body{display:none}</style><base href=\"javascript:alert('base')//\">"
TEMPLATE = "{{ 7*7 }}${7*7}{% if 1 %}jinja{% endif %}"
ATTR = "TEA\" onmouseover=\"window.__pwned='attr'\" data-x=\""
JS_LINKS = ("javascript:window.__pwned='href';alert('href')//", "java\tscript:window.__pwned='tab'",
            "JaVaScRiPt:window.__pwned='case'", "data:text/html,<script>alert('data')</script>")
"""Tracking links of other schemes (URL parsers drop a tab inside a scheme: the second is `javascript:` too)."""

ORDER_NUMBER = f"#1001{SCRIPT}"
ORDER_REF = f"1001{IMG}"
SHIPPED_ORDER_NUMBER = f"#1002{IMG}"
SELLER_PARTNER = f"maker{SCRIPT}"
MUG_SKU, TEA_SKU = f"MUG-{SCRIPT}", ATTR
MUG_TITLE, TEA_TITLE = IMG, CLOSE + SVG
CAP_SKU = f"CAP-{IMG}"
REGION = "\"><a href=\"javascript:alert('region')\">x</a>"
EMAIL = f"\"><a href=\"javascript:alert('mail')\">{SCRIPT}</a>"
ADDRESS = ShippingAddress(name=f"Ada {IMG}", company=CLOSE, lines=[SCRIPT, SVG, TEMPLATE], city=IFRAME,
                          region=REGION, postal_code=SVG, country_code="GB", phone="javascript:alert('phone')")
SHIPPING = ShippingDetails(address=ADDRESS, email=EMAIL, method=STYLE, buyer_order_number=ORDER_NUMBER)
CARRIER = f"Parcel{IMG}"
NUMBERS = ("<script>window.__pwned='number'</script>", "\"><svg/onload=window.__pwned='n2'>")
SAFE_LINK = f"https://track.example/t?n=\"><script>window.__pwned='url'</script>&m={quote(IMG)}"
"""An http(s) link with markup in it: accepted by the input schema, so it stays a link (escaped)."""
OLD_FID = "web-old\"><img src=x onerror=alert('fid')>"
OLD_CARRIER = f"Old{SVG}"
OLD_NUMBERS = ("1Z999AA10123456784", "1Z999AA10123456793", "1Z999AA10123456800", "1Z999AA10123456819")
LETTER = f"over_fulfillment: the platform said {SCRIPT}{IMG}"
REFUSED_CARRIER = f"Refused{SCRIPT}"
REFUSED_NUMBER = "<svg/onload=alert('refused')>"
SHIPPED_CARRIER = f"Ship{SCRIPT}"
SHIPPED_NUMBER = "<img/src=x/onerror=window.__pwned='shipped'>"
QUERY = f"1001{SCRIPT}"
NEXT = f"/orders?x=\"><script>window.__pwned='next'</script>{IMG}"
BAD_CONNECTION_ID = "\"><img src=x onerror=alert('id')>"
TYPED_CARRIER, TYPED_NUMBER = f"Typed{IMG}", f"N{SVG}"

ALLOWED_RESOURCES = frozenset({"document", "stylesheet"})
REFERRER_POLICIES = frozenset({"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"})
DOM_PROBE = """() => ({
  pwned: typeof window.__pwned,
  scripts: document.querySelectorAll('script').length,
  handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
      .filter(a => a.name.toLowerCase().startsWith('on')).map(a => e.tagName + ' ' + a.name)),
  injected: [...document.querySelectorAll('img, svg, iframe, frame, object, embed, base, style, meta[http-equiv]')]
      .map(e => e.outerHTML),
  links: [...document.querySelectorAll('[href]')].map(e => [e.getAttribute('href'), e.href]),
  forms: [...document.querySelectorAll('form')].map(f => [f.getAttribute('action'), f.action]),
  text: document.body.textContent,
  values: [...document.querySelectorAll('input, select, textarea')].map(e => e.value),
})"""


class HostileReadModel(FakeReadModel):
    """`FakeReadModel` that also shows the dead letters (ledger and platform refusals) naming an order's
    fulfillments."""

    def __init__(self) -> None:
        super().__init__()
        self.letters: dict[str, list[DeadLetter]] = {}

    def order(self, order_id: str) -> OrderView | None:
        state = self.states.get(order_id)
        if state is None:
            return None
        return order_view(state, None, self.letters.get(order_id, []), self.sent.get(order_id, {}))


def placed_order(ref: str, number: str, lines: list[OrderLine], seller_partner: str) -> OrderPlaced:
    placed = order_placed(
        buyer=PartyRef(partner="retail", connection=BUYER, platform="shopify", order_ref=ref),
        seller=PartyRef(partner=seller_partner, connection=SELLER, platform="manual"),
        lines=lines, occurred_at=later(0))
    return placed.model_copy(update={"shipping": SHIPPING.model_copy(update={"buyer_order_number": number})})


def recorded(order_id: str, fulfillment_id: str, minutes: int, units: dict[str, int], carrier: str,
             numbers: Sequence[str], urls: Sequence[str | None]) -> FulfillmentRecorded:
    return fulfillment_recorded(
        order_id=order_id, source=SourceRef(partner=SELLER_PARTNER, connection=SELLER, platform="manual"),
        fulfillment_id=fulfillment_id, source_version=later(minutes),
        lines=[FulfilledLine(line_id=line_id, quantity=count) for line_id, count in units.items()],
        carrier=carrier, tracking_numbers=numbers, tracking_urls=urls)


@dataclass(frozen=True)
class Orders:
    open_id: str
    shipped_id: str


def fill(model: HostileReadModel) -> Orders:
    """An open order with every hostile field, two fulfillments with hostile tracking (one with `javascript:` links,
    as a state of an earlier release may hold) and a refused one; a shipped order with hostile tracking."""
    placed = model.place(placed_order(ORDER_REF, ORDER_NUMBER, [
        OrderLine(line_id="l-0", sku=MUG_SKU, quantity=9, title=MUG_TITLE),
        OrderLine(line_id="l-1", sku=TEA_SKU, quantity=2, title=TEA_TITLE)], seller_partner=SELLER_PARTNER))
    order_id = placed.order_id
    model.ledger_applies(recorded(order_id, "web-first", 5, {"l-0": 2}, CARRIER, NUMBERS, [SAFE_LINK, None]))
    old = recorded(order_id, OLD_FID, 6, {"l-0": 4}, OLD_CARRIER, OLD_NUMBERS, [])
    model.ledger_applies(old.model_copy(update={"tracking_urls": list(JS_LINKS)}))  # skips the schema's URL check
    assert model.states[order_id].fulfillments[OLD_FID].tracking_urls == list(JS_LINKS)
    refused = recorded(order_id, "web-refused", 7, {"l-0": 99}, REFUSED_CARRIER, [REFUSED_NUMBER],
                       [f"https://track.example/?{SVG}"])
    model.letters[order_id] = [DeadLetter(
        event_id="dl-1", order_id=order_id, reason="over_fulfillment", message=LETTER, stage="ledger",
        dead_lettered_at=later(8), original=OriginalRecord(
            topic="fulfillment-events", partition=0, offset=7, key=order_id, value=refused.model_dump_json(),
            headers=[]))]

    shipped = model.place(placed_order(f"1002{SVG}", SHIPPED_ORDER_NUMBER, [
        OrderLine(line_id="s-0", sku=CAP_SKU, quantity=1, title=SCRIPT)], seller_partner=SELLER_PARTNER))
    model.ledger_applies(recorded(shipped.order_id, "web-shipped", 10, {"s-0": 1}, SHIPPED_CARRIER,
                                  [SHIPPED_NUMBER], [None]))
    view = model.order(shipped.order_id)
    assert view is not None and view.shipped
    return Orders(order_id, shipped.order_id)


def site_config(public_url: str) -> Config:
    access = {name: {"password_hash": hash_password(password, n=2**10)} for name, password in PASSWORDS.items()}
    return Config.model_validate({
        "web": {"session_secret": "h" * 40, "session_ttl": "1h", "public_url": public_url},
        "connections": [
            {"id": SELLER, "partner": "maker-co", "role": "seller", "platform": "manual",
             "web_access": access[SELLER]},
            {"id": BUYER, "partner": "retail", "role": "buyer", "platform": "shopify",
             "base_url": "https://shop.example", "credentials": {"access_token": "t"}, "web_access": access[BUYER]},
        ],
    })


@dataclass
class Watch:
    """What happened on one page: dialogs (dismissed), console messages, page errors, requests and responses."""

    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        def dialog(opened: Dialog) -> None:
            self.dialogs.append(f"{opened.type}: {opened.message}")
            opened.dismiss()

        def console(message: ConsoleMessage) -> None:
            self.console.append(f"{message.type}: {message.text}")

        def request(sent: Request) -> None:
            self.requests.append((sent.resource_type, sent.url))

        page.on("dialog", dialog)
        page.on("console", console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", request)
        page.on("response", lambda answer: self.responses.append(answer))

    def clear(self) -> None:
        for seen in (self.dialogs, self.console, self.errors, self.requests, self.responses):
            seen.clear()


def header_problems(headers: dict[str, str], https: bool) -> list[str]:
    """What is missing or weak among the security headers of one response (`headers`: lower-case names)."""
    problems = []
    policy = headers.get("content-security-policy", "")
    directives = {words[0]: words[1:] for part in policy.split(";") if (words := part.split())}
    scripts = directives.get("script-src", directives.get("default-src"))
    if scripts is None or {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & set(scripts):
        problems.append(f"Content-Security-Policy lets scripts run from anywhere or inline: {policy!r}")
    if headers.get("x-content-type-options", "").lower() != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    framing = directives.get("frame-ancestors")
    if framing not in (["'none'"], ["'self'"]) and headers.get("x-frame-options", "").upper() not in (
            "DENY", "SAMEORIGIN"):
        problems.append("neither frame-ancestors nor X-Frame-Options forbids framing by other sites")
    if headers.get("referrer-policy", "").lower() not in REFERRER_POLICIES:
        problems.append(f"Referrer-Policy is {headers.get('referrer-policy')!r}")
    hsts = headers.get("strict-transport-security")
    if https:
        age = re.search(r"max-age=(\d+)", hsts or "")
        if age is None or int(age.group(1)) < 86400:
            problems.append(f"Strict-Transport-Security is {hsts!r} with an https public_url")
    elif hsts is not None:
        problems.append(f"Strict-Transport-Security {hsts!r} with an http public_url")
    return problems


@dataclass
class Site:
    """The app served on the hostile read model, and the browser to open it in."""

    root: str
    https: bool
    browser: Browser
    orders: Orders
    publisher: FakePublisher

    @contextmanager
    def visit(self, connection: str | None) -> Iterator[tuple[Page, Watch]]:
        """A page in a browser context of its own, signed in as `connection` (None: not signed in)."""
        context = self.browser.new_context(base_url=self.root, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        watch = Watch()
        try:
            page = context.new_page()
            watch.attach(page)
            if connection is not None:
                page.goto("/signin")
                page.get_by_label("Connection id").fill(connection)
                page.get_by_label("Password").fill(PASSWORDS[connection])
                page.get_by_role("button", name="Sign in").click()
                expect(page).to_have_url(re.compile(r"/orders$"))
                watch.clear()
            yield page, watch
        finally:
            context.close()

    def check(self, page: Page, watch: Watch, answer: Response | None, *, status: int = 200,
              texts: Sequence[str] = (), values: Sequence[str] = (), links: Sequence[str] = (),
              title: str | None = None) -> None:
        """Asserts what the module docstring says of every page: `texts` in the page's text, `values` among its
        form fields' values, `links` among its links' `href` attributes, `title` in its title."""
        assert answer is not None, f"no response for {page.url}"
        where = f"{answer.request.method} {page.url}"
        assert answer.status == status, f"{where} answered {answer.status}"
        found: dict[str, Any] = page.evaluate(DOM_PROBE)
        others = [seen for seen in watch.responses if seen.url != answer.url]  # its stylesheet, redirects
        problems = [f"{response.url}: {problem}" for response in [answer, *others]
                    for problem in header_problems(response.headers, self.https)]
        if found["pwned"] != "undefined":
            problems.append(f"an injected script ran: window.__pwned is a {found['pwned']}")
        problems += [f"a dialog opened: {dialog}" for dialog in watch.dialogs]
        expected = f"error: Failed to load resource: the server responded with a status of {status} "
        problems += [f"console: {message}" for message in watch.console
                     if not (status >= 400 and message.startswith(expected))]
        problems += [f"page error: {error}" for error in watch.errors]
        if found["scripts"]:
            problems.append(f"{found['scripts']} <script> element(s) in the page")
        problems += [f"event handler attribute: {handler}" for handler in found["handlers"]]
        problems += [f"injected element: {html[:160]}" for html in found["injected"]]
        problems += [f"loaded a {kind}: {url}" for kind, url in watch.requests if kind not in ALLOWED_RESOURCES]
        for kind, targets in (("link", found["links"]), ("form target", found["forms"])):
            problems += [f"{kind} {raw!r} resolves to {resolved!r}" for raw, resolved in targets
                         if urlsplit(resolved).scheme not in ("http", "https")]
        problems += [f"not shown as text: {text!r}" for text in texts if text not in found["text"]]
        problems += [f"not a form value: {value!r}" for value in values if value not in found["values"]]
        hrefs = {raw for raw, _ in found["links"]}
        problems += [f"no link to {link!r}" for link in links if link not in hrefs]
        if title is not None and title not in page.title():
            problems.append(f"{title!r} not in the title {page.title()!r}")
        assert not problems, f"{where}:\n" + "\n".join(problems)
        watch.clear()


@contextmanager
def serve(browser: Browser, public_url: str) -> Iterator[Site]:
    model, publisher = HostileReadModel(), FakePublisher()
    orders = fill(model)
    app = create_app(site_config(public_url), model, publisher, clock=lambda: later(120),
                     throttle=SignInThrottle(base_s=0.01))
    with served(app, "hostile-web") as root:
        yield Site(root, public_url.startswith("https://"), browser, orders, publisher)


@pytest.fixture(scope="module")
def site(browser: Browser) -> Iterator[Site]:
    """The app with an https `public_url` (HSTS expected; its cookies are Secure, which Chromium keeps for
    127.0.0.1 over http)."""
    with serve(browser, HTTPS_URL) as served_site:
        yield served_site


ORDER_LINES = (MUG_SKU, TEA_SKU, MUG_TITLE, TEA_TITLE)
TRACKING = (CARRIER, *NUMBERS, OLD_CARRIER, *OLD_NUMBERS)


def test_the_sellers_pages_show_hostile_data_as_text(site: Site) -> None:
    open_id, shipped_id = site.orders.open_id, site.orders.shipped_id
    with site.visit(SELLER) as (page, watch):
        site.check(page, watch, page.goto("/orders"),
                   texts=(*ORDER_LINES, ORDER_NUMBER, SHIPPED_ORDER_NUMBER), title="Open orders")
        expect(page.locator("section.order")).to_have_count(1)
        site.check(page, watch, page.goto(f"/orders?q={quote(QUERY)}"), texts=(QUERY, ORDER_NUMBER, MUG_SKU),
                   values=(QUERY,))
        address = (ADDRESS.name, CLOSE, SCRIPT, SVG, TEMPLATE, IFRAME, REGION, "javascript:alert('phone')", EMAIL,
                   STYLE)
        site.check(page, watch, page.goto(f"/orders/{open_id}"),
                   texts=(*ORDER_LINES, *address, ORDER_NUMBER, ORDER_REF, *TRACKING, LETTER, REFUSED_CARRIER,
                          REFUSED_NUMBER),
                   links=(SAFE_LINK,), title=ORDER_NUMBER)
        expect(page.locator(".fulfillment")).to_have_count(3)
        site.check(page, watch, page.goto(f"/orders/{open_id}/fulfill"), texts=(*ORDER_LINES, ORDER_NUMBER))
        site.check(page, watch, page.goto(f"/orders/{open_id}/fulfillments/web-first/edit"),
                   texts=(MUG_SKU, ORDER_NUMBER), values=(CARRIER, *NUMBERS, SAFE_LINK))
        site.check(page, watch, page.goto(f"/orders/{open_id}/fulfillments/{quote(OLD_FID, safe='')}/edit"),
                   texts=(MUG_SKU,), values=(OLD_CARRIER, *OLD_NUMBERS))
        site.check(page, watch, page.goto(f"/orders/{shipped_id}"),
                   texts=(CAP_SKU, SCRIPT, SHIPPED_ORDER_NUMBER, SHIPPED_CARRIER, SHIPPED_NUMBER),
                   title=SHIPPED_ORDER_NUMBER)
        expect(page.locator("h1")).to_contain_text("Shipped")


def test_a_refused_form_shows_what_was_typed_as_values(site: Site) -> None:
    with site.visit(SELLER) as (page, watch):
        site.check(page, watch, page.goto(f"/orders/{site.orders.open_id}/fulfill"), texts=ORDER_LINES)
        page.locator("#qty-0").fill("1")
        page.locator("#qty-1").fill("0")
        page.locator("#carrier").select_option("other")
        page.locator("#carrier_other").fill(TYPED_CARRIER)
        page.locator("#number-0").fill(TYPED_NUMBER)
        page.locator("#url-0").fill(JS_LINKS[0])
        with page.expect_response(lambda response: response.request.method == "POST") as posted:
            page.get_by_role("button", name="Record fulfillment").click()
        page.wait_for_load_state()
        site.check(page, watch, posted.value, status=400, texts=ORDER_LINES,
                   values=(TYPED_CARRIER, TYPED_NUMBER, JS_LINKS[0]))
        expect(page.locator(".error")).not_to_have_count(0)
    assert site.publisher.attempts == []


def test_the_buyers_view_shows_hostile_data_as_text(site: Site) -> None:
    open_id, shipped_id = site.orders.open_id, site.orders.shipped_id
    with site.visit(BUYER) as (page, watch):
        site.check(page, watch, page.goto("/orders"),
                   texts=(ORDER_NUMBER, SHIPPED_ORDER_NUMBER, SELLER_PARTNER, *TRACKING, SHIPPED_CARRIER,
                          SHIPPED_NUMBER),
                   links=(SAFE_LINK,))
        expect(page.get_by_role("heading", name="Your orders")).to_be_visible()
        site.check(page, watch, page.goto(f"/orders/{open_id}"), texts=(*ORDER_LINES, ORDER_NUMBER, *TRACKING),
                   links=(SAFE_LINK,), title=ORDER_NUMBER)
        expect(page.locator("address")).to_have_count(0)  # the buyer's view shows no address
        site.check(page, watch, page.goto(f"/orders/{shipped_id}"),
                   texts=(CAP_SKU, SHIPPED_ORDER_NUMBER, SHIPPED_CARRIER, SHIPPED_NUMBER))


def test_the_sign_in_page_shows_a_hostile_next_and_connection_id_as_values(site: Site) -> None:
    with site.visit(None) as (page, watch):
        site.check(page, watch, page.goto(f"/signin?next={quote(NEXT, safe='')}"), values=(NEXT,))
        page.get_by_label("Connection id").fill(BAD_CONNECTION_ID)
        page.get_by_label("Password").fill("not the password")
        with page.expect_response(lambda response: response.request.method == "POST") as posted:
            page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        site.check(page, watch, posted.value, status=401, values=(BAD_CONNECTION_ID, NEXT))


def test_no_hsts_when_the_public_url_is_http(browser: Browser) -> None:
    with serve(browser, "http://127.0.0.1") as plain, plain.visit(BUYER) as (page, watch):
        plain.check(page, watch, page.goto(f"/orders/{plain.orders.open_id}"), texts=(ORDER_NUMBER,))

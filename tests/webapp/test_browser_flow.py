"""The web app end to end in a real browser (docs/webapp.md): headless Chromium (Playwright) against
`fulfillsync web` as its own process, two `fulfillsync worker` processes on the real broker sharing the partitions,
a simulated Shopify buyer store served over HTTP and a local SMTP server.

One setup serves every test of the module (a worker start costs seconds): the buyer `northwind` (Shopify) routes
`DRAY-*` to the manual seller `dray` and `CREST-*` to the manual seller `crest`, each signing in with its own
password; dray gets new-order emails. Orders are placed on the buyer's store once both workers share the
partitions; the workers route them (buyer poll every 2 s). The tests, in order: the whole fulfillment flow in the
browser; a refused form; another seller; a POST without the CSRF token; the orders of both workers' partitions.

`FULFILLSYNC_UPDATE_SCREENSHOT=1` also writes the order page's screenshot to docs/webapp-order.png (README)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from sandbox.merchant import Merchant, PlacedOrder, StoreFulfillment
from sandbox.registry import create_store
from sandbox.server import free_port
from sandbox.settings import StoreSettings
from schemas.config_file import load_config
from schemas.ids import order_id as stored_order_id
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.orders.tables import ORDERS as ORDER_TABLE
from tests.support.browser import DEFAULT_TIMEOUT_MS, beside_playwright
from tests.support.kafka_harness import WorkerProcess, drain, reader_from_start
from tests.support.mail import Mailbox, smtp_server
from tests.support.marketplace import Store
from tests.support.stores import served
from tests.support.web import WebProcess
from webapp.auth import hash_password

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "webapp-order.png"
PHONE: ViewportSize = {"width": 430, "height": 932}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
BUYER = "northwind-shop"
DRAY, CREST = "dray-web", "crest-web"
PASSWORDS = {DRAY: "dray ships from the workshop", CREST: "crest keeps its own counsel"}
DRAY_EMAIL = "orders@dray.example"
TOKEN = "shpat_browser_flow_token"
ENV = {"BROWSER_FLOW_TOKEN": TOKEN, "BROWSER_FLOW_SESSION_SECRET": "s" * 48}
# valid UPS numbers (check digit): the form warns about numbers unlike the carrier's format
UPS = ("1Z999AA10123456784", "1Z999AA10123456793", "1Z999AA10123456800", "1Z999AA10123456819",
       "1Z999AA10123456828")
ORDERS: dict[str, tuple[str, dict[str, int]]] = {
    "main": (DRAY, {"DRAY-MUG": 3, "DRAY-CAP": 1, "HOUSE-CANDLE": 1}),  # the candle: northwind's own product
    "spare": (DRAY, {"DRAY-PEN": 1, "DRAY-BOX": 2}),
    "crest": (CREST, {"CREST-VASE": 1}),
    "third": (DRAY, {"DRAY-TEE": 1}),
    "fourth": (DRAY, {"DRAY-TEE": 2}),
}
"""The orders placed on the buyer's store: name -> (the seller it is routed to, its lines)."""


@dataclass
class Flow:
    """The running setup: the buyer's store, the workers, the web app, the mailbox, the browser and the orders."""

    buyer: Store
    names: TopicNames
    workers: tuple[WorkerProcess, WorkerProcess]
    web: WebProcess
    mailbox: Mailbox
    browser: Browser
    placed: dict[str, PlacedOrder]
    order_ids: dict[str, str]

    def url(self, path: str) -> str:
        return self.web.root + path

    def context(self, viewport: ViewportSize = DESKTOP) -> BrowserContext:
        context = self.browser.new_context(viewport=viewport, base_url=self.web.root)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        return context

    @contextmanager
    def signed_in(self, connection: str) -> Iterator[Page]:
        """A page in a browser context of its own (closed when the block ends), signed in as `connection` through
        the sign-in page, on its order list."""
        context = self.context()
        try:
            page = context.new_page()
            page.goto("/signin")
            sign_in(page, connection)
            expect(page.get_by_role("heading", name="Open orders")).to_be_visible()
            yield page
        finally:
            context.close()

    def on_buyer(self, name: str) -> list[StoreFulfillment]:
        """The active fulfillments of an order as the buyer's store shows them."""
        parcels = beside_playwright(functools.partial(self.buyer.fulfillments, self.placed[name]))
        return [item for item in parcels if not item.cancelled]

    def explain(self) -> str:
        return "\n".join(f"--- {process.log_path.name}\n{process.log_tail(40)}"
                         for process in (*self.workers, self.web))


def sign_in(page: Page, connection: str) -> None:
    page.get_by_label("Connection id").fill(connection)
    page.get_by_label("Password").fill(PASSWORDS[connection])
    page.get_by_role("button", name="Sign in").click()


def write_config(path: Path, *, prefix: str, bootstrap: str, buyer_api: str, state_dir: Path, web_port: int,
                 smtp_port: int) -> Path:
    """The configuration every process shares; only the worker's own port and state folder differ per worker."""
    def seller(connection: str, partner: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {"id": connection, "partner": partner, "role": "seller", "platform": "manual",
                "web_access": {"password_hash": f"${{BROWSER_FLOW_HASH_{partner.upper()}}}", **extra}}

    document: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": prefix, "partitions": 2},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(state_dir),
                   "broker_session_timeout": "6s"},
        "polling": {"interval": "2s", "shipped_watch": "10m"},
        "web": {"host": "127.0.0.1", "port": web_port, "public_url": f"http://127.0.0.1:{web_port}",
                "session_secret": "${BROWSER_FLOW_SESSION_SECRET}",
                "smtp": {"host": "127.0.0.1", "port": smtp_port, "from": "orders@fulfillsync.example"}},
        "connections": [
            {"id": BUYER, "partner": "northwind", "role": "buyer", "platform": "shopify", "base_url": buyer_api,
             "credentials": {"access_token": "${BROWSER_FLOW_TOKEN}"}},
            seller(DRAY, "dray", {"email": DRAY_EMAIL}),
            seller(CREST, "crest", {}),
        ],
        "routes": [{"buyer": BUYER, "seller": DRAY, "skus": ["DRAY-*"]},
                   {"buyer": BUYER, "seller": CREST, "skus": ["CREST-*"]}],
    }
    path.write_text(yaml.safe_dump(document))
    return path


def wait_until(condition: Callable[[], Any], what: str, flow: Flow | None = None, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}\n"
                                 + (flow.explain() if flow else ""))
        time.sleep(0.3)
    return result


def reload_until(page: Page, condition: Callable[[], bool], what: str, flow: Flow, timeout_s: float = 30) -> None:
    """Reload `page` (a person pressing reload: the pages use no JavaScript) until `condition()` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; the page says:\n"
                                 f"{page.locator('main').inner_text()}\n{flow.explain()}")
        time.sleep(0.5)
        page.reload()


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, browser: Browser) -> Iterator[Flow]:
    folder = tmp_path_factory.mktemp("browser-flow")
    app, base_path = create_store(StoreSettings(platform="shopify", name="northwind",
                                                credentials={"access_token": TOKEN}))
    hashes = {f"BROWSER_FLOW_HASH_{connection.split('-')[0].upper()}": hash_password(password)
              for connection, password in PASSWORDS.items()}
    with pytest.MonkeyPatch.context() as env, served(app, "northwind") as root, smtp_server() as mailbox:
        for name, value in {**ENV, **hashes}.items():
            env.setenv(name, value)  # the workers and the web process inherit them
        buyer = Store(BUYER, "shopify", root, root + base_path, app)
        prefix, web_port = f"web{uuid.uuid4().hex[:10]}", free_port()
        paths = [write_config(folder / f"worker-{n}.yaml", prefix=prefix, bootstrap=kafka_bootstrap,
                              buyer_api=buyer.base_url, state_dir=folder / f"state-{n}", web_port=web_port,
                              smtp_port=mailbox.port) for n in (1, 2)]
        config = load_config(paths[0]).config
        ensure_topics(config.kafka)
        first = WorkerProcess(paths[0], folder / "worker-1.log").start()
        second: WorkerProcess | None = None
        web: WebProcess | None = None
        try:
            second = WorkerProcess(paths[1], folder / "worker-2.log").start()
            # both ready: each has partitions assigned (2 partitions, 2 workers: one each)
            wait_until(lambda: first.http("/readyz")[0] == 200 and second.http("/readyz")[0] == 200,
                       "both workers ready after the rebalance")
            web = WebProcess(paths[0], folder / "web.log").start()
            placed = {name: beside_playwright(functools.partial(buyer.act, functools.partial(
                Merchant.place_order, lines=lines))) for name, (_, lines) in ORDERS.items()}
            order_ids = {name: stored_order_id(BUYER, placed[name].order_ref, seller)
                         for name, (seller, _) in ORDERS.items()}
            yield Flow(buyer, TopicNames(prefix), (first, second), web, mailbox, browser, placed, order_ids)
        finally:
            for process in (web, second, first):
                if process is not None and process.process is not None and process.process.poll() is None:
                    process.stop()


def fulfillment(page: Page, number: str) -> Locator:
    """The order page's block of the fulfillment carrying tracking number `number`."""
    return page.locator(".fulfillment", has_text=number)


def status_of(page: Page, number: str) -> str:
    block = fulfillment(page, number)
    return block.locator(".status").inner_text() if block.count() == 1 else ""


def test_a_manual_seller_fulfills_in_the_browser_and_the_buyers_store_follows(flow: Flow) -> None:
    order_id = flow.order_ids["main"]
    # the order was routed to dray, who gets an email with the link to the order page
    link = f"{flow.url('/orders/')}{order_id}"
    emails = wait_until(lambda: [m for m in flow.mailbox.messages if link in m.get_content()],
                        "the new-order email for the order", flow, timeout_s=40)
    [email] = emails
    assert email["To"] == DRAY_EMAIL
    assert "3 x DRAY-MUG" in email.get_content() and "HOUSE-CANDLE" not in email.get_content()
    [address] = re.findall(r"https?://\S+", email.get_content())
    assert address == link

    # dray opens the link on a phone: signs in first, then lands on the order
    context = flow.context(PHONE)
    try:
        page = context.new_page()
        page.goto(address)
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        sign_in(page, DRAY)
        expect(page).to_have_url(link)
        expect(page.locator("h1")).to_contain_text("Open")
        expect(page.locator("table.lines")).to_contain_text("DRAY-MUG")
        expect(page.locator("table.lines")).not_to_contain_text("HOUSE-CANDLE")
        expect(page.locator("address")).to_contain_text("Ada Buyer")

        # a partial fulfillment: 2 of the 3 mugs, two parcels with a tracking number each
        page.get_by_role("link", name="Record a fulfillment").click()
        expect(page.locator("#qty-0")).to_have_value("3")  # what remains
        page.locator("#qty-0").fill("2")
        page.locator("#qty-1").fill("0")
        page.locator("#carrier").select_option("UPS")
        page.locator("#number-0").fill(UPS[0])
        page.locator("#number-1").fill(UPS[1])
        page.get_by_role("button", name="Record fulfillment").click()
        expect(page.get_by_role("status")).to_contain_text("Fulfillment sent")
        expect(fulfillment(page, UPS[0])).to_contain_text(UPS[1])
        reload_until(page, lambda: status_of(page, UPS[0]) == "sent to the buyer",
                     "the partial fulfillment on the buyer's store", flow)
        expect(page.locator("h1")).to_contain_text("Partly shipped")
        [partial] = flow.on_buyer("main")
        assert set(partial.numbers) == {UPS[0], UPS[1]}
        assert partial.lines == {"DRAY-MUG": 2}

        # the rest: the last mug and the cap, in one parcel
        page.get_by_role("link", name="Record a fulfillment").click()
        expect(page.locator("#qty-0")).to_have_value("1")
        expect(page.locator("#qty-1")).to_have_value("1")
        page.locator("#carrier").select_option("UPS")
        page.locator("#number-0").fill(UPS[2])
        page.get_by_role("button", name="Record fulfillment").click()
        reload_until(page, lambda: status_of(page, UPS[2]) == "sent to the buyer",
                     "the second fulfillment on the buyer's store", flow)
        expect(page.locator("h1")).to_contain_text("Shipped")
        expect(page.get_by_role("link", name="Record a fulfillment")).to_have_count(0)
        on_buyer = flow.on_buyer("main")
        assert sorted(sorted(item.numbers) for item in on_buyer) == [sorted(UPS[:2]), [UPS[2]]]
        page.goto(link)  # the page as it stands, without the "sent" notice
        expect(page.locator(".timeline")).to_contain_text("shipped")
        shot = flow.web.log_path.parent / "webapp-order.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("FULFILLSYNC_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, SCREENSHOT)

        # dray corrects the second parcel's tracking number in place
        fulfillment(page, UPS[0]).get_by_role("link", name="Edit tracking").click()
        expect(page.locator("#number-1")).to_have_value(UPS[1])
        page.locator("#number-1").fill(UPS[4])
        page.get_by_role("button", name="Save tracking").click()
        reload_until(page, lambda: status_of(page, UPS[4]) == "sent to the buyer" and not fulfillment(page, UPS[1])
                     .count(), "the corrected tracking number on the order page", flow)
        wait_until(lambda: {n for item in flow.on_buyer("main") for n in item.numbers} == {UPS[0], UPS[4], UPS[2]},
                   "the corrected tracking number on the buyer's store", flow)
        assert len(flow.on_buyer("main")) == 2  # corrected in place, not added
        expect(page.locator("h1")).to_contain_text("Shipped")
        expect(page.locator(".timeline")).to_contain_text("tracking updated")
    finally:
        context.close()


def test_a_refused_form_says_why_next_to_the_field(flow: Flow) -> None:
    order_id = flow.order_ids["spare"]
    with flow.signed_in(DRAY) as page:
        page.goto(f"/orders/{order_id}/fulfill")
        page.locator("#qty-0").fill("5")  # 1 DRAY-PEN was ordered
        page.locator("#carrier").select_option("UPS")
        page.locator("#number-0").fill(UPS[3])
        with page.expect_response(lambda response: response.request.method == "POST") as posted:
            page.get_by_role("button", name="Record fulfillment").click()
        assert posted.value.status == 400
        field = page.locator(".field", has=page.locator("#qty-0"))
        expect(field.locator(".error")).to_have_text("Only 1 unit of DRAY-PEN remain to ship.")
        expect(page.locator("#qty-0")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#qty-0")).to_have_value("5")  # what was typed stays
        expect(page.locator("#number-0")).to_have_value(UPS[3])

        # several tracking numbers for a single unit
        page.locator("#qty-0").fill("1")
        page.locator("#qty-1").fill("0")
        page.locator("#number-1").fill(UPS[4])
        page.get_by_role("button", name="Record fulfillment").click()
        row = page.locator(".field", has=page.locator("#number-0"))
        expect(row.locator(".error")).to_contain_text("2 tracking numbers for 1 unit")

        page.goto(f"/orders/{order_id}")
        expect(page.locator("main")).to_contain_text("No fulfillments yet.")
        assert flow.on_buyer("spare") == []


def test_another_seller_cannot_see_the_order(flow: Flow) -> None:
    order_id = flow.order_ids["main"]
    with flow.signed_in(CREST) as page:
        expect(page.locator(f'a[href="/orders/{flow.order_ids["crest"]}"]')).to_have_count(1)
        expect(page.locator(f'a[href="/orders/{order_id}"]')).to_have_count(0)
        missing = page.goto(f"/orders/{uuid.uuid4()}")
        assert missing is not None and missing.status == 404
        missing_text = page.locator("main").inner_text()
        for path in (f"/orders/{order_id}", f"/orders/{order_id}/fulfill"):
            answer = page.goto(path)
            assert answer is not None and answer.status == 404, path
            assert page.locator("main").inner_text() == missing_text, path
        expect(page.locator("main")).not_to_contain_text("DRAY")


def test_a_post_without_the_csrf_token_is_refused(flow: Flow) -> None:
    order_id = flow.order_ids["spare"]
    with flow.signed_in(DRAY) as page:
        form = {"qty-0": "1", "qty-1": "0", "carrier": "UPS", "number-0": UPS[3]}
        for forged in ({}, {"csrf": "forged"}):
            answer = page.context.request.post(f"/orders/{order_id}/fulfill", form={**form, **forged}, max_redirects=0)
            assert answer.status == 403, (forged, answer.status, answer.text()[:300])
        # the session cookie went with them (the same form with the page's token and form key is accepted)
        page.goto(f"/orders/{order_id}/fulfill")
        token = page.locator('input[name="csrf"]').first.get_attribute("value") or ""
        key = page.locator('input[name="form_key"]').get_attribute("value") or ""
        answer = page.context.request.post(f"/orders/{order_id}/fulfill", form={**form, "csrf": token, "form_key": key},
                                           max_redirects=0)
        assert answer.status == 303, answer.text()[:300]
        page.goto(f"/orders/{order_id}")
        expect(page.locator(".fulfillment")).to_have_count(1)


def test_orders_applied_by_either_worker_show_in_the_web_app(flow: Flow) -> None:
    # which partition (and so which worker) each order's state lives in, from the order table's changelog
    changelog = reader_from_start(flow.workers[0].config.kafka.bootstrap_servers,
                                  (ORDER_TABLE.changelog(flow.names.app_id),))
    partitions: dict[str, int] = {}
    try:
        wanted = set(flow.order_ids.values())

        def read() -> bool:
            for record in drain(changelog, 0.5):
                if record.key() is not None:
                    partitions[record.key().decode()] = record.partition()
            return wanted <= set(partitions)

        wait_until(read, "every order in the order table", flow)
    finally:
        changelog.close()
    dray = {name: order_id for name, order_id in flow.order_ids.items() if ORDERS[name][0] == DRAY}
    assert {partitions[order_id] for order_id in dray.values()} == {0, 1}, partitions
    applied = [worker.metric('fulfillsync_ledger_inputs_total{status="applied",type="order.placed"}')
               for worker in flow.workers]
    assert all(count >= 1 for count in applied), "each worker applied orders: " + "\n".join(
        line for worker in flow.workers for line in worker.http("/metrics")[1].splitlines() if "ledger" in line)

    with flow.signed_in(DRAY) as page:
        for name, order_id in dray.items():
            expect(page.locator(f'a[href="/orders/{order_id}"]')).to_have_count(1)
            page.goto(f"/orders/{order_id}")
            skus = [sku for sku in ORDERS[name][1] if sku.startswith("DRAY-")]
            expect(page.locator("table.lines tbody tr")).to_have_count(len(skus))
            for sku in skus:
                expect(page.locator("table.lines")).to_contain_text(sku)
            page.goto("/orders")

"""The broker going away while orders flow through every agent and the web app publishes (docs/reliability.md,
"Broker outage"), on a broker of the test's own that it stops and starts again.

The marketplace of tests/support/marketplace.py: a Shopify buyer, sellers on all four platforms and a manual seller
whose fulfillments come from the web app's publisher (`webapp.publisher.KafkaPublisher`, what the fulfillment form
calls); `fulfillsync worker` as its own process, polling every 2 s. Each outage goes the same way: orders are placed
and created on every seller's store; the broker stops; while it is down the sellers fulfill those orders, the
platforms that send webhooks send them, new orders are placed, and the web app records a manual fulfillment at the
start of the outage and another shortly before its end; the broker starts again and the rest of the orders are
fulfilled. The test is the worker's supervisor: a worker that exited is started again once the broker answers, as
Kubernetes would.

1. A 30 s outage, shorter than the worker's delivery timeout (the default 2 minutes): the worker rides it out and
   never exits.
2. A 30 s outage with the worker's delivery timeout at 10 s and the web app's at 15 s: longer than every producer
   timeout. The worker stops (non-zero, its log saying which record was not delivered) and is started again.

Afterwards every order has exactly its fulfillments on the buyer's store (each tracking number once), one Shipped
event id per order, no dead letter; the worker's log did not flood during the outage; a web-app fulfillment
answered "not recorded" had not landed (checked before the seller sends the form again, which then records it
once).
"""

from __future__ import annotations

import functools
import re
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from fulfillsync.localkafka.broker import LocalBroker
from sandbox.merchant import Merchant, PlacedOrder
from sandbox.settings import SandboxPlatform
from schemas.events import FulfilledLine, FulfillmentRecorded, SourceRef
from schemas.factories import fulfillment_recorded
from tests.support.kafka_harness import port_below_ephemeral_range
from tests.support.marketplace import PLATFORMS, Marketplace, buyer_id, marketplace, seller_id, signed_delivery, sku
from webapp.publisher import PAGE_WAIT_S, KafkaPublisher

pytestmark = pytest.mark.kafka
T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
BUYER: SandboxPlatform = "shopify"
WEBHOOK_SELLERS: tuple[SandboxPlatform, ...] = ("shopify", "bigcommerce", "woocommerce")
HAND = SourceRef(partner="hand", connection="s-hand", platform="manual")
HAND_SKU = "HAND-MUG"
OUTAGE_S = 30.0
SHORT_DELIVERY_TIMEOUT = "10s"
LATE_WEB_PUBLISH_S = 8.0
"""The second web-app fulfillment is sent this long before the broker is started again."""
STOP_REASON = re.compile(r"CRITICAL.*(not delivered|still fails after)")
"""The critical line a worker logs when it stops for a failed delivery or a transient error that did not pass."""
MAX_LOG_LINES = 500
"""The most the worker may log during a 30 s outage (tracebacks included)."""
CONVERGE_S = 180.0
"""How long the orders may take to reach the buyer's store once the broker is back (worker restarts included)."""


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker only this test uses, so it can stop it; the jars of the suite's broker are reused when present."""
    home = tmp_path / "broker"
    home.mkdir()
    jars = REPO / ".fulfillsync" / "test-kafka" / "libs"
    if jars.is_dir():
        (home / "libs").symlink_to(jars)
    broker = LocalBroker(home=home, port=port_below_ephemeral_range(), controller_port=port_below_ephemeral_range(),
                         heap="384m")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(home / "data", ignore_errors=True)


def with_manual_seller(document: dict[str, Any]) -> None:
    """The marketplace's configuration plus the web app's seller, `HAND-*` routed to it."""
    document["connections"].append({"id": HAND.connection, "partner": HAND.partner, "role": "seller",
                                    "platform": "manual"})
    document["routes"].append({"buyer": buyer_id(BUYER), "seller": HAND.connection, "skus": ["HAND-*"]})


@dataclass
class Sent:
    """A manual fulfillment the web app sent, and what it answered."""

    event: FulfillmentRecorded
    answer: Future[None]

    def recorded(self) -> bool:
        return self.answer.exception() is None


@dataclass
class Outage:
    """One outage's orders and what became of them."""

    market: Marketplace
    broker: LocalBroker
    publisher: KafkaPublisher
    label: str
    tracking: dict[str, list[str]] = field(default_factory=dict)
    """Our order id -> the tracking numbers its seller shipped."""
    exits: list[int] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    serial: int = 0
    reasons_said: int = 0
    logged_during: int = 0
    """Lines the worker logged while the broker was away."""
    """How many times the worker's log said why it stopped, at the last exit."""

    def number(self) -> str:
        self.serial += 1
        return f"1Z{self.label}{self.serial:011d}".upper()[:18]

    def place(self, item: str) -> PlacedOrder:
        return self.market.buyers[BUYER].act(functools.partial(Merchant.place_order, lines={item: 1}))

    def wait(self, condition: Callable[[], T | None], what: str) -> T:
        """`Marketplace.wait_for`, starting the worker again whenever it exited."""
        def supervised() -> T | None:
            self.supervise()
            return condition()

        return self.market.wait_for(supervised, f"outage {self.label}: {what}", CONVERGE_S)

    def routed(self, order: PlacedOrder, seller: str) -> str:
        return self.wait(lambda: self.market.topics.order_id(buyer_id(BUYER), order.order_ref, seller),
                         f"order {order.order_ref} routed to {seller}")

    def on_seller(self, platform: SandboxPlatform, order_id: str) -> PlacedOrder:
        store = self.market.sellers[platform]
        return self.wait(lambda: store.act(lambda merchant: merchant.find_order(order_id)),
                         f"order {order_id} on {store.connection}")

    def placed_everywhere(self, manual: int = 1) -> dict[str, tuple[SandboxPlatform | None, PlacedOrder]]:
        """An order for each seller and `manual` for the manual seller, not yet routed."""
        orders: dict[str, tuple[SandboxPlatform | None, PlacedOrder]] = {
            platform: (platform, self.place(sku(platform, "MUG"))) for platform in PLATFORMS}
        for n in range(manual):
            orders[f"hand-{n}"] = (None, self.place(HAND_SKU))
        return orders

    def routed_all(self, orders: dict[str, tuple[SandboxPlatform | None, PlacedOrder]]) -> dict[str, str]:
        """Our order id of each of `orders`, once routed (and created on its seller's store)."""
        ids = {}
        for name, (seller, order) in orders.items():
            ids[name] = self.routed(order, HAND.connection if seller is None else seller_id(seller))
            if seller is not None:
                self.on_seller(seller, ids[name])
        return ids

    def fulfill_on_seller(self, platform: SandboxPlatform, order_id: str, *, webhook: bool) -> None:
        store = self.market.sellers[platform]
        on_seller = self.on_seller(platform, order_id)
        number = self.number()
        ref = store.act(lambda merchant: merchant.fulfill(on_seller, {sku(platform, "MUG"): 1}, [number], "UPS"))
        self.tracking[order_id] = [number]
        if webhook and platform in WEBHOOK_SELLERS:
            headers, body = signed_delivery(store, on_seller, ref)
            httpx.post(self.market.webhook_url(store.connection), content=body, headers=headers, timeout=5)

    def send_manual(self, pool: ThreadPoolExecutor, order_id: str) -> Sent:
        """The web app records the manual seller's fulfillment of `order_id` (in a thread: the publisher blocks)."""
        number = self.number()
        placed = self.market.topics.of(self.market.names.order_events, order_id, "order.placed")[0]
        line = placed["lines"][0]
        event = fulfillment_recorded(
            order_id=order_id, source=HAND, fulfillment_id=f"web-{order_id}", source_version=datetime.now(UTC),
            lines=[FulfilledLine(line_id=line["line_id"], sku=line["sku"], quantity=line["quantity"])],
            carrier="UPS", tracking_numbers=[number])
        self.tracking[order_id] = [number]
        sent = Sent(event, pool.submit(self.publisher.publish, event))
        self.sent.append(sent)
        return sent

    def supervise(self) -> None:
        """Start the worker again if it exited (its exit status noted) and the broker is up, as Kubernetes would
        (where a worker started while the broker is away would only crash again)."""
        process = self.market.worker.process
        if process is not None and process.poll() is not None and self.broker.pid() is not None:
            self.exits.append(int(process.returncode))
            log = self.market.worker.log_path.read_text(errors="replace")
            said = len(re.findall(STOP_REASON, log))
            assert process.returncode != 0, f"the worker exited 0 during an outage:\n{self.market.worker.log_tail()}"
            assert said > self.reasons_said, f"the worker exited without saying why:\n{self.market.worker.log_tail()}"
            self.reasons_said = said
            self.market.restart()

    def log_lines(self) -> int:
        return len(self.market.worker.log_path.read_text(errors="replace").splitlines())

    def on_buyer(self, order: PlacedOrder) -> list[str]:
        fulfillments = self.market.buyers[BUYER].fulfillments(order)
        return sorted(number for item in fulfillments if not item.cancelled for number in item.numbers)

    def run(self) -> dict[str, PlacedOrder]:
        """The outage (see the module docstring); returns our order id -> the buyer's order, for every order."""
        market = self.market
        before = self.placed_everywhere(manual=2)
        ids = self.routed_all(before)
        with ThreadPoolExecutor(max_workers=2) as pool:
            lines_before = self.log_lines()
            stopped_at = time.monotonic()
            self.broker.stop()
            early = self.send_manual(pool, ids["hand-0"])
            for name, (seller, _) in before.items():
                if seller is not None:
                    self.fulfill_on_seller(seller, ids[name], webhook=True)
            during = self.placed_everywhere()
            time.sleep(max(0.0, OUTAGE_S - LATE_WEB_PUBLISH_S - (time.monotonic() - stopped_at)))
            self.send_manual(pool, ids["hand-1"])
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
            self.broker.start()
            self.logged_during = self.log_lines() - lines_before
        assert early.answer.exception() is not None, (
            "the web app answered 'recorded' for a fulfillment sent as the broker stopped")

        # "not recorded" must not land later (librdkafka gave up on it): read what the topic holds by now
        market.topics.read(5.0)
        landed = {value["event_id"] for value in market.topics.of(market.names.fulfillment_events)}
        for sent in self.sent:
            assert (sent.event.event_id in landed) == sent.recorded(), (
                f"the web app answered {'recorded' if sent.recorded() else 'not recorded'} for {sent.event.event_id}"
                f" and it {'did not land' if sent.recorded() else 'landed later'}")
            if not sent.recorded():
                self.publisher.publish(sent.event)  # the seller sends the form again: the same event

        during_ids = {f"{name}-during": order_id for name, order_id in self.routed_all(during).items()}
        with ThreadPoolExecutor(max_workers=1) as pool:
            for name, (seller, _) in during.items():
                if seller is None:
                    self.send_manual(pool, during_ids[f"{name}-during"]).answer.result(PAGE_WAIT_S + 5)
                else:
                    self.fulfill_on_seller(seller, during_ids[f"{name}-during"], webhook=False)
        orders = {ids[name]: order for name, (_, order) in before.items()}
        orders |= {during_ids[f"{name}-during"]: order for name, (_, order) in during.items()}
        for order_id, order in orders.items():
            expected = sorted(self.tracking[order_id])
            self.wait(lambda o=order, e=expected: self.on_buyer(o) == e,  # type: ignore[misc]
                      f"order {order_id}'s fulfillment on the buyer's store")
        return orders


def shipped_ids_by_order(market: Marketplace) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for value in market.topics.of(market.names.shipped_orders, kind="order.shipped"):
        ids.setdefault(value["order_id"], set()).add(value["event_id"])
    return ids


def short_delivery_timeout(market: Marketplace) -> None:
    """Restart the worker with its delivery timeout at `SHORT_DELIVERY_TIMEOUT`."""
    assert market.worker.stop() == 0, market.worker.log_tail()
    document = yaml.safe_load(market.config_path.read_text())
    document["worker"]["delivery_timeout"] = SHORT_DELIVERY_TIMEOUT
    market.config_path.write_text(yaml.safe_dump(document))
    market.restart()


def test_broker_outages_lose_nothing_and_double_nothing(tmp_path: Path, own_broker: LocalBroker) -> None:
    with marketplace(tmp_path, own_broker.bootstrap, interval="2s", buyers=(BUYER,), sellers=PLATFORMS,
                     customize=with_manual_seller) as market:
        publisher = KafkaPublisher(own_broker.bootstrap, market.names)
        ridden = Outage(market, own_broker, publisher, "a")
        orders = ridden.run()
        assert ridden.exits == [], f"the worker exited during an outage shorter than its delivery timeout: " \
                                   f"{ridden.exits}\n{market.worker.log_tail(120)}"

        # repeated lines are held back (streams/kit/log_throttle.py): about a hundred, against thousands without
        assert ridden.logged_during < MAX_LOG_LINES, f"{ridden.logged_during} log lines in a {OUTAGE_S:.0f} s outage"
        short_delivery_timeout(market)
        longer = Outage(market, own_broker, publisher, "b")
        orders |= longer.run()
        # the poll ticks the worker sends during the outage outlive its 10 s delivery timeout: it stops, saying so
        assert longer.exits, f"the worker rode out an outage longer than its delivery timeout:\n" \
                             f"{market.worker.log_tail(60)}"

        market.topics.read(6.0)  # a doubled write or a second Shipped would show by now
        tracking = ridden.tracking | longer.tracking
        for order_id, order in orders.items():
            assert ridden.on_buyer(order) == sorted(tracking[order_id]), order_id
        shipped = shipped_ids_by_order(market)
        assert {order_id: len(shipped.get(order_id, ())) for order_id in orders} == dict.fromkeys(orders, 1)
        dead = market.topics.of(market.names.dead_letters)
        assert dead == [], [(value.get("reason"), value.get("detail")) for value in dead]

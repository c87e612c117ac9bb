"""The merchants' side of `fulfillsync demo`: customers order on the buyers' stores, sellers ship, edit and cancel
on theirs, through `sandbox.merchant.Merchant` over HTTP. fulfillsync (the worker) does everything in between.

First every store seller's catalog is stocked (`demo_setup.CATALOGS`: products with wholesale prices and
`CATALOG_STOCK` units each): fulfillsync links each line of the orders it creates to the seller's product, so the
seller's inventory goes down as orders arrive and `seller_summary` shows it with each seller order's worth.

The scenarios (run side by side; each says what it does and waits, with a time limit, for fulfillsync's answer):
1. northwind (Shopify) orders 3 mugs and a tee from acme (BigCommerce) plus a candle of its own: acme ships 2 mugs
   (partial), then the last mug and the tee with two tracking numbers: shipped;
2. northwind orders 2 lamps from bolt (Magento 2) and a cap from acme, one buyer order split between two sellers:
   bolt ships both lamps with two tracking numbers; acme ships the cap and then corrects its tracking number
   (a tracking edit): both shipped, the buyer's store showing the corrected number;
3. corner (WooCommerce) orders 2 socks from cobalt (Shopify) plus a bag of its own: cobalt ships them, cancels
   that fulfillment (wrong parcel) and ships them again: shipped, the buyer's store showing the new tracking only;
4. corner orders 4 hats from cobalt: cobalt ships 1: partially fulfilled;
5. northwind orders a vase from bolt plus 2 cards of its own, then the customer cancels the order before it ships:
   cancelled;
6. northwind orders 2 bowls from dray, a seller without a store (`manual`): the order waits in the web app, where
   the script, signed in as dray, sees it; a person fulfills it there in the browser.

A wait that runs out says what it was waiting for and the scenario goes on (or stops when the seller's order
never appeared); the summary then shows where each order stands against what was intended.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from fulfillsync.demo_setup import (
    ACME,
    BOLT,
    CATALOG_STOCK,
    CATALOGS,
    COBALT,
    CORNER,
    DRAY,
    NORTHWIND,
    STORE_CAST,
    Party,
)
from fulfillsync.timeline import Intent, OrderStory, Timeline
from sandbox.merchant import Merchant, MerchantError, PlacedOrder
from schemas.ids import order_id as stored_order_id

Say = Callable[[str, str], None]
"""Prints one line: a marker (`=>` the merchants act, `..` waiting) and the text."""

@dataclass
class WebApp:
    """The demo's web app as its manual seller sees it: `http` reaches its root and keeps the session cookie."""

    url: str
    connection: str
    password: str
    http: httpx.AsyncClient
    signed_in: bool = False

    async def shows(self, order_id: str) -> bool:
        """Whether the seller, signed in, can open the order's page (404 until the web app's read model has the
        order; no answer or a failed sign-in: False)."""
        if not self.signed_in:
            page = await self.http.get("/signin")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            answer = await self.http.post("/signin", data={
                "csrf": token.group(1) if token else "", "connection_id": self.connection,
                "password": self.password, "next": ""})
            self.signed_in = answer.status_code == 303
        return self.signed_in and (await self.http.get(f"/orders/{order_id}")).status_code == 200

    def where(self, order_id: str) -> str:
        return f"{self.url}/orders/{order_id} (sign in as {self.connection}, password {self.password})"


@dataclass(frozen=True)
class BuyerOrder:
    """An order placed on a buyer's store by the script."""

    buyer: Party
    placed: PlacedOrder


@dataclass
class Stage:
    """What the scenarios share: a merchant per partner, the timeline, the intents and the time limits.

    `step_timeout_s` bounds each wait; `deadline` (time.monotonic()) bounds the whole script; `slow_after_s` is
    when a wait says it is still waiting."""

    http: dict[str, httpx.AsyncClient]  # partner -> a client of its store's root
    web: WebApp
    timeline: Timeline
    say: Say
    step_timeout_s: float
    slow_after_s: float
    deadline: float
    intents: dict[str, Intent] = field(default_factory=dict)
    buyer_orders: list[BuyerOrder] = field(default_factory=list)
    seller_orders: dict[str, tuple[Party, PlacedOrder]] = field(default_factory=dict)
    merchants: dict[str, Merchant] = field(init=False)

    def __post_init__(self) -> None:
        parties = {party.partner: party for party in STORE_CAST}
        self.merchants = {partner: Merchant(parties[partner].store_platform, http)
                          for partner, http in self.http.items()}

    # -- the buyers' side -------------------------------------------------------------------------------------

    async def place(self, buyer: Party, lines: dict[str, int], what: str) -> PlacedOrder:
        """A customer order on `buyer`'s store, remembered for the buyer view."""
        self.say("=>", f"{buyer.partner}: a customer orders {what}")
        placed = await self.merchants[buyer.partner].place_order(lines)
        self.buyer_orders.append(BuyerOrder(buyer, placed))
        return placed

    async def dropship(self, buyer: Party, lines: dict[str, int], what: str, seller: Party,
                       intent: Intent) -> tuple[PlacedOrder, str, PlacedOrder | None]:
        """Place an order whose dropship lines all go to `seller`: the buyer's order, our order id, and the
        seller's order once fulfillsync created it (None when it did not appear in time)."""
        placed = await self.place(buyer, lines, what)
        order_id = self.intend(buyer, placed, seller, intent)
        return placed, order_id, await self.seller_order(seller, order_id)

    def intend(self, buyer: Party, placed: PlacedOrder, seller: Party, intent: Intent) -> str:
        """Record where the stored order of `placed` for `seller` should end up; returns its order id."""
        order_id = stored_order_id(buyer.connection, placed.order_ref, seller.connection)
        self.intents[order_id] = intent
        return order_id

    # -- the sellers' side ------------------------------------------------------------------------------------

    def name(self, order_id: str) -> str:
        story = self.timeline.orders.get(order_id)
        return story.name if story is not None else f"order {order_id[:8]}"

    def story(self, order_id: str) -> OrderStory | None:
        return self.timeline.orders.get(order_id)

    def about(self, order_id: str, check: Callable[[OrderStory], bool]) -> Callable[[], bool]:
        """`check` of the order's story; false while the timeline does not know the order."""
        return lambda: (story := self.story(order_id)) is not None and check(story)

    async def seller_order(self, seller: Party, order_id: str) -> PlacedOrder | None:
        """The order fulfillsync created on `seller`'s store for `order_id`, once it exists; None when it did not
        appear in time (said)."""
        if not await self.wait_for(f"the order on {seller.partner}'s store",
                                   self.about(order_id, lambda story: story.seller_ref is not None)):
            return None
        found: PlacedOrder | None = None

        async def find() -> bool:
            nonlocal found
            found = await self.merchants[seller.partner].find_order(order_id)
            return found is not None

        await self.wait_async(f"{seller.partner} to find the order by our reference", find)
        if found is not None:
            self.seller_orders[order_id] = (seller, found)
        return found

    async def fulfill(self, seller: Party, order: PlacedOrder, lines: dict[str, int], numbers: Sequence[str],
                     carrier: str, order_id: str, what: str) -> str | None:
        """The seller ships `lines`; returns the fulfillment's ref, or None when the store refused (said)."""
        self.say("=>", f"{self.name(order_id)}: {seller.partner} {what} ({carrier} {', '.join(numbers)})")
        try:
            return await self.merchants[seller.partner].fulfill(order, lines, numbers, carrier)
        except (MerchantError, httpx.HTTPError) as error:
            self.say("!!", f"{seller.partner}'s store refused: {error}")
            return None

    async def act(self, what: str, action: Awaitable[object]) -> bool:
        """Do one merchant action, saying `what`; False when the store refused (said)."""
        self.say("=>", what)
        try:
            await action
        except (MerchantError, httpx.HTTPError) as error:
            self.say("!!", f"refused: {error}")
            return False
        return True

    # -- waiting ----------------------------------------------------------------------------------------------

    async def wait_for(self, what: str, check: Callable[[], bool]) -> bool:
        """Wait until `check()` (looked at every 0.25 s); see `wait_async`."""
        async def checked() -> bool:
            return check()

        return await self.wait_async(what, checked, every_s=0.25)

    async def wait_async(self, what: str, check: Callable[[], Awaitable[bool]], every_s: float = 1.0) -> bool:
        """Wait until `check()` is true, at most `step_timeout_s` and not past the deadline. Says "still waiting
        for <what>" once after `slow_after_s`, and "gave up waiting" when the time runs out (returns False)."""
        start = time.monotonic()
        limit = min(start + self.step_timeout_s, self.deadline)
        warned = False
        while True:
            try:
                if await check():
                    return True
            except (MerchantError, httpx.HTTPError) as error:
                self.say("!!", f"while waiting for {what}: {error}")
            now = time.monotonic()
            if now >= limit:
                why = "the demo's --duration is over" if limit == self.deadline else "--step-timeout"
                self.say("..", f"gave up waiting for {what} after {now - start:.0f}s ({why})")
                return False
            if not warned and now - start >= self.slow_after_s:
                self.say("..", f"still waiting for {what} ({now - start:.0f}s so far)")
                warned = True
            await asyncio.sleep(every_s)

    async def until_reached(self, order_id: str) -> bool:
        intent = self.intents[order_id]
        return await self.wait_for(f"{self.name(order_id)} to be {intent}"
                                   f"{'' if intent == 'cancelled' else ' on the buyer’s store'}",
                                   self.about(order_id, lambda story: story.reached(intent)))

    async def until_buyer_shows(self, order_id: str, what: str) -> bool:
        """Until the buyer's store shows exactly the seller's active tracking numbers of the order."""
        return await self.wait_for(f"{what} to reach the buyer's store ({self.name(order_id)})",
                                   self.about(order_id, lambda story: story.buyer_in_sync))


# -- the scenarios --------------------------------------------------------------------------------------------


async def partial_then_complete(stage: Stage) -> None:
    _, order_id, order = await stage.dropship(
        NORTHWIND, {"ACME-MUG": 3, "ACME-TEE": 1, "HOUSE-CANDLE": 1},
        "3 ACME-MUG and 1 ACME-TEE (acme's) and 1 HOUSE-CANDLE (northwind's own)", ACME, "shipped")
    if order is None:
        return
    await stage.fulfill(ACME, order, {"ACME-MUG": 2}, ["1Z999AA10123456784"], "UPS", order_id, "ships 2 of the 3 mugs")
    await stage.until_buyer_shows(order_id, "the partial fulfillment")
    await stage.fulfill(ACME, order, {"ACME-MUG": 1, "ACME-TEE": 1}, ["1Z999AA10123456795", "1Z999AA10123456808"],
                       "UPS", order_id, "ships the last mug and the tee, two parcels")
    await stage.until_reached(order_id)


async def split_between_sellers(stage: Stage) -> None:
    placed = await stage.place(NORTHWIND, {"BOLT-LAMP": 2, "ACME-CAP": 1},
                               "2 BOLT-LAMP (bolt's) and 1 ACME-CAP (acme's): one order, two sellers")
    lamps = stage.intend(NORTHWIND, placed, BOLT, "shipped")
    cap = stage.intend(NORTHWIND, placed, ACME, "shipped")

    async def bolt_ships() -> None:
        order = await stage.seller_order(BOLT, lamps)
        if order is not None:
            await stage.fulfill(BOLT, order, {"BOLT-LAMP": 2}, ["9400111899223817392648", "9400111899223817392655"],
                               "USPS", lamps, "ships both lamps, one tracking number each")
            await stage.until_reached(lamps)

    async def acme_ships_then_corrects() -> None:
        order = await stage.seller_order(ACME, cap)
        if order is None:
            return
        ref = await stage.fulfill(ACME, order, {"ACME-CAP": 1}, ["794612345670"], "FedEx", cap, "ships the cap")
        if ref is None:
            return
        await stage.until_buyer_shows(cap, "the cap's tracking")
        await stage.act(f"{stage.name(cap)}: acme corrects the tracking number to 794612345692",
                        stage.merchants[ACME.partner].edit_tracking(order, ref, ["794612345692"], "FedEx"))
        await stage.until_reached(cap)

    await asyncio.gather(bolt_ships(), acme_ships_then_corrects())


async def cancel_and_refulfill(stage: Stage) -> None:
    _, order_id, order = await stage.dropship(
        CORNER, {"COBALT-SOCK": 2, "HOUSE-BAG": 1}, "2 COBALT-SOCK (cobalt's) and 1 HOUSE-BAG (corner's own)",
        COBALT, "shipped")
    if order is None:
        return
    ref = await stage.fulfill(COBALT, order, {"COBALT-SOCK": 2}, ["JD014600006281230458"], "DHL Express", order_id,
                             "ships the socks")
    if ref is None:
        return
    await stage.wait_for(f"{stage.name(order_id)} to be shipped and on the buyer's store",
                         stage.about(order_id, lambda story: story.reached("shipped")))
    await stage.act(f"{stage.name(order_id)}: cobalt cancels that fulfillment (wrong parcel)",
                    stage.merchants[COBALT.partner].cancel_fulfillment(order, ref))
    await stage.wait_for(f"the cancellation to reach the buyer's store ({stage.name(order_id)})",
                         stage.about(order_id, lambda story: not story.shipped and not story.buyer_numbers()))
    await stage.fulfill(COBALT, order, {"COBALT-SOCK": 2}, ["JD014600006281230999"], "DHL Express", order_id,
                       "ships the socks again")
    await stage.until_reached(order_id)


async def partial_stays(stage: Stage) -> None:
    _, order_id, order = await stage.dropship(CORNER, {"COBALT-HAT": 4}, "4 COBALT-HAT (cobalt's)", COBALT,
                                              "partial")
    if order is not None:
        await stage.fulfill(COBALT, order, {"COBALT-HAT": 1}, ["1Z999AA10123456819"], "UPS", order_id,
                           "ships 1 of the 4 hats; the rest is back-ordered")
        await stage.until_reached(order_id)


async def buyer_cancels(stage: Stage) -> None:
    placed, order_id, order = await stage.dropship(
        NORTHWIND, {"BOLT-VASE": 1, "HOUSE-CARD": 2}, "1 BOLT-VASE (bolt's) and 2 HOUSE-CARD (northwind's own)", BOLT,
        "cancelled")
    if order is None:
        return
    await stage.act(f"{stage.name(order_id)}: the customer cancels the whole order on northwind's store",
                    stage.merchants[NORTHWIND.partner].cancel_order(placed))
    if not await stage.wait_for(f"fulfillsync to see the cancellation ({stage.name(order_id)})",
                                stage.about(order_id, lambda story: story.whole_order_cancelled)):
        return

    async def cancelled_on_seller() -> bool:
        cancelled = looks_cancelled(await stage.merchants[BOLT.partner].order(order))
        for happening in stage.timeline.seller_view(order_id, cancelled=cancelled):
            stage.say("<=", Timeline.line(happening))
        return cancelled

    if await stage.wait_async(f"bolt's store to show {stage.name(order_id)} cancelled", cancelled_on_seller):
        await stage.until_reached(order_id)


def looks_cancelled(order: dict[str, Any]) -> bool:
    """Whether a store's raw admin view of an order says it is cancelled (Magento `state`, WooCommerce `status`,
    Shopify `cancelled`, BigCommerce `status_id` 5)."""
    words = {str(order.get(key) or "").lower() for key in ("state", "status")}
    return bool(words & {"canceled", "cancelled"}) or order.get("cancelled") is True or order.get("status_id") == 5


async def left_for_the_web_app(stage: Stage) -> None:
    placed = await stage.place(NORTHWIND, {"DRAY-BOWL": 2, "HOUSE-CANDLE": 1},
                               "2 DRAY-BOWL (dray's, who fulfills in the web app) and 1 HOUSE-CANDLE (northwind's own)")
    order_id = stage.intend(NORTHWIND, placed, DRAY, "web")
    if not await stage.wait_for("the order routed to dray", stage.about(order_id, lambda story: True)):
        return

    async def shown() -> bool:
        shows = await stage.web.shows(order_id)
        for happening in stage.timeline.web_view(order_id, shown=shows):
            stage.say("<=", Timeline.line(happening))
        return shows

    if await stage.wait_async(f"the web app to show {stage.name(order_id)} to dray", shown):
        stage.say("..", f"{stage.name(order_id)}: left for you to fulfill in the web app: {stage.web.where(order_id)}")


SCENARIOS: tuple[Callable[[Stage], Awaitable[None]], ...] = (
    partial_then_complete, split_between_sellers, cancel_and_refulfill, partial_stays, buyer_cancels,
    left_for_the_web_app)


async def stock_catalogs(stage: Stage) -> None:
    """Every store seller's catalog: its products at their wholesale prices, `CATALOG_STOCK` units each."""
    for partner, products in CATALOGS.items():
        for sku, price in products.items():
            await stage.merchants[partner].stock([sku], price=price, inventory=CATALOG_STOCK)
        stage.say("=>", f"{partner}'s catalog: " + ", ".join(f"{sku} at {price}" for sku, price in products.items())
                  + f", {CATALOG_STOCK} of each on hand")


async def run_script(stage: Stage) -> None:
    """The sellers' catalogs, then every scenario side by side, until each has ended (or the deadline passed)."""
    await stock_catalogs(stage)
    await asyncio.gather(*(scenario(stage) for scenario in SCENARIOS))


async def seller_summary(stage: Stage) -> str:
    """What the sellers' stores show after the run: each product's price and units on hand (from
    `CATALOG_STOCK`), and each order fulfillsync created there with its lines' prices and its total. A store
    that cannot be read is said so in its row."""
    rows = ["seller stores: products and inventory",
            f"  {'seller':8} {'SKU':12} {'price':>8} {'on hand':>15}"]
    for partner, products in CATALOGS.items():
        for sku, price in products.items():
            try:
                now = str(await stage.merchants[partner].inventory(sku))
            except (MerchantError, httpx.HTTPError) as error:
                now = f"unreadable: {error}"
            rows.append(f"  {partner:8} {sku:12} {price:>8.2f} {CATALOG_STOCK:>6} -> {now:>5}")
    rows.append("seller orders: the sellers' products at wholesale prices")
    for order_id, (seller, order) in stage.seller_orders.items():
        try:
            sold = await stage.merchants[seller.partner].sold(order)
        except (MerchantError, httpx.HTTPError) as error:
            rows.append(f"  {stage.name(order_id):38} unreadable: {error}")
            continue
        lines = ", ".join(f"{line.quantity} {line.sku} at {line.unit_price:.2f}"
                          + ("" if line.linked else " (custom line)") for line in sold.lines)
        rows.append(f"  {stage.name(order_id):38} {lines}; shipping {sold.shipping:.2f}; "
                    f"total {sold.total:.2f} {sold.currency}")
    return "\n".join(rows)


async def watch_buyers(stage: Stage, every_s: float = 1.0) -> None:
    """Forever: read what each buyer order's store shows (Merchant.fulfillments) into the timeline; print changes.
    A store that fails is reported once per failure streak and asked again next time."""
    failing: set[str] = set()
    while True:
        for order in list(stage.buyer_orders):
            key = f"{order.buyer.connection}:{order.placed.order_ref}"
            try:
                parcels = await stage.merchants[order.buyer.partner].fulfillments(order.placed)
            except (MerchantError, httpx.HTTPError) as error:
                if key not in failing:
                    stage.say("!!", f"{order.buyer.partner}'s store: cannot read its fulfillments: {error}")
                failing.add(key)
                continue
            failing.discard(key)
            for happening in stage.timeline.buyer_view(order.buyer.connection, order.placed.order_ref, parcels):
                stage.say("<=", Timeline.line(happening))
        await asyncio.sleep(every_s)

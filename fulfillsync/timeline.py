"""Reading fulfillsync's public topics back and telling, in lines a person can read, what happened to each order.

- `read_topics` / `read_outcomes`: parsed records of some topics, until told to stop;
- `describe`: one line for a shipped-orders or dead-letters record (`fulfillsync watch`);
- `Timeline`: the story of every stored order of a run, from all four public topics (order-events,
  fulfillment-events, shipped-orders, dead-letters) and from what the buyer's store shows (`buyer_view`), with
  where each order now stands (`OrderStory.state`) and a summary table (`summary`). Pure: no Kafka, no HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from confluent_kafka import KafkaError

from schemas.config import Config
from schemas.topics import TopicNames
from streams.kit.kafka_clients import new_consumer

Outcome = dict[str, Any]
Intent = Literal["shipped", "partial", "cancelled", "web"]
"""Where a script means an order to end: `web`: routed to a manual seller, whose web app shows it."""


def describe(record: Outcome, references: dict[str, str] | None = None) -> str:
    """One line for a shipped-orders or dead-letters value (already parsed from JSON).

    Orders are named by the buyer's order reference when the record or `references` (order id -> reference,
    updated from every record that carries one) knows it, else by our order id.
    """
    kind = record.get("type")
    references = {} if references is None else references
    order_id = record.get("order_id") or "?"
    buyer_ref = (record.get("buyer") or {}).get("order_ref")
    if buyer_ref:
        references[order_id] = buyer_ref
    order = f"#{references[order_id]}" if order_id in references else order_id
    if kind == "order.shipped":
        parcels = "; ".join(_parcel(f) for f in record.get("fulfillments", []))
        units = sum(line["quantity"] for line in record.get("lines", []))
        return f"SHIPPED      order {order}: {units} unit(s) in {len(record.get('fulfillments', []))} " \
               f"fulfillment(s): {parcels}"
    if kind == "order.reopened":
        return f"REOPENED     order {order}: fulfillment {record.get('cause_fulfillment_id')} " \
               f"{'was cancelled' if record.get('cause') == 'fulfillment_cancelled' else 'changed'}; " \
               "no longer fully covered"
    if kind == "order.tracking_updated":
        return f"TRACKING     order {order}: {_parcel(record.get('fulfillment', {}))}"
    if kind == "dead_letter":
        return f"DEAD-LETTER  order {order}: {record.get('reason')}: {record.get('message')}"
    return f"OTHER        {json.dumps(record)[:200]}"


def _parcel(fulfillment: dict[str, Any]) -> str:
    numbers = ", ".join(fulfillment.get("tracking_numbers", [])) or "no tracking"
    return f"{fulfillment.get('fulfillment_id')} {fulfillment.get('carrier') or 'carrier unknown'} {numbers}"


def read_topics(config: Config, topics: Iterable[str], *, from_beginning: bool, stop: Callable[[], bool],
                poll_timeout_s: float = 0.5) -> Iterator[tuple[str, Outcome]]:
    """Yield (topic, parsed value) of every record of `topics` until `stop()` is true.

    A record whose value is not JSON is yielded as `{"type": "unreadable", ...}` rather than raising; so is a
    consumer error other than the end of a partition. Connects with the configuration's `kafka:` settings, as
    consumer group `<topic_prefix>-watch-<uuid>` (no commits), so ACLs on the topic prefix cover it.
    """
    consumer = new_consumer(config.kafka, {
        "group.id": f"{config.kafka.topic_prefix}-watch-{uuid.uuid4()}",
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "enable.auto.commit": False,
    })
    consumer.subscribe(list(topics))
    try:
        while not stop():
            message = consumer.poll(poll_timeout_s)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    yield "", {"type": "unreadable", "message": str(error)}
                continue
            try:
                yield str(message.topic()), json.loads(message.value() or b"null")
            except ValueError:
                yield str(message.topic()), {"type": "unreadable",
                                             "message": f"not JSON at {message.topic()}:{message.offset()}"}
    finally:
        consumer.close()


def read_outcomes(config: Config, *, from_beginning: bool, stop: Callable[[], bool],
                  poll_timeout_s: float = 0.5) -> Iterator[Outcome]:
    """Parsed records of shipped-orders and dead-letters until `stop()` is true (see `read_topics`)."""
    names = TopicNames(config.kafka.topic_prefix)
    for _, record in read_topics(config, (names.shipped_orders, names.dead_letters), from_beginning=from_beginning,
                                 stop=stop, poll_timeout_s=poll_timeout_s):
        yield record


def watch_outcomes(config: Config, *, from_beginning: bool) -> None:
    """Print every outcome until interrupted (Ctrl-C)."""
    references: dict[str, str] = {}
    try:
        for record in read_outcomes(config, from_beginning=from_beginning, stop=lambda: False):
            print(f"{datetime.now():%H:%M:%S}  {describe(record, references)}", flush=True)
    except KeyboardInterrupt:
        pass


# -- the story of each order ----------------------------------------------------------------------------------


class StoreParcel(Protocol):
    """A fulfillment as a store's merchant sees it (`sandbox.merchant.StoreFulfillment` has these)."""

    @property
    def ref(self) -> str: ...

    @property
    def carrier(self) -> str | None: ...

    @property
    def numbers(self) -> tuple[str, ...]: ...

    @property
    def cancelled(self) -> bool: ...


def tracking_key(number: str) -> str:
    """A tracking number as compared across platforms: without whitespace, upper case."""
    return "".join(number.split()).upper()


@dataclass
class SellerParcel:
    """A seller fulfillment as fulfillment-events last reported it."""

    version: datetime
    carrier: str | None
    numbers: tuple[str, ...]
    units: dict[str, int]  # line id -> units
    cancelled: bool = False

    def text(self, skus: Mapping[str, str]) -> str:
        units = ", ".join(f"{skus.get(line, line)}×{qty}" for line, qty in self.units.items())
        return f"{units} ({self.carrier or 'no carrier'} {', '.join(self.numbers) or 'no tracking'})"


@dataclass(frozen=True)
class BuyerParcel:
    """A fulfillment on the buyer's store, as its merchant sees it."""

    carrier: str | None
    numbers: tuple[str, ...]
    cancelled: bool

    def text(self) -> str:
        return f"{self.carrier or 'no carrier'} {', '.join(self.numbers) or 'no tracking'}" + \
               (" (cancelled)" if self.cancelled else "")


@dataclass
class OrderStory:
    """One stored order (one buyer order's lines for one seller): what happened to it and where it stands."""

    order_id: str
    buyer: str  # "northwind (shopify)"
    buyer_key: tuple[str, str]  # (buyer connection, buyer order ref)
    number: str  # the buyer's order number as people say it: "#1001"
    seller: str  # "acme (bigcommerce)"
    lines: dict[str, tuple[str, int]]  # line id -> (sku, ordered units)
    seller_ref: str | None = None
    parcels: dict[str, SellerParcel] = field(default_factory=dict)
    whole_order_cancelled: bool = False
    cancelled_units: dict[str, int] = field(default_factory=dict)
    shipped: bool = False
    dead_letters: list[str] = field(default_factory=list)
    on_buyer: tuple[BuyerParcel, ...] = ()
    cancelled_on_seller: bool = False  # the seller's store shows the order cancelled (`Timeline.seller_view`)
    manual: bool = False  # the seller fulfills in the web app (platform `manual`): it has no store
    in_web_app: bool = False  # the web app shows the order to its manual seller (`Timeline.web_view`)
    reported: set[str] = field(default_factory=set)  # every tracking number the seller ever reported

    @property
    def name(self) -> str:
        return f"{self.buyer.split(' ')[0]} {self.number} → {self.seller}"

    @property
    def ordered(self) -> int:
        return sum(qty for _, qty in self.lines.values())

    @property
    def fulfilled(self) -> int:
        """Units covered by active fulfillments, at most the ordered units of each line."""
        covered: dict[str, int] = {}
        for parcel in self.parcels.values():
            if not parcel.cancelled:
                for line, qty in parcel.units.items():
                    covered[line] = covered.get(line, 0) + qty
        return sum(min(qty, self.lines.get(line, ("", 0))[1]) for line, qty in covered.items())

    def seller_numbers(self) -> set[str]:
        """The tracking numbers of the seller's active fulfillments."""
        return {tracking_key(number) for parcel in self.parcels.values() if not parcel.cancelled
                for number in parcel.numbers}

    def buyer_numbers(self) -> set[str]:
        return {tracking_key(number) for parcel in self.on_buyer if not parcel.cancelled for number in parcel.numbers}

    @property
    def buyer_in_sync(self) -> bool:
        """The buyer's store shows exactly the seller's active tracking numbers (and some)."""
        return bool(self.seller_numbers()) and self.buyer_numbers() == self.seller_numbers()

    @property
    def state(self) -> str:
        if self.whole_order_cancelled:
            return "CANCELLED on both stores" if self.cancelled_on_seller else "CANCELLED by the buyer"
        if self.shipped:
            covered = self.fulfilled
            return "SHIPPED" + (f", {covered}/{self.ordered} still covered" if covered < self.ordered else "")
        if self.fulfilled:
            how = "partially" if self.fulfilled < self.ordered else "all"
            return f"{how} fulfilled {self.fulfilled}/{self.ordered}"
        if self.manual:
            return "waiting for the seller in the web app" if self.in_web_app else "routed, not yet in the web app"
        if self.seller_ref is not None:
            return "on the seller's store, unfulfilled"
        return "routed, not yet on the seller's store"

    @property
    def standing(self) -> str:
        """`state` plus whether the buyer's store shows the seller's tracking."""
        if not self.seller_numbers():
            return self.state
        if self.buyer_in_sync:
            return f"{self.state}, buyer's store up to date"
        return f"{self.state}, buyer's store shows {len(self.buyer_numbers() & self.seller_numbers())} of " \
               f"{len(self.seller_numbers())} tracking number(s)"

    def reached(self, intent: Intent) -> bool:
        """Whether the order stands where a script meant it to: shipped or partially fulfilled with the buyer's
        store showing the seller's tracking, or cancelled by the buyer, on the seller's store too, unfulfilled; or,
        for a manual seller, shown in the web app."""
        if intent == "web":
            return self.manual and self.in_web_app
        if intent == "cancelled":
            return self.whole_order_cancelled and self.cancelled_on_seller and not self.seller_numbers()
        if intent == "shipped":
            return self.shipped and self.buyer_in_sync
        return not self.shipped and 0 < self.fulfilled < self.ordered and self.buyer_in_sync

    def on_buyer_text(self) -> str:
        return "; ".join(parcel.text() for parcel in self.on_buyer) or "none"


Happening = tuple[OrderStory | None, str]


class Timeline:
    """Every stored order of a run, told from the records of the public topics (`apply`) and the buyer's store
    (`buyer_view`). Each returns what changed as (order, what happened) pairs; `line` formats one."""

    def __init__(self, parties: Mapping[str, str] | None = None) -> None:
        """`parties`: connection id -> how to call it (e.g. "acme (bigcommerce)"); else partner (platform)."""
        self.orders: dict[str, OrderStory] = {}
        self._parties = dict(parties or {})
        self._seen: set[str] = set()

    def stories_of(self, buyer_connection: str, buyer_ref: str) -> list[OrderStory]:
        """The stored orders that a buyer order became (one per seller), in the order they were first seen."""
        return [story for story in self.orders.values() if story.buyer_key == (buyer_connection, buyer_ref)]

    def apply(self, record: Outcome) -> list[Happening]:
        """Take one parsed record of any public topic. A record seen before (same event id) changes nothing."""
        event_id = record.get("event_id")
        if isinstance(event_id, str):
            if event_id in self._seen:
                return []
            self._seen.add(event_id)
        kind = record.get("type")
        if kind == "order.placed":
            return self._placed(record)
        story = self.orders.get(str(record.get("order_id")))
        if kind == "dead_letter":
            text = f"DEAD-LETTER {record.get('reason')}: {str(record.get('message'))[:240]}"
            if story is not None:
                story.dead_letters.append(text)
            return [(story, text)]
        if story is None:
            return [] if kind in _ORDER_KINDS else [(None, f"unexpected record: {json.dumps(record)[:200]}")]
        return self._order_record(story, kind, record)

    def _placed(self, record: Outcome) -> list[Happening]:
        order_id, buyer, seller = str(record["order_id"]), record["buyer"], record["seller"]
        story = self.orders.get(order_id)
        if story is None:
            number = str(((record.get("shipping") or {}).get("buyer_order_number")) or
                         str(buyer.get("order_ref")).rsplit("/", 1)[-1])
            story = OrderStory(
                order_id=order_id, buyer=self._party(buyer), buyer_key=(buyer["connection"], str(buyer["order_ref"])),
                number=number if number.startswith("#") else f"#{number}", seller=self._party(seller),
                manual=seller.get("platform") == "manual",
                lines={line["line_id"]: (line["sku"], int(line["quantity"])) for line in record["lines"]})
            self.orders[order_id] = story
            units = ", ".join(f"{sku}×{qty}" for sku, qty in story.lines.values())
            happenings: list[Happening] = [(story, f"routed to the seller: {units}")]
        else:
            happenings = []
        if seller.get("order_ref") and story.seller_ref is None:
            story.seller_ref = str(seller["order_ref"])
            happenings.append((story, f"created on the seller's store as {story.seller_ref.rsplit('/', 1)[-1]}"))
        return happenings

    def _order_record(self, story: OrderStory, kind: object, record: Outcome) -> list[Happening]:
        skus = {line: sku for line, (sku, _) in story.lines.items()}
        if kind == "fulfillment.recorded":
            fid, version = str(record["fulfillment_id"]), datetime.fromisoformat(str(record["source_version"]))
            known = story.parcels.get(fid)
            if known is not None and (known.cancelled or known.version >= version):
                return []
            parcel = SellerParcel(version, record.get("carrier"), tuple(record.get("tracking_numbers", [])),
                                  {line["line_id"]: int(line["quantity"]) for line in record["lines"]})
            story.parcels[fid] = parcel
            story.reported |= {tracking_key(number) for number in parcel.numbers}
            return [(story, f"{'seller changed a fulfillment: ' if known else 'seller fulfilled '}"
                            f"{parcel.text(skus)}")]
        if kind == "fulfillment.cancelled":
            known = story.parcels.get(str(record["fulfillment_id"]))
            if known is None or known.cancelled:
                return []
            known.cancelled = True
            return [(story, f"seller cancelled a fulfillment: {known.text(skus)}")]
        if kind == "order.buyer_cancelled":
            story.whole_order_cancelled = story.whole_order_cancelled or bool(record.get("whole_order"))
            for line in record.get("lines", []):
                story.cancelled_units[line["line_id"]] = max(story.cancelled_units.get(line["line_id"], 0),
                                                             int(line.get("cancelled_quantity", 0)))
            what = "the whole order" if record.get("whole_order") else ", ".join(
                f"{skus.get(line, line)}×{qty}" for line, qty in story.cancelled_units.items())
            return [(story, f"buyer cancelled {what}")]
        if kind == "order.shipped":
            story.shipped = True
            return [(story, "SHIPPED: every unit is covered")]
        if kind == "order.reopened":
            story.shipped = False
            return [(story, "REOPENED: a fulfillment was cancelled or changed")]
        if kind == "order.tracking_updated":
            return [(story, "tracking updated on the shipped order")]
        return [(story, f"{kind}: {json.dumps(record)[:160]}")]

    def buyer_view(self, buyer_connection: str, buyer_ref: str, parcels: Iterable[StoreParcel]) -> list[Happening]:
        """What the buyer's store shows now for one buyer order. Each fulfillment is told on the stored order whose
        seller reported one of its tracking numbers; a change of what a stored order shows is a happening."""
        listed = [BuyerParcel(parcel.carrier, tuple(parcel.numbers), parcel.cancelled) for parcel in parcels]
        happenings: list[Happening] = []
        for story in self.stories_of(buyer_connection, buyer_ref):
            mine = tuple(parcel for parcel in listed if story.reported & {tracking_key(n) for n in parcel.numbers})
            if mine != story.on_buyer:
                story.on_buyer = mine
                happenings.append((story, f"the buyer's store now shows: {story.on_buyer_text()}"))
        return happenings

    def seller_view(self, order_id: str, *, cancelled: bool) -> list[Happening]:
        """Whether the seller's store shows the order cancelled (as its merchant sees it)."""
        return self._flag(order_id, "cancelled_on_seller", cancelled,
                          f"the seller's store shows the order {'cancelled' if cancelled else 'open again'}")

    def web_view(self, order_id: str, *, shown: bool) -> list[Happening]:
        """Whether the web app shows the order to its manual seller (as the seller, signed in, sees it)."""
        return self._flag(order_id, "in_web_app", shown,
                          f"the web app {'shows' if shown else 'no longer shows'} the order to the seller")

    def _flag(self, order_id: str, name: str, value: bool, text: str) -> list[Happening]:
        """Set the story's flag `name` to `value`: a happening when that changed it."""
        story = self.orders.get(order_id)
        if story is None or getattr(story, name) == value:
            return []
        setattr(story, name, value)
        return [(story, text)]

    @staticmethod
    def line(happening: Happening) -> str:
        """`northwind #1001 → acme (bigcommerce): seller fulfilled … · now partially fulfilled 2/5, …`"""
        story, text = happening
        if story is None:
            return text
        return f"{story.name}: {text} · now {story.standing}"

    def _party(self, party: Mapping[str, Any]) -> str:
        return self._parties.get(str(party.get("connection")), f"{party.get('partner')} ({party.get('platform')})")


_ORDER_KINDS = {"fulfillment.recorded", "fulfillment.cancelled", "order.buyer_cancelled", "order.shipped",
                "order.reopened", "order.tracking_updated"}


def summary(stories: Iterable[OrderStory], intents: Mapping[str, Intent] | None = None) -> str:
    """A plain-text table of orders: buyer order, seller, state, fulfillments on the buyer's store, and (for
    orders in `intents`, order id -> intended state) whether the order got there."""
    intents = intents or {}
    rows = [("buyer order", "seller", "state", "fulfillments on the buyer's store", "intended")]
    for story in sorted(stories, key=lambda story: (story.buyer, story.number, story.seller)):
        intent = intents.get(story.order_id)
        verdict = "" if intent is None else f"{intent}: {'yes' if story.reached(intent) else 'NOT REACHED'}"
        rows.append((f"{story.buyer.split(' ')[0]} {story.number}", story.seller, story.state,
                     story.on_buyer_text(), verdict))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)

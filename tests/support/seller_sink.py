"""A harness for the seller order sink's decisions without Kafka or HTTP: `SellerOrderCreator` with a scripted
connector, a dict as its table and recorders for what it publishes (tests/streams/sellers/)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client import CollectorRegistry

from schemas.cloudevents import RawHeaders
from schemas.config import Config
from schemas.events import (
    InputEvent,
    OrderLine,
    OrderPlaced,
    PartyRef,
    ShippingAddress,
    ShippingDetails,
)
from schemas.factories import order_placed
from schemas.platform import (
    CatalogLookup,
    CatalogVariant,
    CreatedOrder,
    NewOrder,
    OrderCancellation,
)
from streams.kit.dead_letters import DeadLetterMetrics
from streams.kit.records import EncodedRecord, Send, encode_event
from streams.kit.retries import RetryOutbox
from streams.sellers.creator import SOURCE, STAGE, SellerOrderCreator, SellerOrderMetrics
from streams.sellers.records import RetryRecord
from streams.sellers.tables import SellerOrderTables
from tests.support.connectors import UnusedStore

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
CATALOG_PRICE = Decimal("9.50")


def catalog_item(sku: str, n: int = 1, price: Decimal | None = CATALOG_PRICE) -> CatalogVariant:
    """A variant of the scripted seller's catalog."""
    return CatalogVariant(sku=sku, product_ref=f"gid://shopify/Product/{n}",
                          variant_ref=f"gid://shopify/ProductVariant/{n}", title=sku, price=price)
@dataclass(frozen=True)
class Topics:
    order_events: str
    retries: str
    dead_letters: str


TOPICS = Topics(order_events="p.order-events", retries="p.seller-order-retries", dead_letters="p.dead-letters")
SECRET = "shpat_do_not_leak"
CONFIG = Config.model_validate({"connections": [
    {"id": "acme-shopify", "partner": "acme", "role": "seller", "platform": "shopify",
     "base_url": "https://acme.example", "credentials": {"access_token": SECRET}},
    {"id": "hand", "partner": "hand", "role": "seller", "platform": "manual"},
    {"id": "shop-bc", "partner": "shop", "role": "buyer", "platform": "bigcommerce",
     "base_url": "https://bc.example", "credentials": {"access_token": "t"}},
], "routes": [{"buyer": "shop-bc", "seller": "acme-shopify", "skus": ["ACME-*"]},
              {"buyer": "shop-bc", "seller": "hand", "skus": ["HAND-*"]}]})
"""A seller on a platform, a manual seller and their buyer, which routes `ACME-*` and `HAND-*` to them."""
BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce", order_ref="900")
ACME = PartyRef(partner="acme", connection="acme-shopify", platform="shopify")


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: RawHeaders = ()


class Connector(UnusedStore):
    """Answers `create_order` with the scripted outcomes in turn (an exception is raised); `cancel_order` records
    its calls and raises the exceptions scripted in `cancel_failures`, in turn."""

    def __init__(self, outcomes: Iterable[CreatedOrder | Exception]) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[NewOrder] = []
        self.catalog: dict[str, tuple[CatalogVariant, ...]] | None = None
        """The seller's catalog by SKU; None: every SKU asked is one variant at `CATALOG_PRICE`."""
        self.lookups: list[tuple[str, ...]] = []
        self.catalog_failures: list[Exception] = []
        self.existing: CreatedOrder | None = None
        """The order an earlier attempt created on the store, as `find_order` answers (None: there is none)."""
        self.found: list[NewOrder] = []
        self.cancel_failures: list[Exception] = []
        self.cancels: list[tuple[str, OrderCancellation]] = []

    async def catalog_variants(self, skus: Sequence[str]) -> CatalogLookup:
        self.lookups.append(tuple(skus))
        if self.catalog_failures:
            raise self.catalog_failures.pop(0)
        if self.catalog is None:
            return CatalogLookup(currency="USD", variants={sku: (catalog_item(sku),) for sku in skus})
        return CatalogLookup(currency="USD", variants={sku: self.catalog.get(sku, ()) for sku in skus})

    async def find_order(self, order: NewOrder) -> CreatedOrder | None:
        self.found.append(order)
        return self.existing

    async def create_order(self, order: NewOrder) -> CreatedOrder:
        self.calls.append(order)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome



    async def cancel_order(self, order_ref: str, cancellation: OrderCancellation) -> None:
        self.cancels.append((order_ref, cancellation))
        if self.cancel_failures:
            raise self.cancel_failures.pop(0)

    async def aclose(self) -> None:
        return None


@dataclass
class Events:
    published: list[tuple[str, InputEvent]] = field(default_factory=list)
    flushed: int = 0

    def publish(self, topic: str, event: InputEvent, *, source: str) -> None:
        self.published.append((topic, event))

    async def flush(self) -> None:
        self.flushed += 1


@dataclass
class Harness:
    connector: Connector
    creator: SellerOrderCreator
    table: dict[bytes, bytes]
    events: Events
    sent: list[tuple[str, EncodedRecord, int | None]]
    slept: list[float]

    def run_placed(self, event: InputEvent, partition: int = 1) -> None:
        record = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                              time=event.occurred_at)
        message = Message(TOPICS.order_events, partition, 7, record.key, record.value, record.headers)
        asyncio.run(self.creator.process_placed(message))

    def run_retry(self, sent: tuple[str, EncodedRecord, int | None]) -> None:
        topic, record, partition = sent
        asyncio.run(self.creator.process_retry(Message(topic, partition or 0, 3, record.key, record.value)))

    def letters(self) -> list[dict[str, object]]:
        return [json.loads(record.value) for topic, record, _ in self.sent if topic == TOPICS.dead_letters]

    def retries(self) -> list[RetryRecord]:
        return [RetryRecord.model_validate_json(record.value) for topic, record, _ in self.sent
                if topic == TOPICS.retries]


def harness(*outcomes: CreatedOrder | Exception, send: Send | None = None, config: Config = CONFIG) -> Harness:
    connector = Connector(outcomes)
    table: dict[bytes, bytes] = {}
    events = Events()
    sent: list[tuple[str, EncodedRecord, int | None]] = []
    slept: list[float] = []

    async def record(topic: str, record: EncodedRecord, partition: int | None) -> None:
        sent.append((topic, record, partition))

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    outbox = RetryOutbox(send=send or record, retries=TOPICS.retries, dead_letters=TOPICS.dead_letters, stage=STAGE,
                         source=SOURCE, clock=lambda: NOW, metrics=DeadLetterMetrics(CollectorRegistry()), sleep=sleep)
    creator = SellerOrderCreator(config=config, order_events=TOPICS.order_events, tables=SellerOrderTables.over(table),
                                 events=events, outbox=outbox, connector_for=lambda connection: connector,
                                 metrics=SellerOrderMetrics(CollectorRegistry()), clock=lambda: NOW)
    return Harness(connector, creator, table, events, sent, slept)


SHIPPING = ShippingDetails(
    address=ShippingAddress(name="Ada Lovelace", lines=["12 St James's Square"], city="London", postal_code="SW1Y 4JH",
                            country_code="GB"),
    email="ada@example.com", phone="+44 20 7946 0000", method="Express", buyer_order_number="#1042")


def placed(seller: PartyRef = ACME, *, buyer: PartyRef = BUYER, skus: tuple[str, str] | None = None) -> OrderPlaced:
    """An order of `buyer` for `seller` as the buyer poller routes it: two lines whose SKUs the configuration routes
    to `seller` (`<PARTNER>-MUG`, `<PARTNER>-CAP`: `ACME-*` for acme), unless `skus` says otherwise."""
    mug, cap = skus or (f"{seller.partner.upper()}-MUG", f"{seller.partner.upper()}-CAP")
    return order_placed(buyer=buyer, seller=seller, occurred_at=NOW,
                        lines=[OrderLine(line_id="L1", sku=mug, quantity=2, title="Mug"),
                               OrderLine(line_id="L2", sku=cap, quantity=1)]
                        ).model_copy(update={"shipping": SHIPPING})


CREATED = CreatedOrder(order_ref="gid://shopify/Order/1001", number="#1001",
                       line_refs={"L1": "gid://shopify/LineItem/1", "L2": "gid://shopify/LineItem/2"})


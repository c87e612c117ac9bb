"""Capture an upgrade fixture: run a small scenario with the real `fulfillsync worker` on a real broker and the
simulated stores (`tests/support/marketplace.py`), stop the worker cleanly, and write every record of the
scenario's topics, the worker group's committed offsets and the configuration to a fixture folder (format:
`tests/upgrade/fixture.py`). Run it from a checkout of the release whose records are wanted:

    python -m tests.upgrade.capture --bootstrap 127.0.0.1:29092 --out tests/fixtures/upgrade/<release>

The scenario (buyers b-shop on Shopify and b-bc on BigCommerce; sellers s-bc on BigCommerce, s-mag on Magento 2
and s-shop on Shopify; a 3 s poll interval; 2 partitions), one order after the other:

1. `cancelled-before-created`: b-shop orders 3 BC-BOX while s-bc answers 503 to every order creation, so the
   seller-order sink retries through `seller-order-retries`; the buyer cancels one unit meanwhile, which waits in
   the seller-order table as a pending cancellation (`<order id>` U+001F `cancellation`); once s-bc answers again
   the order is created, the cancellation is sent, and s-bc ships the 2 remaining units as two shipments: Shipped.
2. `shipped-tracking-corrected`: b-shop orders 2 BC-MUG; s-bc ships them, then corrects the tracking number in
   place: Shipped, then `order.tracking_updated`, the buyer's fulfillment updated.
3. `split-partial` and `split-open`: b-bc orders 4 MAG-CAP, 1 BC-PEN and one product of its own (HOUSE-CANDLE):
   two stored orders; s-mag ships 1 of the 4 caps (partially fulfilled), s-bc ships nothing (open).
4. `buyer-write-retried`: b-bc orders 1 SHOP-TEE; s-shop ships it while b-bc answers 503 to shipment creations
   for a while, so the buyer sink retries through `buyer-push-retries`: Shipped, on the buyer in the end.
5. `buyer-write-refused`: b-bc orders 2 SHOP-CAP; s-shop ships them while b-bc refuses the shipment with a 400:
   dead-lettered (`platform_rejected`, stage `buyer_tracking`) and recorded as refused: Shipped, not on the buyer.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

from sandbox.merchant import Merchant, PlacedOrder
from sandbox.settings import SandboxPlatform
from schemas.topics import TopicNames
from streams.orders.tables import ORDERS
from streams.sellers.tables import SellerOrderEntry
from tests.support.kafka_harness import drain, reader_from_start
from tests.support.marketplace import Marketplace, buyer_id, marketplace, seller_id, sku
from tests.upgrade.fixture import CONFIG, META, PLACEHOLDER_HOST, RECORDS, FixtureRecord, write_records

T = TypeVar("T")
RELEASE = "0.1.0"
BUYERS: tuple[SandboxPlatform, ...] = ("shopify", "bigcommerce")
SELLERS: tuple[SandboxPlatform, ...] = ("bigcommerce", "magento2", "shopify")
INTERVAL = "3s"
PARTITIONS = 2
TIMEOUT_S = 60.0
TABLES = ("orders", "seller-orders", "poll-cursors", "buyer-orders", "seller-fulfillments", "buyer-fulfillments")
BC_ORDER_CREATION = r"/v2/orders$"
BC_SHIPMENT_CREATION = r"/v2/orders/\d+/shipments$"
REFUSAL = "The shipment could not be created: the order is on hold."


@dataclass(frozen=True)
class Story:
    """One stored order of the scenario and what happened to it."""

    label: str
    order_id: str
    buyer: str
    buyer_order_ref: str
    seller: str
    story: str


def ups(serial: int) -> str:
    return f"1Z999AA1{serial:010d}"


class Internal:
    """Every record of the scenario's changelog and internal topics so far: (topic, key, value)."""

    def __init__(self, bootstrap: str, names: TopicNames) -> None:
        self.names = names
        self.records: list[tuple[str, bytes | None, bytes | None]] = []
        topics = (*(f"{names.app_id}-{table}-changelog" for table in TABLES), names.poll_ticks,
                  names.seller_order_retries, names.seller_checks, names.buyer_pushes, names.buyer_push_retries)
        self._consumer = reader_from_start(bootstrap, topics)

    def read(self) -> None:
        for message in drain(self._consumer, 0.2):
            self.records.append((str(message.topic()), message.key(), message.value()))

    def latest(self, table: str, key: str) -> bytes | None:
        topic = f"{self.names.app_id}-{table}-changelog"
        values = [value for name, found, value in self.records if name == topic and found == key.encode()]
        return values[-1] if values else None

    def keys(self, topic: str) -> set[bytes | None]:
        return {key for name, key, _ in self.records if name == topic}

    def close(self) -> None:
        self._consumer.close()


class Scenario:
    """The merchants' side of the scenario (module docstring)."""

    def __init__(self, market: Marketplace, internal: Internal) -> None:
        self.market = market
        self.internal = internal
        self.stories: list[Story] = []

    def wait(self, condition: Callable[[], T | None], what: str) -> T:
        def read_and_check() -> T | None:
            self.internal.read()
            return condition()
        return self.market.wait_for(read_and_check, what, TIMEOUT_S)

    def place(self, buyer: SandboxPlatform, lines: dict[str, int]) -> PlacedOrder:
        return self.market.buyers[buyer].act(functools.partial(Merchant.place_order, lines=lines))

    def numbers_on(self, buyer: SandboxPlatform, order: PlacedOrder) -> set[str]:
        return {number for item in self.market.buyers[buyer].fulfillments(order) if not item.cancelled
                for number in item.numbers}

    def shows(self, buyer: SandboxPlatform, order: PlacedOrder, numbers: set[str], what: str) -> None:
        self.wait(lambda: self.numbers_on(buyer, order) == numbers, what)

    def shipped(self, order_id: str, kind: str = "order.shipped") -> list[dict[str, Any]]:
        return self.market.topics.of(self.market.names.shipped_orders, order_id, kind)

    def fulfill(self, seller: SandboxPlatform, order: PlacedOrder, lines: dict[str, int], numbers: list[str]) -> str:
        return self.market.sellers[seller].act(lambda merchant: merchant.fulfill(order, lines, numbers, "UPS"))

    def record(self, label: str, buyer: SandboxPlatform, order: PlacedOrder, seller: SandboxPlatform,
               order_id: str, story: str) -> None:
        self.stories.append(Story(label, order_id, buyer_id(buyer), order.order_ref, seller_id(seller), story))

    def cancelled_before_created(self) -> None:
        buyer: SandboxPlatform = "shopify"
        seller: SandboxPlatform = "bigcommerce"
        store = self.market.sellers[seller]
        store.admin("POST", "/faults", {"status": 503, "times": 10_000, "method": "POST", "path": BC_ORDER_CREATION})
        order = self.place(buyer, {sku(seller, "BOX"): 3})
        order_id = self.market.routed(buyer, order, seller)
        self.wait(lambda: order_id.encode() in self.internal.keys(self.internal.names.seller_order_retries),
                  "a seller-order retry record")
        self.market.buyers[buyer].act(lambda merchant: merchant.cancel_units(order, sku(seller, "BOX"), 1))
        self.wait(lambda: self.market.topics.of(self.market.names.order_events, order_id, "order.buyer_cancelled"),
                  "order.buyer_cancelled")
        self.wait(lambda: self.internal.latest("seller-orders", f"{order_id}\x1fcancellation"),
                  "the pending cancellation in the seller-order table")
        store.admin("DELETE", "/faults")
        on_seller = self.market.seller_order(seller, order_id, TIMEOUT_S)

        def sent() -> bool:
            raw = self.internal.latest("seller-orders", order_id)
            entry = SellerOrderEntry.model_validate_json(raw) if raw else None
            return entry is not None and entry.cancellation is not None and entry.cancellation.outcome == "sent"

        self.wait(sent, "the cancellation sent to the seller")
        self.fulfill(seller, on_seller, {sku(seller, "BOX"): 2}, [ups(1), ups(2)])
        self.wait(lambda: self.shipped(order_id), "shipped (2 of 3 units, 1 cancelled)")
        self.shows(buyer, order, {ups(1), ups(2)}, "both shipments on the buyer")
        self.record("cancelled-before-created", buyer, order, seller, order_id,
                    "created on the seller after 503s (seller-order retries); 1 of 3 units cancelled by the buyer "
                    "before the creation (pending cancellation), sent after it; 2 units shipped: Shipped")

    def shipped_tracking_corrected(self) -> None:
        buyer: SandboxPlatform = "shopify"
        seller: SandboxPlatform = "bigcommerce"
        order = self.place(buyer, {sku(seller, "MUG"): 2})
        order_id = self.market.routed(buyer, order, seller)
        on_seller = self.market.seller_order(seller, order_id, TIMEOUT_S)
        ref = self.fulfill(seller, on_seller, {sku(seller, "MUG"): 2}, [ups(3)])
        self.wait(lambda: self.shipped(order_id), "shipped")
        self.shows(buyer, order, {ups(3)}, "the tracking on the buyer")
        self.market.sellers[seller].act(lambda merchant: merchant.edit_tracking(on_seller, ref, [ups(13)], "UPS"))
        self.wait(lambda: self.shipped(order_id, "order.tracking_updated"), "order.tracking_updated")
        self.shows(buyer, order, {ups(13)}, "the corrected tracking on the buyer")
        self.record("shipped-tracking-corrected", buyer, order, seller, order_id,
                    "2 units shipped in one shipment: Shipped; tracking number corrected in place afterwards "
                    "(order.tracking_updated, the buyer's fulfillment updated)")

    def split(self) -> None:
        buyer: SandboxPlatform = "bigcommerce"
        order = self.place(buyer, {sku("magento2", "CAP"): 4, sku("bigcommerce", "PEN"): 1, "HOUSE-CANDLE": 1})
        partial = self.market.routed(buyer, order, "magento2")
        still_open = self.market.routed(buyer, order, "bigcommerce")
        on_seller = self.market.seller_order("magento2", partial, TIMEOUT_S)
        self.market.seller_order("bigcommerce", still_open, TIMEOUT_S)
        self.fulfill("magento2", on_seller, {sku("magento2", "CAP"): 1}, [ups(4)])
        self.shows(buyer, order, {ups(4)}, "the partial shipment on the buyer")
        self.record("split-partial", buyer, order, "magento2", partial,
                    "the Magento part of a buyer order split between two sellers (and one product of the buyer's "
                    "own): 1 of 4 units shipped, partially fulfilled")
        self.record("split-open", buyer, order, "bigcommerce", still_open,
                    "the BigCommerce part of the same buyer order: created on the seller, nothing shipped")

    def buyer_write_retried(self) -> None:
        buyer: SandboxPlatform = "bigcommerce"
        seller: SandboxPlatform = "shopify"
        order = self.place(buyer, {sku(seller, "TEE"): 1})
        order_id = self.market.routed(buyer, order, seller)
        on_seller = self.market.seller_order(seller, order_id, TIMEOUT_S)
        self.market.buyers[buyer].admin("POST", "/faults", {"status": 503, "times": 3, "method": "POST",
                                                            "path": BC_SHIPMENT_CREATION})
        self.fulfill(seller, on_seller, {sku(seller, "TEE"): 1}, [ups(5)])
        self.wait(lambda: order_id.encode() in self.internal.keys(self.internal.names.buyer_push_retries),
                  "a buyer-push retry record")
        self.shows(buyer, order, {ups(5)}, "the shipment on the buyer after the retries")
        self.wait(lambda: self.shipped(order_id), "shipped")
        self.record("buyer-write-retried", buyer, order, seller, order_id,
                    "1 unit shipped: Shipped; the buyer answered 503 to the shipment creation at first "
                    "(buyer-push retries), then took it")

    def buyer_write_refused(self) -> None:
        buyer: SandboxPlatform = "bigcommerce"
        seller: SandboxPlatform = "shopify"
        order = self.place(buyer, {sku(seller, "CAP"): 2})
        order_id = self.market.routed(buyer, order, seller)
        on_seller = self.market.seller_order(seller, order_id, TIMEOUT_S)
        self.market.buyers[buyer].admin("POST", "/faults", {
            "status": 400, "times": 1, "method": "POST", "path": BC_SHIPMENT_CREATION,
            "body": json.dumps([{"status": 400, "message": REFUSAL}])})
        self.fulfill(seller, on_seller, {sku(seller, "CAP"): 2}, [ups(6), ups(7)])
        self.wait(lambda: self.market.topics.of(self.market.names.dead_letters, order_id), "the dead letter")
        self.wait(lambda: self.shipped(order_id), "shipped")
        self.market.topics.read(3.0)
        assert self.numbers_on(buyer, order) == set(), "the refused shipment reached the buyer"
        self.record("buyer-write-refused", buyer, order, seller, order_id,
                    "2 units shipped with two tracking numbers: Shipped; the buyer refused the shipment (400): "
                    "dead-lettered as platform_rejected and recorded as refused, not on the buyer")

    def run(self) -> list[Story]:
        self.cancelled_before_created()
        self.shipped_tracking_corrected()
        self.split()
        self.buyer_write_retried()
        self.buyer_write_refused()
        self.market.topics.read(4.0)  # the last pushes and polls settle
        return self.stories


def scenario_topics(admin: AdminClient, prefix: str) -> dict[str, int]:
    """Topic -> partition count, for every topic of the prefix (`<prefix>.*` and Faust's `<prefix>-ledger-*`)."""
    metadata = admin.list_topics(timeout=10)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()
            if name.startswith((f"{prefix}.", f"{TopicNames(prefix).app_id}-"))}


def topic_configs(admin: AdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, name) for name in topics])
    configs: dict[str, dict[str, str]] = {}
    for resource, future in futures.items():
        entries = future.result(timeout=30)
        configs[resource.name] = {name: str(entries[name].value) for name in ("cleanup.policy", "retention.ms")}
    return configs


def dump(bootstrap: str, partitions: dict[str, int]) -> list[FixtureRecord]:
    """Every record of every partition of `partitions`, from its first offset to its end."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"fixture-dump-{time.time_ns()}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    records: list[FixtureRecord] = []
    try:
        for topic, count in sorted(partitions.items()):
            for partition in range(count):
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if high <= low:
                    continue
                consumer.assign([TopicPartition(topic, partition, low)])
                deadline = time.monotonic() + 30
                while True:
                    assert time.monotonic() < deadline, f"reading {topic}:{partition} took over 30 s"
                    message = consumer.poll(1.0)
                    if message is None:
                        continue
                    error = message.error()
                    if error is not None:
                        assert error.code() == KafkaError._PARTITION_EOF, error
                        break
                    offset = message.offset()
                    assert offset is not None
                    records.append(FixtureRecord(
                        topic=topic, partition=partition, offset=offset, timestamp=message.timestamp()[1],
                        key=message.key(), value=message.value(), headers=header_pairs(message.headers())))
                    if offset >= high - 1:
                        break
    finally:
        consumer.close()
    return records


def header_pairs(headers: Any) -> tuple[tuple[str, bytes | None], ...]:
    """A consumed record's headers (confluent-kafka: a list of (name, value) pairs, or None) as stored."""
    return tuple((str(name), value.encode() if isinstance(value, str) else value) for name, value in headers or ())


def committed(bootstrap: str, group: str, partitions: dict[str, int]) -> dict[str, dict[str, int]]:
    """The group's committed offsets: topic -> partition (as a string) -> offset, only where one is committed."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(topic, p) for topic, count in partitions.items()
                                    for p in range(count)], timeout=30)
    finally:
        consumer.close()
    offsets: dict[str, dict[str, int]] = {}
    for item in found:
        if item.offset >= 0:
            offsets.setdefault(item.topic, {})[str(item.partition)] = int(item.offset)
    return {topic: dict(sorted(values.items())) for topic, values in sorted(offsets.items())}


def placeholder_config(config_path: Path) -> dict[str, Any]:
    """The worker's configuration with placeholder store URLs, the broker and worker sections left to the test."""
    document: dict[str, Any] = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for connection in document["connections"]:
        path = urlsplit(connection["base_url"]).path.rstrip("/")
        connection["base_url"] = f"http://{connection['id']}.{PLACEHOLDER_HOST}{path}"
    document["kafka"]["bootstrap_servers"] = "127.0.0.1:9092"
    document.pop("worker", None)
    return document


def order_states(records: list[FixtureRecord], names: TopicNames, stories: list[Story]) -> list[dict[str, Any]]:
    """Each story with the ledger's last state of its order, as the orders changelog holds it."""
    latest: dict[bytes, bytes] = {}
    for record in records:
        if record.topic == ORDERS.changelog(names.app_id) and record.key is not None and record.value is not None:
            latest[record.key] = record.value
    out = []
    for story in stories:
        state = ORDERS.decode(latest[story.order_id.encode()])
        assert state.order is not None, story
        out.append({**asdict(story), "shipped": state.is_shipped,
                    "lines": {line.sku: {"ordered": line.quantity,
                                         "buyer_cancelled": state.buyer_cancelled.get(line.line_id, 0),
                                         "fulfilled": state.active_units().get(line.line_id, 0)}
                              for line in state.order.lines},
                    "fulfillments": sorted(state.fulfillments)})
    return out


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()


def capture(bootstrap: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fixture-capture-") as folder, \
            marketplace(Path(folder), bootstrap, interval=INTERVAL, partitions=PARTITIONS, buyers=BUYERS,
                        sellers=SELLERS) as market:
        internal = Internal(bootstrap, market.names)
        try:
            stories = Scenario(market, internal).run()
        finally:
            internal.close()
        exit_code = market.worker.stop()
        assert exit_code == 0, f"the worker exited with {exit_code}:\n{market.worker.log_tail()}"
        prefix = market.names.prefix
        admin = AdminClient({"bootstrap.servers": bootstrap})
        partitions = scenario_topics(admin, prefix)
        configs = topic_configs(admin, sorted(partitions))
        records = dump(bootstrap, partitions)
        offsets = committed(bootstrap, market.names.app_id, partitions)
        config = placeholder_config(market.config_path)
    counts = {topic: sum(1 for record in records if record.topic == topic) for topic in partitions}
    meta = {
        "release": RELEASE, "commit": git("rev-parse", "HEAD"),
        "tracked_files_modified": bool(git("status", "--porcelain", "--untracked-files=no")),
        "captured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "topic_prefix": prefix, "consumer_group": TopicNames(prefix).app_id, "partitions": PARTITIONS,
        "poll_interval": INTERVAL, "worker_exit_code": exit_code,
        "topics": {topic: {"partitions": partitions[topic], "config": configs[topic], "records": counts[topic]}
                   for topic in sorted(partitions)},
        "committed_offsets": offsets,
        "connections": [{"id": c["id"], "role": c["role"], "platform": c["platform"]} for c in config["connections"]],
        "orders": order_states(records, TopicNames(prefix), stories),
    }
    write_records(out / RECORDS, records)
    (out / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (out / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    print(f"{len(records)} records of {len(partitions)} topics (prefix {prefix}) written to {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bootstrap", required=True, help="a Kafka 4 broker's bootstrap servers")
    parser.add_argument("--out", required=True, type=Path, help="the fixture folder to write")
    arguments = parser.parse_args(argv)
    capture(arguments.bootstrap, arguments.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

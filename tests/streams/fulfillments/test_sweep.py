"""The sweep's choice of seller orders to read again, without Kafka: watched orders on platforms whose tracking
edits keep the order's time, failed reads, never more than one pending check per order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from schemas.config import Config, Connection, PollingSettings
from streams.fulfillments.records import CheckRecord
from streams.fulfillments.sweep import Sweep
from streams.fulfillments.tables import SELLER_FULFILLMENTS, SellerWatch

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TOKEN = {"access_token": SecretStr("t")}
CONFIG = Config(
    polling=PollingSettings(interval=timedelta(minutes=15), shipped_watch=timedelta(hours=1)),
    connections=[Connection(id="s-mag", partner="m", role="seller", platform="magento2", base_url="http://m.test",
                            credentials=TOKEN),
                 Connection(id="s-shop", partner="s", role="seller", platform="shopify", base_url="http://s.test",
                            credentials=TOKEN)])


@dataclass
class Sink:
    delivered: list[CheckRecord] = field(default_factory=list)

    def publish_record(self, topic: str, key: bytes, value: bytes) -> None:
        check = CheckRecord.model_validate_json(value)
        assert topic == "checks" and key == check.order_id.encode()
        self.delivered.append(check)

    async def flush(self) -> None:
        pass


@dataclass
class Rig:
    table: dict[bytes, bytes] = field(default_factory=dict)
    sink: Sink = field(default_factory=Sink)
    now: datetime = NOW

    def __post_init__(self) -> None:
        self.watch = SELLER_FULFILLMENTS.entries(self.table)
        self.sweep = Sweep(config=CONFIG, topic="checks", watch=self.watch, sink=self.sink, clock=lambda: self.now)

    def run(self) -> list[tuple[str, str]]:
        self.sink.delivered.clear()
        asyncio.run(self.sweep.run())
        return sorted((check.order_id, check.reason) for check in self.sink.delivered)


def entry(connection: str, **fields: object) -> SellerWatch:
    return SellerWatch.model_validate({"connection_id": connection, "seller_order_ref": "7", **fields})


def test_watched_orders_on_magento_and_failed_reads_are_swept_shopify_orders_are_not() -> None:
    rig = Rig()
    rig.watch.put("open-mag", entry("s-mag"))
    rig.watch.put("open-shop", entry("s-shop"))
    rig.watch.put("failed-shop", entry("s-shop", read_failed_at=NOW - timedelta(minutes=20)))
    rig.watch.put("shipped-long-ago", entry("s-shop", shipped_at=NOW - timedelta(hours=2)))
    rig.watch.put("gone-connection", entry("s-old"))
    assert rig.run() == [("failed-shop", "retry"), ("open-mag", "sweep"), ("shipped-long-ago", "sweep")]


def test_an_order_is_not_asked_for_again_until_its_check_was_handled() -> None:
    rig = Rig()
    rig.watch.put("open-mag", entry("s-mag"))
    assert rig.run() == [("open-mag", "sweep")]
    rig.now += timedelta(minutes=15)
    assert rig.run() == [], "asked again while the first check still waits (a slow seller)"
    rig.watch.put("open-mag", entry("s-mag", last_read_at=rig.now - timedelta(minutes=14)))
    rig.now += timedelta(minutes=15)
    assert rig.run() == [("open-mag", "sweep")]
    rig.now += timedelta(hours=1, minutes=1)  # four intervals without an answer: the record may be lost
    assert rig.run() == [("open-mag", "sweep")]


def test_an_order_read_moments_ago_is_not_swept() -> None:
    rig = Rig()
    rig.watch.put("open-mag", entry("s-mag", last_read_at=NOW - timedelta(minutes=2)))
    assert rig.run() == []


def test_a_short_poll_interval_sweeps_once_per_sweep_interval_but_retries_failed_reads_every_interval() -> None:
    config = CONFIG.model_copy(update={"polling": PollingSettings(
        interval=timedelta(seconds=20), shipped_watch=timedelta(hours=1), sweep_interval=timedelta(minutes=15))})
    rig = Rig()
    rig.sweep = Sweep(config=config, topic="checks", watch=rig.watch, sink=rig.sink, clock=lambda: rig.now)
    rig.watch.put("open-mag", entry("s-mag", last_read_at=NOW - timedelta(minutes=1)))
    rig.watch.put("failed-mag", entry("s-mag", last_read_at=NOW - timedelta(minutes=1),
                                      read_failed_at=NOW - timedelta(seconds=30)))
    assert rig.run() == [("failed-mag", "retry")]
    rig.watch.put("failed-mag", entry("s-mag", last_read_at=NOW))
    for _ in range(3):  # one poll interval after another: read a minute ago, not due for the sweep
        rig.now += timedelta(seconds=20)
        assert rig.run() == []
    rig.now = NOW + timedelta(minutes=14, seconds=10)  # 15 minutes since the read, less the timer's jitter
    assert rig.run() == [("open-mag", "sweep")]

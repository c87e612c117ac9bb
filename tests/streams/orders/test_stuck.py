"""`streams.orders.stuck`: the scan of the order table behind `fulfillsync_orders_stuck{age}`: it reads what the table
holds (compressed, as `ORDERS` writes it), parses only unshipped orders, paces itself and gives up on a rebalance."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from ledger import OrderState, stored
from streams.orders import stuck
from streams.orders.stuck import SHIPPED_MARKERS, StuckMetrics, StuckOrders, waiting_state
from streams.orders.tables import ORDERS
from tests.support.ledger_builders import T0, Ledger, order_placed, recorded

DAY = timedelta(days=1)


def waiting(lines: int = 2, fulfilled_after_days: int | None = None) -> OrderState:
    ledger = Ledger()
    ledger.feed(order_placed({"L1": lines}))
    if fulfilled_after_days is not None:
        ledger.feed(recorded({"L1": 1}, version=fulfilled_after_days * 24 * 60))
    return ledger.state


def shipped() -> OrderState:
    ledger = Ledger()
    ledger.feed(order_placed({"L1": 1}))
    ledger.feed(recorded({"L1": 1}))
    return ledger.state


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def counter(values: list[bytes], registry: CollectorRegistry, *, ready: bool = True,
            monotonic: Clock | None = None) -> StuckOrders:
    return StuckOrders(values=lambda: iter(values), compressed=ORDERS.compressed, ready=lambda: ready,
                       metrics=StuckMetrics(registry), clock=lambda: T0 + 8 * DAY, monotonic=monotonic or Clock())


def gauge(registry: CollectorRegistry, age: str) -> float | None:
    return registry.get_sample_value("fulfillsync_orders_stuck", {"age": age})


def test_the_table_encoding_marks_shipped_orders_only() -> None:
    assert not any(marker in zlib.decompress(ORDERS.encode(waiting())) for marker in SHIPPED_MARKERS)
    assert SHIPPED_MARKERS[0] in zlib.decompress(ORDERS.encode(shipped()))


def test_a_scan_counts_the_waiting_orders_by_age() -> None:
    registry = CollectorRegistry()
    values = [ORDERS.encode(waiting()), ORDERS.encode(waiting(fulfilled_after_days=6)), ORDERS.encode(shipped()),
              b"not zlib", ORDERS.encode(waiting())[:-3]]  # unreadable values are skipped
    asyncio.run(counter(values, registry).tick())
    assert {age: gauge(registry, age) for age in ("1d", "3d", "7d", "14d", "30d")} == {
        "1d": 2.0, "3d": 1.0, "7d": 1.0, "14d": 0.0, "30d": 0.0}  # the second changed 2 days ago


def test_shipped_orders_are_never_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[bytes] = []
    original = stored.decode

    def spy(text: bytes) -> OrderState:
        parsed.append(text)
        return original(text)

    monkeypatch.setattr(stored, "decode", spy)
    asyncio.run(counter([ORDERS.encode(shipped())] * 3 + [ORDERS.encode(waiting())], CollectorRegistry()).tick())
    assert len(parsed) == 1


def test_scans_wait_for_readiness_and_pace_themselves() -> None:
    registry = CollectorRegistry()
    clock = Clock()
    not_ready = counter([ORDERS.encode(waiting())], registry, ready=False, monotonic=clock)
    asyncio.run(not_ready.tick())
    assert gauge(registry, "1d") is None
    values = [ORDERS.encode(waiting())]
    scans = counter(values, registry, monotonic=clock)
    asyncio.run(scans.tick())
    assert gauge(registry, "1d") == 1.0
    values.append(ORDERS.encode(waiting()))
    clock.now += stuck.MIN_PERIOD_S - 1
    asyncio.run(scans.tick())
    assert gauge(registry, "1d") == 1.0, "scanned again before MIN_PERIOD_S"
    clock.now += 1
    asyncio.run(scans.tick())
    assert gauge(registry, "1d") == 2.0


def test_a_slow_scan_pushes_the_next_one_back() -> None:
    clock = Clock()

    def slow_values() -> Iterator[bytes]:
        clock.now += 10.0  # the scan takes 10 s
        yield ORDERS.encode(waiting())

    scans = StuckOrders(values=slow_values, compressed=True, ready=lambda: True,
                        metrics=StuckMetrics(CollectorRegistry()), clock=lambda: T0 + 8 * DAY, monotonic=clock)
    asyncio.run(scans.tick())
    assert scans._next_at == pytest.approx(10.0 + stuck.PAUSE_FACTOR * 10.0)


def test_a_rebalance_during_a_scan_abandons_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stuck, "CHUNK", 2)
    registry = CollectorRegistry()
    readiness = iter([True, False])  # ready when the tick starts, rebalancing at the first chunk boundary
    scans = StuckOrders(values=lambda: iter([ORDERS.encode(waiting())] * 5), compressed=True,
                        ready=lambda: next(readiness, False), metrics=StuckMetrics(registry),
                        clock=lambda: T0 + 8 * DAY, monotonic=Clock())
    asyncio.run(scans.tick())
    assert gauge(registry, "1d") is None

    def changing() -> Iterator[bytes]:
        yield ORDERS.encode(waiting())
        raise RuntimeError("dictionary changed size during iteration")

    asyncio.run(StuckOrders(values=changing, compressed=True, ready=lambda: True, metrics=StuckMetrics(registry),
                            clock=lambda: T0 + 8 * DAY, monotonic=Clock()).tick())
    assert gauge(registry, "1d") is None


def test_waiting_state_reads_only_orders_that_wait() -> None:
    order = waiting()
    assert waiting_state(ORDERS.encode(order), compressed=True) == order
    assert waiting_state(ORDERS.encode(shipped()), compressed=True) is None
    assert waiting_state(zlib.decompress(ORDERS.encode(order)), compressed=False) == order
    assert waiting_state(b"\x00garbage", compressed=True) is None
    held = Ledger()
    held.feed(recorded({"L1": 1}))  # an order not known yet does not wait
    assert waiting_state(ORDERS.encode(held.state), compressed=True) is None

"""The chart's alerts and dashboard query series a real worker produces: one worker on the real broker with a
simulated Shopify buyer store and BigCommerce seller store (tests.support.marketplace), a buyer connection whose store
never answers, an order that goes the whole way (placed, routed, created on the seller's store, fulfilled there,
written onto the buyer's order), an order quiet for two days, a record the ledger cannot read and a webhook with a
bad signature. Then every series a panel or an alert rule selects (other than Prometheus' `up` and
kube-state-metrics') must have samples on the worker's /metrics, histograms with observations, and the new metrics'
values must say what happened."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from sandbox.merchant import Merchant
from schemas.config import REQUIRED_CREDENTIALS
from schemas.events import OrderLine, PartyRef
from schemas.factories import order_placed
from streams.kit.metrics import version
from streams.kit.producer import EventProducer
from tests.helm.fulfillsync.test_monitoring import EXTERNAL, expressions
from tests.helm.promql import series
from tests.support.marketplace import SECRET_ENV, Marketplace, buyer_id, marketplace, seller_id, sku

pytestmark = pytest.mark.kafka

DOWN = "b-down"
"""A buyer connection whose store never answers (the discard port): its polls fail."""


def add_unreachable_buyer(document: dict[str, Any]) -> None:
    document["connections"].append({
        "id": DOWN, "partner": DOWN, "role": "buyer", "platform": "bigcommerce", "base_url": "http://127.0.0.1:9",
        "credentials": {name: f"${{{SECRET_ENV}_{name.upper()}}}" for name in REQUIRED_CREDENTIALS["bigcommerce"]}})


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Marketplace]:
    with marketplace(tmp_path_factory.mktemp("monitoring"), kafka_bootstrap, interval="2s", buyers=("shopify",),
                     sellers=("bigcommerce",), customize=add_unreachable_buyer) as running:
        yield running


def samples(market: Marketplace) -> dict[str, list[Sample]]:
    """The worker's /metrics now: sample name -> its samples."""
    status, text = market.worker.http("/metrics")
    assert status == 200
    found: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(found: dict[str, list[Sample]], name: str, **labels: str) -> float | None:
    matching = [s.value for s in found.get(name, []) if labels.items() <= s.labels.items()]
    return sum(matching) if matching else None


def wait_for_metrics(market: Marketplace, what: str, condition: Any, timeout_s: float = 150) -> dict[str, list[Sample]]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = samples(market)
        if condition(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}\n{market.worker.log_tail(60)}")
        time.sleep(1.0)


@pytest.mark.timeout(400)
def test_every_series_the_chart_queries_is_produced_by_a_real_run(market: Marketplace) -> None:
    started = time.time()
    config = market.worker.config
    producer = EventProducer(config.kafka, source="/tests/monitoring")
    # an order quiet for two days (its buyer is not configured: the seller sink dead-letters it, the ledger keeps it)
    quiet = order_placed(buyer=PartyRef(partner="old", connection="b-old", platform="shopify", order_ref="7"),
                         seller=PartyRef(partner=seller_id("bigcommerce"), connection=seller_id("bigcommerce"),
                                         platform="bigcommerce"),
                         lines=[OrderLine(line_id="L1", sku=sku("bigcommerce", "MUG"), quantity=1)],
                         occurred_at=datetime.now(UTC) - timedelta(days=2))
    producer.publish(market.names.order_events, quiet)
    producer.publish_raw(market.names.order_events, b"garbage", b'{"type": "order.pla')  # invalid_payload
    producer.flush()

    # the whole loop: buyer order -> seller store -> fulfillment -> buyer's order
    buyer = market.buyers["shopify"]
    order = buyer.act(functools.partial(Merchant.place_order, lines={sku("bigcommerce", "MUG"): 2}))
    order_id = market.routed("shopify", order, "bigcommerce")
    on_seller = market.seller_order("bigcommerce", order_id)
    market.sellers["bigcommerce"].act(
        lambda merchant: merchant.fulfill(on_seller, {sku("bigcommerce", "MUG"): 2}, ["1Z999AA10123456784"], "UPS"))
    market.wait_for(lambda: any("1Z999AA10123456784" in item.numbers for item in buyer.fulfillments(order)),
                    "the tracking on the buyer's order", timeout_s=90)
    response = httpx.post(market.webhook_url(buyer_id("shopify")), content=b"{}", timeout=5,
                          headers={"X-Shopify-Hmac-Sha256": "bm90IGEgc2lnbmF0dXJl", "Content-Type": "application/json"})
    assert response.status_code in (401, 403)

    found = wait_for_metrics(market, "every gauge set and the quiet order counted", lambda m: (
        (value(m, "fulfillsync_orders_stuck", age="1d") or 0) >= 1
        and value(m, "fulfillsync_poll_failing", connection=DOWN) == 1
        and value(m, "fulfillsync_fulfillment_to_buyer_seconds_count") is not None
        and value(m, "fulfillsync_consumer_lag") is not None
        and value(m, "fulfillsync_retry_backlog", stage="buyer_tracking") is not None))

    # every series a panel or rule selects has samples; histograms have observations
    queried = series(expressions()) - EXTERNAL
    missing = sorted(name for name in queried if not found.get(name))
    assert not missing, f"queried by the chart, without samples after the run: {missing}"
    for name in queried:
        if name.endswith(("_bucket", "_count", "_sum")):
            base = name.rsplit("_", 1)[0]
            assert (value(found, base + "_count") or 0) > 0, f"{base}: no observation"

    # the values say what happened
    assert value(found, "fulfillsync_build_info", version=version()) == 1
    assert value(found, "fulfillsync_orders_stuck", age="1d") == 1  # the quiet order; the shipped one is not stuck
    assert value(found, "fulfillsync_orders_stuck", age="3d") == 0
    assert value(found, "fulfillsync_ledger_processing_seconds_count") >= 4  # type: ignore[operator]
    assert value(found, "fulfillsync_dead_letters_total", stage="ledger", reason="invalid_payload") == 1
    latency = found["fulfillsync_fulfillment_to_buyer_seconds_count"]
    assert [s.labels["connection"] for s in latency] == [buyer_id("shopify")]
    assert value(found, "fulfillsync_fulfillment_to_buyer_seconds_sum") < 120  # type: ignore[operator]
    for connection in (buyer_id("shopify"), seller_id("bigcommerce")):
        last = value(found, "fulfillsync_poll_last_success_timestamp_seconds", connection=connection)
        assert last is not None and started - 60 <= last <= time.time(), connection
        assert (value(found, "fulfillsync_platform_request_seconds_count", connection=connection, outcome="ok")
                or 0) > 0
    assert value(found, "fulfillsync_poll_last_success_timestamp_seconds", connection=DOWN) is None
    assert (value(found, "fulfillsync_platform_request_seconds_count", connection=DOWN, outcome="network_error")
            or 0) >= 3
    operations = {s.labels["operation"] for s in found["fulfillsync_platform_request_seconds_count"]}
    assert all("{id}" in op or op.isidentifier() or "/" in op for op in operations), operations
    topics = {s.labels["topic"] for s in found["fulfillsync_consumer_lag"]}
    assert market.names.order_events in topics and not any(t.endswith("-changelog") for t in topics)
    assert all(s.value >= 0 for s in found["fulfillsync_consumer_lag"])
    assert {s.labels["stage"] for s in found["fulfillsync_retry_backlog"]} == {"buyer_tracking", "seller_orders"}
    assert {s.labels["agent"] for s in found["fulfillsync_lanes_backlog"]} >= {"poller", "buyer-pushes"}
    assert value(found, "fulfillsync_webhooks_total", connection=buyer_id("shopify")) == 1
    assert value(found, "process_resident_memory_bytes") > 0  # type: ignore[operator]
    assert found.get("python_info")

"""POST /webhooks/{connection_id}: the receiver's answers, duplicates and hand-off (in process), then the real
endpoint of a `fulfillsync worker` process on the real broker answering signed and forged deliveries."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from connectors.webhooks import RecentDeliveries
from schemas.config_file import load_config
from streams.admin import ensure_topics
from streams.web.webhooks import Answer, WebhookNotice, WebhookReceiver
from streams.web.webhooks import WebhookMetrics as Metrics
from tests.support.kafka_harness import WorkerProcess, write_config
from tests.support.webhooks import (
    BC_SECRET,
    FULFILLMENT,
    NOW,
    SHOPIFY_SECRET,
    WOO_SECRET,
    Recorder,
    b64_hmac,
    bigcommerce_headers,
    config,
    connections,
    counted,
    shopify_headers,
)


def answer(status: int, body: dict[str, str]) -> Answer:
    return Answer(status, body)


@pytest.mark.asyncio
async def test_receiver_hands_on_once_answers_duplicates_200_and_refuses_forgeries() -> None:
    metrics, recorder = Metrics(), Recorder()
    receiver = WebhookReceiver(config(), metrics, recorder, clock=lambda: NOW)
    assert await receiver.handle("acme-shopify", shopify_headers(FULFILLMENT, "ev-1"), FULFILLMENT) == answer(
        202, {"status": "accepted"})
    assert await receiver.handle("acme-shopify", shopify_headers(FULFILLMENT, "ev-1"), FULFILLMENT) == answer(
        200, {"status": "duplicate"})
    forged = FULFILLMENT.replace(b"450789469", b"1")
    assert await receiver.handle("acme-shopify", shopify_headers(FULFILLMENT, "ev-2"), forged) == answer(
        401, {"error": "invalid webhook"})
    await receiver.drain()
    assert recorder.notices == [WebhookNotice(connection_id="acme-shopify", order_ref="gid://shopify/Order/450789469",
                                              delivery_id="ev-1", topic="fulfillments/create")]
    assert counted(metrics, "acme-shopify", "accepted") == 1
    assert counted(metrics, "acme-shopify", "duplicate") == 1
    assert counted(metrics, "acme-shopify", "refused") == 1


@pytest.mark.asyncio
async def test_receiver_unknown_and_unverifiable_connections_get_the_same_401(
        caplog: pytest.LogCaptureFixture) -> None:
    metrics, recorder = Metrics(), Recorder()
    receiver = WebhookReceiver(config(), metrics, recorder, clock=lambda: NOW)
    headers = shopify_headers(FULFILLMENT, "ev-1")
    for target in ("nobody-" + "x" * 500, "acme-shopify-nosecret", "m2"):
        assert await receiver.handle(target, headers, FULFILLMENT) == answer(401, {"error": "invalid webhook"})
    await receiver.drain()
    assert recorder.notices == []
    assert counted(metrics, "unknown", "refused") == 1
    assert counted(metrics, "m2", "refused") == 1
    assert SHOPIFY_SECRET not in caplog.text and headers["X-Shopify-Hmac-Sha256"] not in caplog.text


@pytest.mark.asyncio
async def test_receiver_stale_standard_webhook_is_refused_and_the_duplicate_window_is_bounded() -> None:
    metrics, recorder = Metrics(), Recorder()
    receiver = WebhookReceiver(config(), metrics, recorder, clock=lambda: NOW, recent=RecentDeliveries(capacity=1))
    body = b'{"scope": "store/order/updated", "data": {"type": "order", "id": 250}, "hash": "h", "created_at": 1}'
    stale = bigcommerce_headers(body, "msg_1", NOW - timedelta(minutes=6))
    assert (await receiver.handle("shop-bc", stale, body)).status == 401
    for message_id in ("msg_1", "msg_2", "msg_1"):  # msg_1 was pushed out of the one-entry window by msg_2
        assert (await receiver.handle("shop-bc", bigcommerce_headers(body, message_id, NOW), body)).status == 202
    await receiver.drain()
    assert [n.delivery_id for n in recorder.notices] == ["msg_1", "msg_2", "msg_1"]
    assert {n.order_ref for n in recorder.notices} == {"250"}


@pytest.mark.asyncio
async def test_receiver_a_failing_subscriber_is_counted_and_does_not_change_the_answer() -> None:
    metrics, recorder = Metrics(), Recorder(fail=True)
    receiver = WebhookReceiver(config(), metrics, recorder, clock=lambda: NOW)
    assert (await receiver.handle("acme-shopify", shopify_headers(FULFILLMENT, "ev-1"), FULFILLMENT)).status == 202
    await receiver.drain()
    assert len(recorder.notices) == 1
    assert counted(metrics, "acme-shopify", "callback_failed") == 1


@pytest.mark.asyncio
async def test_receiver_woocommerce_ping_is_200_and_handed_nowhere() -> None:
    metrics, recorder = Metrics(), Recorder()
    receiver = WebhookReceiver(config(), metrics, recorder, clock=lambda: NOW)
    assert await receiver.handle("shop-woo", {}, b"webhook_id=7") == answer(200, {"status": "ok"})
    await receiver.drain()
    assert recorder.notices == []
    assert counted(metrics, "shop-woo", "ping") == 1


# -- the endpoint of a real worker ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[WorkerProcess]:
    folder = tmp_path_factory.mktemp("webhooks-worker")
    path = write_config(folder, kafka_bootstrap)
    document = yaml.safe_load(path.read_text())
    document["connections"] = connections()
    path.write_text(yaml.safe_dump(document))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_SHOPIFY_WEBHOOK_SECRET", SHOPIFY_SECRET)  # the child worker inherits it
        ensure_topics(load_config(path).config.kafka)
        process = WorkerProcess(path, folder / "worker.log").start()
        try:
            yield process
        finally:
            process.stop()


def post(worker: WorkerProcess, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, object]:
    """The status and the JSON answer (the raw text when the answer is not JSON)."""
    request = urllib.request.Request(f"http://127.0.0.1:{worker.config.worker.web_port}{path}", data=body,
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, text = int(response.status), response.read()
    except urllib.error.HTTPError as error:
        status, text = int(error.code), error.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode(errors="replace")


def metric(worker: WorkerProcess, connection: str, outcome: str) -> float:
    return worker.metric(f'fulfillsync_webhooks_total{{connection="{connection}",outcome="{outcome}"}}')


@pytest.mark.kafka
def test_worker_endpoint_verifies_dedupes_and_hands_on(worker: WorkerProcess) -> None:
    invalid = {"error": "invalid webhook"}
    # Shopify: signed (secret from the environment), replayed, forged, wrong secret, unsigned.
    assert post(worker, "/webhooks/acme-shopify", FULFILLMENT, shopify_headers(FULFILLMENT, "ev-100")) == (
        202, {"status": "accepted"})
    assert post(worker, "/webhooks/acme-shopify", FULFILLMENT, shopify_headers(FULFILLMENT, "ev-100")) == (
        200, {"status": "duplicate"})
    # The same signed body replayed under a new event id (the id header is not signed): a duplicate too.
    assert post(worker, "/webhooks/acme-shopify", FULFILLMENT, shopify_headers(FULFILLMENT, "ev-100-again")) == (
        200, {"status": "duplicate"})
    forged = FULFILLMENT.replace(b"450789469", b"450789470")
    assert post(worker, "/webhooks/acme-shopify", forged, shopify_headers(FULFILLMENT, "ev-101")) == (401, invalid)
    assert post(worker, "/webhooks/acme-shopify", FULFILLMENT,
                shopify_headers(FULFILLMENT, "ev-102", secret="guess")) == (401, invalid)
    assert post(worker, "/webhooks/acme-shopify", FULFILLMENT, {"X-Shopify-Event-Id": "ev-103"}) == (401, invalid)
    # BigCommerce: signed now, and the same delivery signed seven minutes ago (a replay).
    body = (b'{"scope": "store/shipment/created", "store_id": "1", "data": {"type": "shipment", "id": 12, '
            b'"orderId": 251}, "hash": "8b98021c", "created_at": 1561482857}')
    now = datetime.now(UTC)
    assert post(worker, "/webhooks/shop-bc", body, bigcommerce_headers(body, "msg_9", now))[0] == 202
    assert post(worker, "/webhooks/shop-bc", body,
                bigcommerce_headers(body, "msg_10", now - timedelta(minutes=7))) == (401, invalid)
    # WooCommerce: the activation ping, then a signed order delivery.
    assert post(worker, "/webhooks/shop-woo", b"webhook_id=5", {})[0] == 200
    order = b'{"id": 727, "status": "processing"}'
    woo = {"X-WC-Webhook-Signature": b64_hmac(WOO_SECRET, order), "X-WC-Webhook-Topic": "order.updated",
           "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Delivery-ID": "d-1"}
    assert post(worker, "/webhooks/shop-woo", order, woo)[0] == 202
    # Connections that cannot be verified, and a GET.
    for target in ("nobody", "acme-shopify-nosecret", "m2"):
        assert post(worker, f"/webhooks/{target}", FULFILLMENT, shopify_headers(FULFILLMENT, "ev-200")) == (
            401, invalid)
    assert worker.http("/webhooks/acme-shopify")[0] == 405
    huge = b"x" * (2 * 1024 * 1024)
    try:
        status = post(worker, "/webhooks/acme-shopify", huge, shopify_headers(huge, "ev-300"))[0]
    except (urllib.error.URLError, ConnectionError):
        status = 413  # the server may close the connection before the client finishes sending
    assert status == 413

    assert metric(worker, "acme-shopify", "accepted") == 1
    assert metric(worker, "acme-shopify", "duplicate") == 2
    assert metric(worker, "acme-shopify", "too_large") == 1
    assert metric(worker, "acme-shopify", "refused") == 3
    assert metric(worker, "shop-bc", "accepted") == 1 and metric(worker, "shop-bc", "refused") == 1
    assert metric(worker, "shop-woo", "ping") == 1 and metric(worker, "shop-woo", "accepted") == 1
    assert metric(worker, "unknown", "refused") == 1
    log = Path(worker.log_path).read_text(errors="replace")
    handed = re.findall(r"webhook (\S+) \(\S+\) for connection (\S+): order (\S+) to poll", log)
    assert sorted(handed) == [("d-1", "shop-woo", "727"), ("ev-100", "acme-shopify", "gid://shopify/Order/450789469"),
                              ("msg_9", "shop-bc", "251")]
    for secret in (SHOPIFY_SECRET, BC_SECRET, WOO_SECRET):
        assert secret not in log
    assert worker.metric('fulfillsync_poll_ticks_total{outcome="webhook"}') == 3  # each delivery asked for a poll

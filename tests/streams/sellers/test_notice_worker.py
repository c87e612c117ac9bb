"""The new-order email end to end on the real broker: `fulfillsync worker` as its own process, a real SMTP server on
loopback, `order.placed` events for a manual seller produced as the buyer poller would, and the seller-order
table's changelog read back.

One worker story: an order is emailed once with the link to its page; a mail server answering 451 once gets the
email on the retry; after a restart with the local state wiped (the table comes back from its changelog), the
replayed orders send nothing."""

from __future__ import annotations

import json
import shutil
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.server import free_port
from schemas.config_file import load_config
from schemas.events import OrderLine, OrderPlaced, PartyRef, ShippingDetails
from schemas.factories import order_placed
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from streams.sellers.tables import SELLER_ORDERS
from tests.support.kafka_harness import WorkerProcess, drain, reader_from_start
from tests.support.mail import smtp_server

pytestmark = pytest.mark.kafka

HAND = PartyRef(partner="handmade", connection="handmade-web", platform="manual")
BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce")
PASSWORD_HASH = "scrypt$n=16384,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
PUBLIC_URL = "http://127.0.0.1:8080"


def write_config(folder: Path, bootstrap: str, smtp_port: int) -> Path:
    document: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": f"t{uuid.uuid4().hex[:10]}", "partitions": 2},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(folder / "state"),
                   "broker_session_timeout": "6s"},
        "web": {"public_url": PUBLIC_URL, "session_secret": "${EMAIL_TEST_SESSION_SECRET}",
                "smtp": {"host": "127.0.0.1", "port": smtp_port, "from": "orders@fulfill.example"}},
        "connections": [{"id": HAND.connection, "partner": HAND.partner, "role": "seller", "platform": "manual",
                         "web_access": {"password_hash": PASSWORD_HASH, "email": "owner@handmade.example"}},
                        # the buyer the orders come from; its polls find no store on the discard port (logged only)
                        {"id": BUYER.connection, "partner": BUYER.partner, "role": "buyer",
                         "platform": BUYER.platform, "base_url": "http://127.0.0.1:9",
                         "credentials": {"access_token": "unused"}}],
        "routes": [{"buyer": BUYER.connection, "seller": HAND.connection, "skus": ["*"]}],
    }
    path = folder / "fulfillsync.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def placed(number: str, lines: dict[str, int]) -> OrderPlaced:
    buyer = BUYER.model_copy(update={"order_ref": f"bc-{uuid.uuid4().hex[:8]}"})
    return order_placed(buyer=buyer, seller=HAND, occurred_at=datetime.now(UTC),
                        lines=[OrderLine(line_id=f"L{index}", sku=sku, quantity=qty, title=sku.title())
                               for index, (sku, qty) in enumerate(lines.items(), start=1)]
                        ).model_copy(update={"shipping": ShippingDetails(buyer_order_number=number)})


def emails(worker: WorkerProcess, outcome: str) -> float:
    return worker.metric(f'fulfillsync_seller_order_emails_total{{connection="{HAND.connection}",'
                         f'outcome="{outcome}"}}')


def wait_until(condition: Callable[[], bool], what: str, worker: WorkerProcess, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what}\n{worker.log_tail()}"
        time.sleep(0.2)


def test_a_manual_seller_gets_one_email_per_order_through_failures_and_restarts(
        tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_TEST_SESSION_SECRET", "w" * 40)  # the worker process inherits it
    with smtp_server() as mailbox:
        config_path = write_config(tmp_path, kafka_bootstrap, mailbox.port)
        config = load_config(config_path).config
        ensure_topics(config.kafka)
        names = TopicNames(config.kafka.topic_prefix)
        changelog = reader_from_start(kafka_bootstrap, (SELLER_ORDERS.changelog(names.app_id),))
        entries: dict[str, dict[str, Any]] = {}

        def read_entries() -> dict[str, dict[str, Any]]:
            for record in drain(changelog, 0.3):
                entries[record.key().decode()] = json.loads(record.value())
            return entries

        producer = EventProducer(kafka_bootstrap, source="/tests")
        worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
        try:
            # 1. an order for the manual seller: one email, with the link to its page, the number and the lines
            first = placed("#2001", {"VASE": 2, "PLATE": 1})
            producer.publish(names.order_events, first)
            producer.flush()
            [message] = mailbox.wait_for(1)
            assert message["To"] == "owner@handmade.example"
            assert message["Subject"] == "New order #2001 to ship"
            body = message.get_content().replace("\r\n", "\n")
            assert f"{PUBLIC_URL}/orders/{first.order_id}\n" in body
            assert "  2 x VASE  Vase\n  1 x PLATE  Plate\n" in body
            wait_until(lambda: f"{first.order_id}\x1fnotice" in read_entries(), "the email's table entry", worker)

            # 2. the mail server answers 451 once: the email goes out on the retry, once
            mailbox.fail_next("451 4.3.0 Try again later")
            second = placed("#2002", {"BOWL": 3})
            producer.publish(names.order_events, second)
            producer.flush()
            messages = mailbox.wait_for(2, timeout_s=40)
            assert messages[1]["Subject"] == "New order #2002 to ship"
            assert mailbox.attempts == 3
            assert (emails(worker, "retry_scheduled"), emails(worker, "sent")) == (1, 2)

            # 3. restart with the local state wiped (the table comes back from its changelog), replay both orders
            worker.stop(signal.SIGTERM)
            shutil.rmtree(tmp_path / "state")
            worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
            for event in (first, second):
                producer.publish(names.order_events, event)
            producer.flush()
            wait_until(lambda: emails(worker, "already_sent") == 2, "the replays", worker)
            time.sleep(1.0)
            assert len(mailbox.messages) == 2 and mailbox.attempts == 3, "a replayed order was emailed again"
            assert emails(worker, "sent") == 0
            notices = {key: entry for key, entry in read_entries().items() if key.endswith("\x1fnotice")}
            assert sorted(notices) == sorted(f"{order.order_id}\x1fnotice" for order in (first, second))
            assert [entry["outcome"] for entry in notices.values()] == ["sent", "sent"]
        finally:
            changelog.close()
            worker.stop(signal.SIGTERM)

"""The new-order email to manual sellers, without Kafka: `SellerOrderCreator` with a dict as its table and a
recorder for what it would publish, sending through `SmtpMailer` to a real SMTP server on loopback
(tests.support.mail)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from connectors.base import SellerConnector
from sandbox.server import free_port
from schemas.config import Config, Connection
from schemas.events import CancelledLine, InputEvent, OrderLine, OrderPlaced, PartyRef, ShippingDetails, SourceRef
from schemas.factories import order_buyer_cancelled, order_placed
from streams.kit.dead_letters import DeadLetterMetrics
from streams.kit.records import EncodedRecord, RebuiltMessage, encode_event
from streams.kit.retries import MAX_ATTEMPTS, RetryOutbox
from streams.sellers.creator import SOURCE, STAGE, SellerOrderCreator, SellerOrderMetrics
from streams.sellers.notice import SmtpMailer
from streams.sellers.records import RetryRecord
from streams.sellers.tables import NoticeEntry, SellerOrderTables
from tests.support.mail import Mailbox, smtp_server
from tests.support.seller_sink import TOPICS

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
PASSWORD_HASH = "scrypt$n=16384,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
SMTP_PASSWORD = "smtp-pass-do-not-leak"
HAND = PartyRef(partner="handmade", connection="handmade-web", platform="manual")
BUYER = PartyRef(partner="shop", connection="shop-bc", platform="bigcommerce", order_ref="900")


def document(smtp_port: int | None, *, address: str | None = "orders@handmade.example",
             login: bool = False) -> dict[str, Any]:
    """A configuration with one manual seller whose new-order emails go to `address` through 127.0.0.1."""
    access: dict[str, Any] = {"password_hash": PASSWORD_HASH} | ({"email": address} if address else {})
    web: dict[str, Any] = {"public_url": "https://fulfill.example", "session_secret": "s" * 32}
    if smtp_port is not None:
        web["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "from": "noreply@fulfill.example"} | (
            {"username": "fulfill", "password": SMTP_PASSWORD} if login else {})
    return {"web": web, "connections": [{"id": HAND.connection, "partner": HAND.partner, "role": "seller",
                                         "platform": "manual", "web_access": access}]}


def config(smtp_port: int | None, **options: Any) -> Config:
    """`document`, plus the buyer whose `HM-*` SKUs are routed to the manual seller (the sink announces only
    orders the configuration sends to it)."""
    routed = document(smtp_port, **options)
    routed["connections"].append({"id": BUYER.connection, "partner": BUYER.partner, "role": "buyer",
                                  "platform": BUYER.platform, "base_url": "https://bc.example",
                                  "credentials": {"access_token": "t"}})
    routed["routes"] = [{"buyer": BUYER.connection, "seller": HAND.connection, "skus": ["HM-*"]}]
    return Config.model_validate(routed)


def never_called(connection: Connection) -> SellerConnector:
    raise AssertionError(f"a connector was asked for {connection.id}: a manual seller has no platform")


@dataclass
class Harness:
    config: Config
    table: dict[bytes, bytes] = field(default_factory=dict)
    sent: list[tuple[str, EncodedRecord, int | None]] = field(default_factory=list)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        smtp = self.config.web.smtp
        outbox = RetryOutbox(send=self._send, retries=TOPICS.retries, dead_letters=TOPICS.dead_letters, stage=STAGE,
                             source=SOURCE, clock=lambda: NOW, metrics=DeadLetterMetrics(self.registry),
                             sleep=_no_sleep)
        self.creator = SellerOrderCreator(
            config=self.config, order_events=TOPICS.order_events, tables=SellerOrderTables.over(self.table),
            events=NoEvents(), outbox=outbox, connector_for=never_called, metrics=SellerOrderMetrics(self.registry),
            clock=lambda: NOW, mailer=SmtpMailer(smtp, timeout_s=5) if smtp is not None else None)

    async def _send(self, topic: str, record: EncodedRecord, partition: int | None) -> None:
        self.sent.append((topic, record, partition))

    def run_placed(self, event: InputEvent) -> None:
        record = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                              time=event.occurred_at)
        asyncio.run(self.creator.process_placed(RebuiltMessage(TOPICS.order_events, 1, 7, record.key, record.value,
                                                               record.headers)))

    def run_retry(self, record: RetryRecord) -> None:
        value = record.model_dump_json().encode()
        asyncio.run(self.creator.process_retry(RebuiltMessage(TOPICS.retries, 1, 3, None, value, [])))

    def retries(self) -> list[RetryRecord]:
        return [RetryRecord.model_validate_json(record.value) for topic, record, _ in self.sent
                if topic == TOPICS.retries]

    def letters(self) -> list[Any]:
        return [record for topic, record, _ in self.sent if topic == TOPICS.dead_letters]

    def notice(self, order_id: str) -> NoticeEntry | None:
        return SellerOrderTables.over(self.table).notices.get(order_id)

    def emails(self, outcome: str) -> float:
        return self.registry.get_sample_value("fulfillsync_seller_order_emails_total",
                                              {"connection": HAND.connection, "outcome": outcome}) or 0.0


class NoEvents:
    def publish(self, topic: str, event: InputEvent, *, source: str) -> None:
        raise AssertionError("nothing is published for a manual seller's order")

    async def flush(self) -> None:
        return None


async def _no_sleep(seconds: float) -> None:
    return None


@contextmanager
def harness(**options: Any) -> Iterator[tuple[Harness, Mailbox]]:
    login = options.pop("login", False)
    with smtp_server(login=("fulfill", SMTP_PASSWORD) if login else None) as mailbox:
        yield Harness(config(mailbox.port, login=login, **options)), mailbox


def placed(number: str | None = "#1042") -> OrderPlaced:
    return order_placed(buyer=BUYER, seller=HAND, occurred_at=NOW,
                        lines=[OrderLine(line_id="L1", sku="HM-MUG", quantity=2, title="Hand-thrown mug"),
                               OrderLine(line_id="L2", sku="HM-BOWL", quantity=1)]
                        ).model_copy(update={"shipping": ShippingDetails(buyer_order_number=number)})


def test_an_order_routed_to_a_manual_seller_is_emailed_once_with_a_link_to_its_page() -> None:
    with harness() as (h, mailbox):
        order = placed()
        h.run_placed(order)
        h.run_placed(order)  # a replay
        h.run_placed(order.model_copy(update={"event_id": "another-event-of-the-same-order"}))
        [message] = mailbox.wait_for(1)
    assert mailbox.attempts == 1
    assert mailbox.envelopes == [("noreply@fulfill.example", ["orders@handmade.example"])]
    assert message["Subject"] == "New order #1042 to ship"
    assert (message["From"], message["To"]) == ("noreply@fulfill.example", "orders@handmade.example")
    assert message["Message-ID"] == f"<new-order.{order.order_id}@fulfill.example>"
    body = message.get_content().replace("\r\n", "\n")
    assert f"https://fulfill.example/orders/{order.order_id}\n" in body
    assert "  2 x HM-MUG  Hand-thrown mug\n  1 x HM-BOWL\n" in body
    assert "order #1042 from shop" in body
    notice = h.notice(order.order_id)
    assert notice is not None and (notice.outcome, notice.connection) == ("sent", HAND.connection)
    assert (h.emails("sent"), h.emails("already_sent")) == (1, 2)
    assert h.sent == []


def test_the_buyers_reference_stands_in_for_a_missing_order_number() -> None:
    with harness() as (h, mailbox):
        h.run_placed(placed(number=None))
        [message] = mailbox.wait_for(1)
    assert message["Subject"] == "New order 900 to ship"


def test_a_temporary_failure_is_retried_through_a_retry_record_and_sent_once() -> None:
    with harness() as (h, mailbox):
        mailbox.fail_next("451 4.3.0 Mailbox busy, try again later")
        order = placed()
        h.run_placed(order)
        [retry] = h.retries()
        assert (retry.attempt, retry.placed) == (1, order)
        assert "451" in retry.last_error and "Mailbox busy" in retry.last_error
        assert mailbox.messages == [] and h.notice(order.order_id) is None
        h.run_retry(retry)
        h.run_retry(retry)  # the retry record read again after a restart
        h.run_placed(order)
        [message] = mailbox.wait_for(1)
    assert message["Subject"] == "New order #1042 to ship"
    assert mailbox.attempts == 2
    assert len(h.retries()) == 1 and h.letters() == []
    assert (h.emails("retry_scheduled"), h.emails("sent"), h.emails("already_sent")) == (1, 1, 2)


def test_a_mail_server_that_does_not_answer_is_tried_again_later() -> None:
    h = Harness(config(free_port()))  # nothing listens there
    h.run_placed(placed())
    [retry] = h.retries()
    assert "ConnectionRefusedError" in retry.last_error
    assert h.notice(placed().order_id) is None


def test_a_permanent_refusal_is_recorded_and_not_tried_again() -> None:
    with harness() as (h, mailbox):
        mailbox.fail_next("550 5.1.1 No such mailbox")
        order = placed()
        h.run_placed(order)
        h.run_placed(order)
    assert mailbox.attempts == 1 and mailbox.messages == []
    notice = h.notice(order.order_id)
    assert notice is not None and notice.outcome == "refused"
    assert h.retries() == [] and h.letters() == []


def test_after_the_last_attempt_the_email_is_given_up_without_a_dead_letter() -> None:
    with harness() as (h, mailbox):
        mailbox.fail_next("421 4.7.0 Too busy")
        order = placed()
        h.run_placed(order)
        [first] = h.retries()
        h.sent.clear()
        mailbox.fail_next("421 4.7.0 Too busy")
        h.run_retry(first.model_copy(update={"attempt": MAX_ATTEMPTS - 1}))
    assert h.retries() == [] and h.letters() == []
    notice = h.notice(order.order_id)
    assert notice is not None and notice.outcome == "failed"
    assert mailbox.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_to_the_mail_server_and_the_password_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with harness(login=True) as (h, mailbox):
        h.run_placed(placed())
        mailbox.wait_for(1)
    with smtp_server(login=("fulfill", "another-password")) as other:
        wrong = Harness(config(other.port, login=True))
        order = placed()
        wrong.run_placed(order)
    notice = wrong.notice(order.order_id)
    assert notice is not None and notice.outcome == "refused"  # 535: authentication failed
    assert "535" in caplog.text
    assert SMTP_PASSWORD not in caplog.text
    assert SMTP_PASSWORD not in repr(wrong.config) and SMTP_PASSWORD not in json.dumps(
        [record.value.decode() for _, record, _ in wrong.sent])


def test_no_email_without_an_address_or_a_mail_server() -> None:
    with smtp_server() as mailbox:
        for h in (Harness(config(mailbox.port, address=None)), Harness(config(None, address=None))):
            h.run_placed(placed())
            assert h.sent == [] and h.emails("no_address") == 1
            assert h.notice(placed().order_id) is None
    assert mailbox.attempts == 0


def test_an_order_the_buyer_cancelled_in_full_before_the_email_is_not_announced() -> None:
    with harness() as (h, mailbox):
        mailbox.fail_next("451 4.3.0 Try again later")
        order = placed()
        h.run_placed(order)
        [retry] = h.retries()
        h.run_placed(order_buyer_cancelled(
            order_id=order.order_id, source=SourceRef(partner="shop", connection="shop-bc", platform="bigcommerce"),
            whole_order=True, occurred_at=NOW, lines=[
                CancelledLine(line_id=line.line_id, sku=line.sku, cancelled_quantity=line.quantity,
                              remaining_quantity=0) for line in order.lines]))
        h.run_retry(retry)
    assert mailbox.attempts == 1 and mailbox.messages == []
    assert h.emails("cancelled_before_email") == 1


@pytest.mark.parametrize(("connection", "web", "message"), [
    ({"role": "buyer", "platform": "shopify", "base_url": "https://shop.example",
      "credentials": {"access_token": "t"}}, {}, "connections[0].web_access.email: only manual sellers"),
    ({}, {"smtp": None}, "web.smtp: required to send new-order emails"),
    ({}, {"public_url": None}, "web.public_url: required to send new-order emails"),
])
def test_an_email_address_needs_a_manual_seller_a_mail_server_and_a_public_url(
        connection: dict[str, Any], web: dict[str, Any], message: str) -> None:
    invalid = document(25)
    invalid["web"] = {key: value for key, value in (invalid["web"] | web).items() if value is not None}
    invalid["connections"][0] |= connection
    with pytest.raises(ValidationError) as raised:
        Config.model_validate(invalid)
    assert message in str(raised.value)

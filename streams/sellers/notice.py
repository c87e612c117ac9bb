"""The new-order email: a manual seller (`platform: manual`, fulfilling in the web app) is told
by email when an order is routed to it, with a link to the order page.

For an `order.placed` of a manual seller that the seller order sink hands over (`NewOrderNotifier.notify`, from
order-events or from a retry record):
1. the email was recorded for the order in the `seller-orders` table (`entries.NoticeEntry`): nothing is sent (a
   replay, a restart, another `order.placed` of the same order);
2. the connection has no `web_access.email`, or the configuration no `web.smtp`: nothing is sent (counted
   `no_address`); the seller finds the order in the web app;
3. the buyer cancelled the whole order before the email went (a pending cancellation): nothing is sent;
4. otherwise one email goes to the seller (`new_order_email`): the buyer's order number, the lines, and the link
   `{web.public_url}/orders/{order id}`. The mail server took it: recorded as `sent`. It refused for good (a 5xx
   answer): recorded as `refused`, logged. Any other failure (connection refused, timeout, a 4xx answer): a retry
   record goes to the sink's retry topic (the same capped backoff as order creation, `streams.kit.retries`); after
   `MAX_ATTEMPTS` the email is given up, recorded as `failed` and logged as an error: the order itself is fine
   and waits in the web app, so nothing is dead-lettered.
The email is recorded after the mail server took it, so a crash between the two sends it again on the replay (at
least once); its Message-ID is derived from the order id, so a mail client shows the two as one.

The SMTP session (`SmtpMailer`) runs in a thread (`asyncio.to_thread`, stdlib `smtplib`), each socket operation
bounded by a timeout: a hanging mail server holds the sink's agent for at most that long per attempt. The SMTP
password is only handed to `smtplib.SMTP.login`, never logged; nor are the addresses (the connection id is).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from schemas.config import Connection, SmtpSettings, WebSettings
from schemas.events import OrderPlaced, OriginalRecord
from streams.kit.metrics import counter
from streams.kit.retries import Failure, RetryOutbox
from streams.sellers.records import retry_of
from streams.sellers.tables import NoticeEntry, SellerOrderTables

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 10.0
"""The longest one SMTP socket operation (connect, a command, the message) may take before the attempt fails."""


class MailError(Exception):
    """The email was not sent. `permanent`: the mail server refused it for good (5xx); otherwise try again."""

    def __init__(self, text: str, *, permanent: bool) -> None:
        super().__init__(text)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand `message` to the mail server; `MailError` if it was not taken."""
        ...


class SmtpMailer:
    """Sends through the configured SMTP server: STARTTLS (certificate checked) when `starttls`, then a login when
    a username is set."""

    def __init__(self, settings: SmtpSettings, *, timeout_s: float = SMTP_TIMEOUT_S) -> None:
        self._settings = settings
        self._timeout_s = timeout_s

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        settings = self._settings
        try:
            with smtplib.SMTP(settings.host, settings.port, timeout=self._timeout_s) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username is not None and settings.password is not None:
                    smtp.login(settings.username, settings.password.get_secret_value())
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise MailError(f"the mail server refused the recipient ({', '.join(map(str, codes))})",
                            permanent=all(code >= 500 for code in codes)) from None
        except smtplib.SMTPResponseException as error:
            answer = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) \
                else str(error.smtp_error)
            raise MailError(f"the mail server answered {error.smtp_code} {answer[:300]}",
                            permanent=error.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as error:  # refused, unreachable, timed out, dropped, TLS failed
            raise MailError(f"{type(error).__name__}: {error}"[:300], permanent=False) from None


def order_link(web: WebSettings, order_id: str) -> str:
    """The order's page in the web app; ValueError when `web.public_url` is not set."""
    if web.public_url is None:
        raise ValueError("web.public_url is not set")
    return f"{web.public_url}/orders/{order_id}"


def new_order_email(placed: OrderPlaced, *, to: str, sender: str, link: str, now: datetime) -> EmailMessage:
    """The email telling a manual seller about `placed`: plain text with the buyer's order number (its reference
    when the event carries no number), one line per order line and the link to the order page. The shipping
    address is not in it (it is on the order page, behind the sign-in). Message-ID: from the order id."""
    shipping = placed.shipping
    number = (shipping.buyer_order_number if shipping else None) or placed.buyer.order_ref or placed.order_id
    lines = "\n".join(f"  {line.quantity} x {line.sku}" + (f"  {line.title}" if line.title else "")
                      for line in placed.lines)
    message = EmailMessage()
    message["Subject"] = f"New order {number} to ship"
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<new-order.{placed.order_id}@{urlsplit(link).hostname or 'fulfillsync'}>"
    message.set_content(
        f"Hello {placed.seller.partner},\n\n"
        f"A new order is waiting for you to ship: order {number} from {placed.buyer.partner}.\n\n"
        f"{lines}\n\n"
        f"Open the order to see the shipping address and to record the shipment (carrier and tracking numbers):\n"
        f"{link}\n")
    return message


class NoticeMetrics:
    """`fulfillsync_seller_order_emails_total{connection,outcome}`: sent, already_sent, no_address,
    cancelled_before_email, retry_scheduled, refused, failed."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = counter("fulfillsync_seller_order_emails", "new-order emails to manual sellers, by seller "
                                "connection and outcome", ["connection", "outcome"], registry=registry)


class NewOrderNotifier:
    """Sends each manual seller's new-order email once; see the module docstring for the contract."""

    def __init__(self, *, web: WebSettings, mailer: Mailer | None, tables: SellerOrderTables, outbox: RetryOutbox,
                 metrics: NoticeMetrics, clock: Callable[[], datetime]) -> None:
        self._web = web
        self._mailer = mailer
        self._tables = tables
        self._outbox = outbox
        self._metrics = metrics
        self._clock = clock

    async def notify(self, placed: OrderPlaced, connection: Connection, original: OriginalRecord, *,
                     attempt: int) -> None:
        """Email `connection` (a manual seller) about `placed` unless already done (attempt `attempt`)."""
        order_id = placed.order_id
        if self._tables.notices.contains(order_id):
            self._count(connection, "already_sent")
            return
        to = connection.web_access.email if connection.web_access is not None else None
        smtp = self._web.smtp
        if to is None or smtp is None or self._mailer is None:
            self._count(connection, "no_address")
            return
        pending = self._tables.pending.get(order_id)
        if pending is not None and pending.totals.whole_order:
            self._count(connection, "cancelled_before_email")
            return
        now = self._clock()
        message = new_order_email(placed, to=to, sender=smtp.sender, link=order_link(self._web, order_id), now=now)
        try:
            await self._mailer.send(message)
        except MailError as error:
            await self._failed(placed, connection, original, attempt, error, str(message["Message-ID"]))
            return
        self._record(order_id, connection, "sent", str(message["Message-ID"]))
        log.info("order %s: new-order email sent to %s (attempt %d)", order_id, connection.id, attempt)

    async def _failed(self, placed: OrderPlaced, connection: Connection, original: OriginalRecord, attempt: int,
                      error: MailError, message_id: str) -> None:
        if error.permanent:
            self._record(placed.order_id, connection, "refused", message_id)
            log.error("order %s: the mail server refused the new-order email to %s for good: %s", placed.order_id,
                      connection.id, error)
            return
        scheduled = await self._outbox.schedule(retry_of(placed, original), key=placed.order_id,
                                                partition=original.partition, attempt=attempt,
                                                failure=Failure(True, f"email: {error}"))
        if scheduled is None:
            self._record(placed.order_id, connection, "failed", message_id)
            log.error("order %s: the new-order email to %s was not sent in %d attempts, giving up; last error: %s",
                      placed.order_id, connection.id, attempt, error)
            return
        self._count(connection, "retry_scheduled")
        log.warning("order %s: the new-order email to %s failed (attempt %d), retrying at %s: %s", placed.order_id,
                    connection.id, attempt, scheduled.not_before.isoformat(), error)

    def _record(self, order_id: str, connection: Connection, outcome: Literal["sent", "refused", "failed"],
                message_id: str) -> None:
        self._tables.notices.put(order_id, NoticeEntry(outcome=outcome, at=self._clock(), connection=connection.id,
                                                     message_id=message_id))
        self._count(connection, outcome)

    def _count(self, connection: Connection, outcome: str) -> None:
        self._metrics.outcomes.labels(connection.id, outcome).inc()

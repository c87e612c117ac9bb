"""A real SMTP server on loopback for tests (aiosmtpd, in a thread of the test process): it keeps every message it
accepts, can answer the next messages with a scripted failure, and can ask for a login."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from sandbox.server import free_port


@dataclass
class Mailbox:
    """What the server accepted, and the answers it gives instead of accepting the next messages."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)  # (MAIL FROM, RCPT TO)
    failures: list[str] = field(default_factory=list)  # e.g. "451 4.3.0 Try again later", used in turn
    attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, *answers: str) -> None:
        with self._lock:
            self.failures.extend(answers)

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[EmailMessage]:
        """The messages once at least `count` arrived; AssertionError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.1)
        raise AssertionError(f"{len(self.messages)} email(s) arrived within {timeout_s:.0f}s, expected {count}")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.attempts += 1
            if self.failures:
                return self.failures.pop(0)
            content = envelope.original_content or b""
            message = email.message_from_bytes(content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self.envelopes.append((str(envelope.mail_from), [str(to) for to in envelope.rcpt_tos]))
        return "250 2.0.0 Message accepted for delivery"


@contextmanager
def smtp_server(*, login: tuple[str, str] | None = None, port: int | None = None) -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1 (a free port unless `port`) until the block ends. With `login`, AUTH
    (PLAIN/LOGIN, allowed without TLS here: aiosmtpd warns `Requiring AUTH while not requiring TLS` on each
    connection) is required and only that username and password pass."""
    mailbox = Mailbox(port=port or free_port())
    options: dict[str, Any] = {}
    if login is not None:
        def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                         auth_data: Any) -> AuthResult:
            given = (auth_data.login.decode(), auth_data.password.decode()) \
                if isinstance(auth_data, LoginPassword) else None
            return AuthResult(success=given == login, handled=False)

        options = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **options)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()

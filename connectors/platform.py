"""What a platform package declares about itself: one `PlatformDescription`, exported as `PLATFORM` by
`connectors/<platform>/__init__.py` and listed once in `connectors.registry`.

Everything that differs per platform outside the connector's own methods is a field here, so nothing else
switches on a platform's name: the connector class, the credentials a connection needs (read from the
configuration contract, `schemas.platform_names`), how its webhooks are verified and which order they name,
its carrier names, and whether its polling can miss a tracking edit. Adding a platform is a new package with
its `PLATFORM`, one line in `connectors/registry.py`, its id in `schemas/platform_names.py`, and its simulated
store (`sandbox/<platform>/`, one line in `sandbox/registry.py`); `tests/connectors/test_platform_registry.py`
checks that no other place names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from connectors.base import StoreConnector
from connectors.carrier_table import CarrierNames
from connectors.webhook_verdicts import Check
from schemas.platform_names import CONNECTION_RULES, Platform


class WebhookVerifier(Protocol):
    """Checks one delivery against a connection's (non-empty) webhook secret.

    `headers` have lower-cased names; `body` is the raw request body; `now` is aware and, with `tolerance`, used
    by schemes that sign a timestamp. Answers `Authentic` (delivery id and topic), `Refused` (a reason naming no
    secret and no signature) or `Ping`; never raises on anything a client can send. The body is read only after
    its signature is verified."""

    def __call__(self, secret: str, headers: Mapping[str, str], body: bytes, now: datetime,
                 tolerance: timedelta) -> Check: ...


class OrderRefExtractor(Protocol):
    """The order an authentic delivery concerns, as the platform's connector reports `PlatformOrder.order_ref`,
    or None when it names none. `topic` is what the verifier found, `headers` have lower-cased names, `payload`
    is the body parsed as JSON (None when it is not JSON). Never raises."""

    def __call__(self, topic: str | None, headers: Mapping[str, str], payload: object) -> str | None: ...


@dataclass(frozen=True)
class Webhooks:
    """A platform's webhooks, as `connectors.webhooks.verify_delivery` uses them."""

    verify: WebhookVerifier
    order_ref: OrderRefExtractor


@dataclass(frozen=True)
class PlatformDescription:
    """One platform, as the rest of fulfillsync sees it.

    - `platform`: its id in connections and events (`schemas.platform_names.Platform`); `title`: its name for
      people.
    - `connector`: the connector class, called as `connector(connection, *, transport=None, **options)`;
      raises ValueError for a connection it cannot use.
    - `webhooks`: how deliveries are verified and which order they name; None when the platform sends no
      webhooks fulfillsync can verify (they are refused).
    - `carrier_names`: its carrier names, to and from our canonical ones.
    - `tracking_edits_keep_order_time`: a seller can change tracking without the order's modified time moving,
      so polling changed orders misses the edit and the fulfillments of watched orders are re-read every sweep
      (`connectors.registry.needs_direct_reads`).
    """

    platform: Platform
    title: str
    connector: Callable[..., StoreConnector]
    webhooks: Webhooks | None
    carrier_names: CarrierNames
    tracking_edits_keep_order_time: bool

    @property
    def required_credentials(self) -> tuple[str, ...]:
        """The keys a connection's `credentials` must hold: the configuration contract's
        (`schemas.platform_names.CONNECTION_RULES`), which `Config` validation enforces naming the key."""
        return CONNECTION_RULES[self.platform].credentials

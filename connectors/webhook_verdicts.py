"""What verifying a webhook delivery can conclude: a platform's verifier answers `Authentic`, `Refused` or
`Ping`; `connectors.webhooks.verify_delivery` turns `Authentic` into `Accepted` with the order it names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Authentic:
    """A platform verifier's answer for a delivery whose signature is valid (and, for Standard Webhooks, recent):
    `delivery_id`, `topic` and `replay_key` as in `Accepted`, the order not yet looked for."""

    delivery_id: str | None
    topic: str | None
    replay_key: str | None = None


@dataclass(frozen=True)
class Accepted:
    """A delivery whose signature is valid for the connection's secret (and, for Standard Webhooks, recent).

    `delivery_id` identifies the delivery for deduplication (None when the platform sent none); `topic` is the
    platform's event name (`orders/updated`, `store/shipment/created`, `order.updated`); `order_ref` is the
    affected order in the form the connection's connector reports `PlatformOrder.order_ref` (a Shopify order GID,
    a BigCommerce or WooCommerce numeric id as a string), or None when the payload names no order (the receiver
    then polls the whole connection). The payload is never trusted beyond that reference.

    `replay_key` is set by schemes that sign no timestamp (Shopify, WooCommerce: the SHA-256 of the signed body,
    `connectors.webhook_signatures.body_digest`): their delivery id is an unsigned header, so a captured delivery
    replayed with a new id still verifies; the receiver answers a second delivery with the same key on the same
    connection within its replay window as a duplicate (`connectors.webhooks.RecentBodies`). None for Standard
    Webhooks (BigCommerce), whose signature covers the id and a timestamp checked against the clock."""

    delivery_id: str | None
    topic: str | None
    order_ref: str | None
    replay_key: str | None = None


@dataclass(frozen=True)
class Refused:
    """A delivery that must be answered 401. `reason` is for logs: it never contains the secret, the received
    signature or the expected one."""

    reason: str


@dataclass(frozen=True)
class Ping:
    """WooCommerce's activation ping (`webhook_id=<id>`, sent unsigned when a hook is activated). It carries no
    data and must be answered 200 or WooCommerce reports the hook as failing; nothing is handed on."""

    webhook_id: str


Verdict = Accepted | Refused | Ping
Check = Authentic | Refused | Ping
"""What a platform's verifier answers (`connectors.platform.WebhookVerifier`)."""

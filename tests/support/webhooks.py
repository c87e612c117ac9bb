"""Shared by the webhook endpoint's tests: the connections, their secrets, signed headers per platform, a
recording subscriber and the metric reader."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

from schemas.config import Config
from streams.web.webhooks import WebhookMetrics as Metrics
from streams.web.webhooks import WebhookNotice

SHOPIFY_SECRET = "shopify-app-secret-value"
BC_SECRET = "bigcommerce-client-secret-value"
WOO_SECRET = "woocommerce-hook-secret-value"
FULFILLMENT = json.dumps({"fulfillment": {"id": 1, "order_id": 450789469, "status": "success"}}).encode()
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def b64_hmac(key: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def shopify_headers(body: bytes, event_id: str, secret: str = SHOPIFY_SECRET) -> dict[str, str]:
    return {"X-Shopify-Hmac-Sha256": b64_hmac(secret, body), "X-Shopify-Topic": "fulfillments/create",
            "X-Shopify-Event-Id": event_id, "Content-Type": "application/json"}


def bigcommerce_headers(body: bytes, message_id: str, at: datetime) -> dict[str, str]:
    stamp = str(int(at.timestamp()))
    return {"webhook-id": message_id, "webhook-timestamp": stamp, "Content-Type": "application/json",
            "webhook-signature": "v1," + b64_hmac(BC_SECRET, f"{message_id}.{stamp}.".encode() + body)}


def connections() -> list[dict[str, object]]:
    return [
        {"id": "acme-shopify", "partner": "acme", "role": "seller", "platform": "shopify",
         "base_url": "https://acme.example", "credentials": {"access_token": "t"},
         "webhook_secret": "${TEST_SHOPIFY_WEBHOOK_SECRET}"},
        {"id": "shop-bc", "partner": "shop", "role": "buyer", "platform": "bigcommerce",
         "base_url": "https://bc.example", "credentials": {"access_token": "t"}, "webhook_secret": BC_SECRET},
        {"id": "shop-woo", "partner": "shop2", "role": "buyer", "platform": "woocommerce",
         "base_url": "https://woo.example", "credentials": {"consumer_key": "ck", "consumer_secret": "cs"},
         "webhook_secret": WOO_SECRET},
        {"id": "acme-shopify-nosecret", "partner": "acme", "role": "seller", "platform": "shopify",
         "base_url": "https://acme.example", "credentials": {"access_token": "t"}},
        {"id": "m2", "partner": "m", "role": "seller", "platform": "magento2", "base_url": "https://m.example",
         "credentials": {"access_token": "t"}, "webhook_secret": "whatever"},
    ]


def config() -> Config:
    document = {"connections": connections()}
    document["connections"][0]["webhook_secret"] = SHOPIFY_SECRET
    return Config.model_validate(document)


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.notices: list[WebhookNotice] = []
        self.fail = fail

    async def __call__(self, notice: WebhookNotice) -> None:
        self.notices.append(notice)
        if self.fail:
            raise RuntimeError("subscriber broke")


def counted(metrics: Metrics, connection: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value("fulfillsync_webhooks_total",
                                              {"connection": connection, "outcome": outcome})
    return value or 0.0


def woo_headers(body: bytes, delivery_id: str, secret: str = WOO_SECRET) -> dict[str, str]:
    return {"X-WC-Webhook-Signature": b64_hmac(secret, body), "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Delivery-ID": delivery_id,
            "Content-Type": "application/json"}


class Gate(Recorder):
    """A subscriber that holds every hand-off until `release()`."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()

    async def __call__(self, notice: WebhookNotice) -> None:
        await self.open.wait()
        await super().__call__(notice)

    def release(self) -> None:
        self.open.set()

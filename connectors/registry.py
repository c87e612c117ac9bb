"""Which connector serves which platform, imported only when a connection of that platform is used."""

from __future__ import annotations

import importlib
from typing import Any, cast

import httpx

from connectors.base import StoreConnector
from schemas.config import Connection

_CLASSES = {
    "shopify": "connectors.shopify:ShopifyConnector",
    "bigcommerce": "connectors.bigcommerce:BigCommerceConnector",
    "woocommerce": "connectors.woocommerce:WooCommerceConnector",
    "magento2": "connectors.magento:MagentoConnector",
}

_TRACKING_EDITS_KEEP_ORDER_TIME = frozenset({"magento2", "woocommerce"})
"""Platforms where a seller can change tracking without the order's modified time moving, so polling changed
orders misses the edit: Magento (tracks added to or removed from an existing shipment leave the order's
`updated_at`), WooCommerce (whether Shipment Tracking writes bump `date_modified` is unverified on real stores).
See docs/platforms/."""


def needs_direct_reads(platform: str) -> bool:
    """Whether the fulfilments of a seller's watched orders on `platform` must be re-read directly every poll
    interval, because a tracking edit may not show up among the changed orders."""
    return platform in _TRACKING_EDITS_KEEP_ORDER_TIME


def connector_for(connection: Connection, *, transport: httpx.AsyncBaseTransport | None = None,
                  **options: Any) -> StoreConnector:
    """The connector of `connection`'s platform, talking through `transport` (tests: an in-process store).
    `options` go to the connector's constructor (e.g. `retry`, `page_size`). Raises ValueError for a platform
    without a connector (`manual`: the web app) or a connection the connector cannot use."""
    target = _CLASSES.get(connection.platform)
    if target is None:
        raise ValueError(f"connection {connection.id!r}: platform {connection.platform} has no connector "
                         "(manual sellers fulfil in the web app)")
    module_name, class_name = target.split(":")
    connector_class = getattr(importlib.import_module(module_name), class_name)
    return cast(StoreConnector, connector_class(connection, transport=transport, **options))

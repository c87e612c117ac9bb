"""Every platform with a connector, one line each: the only list of them (see `connectors.platform`).

Everything that used to switch on a platform's name looks its `PlatformDescription` up here. `manual` (the web
app) has none: it has no connector, no webhooks and no carrier names.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors import bigcommerce, magento, shopify, woocommerce
from connectors.base import StoreConnector
from connectors.platform import PlatformDescription
from schemas.config import Connection

PLATFORMS: tuple[PlatformDescription, ...] = (
    shopify.PLATFORM,
    bigcommerce.PLATFORM,
    woocommerce.PLATFORM,
    magento.PLATFORM,
)

_BY_ID: dict[str, PlatformDescription] = {description.platform: description for description in PLATFORMS}


def platform_description(platform: str) -> PlatformDescription | None:
    """The description of `platform`; None for a platform without a connector (`manual`) or an unknown id."""
    return _BY_ID.get(platform)


def needs_direct_reads(platform: str) -> bool:
    """Whether the fulfillments of a seller's watched orders on `platform` must be re-read directly every poll
    interval, because a tracking edit may not show up among the changed orders
    (`PlatformDescription.tracking_edits_keep_order_time`; docs/platforms/ says why for each platform)."""
    description = _BY_ID.get(platform)
    return description is not None and description.tracking_edits_keep_order_time


def connector_for(connection: Connection, *, transport: httpx.AsyncBaseTransport | None = None,
                  **options: Any) -> StoreConnector:
    """The connector of `connection`'s platform, talking through `transport` (tests: an in-process store).
    `options` go to the connector's constructor (e.g. `retry`, `page_size`). Raises ValueError for a platform
    without a connector (`manual`: the web app) or a connection the connector cannot use."""
    description = _BY_ID.get(connection.platform)
    if description is None:
        raise ValueError(f"connection {connection.id!r}: platform {connection.platform} has no connector "
                         "(manual sellers fulfill in the web app)")
    return description.connector(connection, transport=transport, **options)

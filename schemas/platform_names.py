"""The platform ids, and what the configuration file requires of a connection on each.

This is the configuration's own contract, so it lives in `schemas/` (which imports nothing of ours) rather than
in each connector: `fulfillsync config check` and every `Config` validation enforce it without loading a
connector, and every error it raises names the offending key (`credentials`, `api_version`...). A connector's
`PlatformDescription` (`connectors/platform.py`) reads its required credentials from here, so each fact is
written once. Adding a platform adds its id to `Platform` and its entry to `CONNECTION_RULES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Platform = Literal["shopify", "bigcommerce", "woocommerce", "magento2", "manual"]
"""Where a connection's orders live; `manual`: no store, the seller fulfills in the web app."""

ConnectionOption = Literal["api_version", "tracking_api"]


@dataclass(frozen=True)
class ConnectionRules:
    """What a connection of one platform must and may carry.

    `credentials`: the keys its `credentials` mapping must hold (a platform with credentials also needs a
    `base_url`); `options`: the platform-specific connection options it may set (every other platform's
    connections must leave them unset)."""

    credentials: tuple[str, ...] = ()
    options: frozenset[ConnectionOption] = frozenset()


CONNECTION_RULES: dict[Platform, ConnectionRules] = {
    "shopify": ConnectionRules(credentials=("access_token",), options=frozenset({"api_version"})),
    "bigcommerce": ConnectionRules(credentials=("access_token",)),
    "woocommerce": ConnectionRules(credentials=("consumer_key", "consumer_secret"),
                                   options=frozenset({"tracking_api"})),
    "magento2": ConnectionRules(credentials=("access_token",)),
    "manual": ConnectionRules(),
}

REQUIRED_CREDENTIALS: dict[Platform, tuple[str, ...]] = {
    platform: rules.credentials for platform, rules in CONNECTION_RULES.items()}
"""The credential keys each platform's connections must carry (`CONNECTION_RULES`, credentials only)."""

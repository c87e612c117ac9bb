"""Which module serves which platform's simulated store, imported only when that store is asked for.

Each `sandbox/<platform>/app.py` provides:
- `create_app(settings: StoreSettings) -> SandboxApp`: the store, empty, accepting `settings.credentials`;
- `base_path(settings: StoreSettings) -> str`: what follows `http://host:port` in a connection's `base_url`
  for this store (`""` for Shopify and WooCommerce, `/stores/{hash}` for BigCommerce, `/rest/{code}` for Magento).
"""

from __future__ import annotations

import importlib
from typing import Protocol, cast

from sandbox.common import SandboxApp
from sandbox.settings import SandboxPlatform, StoreSettings

_MODULES: dict[SandboxPlatform, str] = {
    "shopify": "sandbox.shopify.app",
    "bigcommerce": "sandbox.bigcommerce.app",
    "woocommerce": "sandbox.woocommerce.app",
    "magento2": "sandbox.magento.app",
}


class StoreModule(Protocol):
    def create_app(self, settings: StoreSettings) -> SandboxApp: ...

    def base_path(self, settings: StoreSettings) -> str: ...


def store_module(platform: SandboxPlatform) -> StoreModule:
    """The module of `platform`'s simulated store. Raises KeyError for a platform without one."""
    return cast(StoreModule, importlib.import_module(_MODULES[platform]))


def create_store(settings: StoreSettings) -> tuple[SandboxApp, str]:
    """The store's app and its base path (see the module docstring)."""
    module = store_module(settings.platform)
    return module.create_app(settings), module.base_path(settings)

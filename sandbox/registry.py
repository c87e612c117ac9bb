"""Every simulated store, one line per platform: the package that serves it, imported only when asked for.

Each `sandbox/<package>/` provides:
- `app.py`: `create_app(settings: StoreSettings) -> SandboxApp`, the store, empty, accepting
  `settings.credentials`; and `base_path(settings: StoreSettings) -> str`, what follows `http://host:port` in a
  connection's `base_url` for this store (`""` for Shopify and WooCommerce, `/stores/{hash}` for BigCommerce,
  `/rest/{code}` for Magento);
- `merchant.py`: `MERCHANT`, its `sandbox.merchant_base.StoreMerchant` class (what `sandbox.merchant.Merchant`
  does on that platform).
"""

from __future__ import annotations

import importlib
from typing import Protocol, cast

from sandbox.common import SandboxApp
from sandbox.merchant_base import StoreMerchant
from sandbox.settings import SandboxPlatform, StoreSettings

PACKAGES: dict[SandboxPlatform, str] = {
    "shopify": "sandbox.shopify",
    "bigcommerce": "sandbox.bigcommerce",
    "woocommerce": "sandbox.woocommerce",
    "magento2": "sandbox.magento",
}


class StoreModule(Protocol):
    def create_app(self, settings: StoreSettings) -> SandboxApp: ...

    def base_path(self, settings: StoreSettings) -> str: ...


def store_module(platform: SandboxPlatform) -> StoreModule:
    """The module of `platform`'s simulated store. Raises KeyError for a platform without one."""
    return cast(StoreModule, importlib.import_module(f"{PACKAGES[platform]}.app"))


def merchant_class(platform: SandboxPlatform) -> type[StoreMerchant]:
    """The merchant of `platform`'s simulated store. Raises KeyError for a platform without one."""
    return cast(type[StoreMerchant], importlib.import_module(f"{PACKAGES[platform]}.merchant").MERCHANT)


def create_store(settings: StoreSettings) -> tuple[SandboxApp, str]:
    """The store's app and its base path (see the module docstring)."""
    module = store_module(settings.platform)
    return module.create_app(settings), module.base_path(settings)

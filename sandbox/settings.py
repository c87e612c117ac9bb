"""How a simulated store is set up: which platform, what it is called, which credentials it accepts.

`fulfillsync sandbox --config FILE` reads a YAML list of these under `stores:`; tests build them directly.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

SandboxPlatform = Literal["shopify", "bigcommerce", "woocommerce", "magento2"]
"""The platforms with a simulated store (sandbox/ imports nothing of ours, so it names them itself;
`sandbox.registry` says which package serves each)."""
SANDBOX_PLATFORMS: tuple[SandboxPlatform, ...] = get_args(SandboxPlatform)

DEFAULT_CREDENTIALS = {"access_token": "sandbox-token", "consumer_key": "ck_sandbox", "consumer_secret": "cs_sandbox"}
"""What stores started without credentials of their own accept (`fulfillsync sandbox --<platform> PORT`, the
demo): each platform takes the keys its connections carry."""


class StoreSettings(BaseModel):
    """One simulated store.

    `name`: the shop (`{name}.myshopify.com`), BigCommerce store hash, or Magento store code;
    `credentials`: what the store accepts, with the same keys as a connection's credentials
    (`access_token`, or `consumer_key` and `consumer_secret`);
    `options`: platform-specific knobs, documented by each store's `create_app` (rate limits, page sizes, the
    WooCommerce tracking plugin...). Unknown options are errors there.
    """

    model_config = ConfigDict(extra="forbid")

    platform: SandboxPlatform
    name: str = Field(default="sandbox", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    port: int = Field(default=0, ge=0, le=65535)
    credentials: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)


class SandboxFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    stores: list[StoreSettings] = Field(min_length=1)

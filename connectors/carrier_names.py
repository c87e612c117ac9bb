"""Carrier names on each platform, to and from our canonical names (`ledger.carriers`).

Reading: a platform's carrier name or code becomes the canonical name (`canonical_from_platform`); an unknown
one keeps the name it was given. Writing: the canonical name becomes what the platform expects
(`platform_carrier`): Shopify's company list, BigCommerce `shipping_provider` / `tracking_carrier`, WooCommerce
Shipment Tracking provider names, Magento `carrier_code` (+ `title`). A carrier the platform does not know is
written the platform's way for "other" (see `PlatformCarrier`), with the tracking URL carried separately.
Seed table: ../shared/platform-specs/API-NOTES.md §5.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.carriers import canonical_carrier
from schemas.events import Platform


@dataclass(frozen=True)
class PlatformCarrier:
    """How to write a carrier on one platform. `known` is False when the platform has no name for it: then
    `name` is the free-text name (Shopify company, WooCommerce custom provider, Magento title) and the
    connector must send the tracking URL itself."""

    name: str
    code: str | None
    known: bool


_TABLE: dict[str, dict[str, tuple[str, str | None]]] = {
    # canonical: platform -> (name, code)
    "UPS": {"shopify": ("UPS", None), "bigcommerce": ("ups", "ups"), "woocommerce": ("UPS", None),
            "magento2": ("UPS", "ups")},
    "USPS": {"shopify": ("USPS", None), "bigcommerce": ("usps", "usps"), "woocommerce": ("USPS", None),
             "magento2": ("USPS", "usps")},
    "FedEx": {"shopify": ("FedEx", None), "bigcommerce": ("fedex", "fedex"), "woocommerce": ("Fedex", None),
              "magento2": ("FedEx", "fedex")},
    "DHL Express": {"shopify": ("DHL Express", None), "bigcommerce": ("", "dhl"), "woocommerce": ("DHL US", None),
                    "magento2": ("DHL", "dhl")},
    "Royal Mail": {"shopify": ("Royal Mail", None), "bigcommerce": ("royalmail", "royal-mail"),
                   "woocommerce": ("Royal Mail", None)},
    "Canada Post": {"shopify": ("Canada Post", None), "bigcommerce": ("canadapost", "canada-post")},
    "Australia Post": {"shopify": ("Australia Post", None), "bigcommerce": ("auspost", "australia-post"),
                       "woocommerce": ("Australia Post", None)},
}


def platform_carrier(platform: Platform, canonical: str | None) -> PlatformCarrier | None:
    """How `platform` names the canonical carrier; None when there is no carrier at all.

    BigCommerce: `name` is the `shipping_provider` value (possibly ""), `code` the `tracking_carrier` slug.
    Magento: `name` is the track `title`, `code` the `carrier_code` (`custom` for carriers it lacks)."""
    if canonical is None:
        return None
    entry = _TABLE.get(canonical, {}).get(platform)
    if entry is not None:
        return PlatformCarrier(name=entry[0], code=entry[1], known=True)
    return PlatformCarrier(name=canonical, code="custom" if platform == "magento2" else None, known=False)


def canonical_from_platform(platform: Platform, name: str | None, code: str | None = None) -> str | None:
    """The canonical carrier for what `platform` reported (name and/or code); unknown names kept as given."""
    for value in (code, name):
        if value and value.strip() and value.strip().lower() != "custom":
            for canonical, platforms in _TABLE.items():
                entry = platforms.get(platform)
                if entry and value.strip().lower() in {part.lower() for part in entry if part}:
                    return canonical
    return canonical_carrier(name if name and name.strip() else code if code != "custom" else None)

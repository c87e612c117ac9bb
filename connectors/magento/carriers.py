"""Magento's carrier names: the core carrier codes (`ups`, `usps`, `fedex`, `dhl`) with their titles; every
other carrier is `custom` with its name as title (docs/platforms/magento.md).
"""

from __future__ import annotations

from connectors.carrier_table import CUSTOM, CarrierNames

# Magento: canonical -> (title, carrier_code) for the core carriers; every other carrier is `custom` + title.
_MAGENTO: dict[str, tuple[str, str]] = {
    "UPS": ("UPS", "ups"), "USPS": ("USPS", "usps"), "FedEx": ("FedEx", "fedex"), "DHL Express": ("DHL", "dhl"),
}

CARRIER_NAMES = CarrierNames(written=dict(_MAGENTO), unknown_code=CUSTOM)
"""`name` is the track `title`, `code` the `carrier_code` (`custom` for carriers Magento lacks)."""

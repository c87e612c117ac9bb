"""BigCommerce's carrier names: `shipping_provider` (its enum) and `tracking_carrier` (an AfterShip courier
slug). The slugs of Canpar, Purolator, Yodel, YunExpress, Old Dominion, Landmark Global, OnTrac and Lasership were
checked against copies of AfterShip's courier list; the others are the commonly used ones. Carriers AfterShip
lists no slug for (Spee-Dee Delivery, GOFO Express, Amazon Logistics) are written as unknown, with the tracking
link. Third-party `carrier_{id}` providers and `shipperhq` name no carrier (docs/platforms/bigcommerce.md).
"""

from __future__ import annotations

import re

from connectors.carrier_table import CarrierNames

# BigCommerce: canonical -> (shipping_provider, tracking_carrier). "" = no shipping provider (AfterShip only).
_BIGCOMMERCE: dict[str, tuple[str, str]] = {
    "UPS": ("ups", "ups"), "USPS": ("usps", "usps"), "FedEx": ("fedex", "fedex"), "DHL Express": ("", "dhl"),
    "Royal Mail": ("royalmail", "royal-mail"), "Canada Post": ("canadapost", "canada-post"),
    "Australia Post": ("auspost", "australia-post"),
    "DHL eCommerce": ("", "dhl-global-mail"), "OnTrac": ("", "ontrac"), "Lasership": ("", "lasership"),
    "Purolator": ("", "purolator"), "Canpar": ("", "canpar"), "Deutsche Post": ("", "deutsch-post"),
    "Yodel": ("", "yodel"), "YunExpress": ("", "yunexpress"), "DPD": ("", "dpd"), "DPD UK": ("", "dpd-uk"),
    "GLS": ("", "gls"), "Parcelforce": ("", "parcel-force"), "China Post": ("", "china-post"),
    "Japan Post": ("", "japan-post"), "Poste Italiane": ("", "poste-italiane"), "An Post": ("", "an-post"),
    "New Zealand Post": ("", "new-zealand-post"), "Singapore Post": ("", "singapore-post"),
    "Swiss Post": ("", "swiss-post"), "Israel Post": ("", "israel-post"), "Correios": ("", "brazil-correios"),
    "BPost": ("", "bpost"), "Colissimo": ("", "colissimo"), "TNT": ("", "tnt"), "SF Express": ("", "sf-express"),
    "StarTrack": ("", "star-track"), "Sendle": ("", "sendle"), "Hermes": ("", "hermes-de"),
    "Old Dominion": ("", "old-dominion"), "Landmark Global": ("", "landmark-global"),
}
# shipping_provider values that name a carrier only by implication.
_BIGCOMMERCE_PROVIDERS_READ: dict[str, str] = {"endicia": "USPS", "upsready": "UPS", "upsonline": "UPS"}
# shipping_provider values that name no carrier at all (`carrier_{id}` apps are matched by pattern).
_BIGCOMMERCE_NOT_CARRIERS = frozenset({"", "shipperhq", "custom", "none"})
_BIGCOMMERCE_APP = re.compile(r"carrier_\d+")


CARRIER_NAMES = CarrierNames(
    written=dict(_BIGCOMMERCE), also_read=_BIGCOMMERCE_PROVIDERS_READ, not_carriers=_BIGCOMMERCE_NOT_CARRIERS,
    not_carrier_pattern=_BIGCOMMERCE_APP)
"""`name` is the `shipping_provider` value (possibly ""), `code` the `tracking_carrier` slug."""

"""WooCommerce's carrier names: Shipment Tracking's predefined provider names (grouped by country in the
plugin, which stores them as `sanitize_title` slugs that read back through the same table); see
docs/platforms/woocommerce.md. None of the couriers tracking_number_data added lately (Canpar, Yodel, YunExpress,
Old Dominion, Spee-Dee, GOFO) is predefined there: they are written as custom providers with the tracking link.
"""

from __future__ import annotations

from connectors.carrier_table import CarrierNames

# WooCommerce Shipment Tracking: canonical -> predefined provider name (US, AU, CA, UK, DE, IE, NL, FR, NZ, BR, BE).
# Evri and DPD Local are predefined only in recent plugin versions; an older plugin would keep a predefined name it
# lacks as a custom provider without link, so they are written as custom providers with the link.
_WOOCOMMERCE: dict[str, str] = {
    "UPS": "UPS", "USPS": "USPS", "FedEx": "Fedex", "DHL Express": "DHL US", "DHL eCommerce": "DHL eCommerce",
    "OnTrac": "OnTrac", "Australia Post": "Australia Post", "Canada Post": "Canada Post", "Purolator": "Purolator",
    "Royal Mail": "Royal Mail", "Parcelforce": "ParcelForce", "DPD UK": "DPD.co.uk",
    "TNT": "TNT Express (consignment)", "Hermes": "Hermes", "Deutsche Post": "Deutsche Post DHL", "DPD": "DPD.de",
    "An Post": "An Post", "PostNL": "PostNL", "Colissimo": "Colissimo", "New Zealand Post": "NZ Post",
    "Correios": "Correios", "BPost": "bpost",
}
# Other predefined providers that read as one of our carriers.
_WOOCOMMERCE_READ: dict[str, str] = {
    "FedEx Sameday": "FedEx", "TNT Express (reference)": "TNT", "UPS Germany": "UPS", "UPS Netherlands": "UPS",
    "UPS.se": "UPS", "DPD.ie": "DPD", "DPD.NL": "DPD", "DPD.at": "DPD", "DPD.cz": "DPD", "DPD.PL": "DPD",
    "EVRi (international)": "Evri",
}


CARRIER_NAMES = CarrierNames(written={canonical: (name, None) for canonical, name in _WOOCOMMERCE.items()},
                             also_read=_WOOCOMMERCE_READ)
"""`name` is the Shipment Tracking provider name."""

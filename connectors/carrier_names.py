"""Carrier names on each platform, to and from our canonical names (`schemas.carriers`).

Reading: a platform's carrier name or code becomes the canonical name (`canonical_from_platform`); an unknown
one keeps the name it was given. Writing: the canonical name becomes what the platform expects
(`platform_carrier`): Shopify's company list, BigCommerce `shipping_provider` / `tracking_carrier`, WooCommerce
Shipment Tracking provider names, Magento `carrier_code` (+ `title`). A carrier the platform does not know is
written the platform's way for "other" (see `PlatformCarrier`), with the tracking URL carried separately.

Sources (../shared/platform-specs/API-NOTES.md): Shopify §1.8 (the company list, spelled exactly: "capitalization
matters"), BigCommerce §2.6 (`shipping_provider` enum; `tracking_carrier` is an AfterShip courier slug — the slugs
here are the commonly used ones and were not checked against AfterShip's list, which was not available), WooCommerce
§3.4 (Shipment Tracking's predefined provider names, grouped by country in the plugin; the plugin stores them as
`sanitize_title` slugs, which read back through the same table), Magento §4.6 (core carrier codes `ups`, `usps`,
`fedex`, `dhl`; everything else is `custom` + title).

Contract: for every canonical carrier and every platform, `canonical_from_platform(p, w.name, w.code)` of
`w = platform_carrier(p, canonical)` is `canonical` again; an unknown carrier survives the round trip as given.
Names are matched ignoring case, spacing and punctuation (`DHL US`, `dhl-us`, `dhl_us` are one name).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from schemas.carriers import CARRIERS, canonical_carrier, find_carrier
from schemas.events import Platform


@dataclass(frozen=True)
class PlatformCarrier:
    """How to write a carrier on one platform. `known` is False when the platform has no name for it: then
    `name` is the free-text name (Shopify company, WooCommerce custom provider, Magento title, BigCommerce
    shipping method) and the connector must send the tracking URL itself."""

    name: str
    code: str | None
    known: bool


# Shopify's tracking companies (API-NOTES §1.8), exactly as spelled there: the list every shop has, then the
# names shown only to shops in some countries.
SHOPIFY_COMPANIES: frozenset[str] = frozenset((
    "4PX", "AGS", "Amazon", "Amazon Logistics UK", "An Post", "Anjun Logistics", "APC", "Asendia USA",
    "Australia Post", "Bonshaw", "BPost", "BPost International", "Canada Post", "Canpar", "CDL Last Mile",
    "China Post", "Chronopost", "Chukou1", "Colissimo", "Comingle", "Coordinadora", "Correios", "Correos", "CTT",
    "CTT Express", "Cyprus Post", "Delnext", "Deutsche Post", "DHL eCommerce", "DHL eCommerce Asia", "DHL Express",
    "DPD", "DPD Local", "DPD UK", "DTD Express", "DX", "Eagle", "Estes", "Evri", "FedEx", "First Global Logistics",
    "First Line", "FSC", "Fulfilla", "GLS", "Guangdong Weisuyi Information Technology (WSE)",
    "Heppner Internationale Spedition GmbH & Co.", "Iceland Post", "IDEX", "Israel Post", "Japan Post (EN)",
    "Japan Post (JA)", "La Poste Colissimo", "La Poste Burkina Faso", "Lasership", "Latvia Post",
    "Lietuvos Paštas", "Logisters", "Lone Star Overnight", "M3 Logistics", "Meteor Space", "Mondial Relay",
    "New Zealand Post", "NinjaVan", "North Russia Supply Chain (Shenzhen) Co.", "OnTrac", "Packeta",
    "Pago Logistics", "Ping An Da Tengfei Express", "Pitney Bowes", "Portal PostNord", "Poste Italiane", "PostNL",
    "PostNord DK", "PostNord NO", "PostNord SE", "Purolator", "Qxpress", "Qyun Express", "Royal Mail",
    "Royal Shipments", "Sagawa (EN)", "Sagawa (JA)", "Sendle", "SF Express", "SFC Fulfillment", "ShipBob",
    "SHREE NANDAN COURIER", "Singapore Post", "Southwest Air Cargo", "StarTrack", "Step Forward Freight",
    "Swiss Post", "TForce Final Mile", "Tinghao", "TNT", "Toll IPEC", "United Delivery Service", "UPS", "USPS",
    "Venipak", "We Post", "Whistl", "Wizmo", "WMYC", "Xpedigo", "XPO Logistics", "Yamato (EN)", "Yamato (JA)",
    "YiFan Express", "YunExpress",
    # AU
    "Aramex Australia", "TNT Australia", "Hunter Express", "Couriers Please", "Bonds", "Allied Express",
    "Direct Couriers", "Northline", "GO Logistics",
    # AT, BG, CA, CN, CZ
    "Österreichische Post", "Speedy", "Intelcom", "BoxKnight", "Loomis", "WanbExpress", "Zásilkovna",
    # DE
    "Deutsche Post (DE)", "Deutsche Post (EN)", "DHL", "Swiship", "Hermes",
    # ES, FR, UK, GR
    "SEUR", "Colis Privé", "Parcelforce", "Yodel", "DHL Parcel", "Tuffnells", "ACS Courier",
    # IE, IN
    "Fastway", "DPD Ireland", "DTDC", "India Post", "Delhivery", "Gati KWE", "Professional Couriers", "XpressBees",
    "Ecom Express", "Ekart", "Shadowfax", "Bluedart",
    # IT, JP, NO, PL
    "BRT", "GLS Italy", "エコ配", "西濃運輸", "西濃スーパーエキスプレス", "福山通運", "日本通運", "名鉄運輸",
    "第一貨物", "Bring", "Inpost",
    # TR, US, ZA
    "PTT", "Yurtiçi Kargo", "Aras Kargo", "Sürat Kargo", "Alliance Air Freight", "Pilot Freight", "LSO",
    "Old Dominion", "Pandion", "R+L Carriers", "Skynet",
))

# Shopify: the company is the canonical name, except where Shopify spells the carrier differently.
_SHOPIFY_SPELLING: dict[str, str] = {"Amazon Logistics": "Amazon", "Japan Post": "Japan Post (EN)"}

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
}
# shipping_provider values that name a carrier only by implication.
_BIGCOMMERCE_PROVIDERS_READ: dict[str, str] = {"endicia": "USPS", "upsready": "UPS", "upsonline": "UPS"}
# shipping_provider values that name no carrier at all (`carrier_{id}` apps are matched by pattern).
_BIGCOMMERCE_NOT_CARRIERS = frozenset({"", "shipperhq", "custom", "none"})
_BIGCOMMERCE_APP = re.compile(r"carrier_\d+")

# WooCommerce Shipment Tracking: canonical -> predefined provider name (US, AU, CA, UK, DE, IE, NL, FR, NZ, BR, BE).
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
}

# Magento: canonical -> (title, carrier_code) for the core carriers; every other carrier is `custom` + title.
_MAGENTO: dict[str, tuple[str, str]] = {
    "UPS": ("UPS", "ups"), "USPS": ("USPS", "usps"), "FedEx": ("FedEx", "fedex"), "DHL Express": ("DHL", "dhl"),
}
MAGENTO_CUSTOM = "custom"


def _key(value: str) -> str:
    """Letters and digits only (any script), case-folded, accents dropped: "DHL-US" and "dhl us" are one key."""
    folded = unicodedata.normalize("NFKD", value.casefold())
    return "".join(char for char in folded if char.isalnum() and not unicodedata.combining(char))


def _write_table(platform: Platform) -> dict[str, tuple[str, str | None]]:
    if platform == "shopify":
        return {carrier.name: (_SHOPIFY_SPELLING.get(carrier.name, carrier.name), None) for carrier in CARRIERS
                if _SHOPIFY_SPELLING.get(carrier.name, carrier.name) in SHOPIFY_COMPANIES}
    if platform == "bigcommerce":
        return {canonical: (provider, slug) for canonical, (provider, slug) in _BIGCOMMERCE.items()}
    if platform == "woocommerce":
        return {canonical: (name, None) for canonical, name in _WOOCOMMERCE.items()}
    if platform == "magento2":
        return {canonical: (title, code) for canonical, (title, code) in _MAGENTO.items()}
    return {}


def _read_index(platform: Platform) -> dict[str, str]:
    index: dict[str, str] = {}
    for canonical, (name, code) in _WRITE[platform].items():
        for part in (name, code):
            if part:
                index.setdefault(_key(part), canonical)
    extra = {"bigcommerce": _BIGCOMMERCE_PROVIDERS_READ, "woocommerce": _WOOCOMMERCE_READ}.get(platform, {})
    for name, canonical in extra.items():
        index.setdefault(_key(name), canonical)
    return index


_SHOPIFY_BY_KEY: dict[str, str] = {_key(company): company for company in SHOPIFY_COMPANIES}
_PLATFORMS: tuple[Platform, ...] = ("shopify", "bigcommerce", "woocommerce", "magento2", "manual")
_WRITE: dict[Platform, dict[str, tuple[str, str | None]]] = {
    platform: _write_table(platform) for platform in _PLATFORMS}
_READ: dict[Platform, dict[str, str]] = {platform: _read_index(platform) for platform in _PLATFORMS}


def platform_carrier(platform: Platform, canonical: str | None) -> PlatformCarrier | None:
    """How `platform` names the canonical carrier; None when there is no carrier at all.

    `canonical` is expected to be a canonical name (`schemas.carriers.canonical_carrier`); any other spelling of a
    known carrier is canonicalised first. BigCommerce: `name` is the `shipping_provider` value (possibly ""),
    `code` the `tracking_carrier` slug. WooCommerce: `name` is the Shipment Tracking provider name. Magento:
    `name` is the track `title`, `code` the `carrier_code` (`custom` for carriers it lacks). A carrier outside
    our table whose name is one of Shopify's companies (ignoring case and punctuation) is known to Shopify under
    Shopify's spelling. Other carriers: `known=False`, `name` the carrier's own name, `code` None (Magento:
    `custom`)."""
    canonical = canonical_carrier(canonical)
    if canonical is None:
        return None
    entry = _WRITE[platform].get(canonical)
    if entry is not None:
        return PlatformCarrier(name=entry[0], code=entry[1], known=True)
    if platform == "shopify" and (company := _SHOPIFY_BY_KEY.get(_key(canonical))) is not None:
        return PlatformCarrier(name=company, code=None, known=True)
    return PlatformCarrier(name=canonical, code=MAGENTO_CUSTOM if platform == "magento2" else None, known=False)


def canonical_from_platform(platform: Platform, name: str | None, code: str | None = None) -> str | None:
    """The canonical carrier for what `platform` reported (name and/or code); unknown names kept as given.

    The code is tried first, then the name, against the platform's own names (and its extra read-only names:
    BigCommerce `endicia`/`upsready`/`upsonline`, WooCommerce providers such as `FedEx Sameday`), then against
    every alias `schemas.carriers` knows. Values that name no carrier (blank, Magento `custom`, BigCommerce
    `shipperhq` or `carrier_{id}`) are skipped; None when nothing is left."""
    values = [value.strip() for value in (code, name) if value is not None and _names_a_carrier(platform, value)]
    for value in values:
        canonical = _READ[platform].get(_key(value))
        if canonical is not None:
            return canonical
    for value in reversed(values):  # name before code: a free-text name is what a person reads
        known = find_carrier(value)
        if known is not None:
            return known.name
    return values[-1] if values else None


def _names_a_carrier(platform: Platform, value: str) -> bool:
    stripped = value.strip()
    if not stripped or stripped.casefold() == MAGENTO_CUSTOM:
        return False
    folded = stripped.casefold()
    return platform != "bigcommerce" or (folded not in _BIGCOMMERCE_NOT_CARRIERS
                                         and _BIGCOMMERCE_APP.fullmatch(folded) is None)

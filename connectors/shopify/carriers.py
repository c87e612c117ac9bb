"""Shopify's carrier names: the tracking company list, spelled exactly as Shopify does ("capitalization
matters"); a canonical carrier is written under its own name when Shopify lists it (docs/platforms/shopify.md).
"""

from __future__ import annotations

from connectors.carrier_table import CarrierNames
from schemas.carriers import CARRIERS

# Shopify's tracking companies, exactly as spelled there: the list every shop has, then the
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


def _written() -> dict[str, tuple[str, str | None]]:
    spelled = {carrier.name: _SHOPIFY_SPELLING.get(carrier.name, carrier.name) for carrier in CARRIERS}
    return {canonical: (company, None) for canonical, company in spelled.items() if company in SHOPIFY_COMPANIES}


CARRIER_NAMES = CarrierNames(written=_written(), own_names=SHOPIFY_COMPANIES)
"""Written as `trackingInfo.company`; a company outside our table is still known under Shopify's spelling."""

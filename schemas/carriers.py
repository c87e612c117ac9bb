"""Carrier names: one canonical name per carrier, and tracking URLs for the carriers we know.

Platforms spell carriers differently (`UPS`, `ups`, `United Parcel Service`, `fedex`, `FedEx Ground`...).
The ledger stores the canonical name; an unknown carrier keeps the name it was given (stripped), and gets no URL.

Canonical names are Shopify's tracking company names where Shopify has one (docs/platforms/shopify.md), so the
most common platform needs no mapping; `connectors.carrier_names` maps them to and from every platform's own names.
Names are compared by their letters and digits only, case-folded: `DHL-Express`, `dhl express` and `DHLExpress`
are one alias.

Tracking URLs: a fulfillment's stored content digest includes its URLs, and the ledger stores a URL built from a
template as "built" (ledger/stored.py), so changing a carrier's template would rewrite stored fulfillments. The ten
carriers this module started with keep their URL templates unchanged, and so does every carrier whose template has
been in use (OnTrac keeps the one of the data it was added with); carriers without one take the URL template of
the vendored `tracking_number_data` definitions (`schemas.tracking_numbers`) when the data has one, and have no
URL otherwise. tests/schemas/test_carriers.py pins every template, so a data update that would change one fails.

Detection maps the data's couriers to canonical carriers by `Carrier.data_courier` (the data's courier code) and
`Carrier.data_definitions` (the definition ids the carrier owns when one courier code covers several carriers,
as `dhl` does); every courier of the data has a canonical carrier.

`tracking_url(None, number)` never guesses a carrier from the number. Detection is opt-in: a caller that has a
number without a carrier asks `detect_carrier(number)` and decides what to do with the answer.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote

from schemas import tracking_numbers


@dataclass(frozen=True)
class Carrier:
    """A canonical carrier. `tracking_url` has `{number}` for the URL-quoted tracking number; when it is None the
    URL comes from the vendored data's definitions of `data_courier` (limited to `data_definitions` when given), if
    any. `data_courier` is the data's courier code for this carrier; `data_definitions`, the ids of the definitions
    of that courier that are this carrier (empty: every definition no other carrier claims)."""

    name: str
    tracking_url: str | None
    aliases: tuple[str, ...]
    data_courier: str | None = None
    data_definitions: tuple[str, ...] = ()


CARRIERS: tuple[Carrier, ...] = (
    # The original ten: URL templates unchanged.
    Carrier("UPS", "https://www.ups.com/track?tracknum={number}",
            ("ups", "unitedparcelservice", "upsground", "upsmailinnovations", "upssurepost", "upsstandard",
             "upsexpress", "upsworldwide"), "ups"),
    Carrier("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
            ("usps", "unitedstatespostalservice", "uspostalservice", "uspostal", "usmail", "uspriority",
             "uspsfirstclass", "uspspriority", "uspsground"), "usps"),
    Carrier("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}",
            ("fedex", "federalexpress", "fedexground", "fedexexpress", "fedexhomedelivery", "fedexsmartpost",
             "fedexinternational", "fedexfreight"), "fedex"),
    Carrier("DHL Express", "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
            ("dhl", "dhlexpress", "dhlus", "dhlexpressus", "dhlworldwide", "dhlexpressworldwide",
             "dhlinternational"), "dhl", ("dhl_express", "dhl_express_piece_id")),
    Carrier("Canada Post", "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}",
            ("canadapost", "postescanada", "canadapostpostescanada"), "canada_post"),
    Carrier("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
            ("royalmail", "royalmailgroup", "royalmailgroupplc", "royalmailuk")),
    Carrier("Australia Post", "https://auspost.com.au/mypost/track/details/{number}",
            ("australiapost", "auspost")),
    Carrier("DPD", "https://tracking.dpd.de/status/en_US/parcel/{number}", ("dpd", "dpdgroup", "dpdde"), "dpd"),
    Carrier("GLS", "https://gls-group.com/track/{number}", ("gls", "glsgroup", "generallogisticssystems")),
    Carrier("PostNL", "https://postnl.nl/tracktrace/?B={number}", ("postnl",)),
    # Added later: URLs from the vendored data where it has them, kept once in use.
    Carrier("DHL eCommerce", None,
            ("dhlecommerce", "dhlecommercesolutions", "dhlglobalmail", "dhlecommerceus", "dhlecs"),
            "dhl", ("dhl_ecommerce", "dhl_ecommerce_14")),
    # The template of the data it was added with; later data moved it to /tracking/?number=%s.
    Carrier("OnTrac", "http://www.ontrac.com/trackingres.asp?tracking_number={number}", ("ontrac", "ontracshipping"),
            "ontrac"),
    Carrier("Amazon Logistics", None,
            ("amazon", "amazonlogistics", "amazonshipping", "amzl", "amazonlogisticsus"), "amazon"),
    Carrier("Lasership", None, ("lasership", "lasershipinc"), "lasership"),
    Carrier("Landmark Global", None, ("landmark", "landmarkglobal", "landmarkgloballtn"), "landmark"),
    Carrier("Purolator", None, ("purolator", "purolatorinc"), "purolator"),
    Carrier("Canpar", None, ("canpar", "canparexpress", "canparcourier"), "canpar"),
    Carrier("Deutsche Post", None, ("deutschepost", "deutschepostde", "deutscheposten", "deutschepostdhl")),
    Carrier("Evri", None, ("evri", "hermesuk", "myhermes", "myhermesuk")),
    Carrier("Hermes", None, ("hermes", "hermesde", "hermesworld", "hermesgermany")),
    Carrier("Yodel", None, ("yodel", "yodeldirect", "yodeldomestic"), "yodel"),
    Carrier("YunExpress", None, ("yunexpress", "yuntrack"), "yunexpress"),
    Carrier("DPD UK", None, ("dpduk", "dpdcouk")),
    Carrier("DPD Local", None, ("dpdlocal",)),
    Carrier("Parcelforce", None, ("parcelforce", "parcelforceworldwide")),
    Carrier("Amazon Logistics UK", None, ("amazonlogisticsuk", "amazonuk")),
    Carrier("China Post", None, ("chinapost", "chinapostair", "chinaems")),
    Carrier("Japan Post", None, ("japanpost", "japanposten", "japanpostja")),
    Carrier("Poste Italiane", None, ("posteitaliane",)),
    Carrier("An Post", None, ("anpost",)),
    Carrier("New Zealand Post", None, ("newzealandpost", "nzpost")),
    Carrier("Singapore Post", None, ("singaporepost", "singpost")),
    Carrier("Swiss Post", None, ("swisspost", "postch", "lapostesuisse")),
    Carrier("Israel Post", None, ("israelpost",)),
    Carrier("Correos", None, ("correos", "correosespana", "correosspain")),
    Carrier("Correios", None, ("correios", "correiosbrazil", "brazilcorreios")),
    Carrier("CTT", None, ("ctt", "cttcorreios", "cttportugal")),
    Carrier("BPost", None, ("bpost", "belgianpost")),
    Carrier("Colissimo", None, ("colissimo", "lapostecolissimo")),
    Carrier("Chronopost", None, ("chronopost",)),
    Carrier("Mondial Relay", None, ("mondialrelay",)),
    Carrier("TNT", None, ("tnt", "tntexpress")),
    Carrier("SF Express", None, ("sfexpress", "shunfeng")),
    Carrier("StarTrack", None, ("startrack",)),
    Carrier("Sendle", None, ("sendle",)),
    Carrier("Iceland Post", None, ("icelandpost", "islandspostur")),
    Carrier("Latvia Post", None, ("latviapost", "latvijaspasts")),
    Carrier("Cyprus Post", None, ("cypruspost",)),
    Carrier("Lietuvos Paštas", None, ("lietuvospastas", "lithuanianpost")),
    # Couriers of tracking_number_data v2.0.0 (canonical name: Shopify's company where it has one).
    Carrier("Old Dominion", None, ("olddominion", "olddominionfreightline", "odfl"), "old_dominion"),
    Carrier("Spee-Dee Delivery", None, ("speedee", "speedeedelivery", "speedeedeliveryservice"), "speedee"),
    Carrier("GOFO Express", None, ("gofo", "gofoexpress"), "gofo"),
)

# S10 (UPU) numbers name the issuing post by country code; these are the posts we have a canonical name for.
S10_COUNTRY_CARRIERS: dict[str, str] = {
    "US": "USPS", "GB": "Royal Mail", "CA": "Canada Post", "AU": "Australia Post", "DE": "Deutsche Post",
    "NL": "PostNL", "CN": "China Post", "JP": "Japan Post", "IT": "Poste Italiane", "IE": "An Post",
    "NZ": "New Zealand Post", "SG": "Singapore Post", "CH": "Swiss Post", "IL": "Israel Post", "ES": "Correos",
    "BR": "Correios", "PT": "CTT", "BE": "BPost", "FR": "Colissimo", "IS": "Iceland Post", "LV": "Latvia Post",
    "CY": "Cyprus Post", "LT": "Lietuvos Paštas",
}


def _alias_key(name: str) -> str:
    """Letters and digits only (any script), case-folded, accents dropped: "DHL-US" and "dhl us" are one key."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    return "".join(char for char in folded if char.isalnum() and not unicodedata.combining(char))


def _index() -> dict[str, Carrier]:
    index: dict[str, Carrier] = {}
    for carrier in CARRIERS:
        for alias in {*(_alias_key(alias) for alias in carrier.aliases), _alias_key(carrier.name)}:
            if alias in index and index[alias] is not carrier:
                raise ValueError(f"carrier alias {alias!r} names both {index[alias].name} and {carrier.name}")
            index[alias] = carrier
    return index


_BY_ALIAS = _index()
_BY_NAME = {carrier.name: carrier for carrier in CARRIERS}


def find_carrier(name: str | None) -> Carrier | None:
    """The known carrier `name` (any alias, any spacing or case) stands for; None when unknown or blank."""
    return _BY_ALIAS.get(_alias_key(name)) if name and name.strip() else None


def canonical_carrier(name: str | None) -> str | None:
    """The canonical name for `name`; an unknown carrier's name stripped of surrounding space; None if blank."""
    if name is None or not name.strip():
        return None
    known = find_carrier(name)
    return known.name if known else name.strip()


@functools.lru_cache(maxsize=65536)  # called for every number of every fulfillment the ledger stores or reads
def tracking_url(carrier: str | None, number: str) -> str | None:
    """The tracking URL of `number` at a known carrier, or None for an unknown or missing carrier or a known
    carrier we have no URL for. Never guesses the carrier from the number (see `detect_carrier`)."""
    known = find_carrier(carrier)
    if known is None:
        return None
    if known.tracking_url is not None:
        return known.tracking_url.format(number=quote(number, safe=""))
    template = _data_template(known.name)
    return template.replace("%s", quote(number, safe="")) if template else None


def detect_carrier(number: str) -> str | None:
    """The canonical carrier whose tracking-number format `number` has (`schemas.tracking_numbers.detect`), or
    None when no format, or formats of several carriers, match. An S10 number from a post without a canonical
    name returns the data's name for that post."""
    found = tracking_numbers.detect(number)
    return carrier_for_detection(found) if found is not None else None


def carrier_for_detection(found: tracking_numbers.Detection) -> str | None:
    """The canonical carrier of a detection: by the data's courier code and definition, or for S10 by country."""
    if found.courier_code == "s10":
        mapped = S10_COUNTRY_CARRIERS.get(found.country_code or "")
        return mapped if mapped is not None else canonical_carrier(found.postal_operator)
    chosen = _BY_DEFINITION.get((found.courier_code, found.definition_id)) or _BY_DEFINITION.get(
        (found.courier_code, None))
    if chosen is not None:
        return chosen.name
    return canonical_carrier(found.courier_name)


def _by_definition() -> dict[tuple[str, str | None], Carrier]:
    table: dict[tuple[str, str | None], Carrier] = {}
    for carrier in CARRIERS:
        if carrier.data_courier is None:
            continue
        keys: list[tuple[str, str | None]] = [(carrier.data_courier, d) for d in carrier.data_definitions]
        for key in keys or [(carrier.data_courier, None)]:
            if key in table:
                raise ValueError(f"data definition {key} names both {table[key].name} and {carrier.name}")
            table[key] = carrier
    return table


_BY_DEFINITION = _by_definition()


@cache
def _data_template(name: str) -> str | None:
    known = _BY_NAME[name]
    if known.data_courier is None:
        return None
    for definition in tracking_numbers.definitions():
        owned = not known.data_definitions or definition.definition_id in known.data_definitions
        if definition.courier_code == known.data_courier and owned and definition.tracking_url_template:
            return definition.tracking_url_template
    return None

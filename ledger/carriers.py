"""Carrier names: one canonical name per carrier, and tracking URLs for the carriers we know.

Platforms spell carriers differently (`UPS`, `ups`, `United Parcel Service`, `fedex`, `FedEx Ground`...).
The ledger stores the canonical name; an unknown carrier keeps the name it was given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Carrier:
    name: str
    tracking_url: str  # `{number}` is replaced by the URL-quoted tracking number
    aliases: tuple[str, ...]


CARRIERS: tuple[Carrier, ...] = (
    Carrier("UPS", "https://www.ups.com/track?tracknum={number}", ("ups", "unitedparcelservice", "upsground")),
    Carrier("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
            ("usps", "unitedstatespostalservice", "uspostalservice")),
    Carrier("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}",
            ("fedex", "federalexpress", "fedexground", "fedexexpress")),
    Carrier("DHL Express", "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
            ("dhl", "dhlexpress")),
    Carrier("Canada Post", "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}",
            ("canadapost", "postescanada")),
    Carrier("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/{number}", ("royalmail",)),
    Carrier("Australia Post", "https://auspost.com.au/mypost/track/details/{number}", ("australiapost", "auspost")),
    Carrier("DPD", "https://tracking.dpd.de/status/en_US/parcel/{number}", ("dpd",)),
    Carrier("GLS", "https://gls-group.com/track/{number}", ("gls",)),
    Carrier("PostNL", "https://postnl.nl/tracktrace/?B={number}", ("postnl",)),
)

_BY_ALIAS = {alias: carrier for carrier in CARRIERS for alias in (*carrier.aliases, carrier.name.lower())}
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def _alias_key(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


def canonical_carrier(name: str | None) -> str | None:
    """The canonical name for `name`; an unknown carrier's name stripped of surrounding space; None if blank."""
    if name is None or not name.strip():
        return None
    carrier = _BY_ALIAS.get(_alias_key(name))
    return carrier.name if carrier else name.strip()


def tracking_url(carrier: str | None, number: str) -> str | None:
    """The tracking URL of `number` at a known carrier, or None for an unknown or missing carrier."""
    known = _BY_ALIAS.get(_alias_key(carrier)) if carrier else None
    return known.tracking_url.format(number=quote(number, safe="")) if known else None

"""One platform's carrier names, to and from our canonical names (`schemas.carriers`): the machinery each
platform package fills with its own table (`connectors/<platform>/carriers.py`).

Reading: a platform's carrier name or code becomes the canonical name (`CarrierNames.to_canonical`); an unknown
one keeps the name it was given. Writing: the canonical name becomes what the platform expects
(`CarrierNames.to_platform`). A carrier the platform does not know is written the platform's way for "other"
(`PlatformCarrier.known` False), with the tracking URL carried separately.

Contract, for every table: `to_canonical(w.name, w.code)` of `w = to_platform(canonical)` is `canonical` again
for every canonical carrier; an unknown carrier survives the round trip as given. Names are matched ignoring
case, spacing, punctuation and accents (`DHL US`, `dhl-us`, `dhl_us` are one name).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from schemas.carriers import canonical_carrier, find_carrier

CUSTOM = "custom"
"""A code that names no carrier on any platform (Magento's `custom` carrier code)."""


@dataclass(frozen=True)
class PlatformCarrier:
    """How to write a carrier on one platform. `known` is False when the platform has no name for it: then
    `name` is the free-text name (Shopify company, WooCommerce custom provider, Magento title, BigCommerce
    shipping method) and the connector must send the tracking URL itself."""

    name: str
    code: str | None
    known: bool


def name_key(value: str) -> str:
    """Letters and digits only (any script), case-folded, accents dropped: "DHL-US" and "dhl us" are one key."""
    folded = unicodedata.normalize("NFKD", value.casefold())
    return "".join(char for char in folded if char.isalnum() and not unicodedata.combining(char))


@dataclass(frozen=True)
class CarrierNames:
    """One platform's carrier vocabulary.

    `written`: canonical name -> (name, code) as the platform stores a carrier it knows; `also_read`: further
    platform names that read as a canonical carrier (never written); `own_names`: names the platform knows
    beyond `written`, written under the platform's spelling (Shopify's company list); `unknown_code`: the code
    written with a carrier the platform does not know (Magento: `custom`); `not_carriers`: values (compared
    case-folded) and `not_carrier_pattern`: a full-match pattern for values that name no carrier at all."""

    written: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    also_read: Mapping[str, str] = field(default_factory=dict)
    own_names: Collection[str] = ()
    unknown_code: str | None = None
    not_carriers: frozenset[str] = frozenset()
    not_carrier_pattern: re.Pattern[str] | None = None
    _read: dict[str, str] = field(init=False, repr=False, compare=False)
    _own_by_key: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for canonical, (name, code) in self.written.items():
            for part in (name, code):
                if part:
                    index.setdefault(name_key(part), canonical)
        for name, canonical in self.also_read.items():
            index.setdefault(name_key(name), canonical)
        object.__setattr__(self, "_read", index)
        object.__setattr__(self, "_own_by_key", {name_key(name): name for name in self.own_names})

    def to_platform(self, canonical: str | None) -> PlatformCarrier | None:
        """How the platform names the carrier; None when there is no carrier at all.

        `canonical` is expected to be a canonical name (`schemas.carriers.canonical_carrier`); any other spelling
        of a known carrier is canonicalised first. A carrier outside `written` that is one of `own_names`
        (ignoring case and punctuation) is known under the platform's spelling. Other carriers: `known=False`,
        `name` the carrier's own name, `code` the table's `unknown_code`."""
        canonical = canonical_carrier(canonical)
        if canonical is None:
            return None
        entry = self.written.get(canonical)
        if entry is not None:
            return PlatformCarrier(name=entry[0], code=entry[1], known=True)
        if (name := self._own_by_key.get(name_key(canonical))) is not None:
            return PlatformCarrier(name=name, code=None, known=True)
        return PlatformCarrier(name=canonical, code=self.unknown_code, known=False)

    def to_canonical(self, name: str | None, code: str | None = None) -> str | None:
        """The canonical carrier for what the platform reported (name and/or code); unknown names kept as given.

        The code is tried first, then the name, against the platform's own names (`written`, `also_read`), then
        against every alias `schemas.carriers` knows. Values that name no carrier (blank, `custom`,
        `not_carriers`) are skipped; None when nothing is left."""
        values = [value.strip() for value in (code, name) if value is not None and self._names_a_carrier(value)]
        for value in values:
            canonical = self._read.get(name_key(value))
            if canonical is not None:
                return canonical
        for value in reversed(values):  # name before code: a free-text name is what a person reads
            known = find_carrier(value)
            if known is not None:
                return known.name
        return values[-1] if values else None

    def _names_a_carrier(self, value: str) -> bool:
        folded = value.strip().casefold()
        if not folded or folded == CUSTOM or folded in self.not_carriers:
            return False
        return self.not_carrier_pattern is None or self.not_carrier_pattern.fullmatch(folded) is None

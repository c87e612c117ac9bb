"""Carrier names on each platform, to and from our canonical names (`schemas.carriers`), by platform id.

Each platform's table lives in its own package (`connectors/<platform>/carriers.py`, a `CarrierNames` of
`connectors.carrier_table`, which states the contract) and is listed by its `PlatformDescription`; these two
functions look it up in `connectors.registry`. A platform without a table (`manual`) knows no carrier: every
carrier is written by its own name and read back as given. A connector uses its own table directly.
"""

from __future__ import annotations

from connectors.carrier_table import CarrierNames
from connectors.carrier_table import PlatformCarrier as PlatformCarrier  # re-exported: what writing gives
from connectors.registry import platform_description

_NO_TABLE = CarrierNames()


def _table(platform: str) -> CarrierNames:
    description = platform_description(platform)
    return _NO_TABLE if description is None else description.carrier_names


def platform_carrier(platform: str, canonical: str | None) -> PlatformCarrier | None:
    """How `platform` names the canonical carrier (`CarrierNames.to_platform`); None when there is no carrier."""
    return _table(platform).to_platform(canonical)


def canonical_from_platform(platform: str, name: str | None, code: str | None = None) -> str | None:
    """The canonical carrier for what `platform` reported (`CarrierNames.to_canonical`); unknown names kept."""
    return _table(platform).to_canonical(name, code)

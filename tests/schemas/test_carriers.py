"""Canonical carrier names, tracking URLs, and opt-in detection of the carrier from a tracking number."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from schemas import tracking_numbers
from schemas.carriers import (
    CARRIERS,
    S10_COUNTRY_CARRIERS,
    canonical_carrier,
    carrier_for_detection,
    detect_carrier,
    find_carrier,
    tracking_url,
)

# The URL templates the ledger has always used: stored fulfillments' digests include URLs built from them.
ORIGINAL_URLS = {
    "UPS": "https://www.ups.com/track?tracknum=N1",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels=N1",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr=N1",
    "DHL Express": "https://www.dhl.com/global-en/home/tracking.html?tracking-id=N1",
    "Canada Post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=N1",
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/N1",
    "Australia Post": "https://auspost.com.au/mypost/track/details/N1",
    "DPD": "https://tracking.dpd.de/status/en_US/parcel/N1",
    "GLS": "https://gls-group.com/track/N1",
    "PostNL": "https://postnl.nl/tracktrace/?B=N1",
}


# -- canonical names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "canonical"), [
    ("ups", "UPS"), (" United Parcel Service ", "UPS"), ("ups-ground", "UPS"), ("FEDEX", "FedEx"),
    ("Federal Express", "FedEx"), ("U.S. Postal Service", "USPS"), ("dhl", "DHL Express"),
    ("DHL eCommerce", "DHL eCommerce"), ("dhl global mail", "DHL eCommerce"), ("Postes Canada", "Canada Post"),
    ("auspost", "Australia Post"), ("Amazon", "Amazon Logistics"), ("myHermes", "Evri"), ("Hermes", "Hermes"),
    ("laser ship", "Lasership"), ("OnTrac", "OnTrac"), ("Royal Mail Group plc", "Royal Mail"),
    ("Lietuvos Pastas", "Lietuvos Paštas"), ("nz post", "New Zealand Post"), ("Deutsche Post (EN)", "Deutsche Post"),
])
def test_known_spellings_become_the_canonical_name(given: str, canonical: str) -> None:
    assert canonical_carrier(given) == canonical


def test_unknown_carrier_is_kept_as_given_and_blank_is_none() -> None:
    assert canonical_carrier("  Acme Freight ") == "Acme Freight"
    assert canonical_carrier("") is None
    assert canonical_carrier("   ") is None
    assert canonical_carrier(None) is None


def test_every_canonical_name_is_its_own_canonical_name_and_names_are_unique() -> None:
    names = [carrier.name for carrier in CARRIERS]
    assert len(names) == len(set(names))
    for name in names:
        assert canonical_carrier(name) == name
        assert canonical_carrier(name.upper()) == name
        assert canonical_carrier(name.replace(" ", "-").lower()) == name


def test_brief_carriers_are_all_known() -> None:
    for name in ("UPS", "USPS", "FedEx", "DHL Express", "DHL eCommerce", "Canada Post", "Royal Mail",
                 "Australia Post", "Purolator", "OnTrac", "Amazon Logistics", "Deutsche Post", "DPD", "GLS", "PostNL",
                 "Evri", "Yodel", "Lasership", "Canpar", "YunExpress"):
        known = find_carrier(name)
        assert known is not None and known.name == name


# -- tracking URLs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "url"), sorted(ORIGINAL_URLS.items()))
def test_original_url_templates_are_unchanged(name: str, url: str) -> None:
    assert tracking_url(name, "N1") == url


def test_url_quotes_the_number() -> None:
    url = tracking_url("UPS", "1Z 9/?&")
    assert url == "https://www.ups.com/track?tracknum=1Z%209%2F%3F%26"


def test_new_carriers_take_the_vendored_datas_url_or_have_none() -> None:
    assert tracking_url("OnTrac", "C11031500001879") == (
        "http://www.ontrac.com/trackingres.asp?tracking_number=C11031500001879")
    assert tracking_url("Landmark Global", "LTN74207623N1") == "https://track.landmarkglobal.com/?search=LTN74207623N1"
    assert tracking_url("DHL eCommerce", "GM2951173225174494") == (
        "http://www.dhl.com/en/express/tracking.html?brand=DHL&AWB=GM2951173225174494")
    assert tracking_url("Lasership", "LX17635036") is None  # the pinned data has no URL for LaserShip
    assert tracking_url("Evri", "H00A0A0000000000") is None  # not in the data at all


def test_every_url_we_build_is_http_and_contains_the_number() -> None:
    for known in CARRIERS:
        url = tracking_url(known.name, "ABC123")
        if url is not None:
            assert urlsplit(url).scheme in {"http", "https"}
            assert "ABC123" in url


def test_unknown_or_missing_carrier_gets_no_url_and_is_never_guessed() -> None:
    assert tracking_url("Acme Freight", "1Z879E930346834440") is None
    assert tracking_url(None, "1Z879E930346834440") is None  # detectable, but detection is opt-in
    assert tracking_url("", "1Z879E930346834440") is None


def test_data_couriers_named_by_the_table_exist_in_the_data() -> None:
    in_data = {(d.courier_code, d.definition_id) for d in tracking_numbers.definitions()}
    for known in CARRIERS:
        if known.data_courier is not None:
            code, definition_id = known.data_courier
            assert any(c == code and (definition_id is None or d == definition_id) for c, d in in_data), known.name


# -- detection ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "carrier"), [
    ("1Z879E930346834440", "UPS"), ("K1506235620", "UPS"), ("986578788855", "FedEx"),
    ("0307 1790 0005 2348 3741", "USPS"), ("3318810025", "DHL Express"), ("GM2951173225174494", "DHL eCommerce"),
    ("TBA502887274000", "Amazon Logistics"), ("C11031500001879", "OnTrac"), ("LX17635036", "Lasership"),
    ("0073938000549297", "Canada Post"), ("0998 0000 0200 34D", "DPD"), ("LTN74207623N1", "Landmark Global"),
    ("RB123456785GB", "Royal Mail"), ("RB123456785US", "USPS"), ("rb 123 456 785 gb", "Royal Mail"),
])
def test_detect_carrier_gives_the_canonical_name(number: str, carrier: str) -> None:
    assert detect_carrier(number) == carrier


def test_detect_carrier_is_none_for_unknown_or_ambiguous_numbers() -> None:
    assert detect_carrier("hello") is None
    assert detect_carrier("") is None
    assert detect_carrier("9261292700768711948021") is None  # FedEx SmartPost and USPS 91 both accept it


def test_s10_from_a_post_without_a_canonical_name_keeps_the_datas_name() -> None:
    assert detect_carrier("RB123456785CV") == "Correios de Cabo Verde"


def test_every_s10_country_we_map_is_a_known_carrier_and_in_the_data() -> None:
    s10 = next(d for d in tracking_numbers.definitions() if d.courier_code == "s10")
    countries = {entry["matches"] for lookup in s10.lookups if lookup.name == "Courier" for entry in lookup.entries}
    for country, name in S10_COUNTRY_CARRIERS.items():
        assert country in countries
        assert canonical_carrier(name) == name and find_carrier(name) is not None


def test_every_detection_of_the_datas_examples_maps_to_a_canonical_or_data_name() -> None:
    for definition in tracking_numbers.definitions():
        for number in definition.valid_examples:
            found = tracking_numbers.detect(number)
            if found is not None and found.courier_code != "s10":
                name = carrier_for_detection(found)
                assert name is not None and find_carrier(name) is not None, (number, name)

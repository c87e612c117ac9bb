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
    ("Old Dominion Freight Line", "Old Dominion"), ("ODFL", "Old Dominion"), ("Spee-Dee", "Spee-Dee Delivery"),
    ("GOFO", "GOFO Express"), ("Canpar Courier", "Canpar"), ("United States Postal Service", "USPS"),
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
                 "Evri", "Yodel", "Lasership", "Canpar", "YunExpress", "Old Dominion", "Spee-Dee Delivery",
                 "GOFO Express"):
        known = find_carrier(name)
        assert known is not None and known.name == name


# -- tracking URLs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "url"), sorted(ORIGINAL_URLS.items()))
def test_original_url_templates_are_unchanged(name: str, url: str) -> None:
    assert tracking_url(name, "N1") == url


def test_url_quotes_the_number() -> None:
    url = tracking_url("UPS", "1Z 9/?&")
    assert url == "https://www.ups.com/track?tracknum=1Z%209%2F%3F%26"


# Every template in use, pinned: the ledger rebuilds stored URLs from them (ledger/stored.py), so a data update that
# changes one must be a decision (pin the old template in `schemas.carriers`), not a side effect.
DATA_URLS = {
    "DHL eCommerce": "http://www.dhl.com/en/express/tracking.html?brand=DHL&AWB=N1",
    "OnTrac": "http://www.ontrac.com/trackingres.asp?tracking_number=N1",
    "Landmark Global": "https://track.landmarkglobal.com/?search=N1",
    "Purolator": "https://www.purolator.com/en/shipping/tracker?searchValue=N1",
    "Canpar": "https://www.canpar.com/en/track/tracking.jsp?reference=N1&locale=en",
    "Yodel": "https://www.yodel.co.uk/tracking/N1",
    "YunExpress": "https://www.yuntrack.com/parcelTracking?id=N1",
    "Old Dominion": "https://www.odfl.com/us/en/tools/trace-track-ltl-freight/trace.html?proNumbers=N1",
    "Spee-Dee Delivery": "https://www.speedeedelivery.com/track/?tracking=N1",
    "GOFO Express": "https://www.gofoexpress.com/tracking.html?searchID=N1",
}


@pytest.mark.parametrize("carrier", [carrier.name for carrier in CARRIERS])
def test_every_url_template_is_pinned(carrier: str) -> None:
    assert tracking_url(carrier, "N1") == {**ORIGINAL_URLS, **DATA_URLS}.get(carrier)


def test_new_carriers_take_the_vendored_datas_url_or_have_none() -> None:
    assert tracking_url("Yodel", "JJD0002257639032011") == "https://www.yodel.co.uk/tracking/JJD0002257639032011"
    assert tracking_url("Lasership", "LX17635036") is None  # the data has no URL for LaserShip
    assert tracking_url("Amazon Logistics", "TBA000000000000") is None  # nor for Amazon
    assert tracking_url("Evri", "H00A0A0000000000") is None  # not in the data at all


def test_a_template_in_use_is_kept_when_the_data_moves_it() -> None:
    ontrac = next(d for d in tracking_numbers.definitions() if d.definition_id == "ontrac_c")
    assert ontrac.tracking_url_template == "http://www.ontrac.com/tracking/?number=%s"  # what the data says now
    assert tracking_url("OnTrac", "C11031500001879") == (
        "http://www.ontrac.com/trackingres.asp?tracking_number=C11031500001879")


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
            assert any(code == known.data_courier for code, _ in in_data), known.name
            for definition_id in known.data_definitions:
                assert (known.data_courier, definition_id) in in_data, (known.name, definition_id)


@pytest.mark.parametrize("courier", sorted({d.courier_code for d in tracking_numbers.definitions()} - {"s10"}))
def test_every_courier_of_the_data_has_a_canonical_carrier(courier: str) -> None:
    owners = [known for known in CARRIERS if known.data_courier == courier]
    assert owners, f"no canonical carrier for the data's courier {courier!r}: add one to schemas.carriers"
    for definition in tracking_numbers.definitions():
        if definition.courier_code == courier:
            found = definition.match(tracking_numbers.normalise(definition.valid_examples[0]))
            assert found is not None
            assert carrier_for_detection(found) in {known.name for known in owners}, definition.product


# -- detection ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "carrier"), [
    ("1Z879E930346834440", "UPS"), ("K1506235620", "UPS"), ("986578788855", "FedEx"),
    ("0307 1790 0005 2348 3741", "USPS"), ("3318810025", "DHL Express"), ("GM2951173225174494", "DHL eCommerce"),
    ("TBA502887274000", "Amazon Logistics"), ("C11031500001879", "OnTrac"), ("LX17635036", "Lasership"),
    ("0073938000549297", "Canada Post"), ("0998 0000 0200 34D", "DPD"), ("LTN74207623N1", "Landmark Global"),
    ("RB123456785GB", "Royal Mail"), ("RB123456785US", "USPS"), ("rb 123 456 785 gb", "Royal Mail"),
    ("9261292700768711948021", "USPS"), ("JJD0099999999", "DHL Express"), ("60120172242323", "DHL eCommerce"),
    ("D576002440000001718010", "Canpar"), ("320595463938", "Purolator"), ("KYV009956937", "Purolator"),
    ("JJD0002257639032011", "Yodel"), ("YT2229521272164446", "YunExpress"), ("80003280379", "Old Dominion"),
    ("SP029692510000920746", "Spee-Dee Delivery"), ("GFUS01011884214464", "GOFO Express"),
    ("1LSCXVE005BUEFX", "Lasership"), ("C1004444444", "Amazon Logistics"), ("D10011354453707", "OnTrac"),
])
def test_detect_carrier_gives_the_canonical_name(number: str, carrier: str) -> None:
    assert detect_carrier(number) == carrier


def test_detect_carrier_is_none_for_unknown_or_ambiguous_numbers() -> None:
    assert detect_carrier("hello") is None
    assert detect_carrier("") is None
    assert detect_carrier("78045768393") is None  # an Old Dominion PRO number that is also a DHL Express number


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

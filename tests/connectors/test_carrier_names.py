"""Carrier names on each platform: canonical -> platform -> canonical is the identity for every carrier."""

from __future__ import annotations

import pytest

from connectors.carrier_names import PlatformCarrier, canonical_from_platform, platform_carrier
from connectors.shopify.carriers import SHOPIFY_COMPANIES
from schemas.carriers import CARRIERS
from schemas.events import Platform

PLATFORMS: tuple[Platform, ...] = ("shopify", "bigcommerce", "woocommerce", "magento2")
BIGCOMMERCE_PROVIDERS = {"", "auspost", "canadapost", "endicia", "usps", "fedex", "ups", "upsready", "upsonline",
                         "shipperhq", "royalmail"}
MAGENTO_CODES = {"ups", "usps", "fedex", "dhl", "custom"}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("canonical", [carrier.name for carrier in CARRIERS])
def test_round_trip_is_identity(platform: Platform, canonical: str) -> None:
    written = platform_carrier(platform, canonical)
    assert written is not None
    assert canonical_from_platform(platform, written.name, written.code) == canonical


@pytest.mark.parametrize("platform", PLATFORMS)
def test_unknown_carrier_is_kept_as_given_both_ways(platform: Platform) -> None:
    written = platform_carrier(platform, "Acme Freight")
    assert written is not None and not written.known
    assert written.name == "Acme Freight"
    assert written.code == ("custom" if platform == "magento2" else None)
    assert canonical_from_platform(platform, written.name, written.code) == "Acme Freight"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_carrier_is_none_both_ways(platform: Platform) -> None:
    assert platform_carrier(platform, None) is None
    assert platform_carrier(platform, "  ") is None
    assert canonical_from_platform(platform, None) is None
    assert canonical_from_platform(platform, "", "") is None


# -- Shopify -----------------------------------------------------------------------------------------------------


def test_shopify_companies_we_write_are_spelled_as_in_shopifys_list() -> None:
    for carrier in CARRIERS:
        written = platform_carrier("shopify", carrier.name)
        assert written is not None
        assert written.known == (written.name in SHOPIFY_COMPANIES), carrier.name


@pytest.mark.parametrize("company", sorted(SHOPIFY_COMPANIES))
def test_every_shopify_company_reads_back_to_a_carrier_written_with_that_name(company: str) -> None:
    # Read-only spellings: Shopify lists a second name for the same carrier.
    variants = {"DHL": "DHL Express", "Deutsche Post (DE)": "Deutsche Post", "Deutsche Post (EN)": "Deutsche Post",
                "Japan Post (JA)": "Japan Post (EN)", "La Poste Colissimo": "Colissimo"}
    canonical = canonical_from_platform("shopify", company)
    written = platform_carrier("shopify", canonical)
    assert written is not None and written.known
    assert written.name == variants.get(company, company)


def test_shopify_seed_names() -> None:
    assert platform_carrier("shopify", "Amazon Logistics") == PlatformCarrier("Amazon", None, True)
    assert platform_carrier("shopify", "FedEx") == PlatformCarrier("FedEx", None, True)
    assert platform_carrier("shopify", "Landmark Global") == PlatformCarrier("Landmark Global", None, False)
    assert canonical_from_platform("shopify", "Hermes") == "Hermes"  # stored verbatim by Shopify


# -- BigCommerce -------------------------------------------------------------------------------------------------


def test_bigcommerce_writes_only_enum_providers_and_an_aftership_slug() -> None:
    for carrier in CARRIERS:
        written = platform_carrier("bigcommerce", carrier.name)
        assert written is not None
        if written.known:
            assert written.name in BIGCOMMERCE_PROVIDERS
            assert written.code and written.code == written.code.lower() and " " not in written.code


@pytest.mark.parametrize(("canonical", "provider", "slug"), [
    ("UPS", "ups", "ups"), ("USPS", "usps", "usps"), ("FedEx", "fedex", "fedex"), ("DHL Express", "", "dhl"),
    ("Royal Mail", "royalmail", "royal-mail"), ("Canada Post", "canadapost", "canada-post"),
    ("Australia Post", "auspost", "australia-post"),
])
def test_bigcommerce_seed_values(canonical: str, provider: str, slug: str) -> None:
    assert platform_carrier("bigcommerce", canonical) == PlatformCarrier(provider, slug, True)


@pytest.mark.parametrize(("provider", "slug", "canonical"), [
    ("endicia", None, "USPS"), ("upsready", None, "UPS"), ("upsonline", "", "UPS"), ("", "dhl", "DHL Express"),
    ("shipperhq", None, None), ("carrier_12", None, None), ("carrier_12", "canada-post", "Canada Post"),
    ("", "some-courier", "some-courier"), ("Acme Freight", None, "Acme Freight"),
])
def test_bigcommerce_reading(provider: str, slug: str | None, canonical: str | None) -> None:
    assert canonical_from_platform("bigcommerce", provider, slug) == canonical


# -- WooCommerce -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("canonical", "provider"), [
    ("UPS", "UPS"), ("USPS", "USPS"), ("FedEx", "Fedex"), ("DHL Express", "DHL US"),
    ("DHL eCommerce", "DHL eCommerce"), ("OnTrac", "OnTrac"), ("Royal Mail", "Royal Mail"),
    ("Australia Post", "Australia Post"), ("Canada Post", "Canada Post"), ("Purolator", "Purolator"),
])
def test_woocommerce_provider_names(canonical: str, provider: str) -> None:
    assert platform_carrier("woocommerce", canonical) == PlatformCarrier(provider, None, True)


@pytest.mark.parametrize(("stored", "canonical"), [
    ("dhl-us", "DHL Express"), ("fedex", "FedEx"), ("australia-post", "Australia Post"),
    ("tnt-express-consignment", "TNT"), ("FedEx Sameday", "FedEx"), ("dpd-co-uk", "DPD UK"),
    ("Fastway Couriers", "Fastway Couriers"),
])
def test_woocommerce_reads_stored_slugs_and_other_providers(stored: str, canonical: str) -> None:
    assert canonical_from_platform("woocommerce", stored) == canonical


# -- Magento -----------------------------------------------------------------------------------------------------


def test_magento_uses_core_codes_or_custom_with_the_title() -> None:
    for carrier in CARRIERS:
        written = platform_carrier("magento2", carrier.name)
        assert written is not None and written.code in MAGENTO_CODES
        assert written.known == (written.code != "custom")
        if not written.known:
            assert written.name == carrier.name
    assert platform_carrier("magento2", "Royal Mail") == PlatformCarrier("Royal Mail", "custom", False)
    assert platform_carrier("magento2", "DHL Express") == PlatformCarrier("DHL", "dhl", True)


@pytest.mark.parametrize(("title", "code", "canonical"), [
    ("United Parcel Service", "ups", "UPS"), ("DHL", "dhl", "DHL Express"), ("Canada Post", "custom", "Canada Post"),
    ("Acme Freight", "custom", "Acme Freight"), (None, "custom", None),
    ("Canada Post", "canadapost", "Canada Post"),
])
def test_magento_reading(title: str | None, code: str, canonical: str | None) -> None:
    assert canonical_from_platform("magento2", title, code) == canonical


# -- the couriers of the vendored tracking-number data -----------------------------------------------------------

# Canonical carrier of every courier in the data -> what each platform writes for it: the platform's own name
# (and code) where it knows the carrier, None where it is written as an unknown carrier with its tracking URL.
DATA_COURIERS: dict[str, dict[Platform, tuple[str, str | None] | None]] = {
    "UPS": {"shopify": ("UPS", None), "bigcommerce": ("ups", "ups"), "woocommerce": ("UPS", None),
            "magento2": ("UPS", "ups")},
    "USPS": {"shopify": ("USPS", None), "bigcommerce": ("usps", "usps"), "woocommerce": ("USPS", None),
             "magento2": ("USPS", "usps")},
    "FedEx": {"shopify": ("FedEx", None), "bigcommerce": ("fedex", "fedex"), "woocommerce": ("Fedex", None),
              "magento2": ("FedEx", "fedex")},
    "DHL Express": {"shopify": ("DHL Express", None), "bigcommerce": ("", "dhl"), "woocommerce": ("DHL US", None),
                    "magento2": ("DHL", "dhl")},
    "DHL eCommerce": {"shopify": ("DHL eCommerce", None), "bigcommerce": ("", "dhl-global-mail"),
                      "woocommerce": ("DHL eCommerce", None), "magento2": None},
    "Canada Post": {"shopify": ("Canada Post", None), "bigcommerce": ("canadapost", "canada-post"),
                    "woocommerce": ("Canada Post", None), "magento2": None},
    "DPD": {"shopify": ("DPD", None), "bigcommerce": ("", "dpd"), "woocommerce": ("DPD.de", None), "magento2": None},
    "Amazon Logistics": {"shopify": ("Amazon", None), "bigcommerce": None, "woocommerce": None, "magento2": None},
    "Landmark Global": {"shopify": None, "bigcommerce": ("", "landmark-global"), "woocommerce": None,
                        "magento2": None},
    "Lasership": {"shopify": ("Lasership", None), "bigcommerce": ("", "lasership"), "woocommerce": None,
                  "magento2": None},
    "OnTrac": {"shopify": ("OnTrac", None), "bigcommerce": ("", "ontrac"), "woocommerce": ("OnTrac", None),
               "magento2": None},
    "Canpar": {"shopify": ("Canpar", None), "bigcommerce": ("", "canpar"), "woocommerce": None, "magento2": None},
    "Purolator": {"shopify": ("Purolator", None), "bigcommerce": ("", "purolator"),
                  "woocommerce": ("Purolator", None), "magento2": None},
    "Yodel": {"shopify": ("Yodel", None), "bigcommerce": ("", "yodel"), "woocommerce": None, "magento2": None},
    "YunExpress": {"shopify": ("YunExpress", None), "bigcommerce": ("", "yunexpress"), "woocommerce": None,
                   "magento2": None},
    "Old Dominion": {"shopify": ("Old Dominion", None), "bigcommerce": ("", "old-dominion"), "woocommerce": None,
                     "magento2": None},
    "Spee-Dee Delivery": {"shopify": None, "bigcommerce": None, "woocommerce": None, "magento2": None},
    "GOFO Express": {"shopify": None, "bigcommerce": None, "woocommerce": None, "magento2": None},
}


def test_every_courier_of_the_data_has_its_platform_names_listed() -> None:
    owners = {carrier.name for carrier in CARRIERS if carrier.data_courier is not None}
    assert owners == set(DATA_COURIERS)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("canonical", sorted(DATA_COURIERS))
def test_data_courier_is_written_as_the_platform_knows_it(platform: Platform, canonical: str) -> None:
    expected = DATA_COURIERS[canonical][platform]
    written = platform_carrier(platform, canonical)
    assert written is not None
    if expected is None:
        assert written == PlatformCarrier(canonical, "custom" if platform == "magento2" else None, False)
    else:
        assert written == PlatformCarrier(expected[0], expected[1], True)
    assert canonical_from_platform(platform, written.name, written.code) == canonical


@pytest.mark.parametrize(("platform", "name", "code", "canonical"), [
    ("shopify", "Old Dominion", None, "Old Dominion"), ("shopify", "Canpar", None, "Canpar"),
    ("bigcommerce", "", "old-dominion", "Old Dominion"), ("bigcommerce", "", "landmark-global", "Landmark Global"),
    ("bigcommerce", "carrier_7", "yodel", "Yodel"), ("woocommerce", "Spee-Dee Delivery", None, "Spee-Dee Delivery"),
    ("woocommerce", "evri-international", None, "Evri"), ("magento2", "GOFO Express", "custom", "GOFO Express"),
    ("magento2", "Purolator", "custom", "Purolator"),
])
def test_data_couriers_read_back_from_each_platform(platform: Platform, name: str, code: str | None,
                                                    canonical: str) -> None:
    assert canonical_from_platform(platform, name, code) == canonical

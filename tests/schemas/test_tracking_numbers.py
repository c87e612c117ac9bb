"""The tracking-number matcher against the vendored data's own examples, the checksum algorithms, and any text.

The example tests are generated from the data files: every definition's `test_numbers.valid` must be recognised as
its courier (or, for the few numbers two couriers' formats both accept, be left undetected as ambiguous), and every
`test_numbers.invalid` must be rejected by its own definition and never detected as that courier. A courier added
to the data is tested without any change here; one whose examples are missing, or are not all read, fails.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import tracking_numbers
from schemas.tracking_numbers import Definition, candidates, definitions, detect, normalise

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "schemas" / "data" / "tracking_number_data"
RELEASE = "v2.0.0"
RELEASE_COMMIT = "fec2d02d2d2d410fdccc077edf155885649a9b6c"

# Valid examples that two couriers' formats both accept (normalised number -> the couriers): `detect` leaves them
# undetected. Listed so that a data update adding a collision is noticed.
AMBIGUOUS: dict[str, set[str]] = {
    "78045768393": {"dhl", "old_dominion"},  # Old Dominion PRO number, also a DHL Express mod-7 number
    "287809468872": {"fedex", "purolator"},  # Purolator 12 digits, also a FedEx Express 12 checksum
    "320610804900": {"fedex", "purolator"},
    "JFV247545960": {"dhl", "purolator"},  # Purolator alpha, also a DHL Express piece ID; neither has a checksum
    "4201028200009261290113185417468510": {"fedex", "usps"},  # USPS IMpb with routing, also FedEx Express 34
}


def _raw_couriers() -> list[dict[str, Any]]:
    """The data files read as plain JSON, independently of the module under test."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted((DATA / "couriers").glob("*.json"))]


RAW = _raw_couriers()
VALID = [(d, number) for d in definitions() for number in d.valid_examples]
INVALID = [(d, number) for d in definitions() for number in d.invalid_examples]


def _label(case: tuple[Definition, str]) -> str:
    definition, number = case
    return f"{definition.definition_id or definition.product}:{number.strip()}"


def _definition_label(definition: Definition) -> str:
    return f"{definition.courier_code}:{definition.definition_id or definition.product}"


# -- the data ----------------------------------------------------------------------------------------------------


def test_every_vendored_file_and_definition_is_read() -> None:
    assert len(RAW) >= 18  # the v2.0.0 release has 18 couriers
    assert [d.courier_code for d in definitions()] == [
        courier["courier_code"] for courier in RAW for _ in courier["tracking_numbers"]]
    assert [d.product for d in definitions()] == [
        spec["name"] for courier in RAW for spec in courier["tracking_numbers"]]


def test_every_example_of_the_data_becomes_a_test_case() -> None:
    raw_valid = [n for c in RAW for spec in c["tracking_numbers"] for n in spec["test_numbers"]["valid"]]
    raw_invalid = [n for c in RAW for spec in c["tracking_numbers"] for n in spec["test_numbers"]["invalid"]]
    assert [number for _, number in VALID] == raw_valid
    assert [number for _, number in INVALID] == raw_invalid


@pytest.mark.parametrize("definition", definitions(), ids=_definition_label)
def test_every_definition_has_valid_and_invalid_examples(definition: Definition) -> None:
    assert definition.valid_examples, "no valid test numbers: the definition would go untested"
    assert definition.invalid_examples, "no invalid test numbers: the definition would go untested"
    assert all(number.strip() for number in (*definition.valid_examples, *definition.invalid_examples))


@pytest.mark.parametrize("definition", definitions(), ids=_definition_label)
def test_the_reader_understands_every_part_of_every_definition(definition: Definition) -> None:
    assert definition.unsupported == ()
    assert definition.unknown_keys == ()


def test_notice_names_the_release_every_courier_and_the_licence_is_mit() -> None:
    notice = (DATA / "NOTICE.md").read_text(encoding="utf-8")
    assert RELEASE in notice and RELEASE_COMMIT in notice
    for path in (DATA / "couriers").glob("*.json"):
        assert path.stem in notice, path.stem
    assert (DATA / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_package_data_ships_every_vendored_file() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["schemas"]
    for path in DATA.rglob("*"):
        if path.is_file():
            relative = path.relative_to(REPO / "schemas").as_posix()
            assert any(fnmatch(relative, pattern) for pattern in patterns), relative


# -- the data's own examples -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", VALID, ids=_label)
def test_valid_example_is_recognised_as_its_courier(case: tuple[Definition, str]) -> None:
    definition, number = case
    found = definition.match(normalise(number))
    assert found is not None
    assert (found.courier_code, found.definition_id, found.product) == (
        definition.courier_code, definition.definition_id, definition.product)
    couriers = {candidate.courier_code for candidate in candidates(number)}
    assert definition.courier_code in couriers
    detected = detect(number)
    if normalise(number) in AMBIGUOUS:
        assert detected is None
        assert couriers == AMBIGUOUS[normalise(number)]
    else:
        assert couriers == {definition.courier_code}
        assert detected is not None
        assert detected.courier_code == definition.courier_code


@pytest.mark.parametrize("case", INVALID, ids=_label)
def test_invalid_example_is_rejected_by_its_definition(case: tuple[Definition, str]) -> None:
    definition, number = case
    assert definition.match(normalise(number)) is None
    detected = detect(number)
    if detected is not None and detected.courier_code == definition.courier_code:
        # Only where the data itself lists the number as valid for another of the courier's definitions
        # (Purolator: a 12-digit number is invalid as "alpha + 9" and valid as "12").
        siblings = [d for d in definitions() if d.courier_code == definition.courier_code and d is not definition]
        assert any(normalise(number) in map(normalise, d.valid_examples) for d in siblings)


def test_the_ambiguous_examples_are_exactly_the_listed_ones() -> None:
    ambiguous = {normalise(number) for _, number in VALID
                 if len({found.courier_code for found in candidates(number)}) > 1}
    assert ambiguous == set(AMBIGUOUS)


@pytest.mark.parametrize("case", [case for case in VALID if case[0].checksum is not None], ids=_label)
def test_changing_the_check_digit_of_a_valid_example_fails_its_checksum(case: tuple[Definition, str]) -> None:
    definition, number = case
    normal = normalise(number)
    found = definition.pattern.fullmatch(normal)
    assert found is not None
    start, end = found.span("CheckDigit")
    assert definition.checksum is not None
    alphabet = str(definition.checksum.get("alphabet", "0123456789"))
    for other in alphabet:
        if other != normal[start:end]:
            assert definition.match(normal[:start] + other + normal[end:]) is None, other


def test_no_valid_example_is_detected_as_another_courier() -> None:
    wrong = [(d.courier_code, number, found.courier_code) for d, number in VALID
             if (found := detect(number)) is not None and found.courier_code != d.courier_code]
    assert wrong == []


# -- what a detection says ---------------------------------------------------------------------------------------


def test_detection_carries_product_serial_service_and_the_datas_url() -> None:
    found = detect("1Z879E930346834440")
    assert found is not None
    assert (found.courier_code, found.courier_name, found.product, found.definition_id) == ("ups", "UPS", "UPS", "ups")
    assert found.serial_number == "879E93034683444"
    assert found.service == "UPS United States Ground"
    assert found.tracking_url == "https://wwwapps.ups.com/WebTracking/track?track=yes&trackNums=1Z879E930346834440"


@pytest.mark.parametrize(("number", "courier", "definition_id", "url"), [
    ("D576002440000001718010", "canpar", "canpar_22",
     "https://www.canpar.com/en/track/tracking.jsp?reference=D576002440000001718010&locale=en"),
    ("320595463938", "purolator", "purolator_numeric",
     "https://www.purolator.com/en/shipping/tracker?searchValue=320595463938"),
    ("KYV009956937", "purolator", "purolator_alpha",
     "https://www.purolator.com/en/shipping/tracker?searchValue=KYV009956937"),
    ("JJD0002257639032011", "yodel", "yodel", "https://www.yodel.co.uk/tracking/JJD0002257639032011"),
    ("YT2229521272164446", "yunexpress", "yunexpress", "https://www.yuntrack.com/parcelTracking?id=YT2229521272164446"),
    ("SP029692510000920746", "speedee", "speedee",
     "https://www.speedeedelivery.com/track/?tracking=SP029692510000920746"),
    ("GFUS01011884214464", "gofo", "gofo_us", "https://www.gofoexpress.com/tracking.html?searchID=GFUS01011884214464"),
    ("80003280379", "old_dominion", None,
     "https://www.odfl.com/us/en/tools/trace-track-ltl-freight/trace.html?proNumbers=80003280379"),
    ("JJD0099999999", "dhl", "dhl_express_piece_id",
     "http://www.dhl.com/en/express/tracking.html?brand=DHL&AWB=JJD0099999999"),
    ("32971514560102447849175802862014", "fedex", "fedex_astra_32", None),
])
def test_couriers_added_by_the_release_are_detected_with_their_url(number: str, courier: str,
                                                                   definition_id: str | None, url: str | None) -> None:
    found = detect(number)
    assert found is not None
    assert (found.courier_code, found.definition_id, found.tracking_url) == (courier, definition_id, url)


def test_usps_absorbs_the_former_fedex_smartpost_numbers() -> None:
    found = detect("9261292700768711948021")  # FedEx SmartPost before v2.0.0, ambiguous with USPS 91 then
    assert found is not None and (found.courier_code, found.definition_id) == ("usps", "usps_impb_c")


def test_prepend_if_applies_before_the_checksum() -> None:
    found = detect("C11031500001879")  # OnTrac: "4" is put before the serial number
    assert found is not None and found.courier_code == "ontrac"
    assert found.serial_number == "41103150000187"
    legacy = detect("7196 9010 7560 0307 7385")  # USPS legacy: "91" is put before a serial without it
    assert legacy is not None and legacy.definition_id == "usps_legacy"
    assert legacy.serial_number == "917196901075600307738"


def test_check_digit_inside_the_number_is_the_one_checked() -> None:
    astra = "32971514560102447849175802862014"  # FedEx ASTRA: the check digit is the 28th of 32 digits
    assert detect(astra) is not None
    assert detect(astra[:27] + "5" + astra[28:]) is None
    assert detect(astra[:-1] + "5") is not None  # the trailing digits carry no check


def test_s10_number_names_its_post_and_needs_a_known_country() -> None:
    found = detect("RB123456785GB")
    assert found is not None
    assert (found.courier_code, found.country_code, found.postal_operator) == ("s10", "GB", "Royal Mail Group plc")
    assert found.service == "Letter Post Registered"
    assert found.tracking_url is None  # the data has no URL for S10
    assert detect("RB123456785XX") is None  # checksum passes, but no post has country XX


def test_nothing_is_detected_in_empty_long_or_unrelated_text() -> None:
    assert detect("") is None
    assert detect("   ") is None
    assert detect("hello world") is None
    assert detect("1Z879E930346834440" * 4) is None  # longer than MAX_LENGTH
    assert candidates("not a number") == []


# -- checksum algorithms -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("algorithm", "good", "bad"), [
    (lambda s, c: tracking_numbers.luhn(s, c), ("7992739871", "3"), ("7992739871", "4")),
    (lambda s, c: tracking_numbers.mod7(s, c), ("331881002", "5"), ("331881002", "6")),
    (lambda s, c: tracking_numbers.s10(s, c), ("12345678", "5"), ("12345678", "6")),
    (lambda s, c: tracking_numbers.mod10(s, c, 1, 2), ("5R8939035756712", "7"), ("5R8939035756712", "8")),
    (lambda s, c: tracking_numbers.mod_37_36(s, c), ("09980000020034", "D"), ("09980000020034", "E")),
    (lambda s, c: tracking_numbers.sum_product_with_weightings_and_modulo(s, c, [3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1],
                                                                          11, 10),
     ("98657878885", "5"), ("98657878885", "6")),
])
def test_checksum_algorithms_accept_the_right_digit_only(algorithm: Callable[[str, str], bool],
                                                         good: tuple[str, str], bad: tuple[str, str]) -> None:
    assert algorithm(*good) is True
    assert algorithm(*bad) is False


def test_mod10_reverse_counts_positions_from_the_right() -> None:
    # "12": from the left 1*3 + 2*1 = 5 -> 5; from the right 2*3 + 1*1 = 7 -> 3.
    assert tracking_numbers.mod10("12", "5", 3, 1)
    assert not tracking_numbers.mod10("12", "3", 3, 1)
    assert tracking_numbers.mod10("12", "3", 3, 1, reverse=True)
    assert not tracking_numbers.mod10("12", "5", 3, 1, reverse=True)
    # An odd-length sequence reads the same both ways.
    assert tracking_numbers.mod10("123", "8", 3, 1) == tracking_numbers.mod10("123", "8", 3, 1, reverse=True)


def test_the_checksum_constants_of_the_data_are_used() -> None:
    passes = tracking_numbers._checksum_passes
    assert passes({"name": "mod10", "evens_multiplier": 3, "odds_multiplier": 1, "reverse": True}, "12", "3")
    assert not passes({"name": "mod10", "evens_multiplier": 3, "odds_multiplier": 1, "reverse": False}, "12", "3")
    assert passes({"name": "mod7", "modulo": 7}, "331881002", "5")
    assert passes({"name": "mod7", "modulo": 9}, "331881002", "8")  # 331881002 % 9 == 8
    assert not passes({"name": "mod7", "modulo": 9}, "331881002", "5")
    assert passes({"name": "s10", "weightings": [1, 0, 0, 0, 0, 0, 0, 0], "modulo": 11}, "30000000", "8")
    assert passes({"name": "luhn", "modulo": 10}, "7992739871", "3")
    assert passes({"name": "mod_37_36", "modulo": 36, "alphabet": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
                  "09980000020034", "D")


def test_s10_remainders_zero_and_one_map_to_five_and_zero() -> None:
    assert tracking_numbers.s10("00000000", "5")  # weighted sum 0: remainder 0 -> 5
    assert tracking_numbers.s10("00000008", "0")  # 8 * 7 = 56: remainder 1 -> 0
    assert tracking_numbers.s10("10000000", "3")  # 1 * 8 = 8: 11 - 8 -> 3
    assert not tracking_numbers.s10("1000000", "3")  # seven digits: not an S10 serial


def test_an_unknown_or_malformed_checksum_rejects_instead_of_passing() -> None:
    passes = tracking_numbers._checksum_passes
    assert passes({"name": "crc_4"}, "123", "4") is False
    assert passes({"name": "mod10"}, "123", None) is False
    assert passes({"name": "sum_product_with_weightings_and_modulo"}, "12", "3") is False
    assert passes({"name": "mod10", "modulo": "ten"}, "123", "4") is False
    assert passes({"name": "mod10", "reverse": "yes"}, "123", "4") is False
    assert passes({"name": "s10", "weightings": "86423597"}, "12345678", "5") is False


@pytest.mark.parametrize(("extra", "reason"), [
    ({"partners": [{"partner_id": "x", "partner_type": "carrier"}]}, "partners is not implemented"),
    ({"validates_with": "x"}, "validates_with is not implemented"),
    ({"validation": {"checksum": {"name": "crc_4"}}}, "checksum 'crc_4' is unknown"),
    ({"validation": {"length": 6}}, "validation.length is unknown"),
    ({"validation": {"serial_number_format": {"append_if": {}}}}, "serial_number_format.append_if is unknown"),
])
def test_a_definition_the_reader_cannot_honour_never_matches(extra: dict[str, Any], reason: str) -> None:
    courier = {"name": "Test", "courier_code": "test"}
    base = {"name": "Test", "id": "test", "regex": "(?<SerialNumber>[0-9]{6})", "validation": {},
            "test_numbers": {"valid": ["123456"], "invalid": ["12345"]}}
    plain = tracking_numbers._compile(courier, base)
    assert plain.unsupported == () and plain.match("123456") is not None
    definition = tracking_numbers._compile(courier, {**base, **extra})
    assert reason in definition.unsupported
    assert definition.match("123456") is None


def test_unknown_documentation_keys_are_listed_but_do_not_block() -> None:
    spec = {"name": "Test", "regex": "(?<SerialNumber>[0-9]{6})", "notes": "x", "test_numbers": {}}
    definition = tracking_numbers._compile({"name": "Test", "courier_code": "test"}, spec)
    assert definition.unknown_keys == ("notes",)
    assert definition.match("123456") is not None


# -- any text ----------------------------------------------------------------------------------------------------

EXAMPLES = [number for _, number in VALID]


@given(st.text(max_size=80))
def test_detect_never_raises_on_any_text(text: str) -> None:
    found = detect(text)
    assert found is None or found.number == normalise(text)


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -", max_size=40))
def test_detect_never_raises_on_number_like_text(text: str) -> None:
    detect(text)


@given(st.sampled_from(EXAMPLES), st.lists(st.sampled_from([" ", "\t", "\n", "\u00a0"]), max_size=6),
       st.randoms(use_true_random=False))
def test_whitespace_and_case_do_not_change_the_answer(number: str, spaces: list[str], rng: Random) -> None:
    chars = list(normalise(number).lower())
    for space in spaces:
        chars.insert(rng.randrange(len(chars) + 1), space)
    assert detect("".join(chars)) == detect(number)


def test_definitions_are_loaded_once() -> None:
    assert definitions() is definitions()

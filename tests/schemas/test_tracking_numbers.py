"""The tracking-number matcher against the vendored data's own examples, the checksum algorithms, and any text.

Every definition's `test_numbers.valid` must be recognised as its courier (or, for the few numbers two couriers'
formats both accept, be left undetected as ambiguous), and every `test_numbers.invalid` must be rejected by its own
definition and never detected as that courier.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import tracking_numbers
from schemas.tracking_numbers import Definition, candidates, definitions, detect, normalise

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "schemas" / "data" / "tracking_number_data"
PINNED_COMMIT = "40ee04e9d7bbc7673801dd30602ca33ac9433768"

# Valid examples the pinned data's own pattern does not accept (fixed upstream in v1.6.1, see NOTICE.md).
DATA_EXCEPTIONS = {("dhl_express", "JVGL0999999990"), ("dhl_express", "73891051146")}
# Valid examples that two couriers' formats both accept: `detect` leaves them undetected.
AMBIGUOUS = {"C1004444443", "9261292700768711948021", "420 11213 92 6129098349792366623 8",
             "92 6129098349792366623 8"}

VALID = [(d, number) for d in definitions() for number in d.valid_examples]
INVALID = [(d, number) for d in definitions() for number in d.invalid_examples]


def _label(case: tuple[Definition, str]) -> str:
    definition, number = case
    return f"{definition.definition_id or definition.product}:{number.strip()}"


# -- the data ----------------------------------------------------------------------------------------------------


def test_every_vendored_file_is_read_and_every_definition_has_examples() -> None:
    files = sorted(path.stem for path in (DATA / "couriers").glob("*.json"))
    assert files == ["amazon", "canadapost", "dhl", "dpd", "fedex", "landmark", "lasership", "ontrac", "s10", "ups",
                     "usps"]
    codes = {json.loads((DATA / "couriers" / f"{name}.json").read_text(encoding="utf-8"))["courier_code"]
             for name in files}
    assert {d.courier_code for d in definitions()} == codes
    assert all(d.valid_examples and d.invalid_examples for d in definitions())


def test_notice_names_the_pinned_commit_and_the_licence_is_mit() -> None:
    assert PINNED_COMMIT in (DATA / "NOTICE.md").read_text(encoding="utf-8")
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
    if (definition.definition_id, number) in DATA_EXCEPTIONS:
        assert definition.match(normalise(number)) is None, "the upstream data was fixed: drop the exception"
        return
    assert definition.match(normalise(number)) is not None
    assert definition.courier_code in {found.courier_code for found in candidates(number)}
    detected = detect(number)
    if number in AMBIGUOUS:
        assert detected is None
        assert len({found.courier_code for found in candidates(number)}) > 1
    else:
        assert detected is not None
        assert detected.courier_code == definition.courier_code


@pytest.mark.parametrize("case", INVALID, ids=_label)
def test_invalid_example_is_rejected_by_its_definition(case: tuple[Definition, str]) -> None:
    definition, number = case
    assert definition.match(normalise(number)) is None
    detected = detect(number)
    assert detected is None or detected.courier_code != definition.courier_code


@pytest.mark.parametrize("case", [case for case in VALID if case[0].checksum is not None
                                  and (case[0].definition_id, case[1]) not in DATA_EXCEPTIONS], ids=_label)
def test_changing_the_check_digit_of_a_valid_example_fails_its_checksum(case: tuple[Definition, str]) -> None:
    definition, number = case
    normal = normalise(number)
    found = definition.pattern.fullmatch(normal)
    assert found is not None
    start, end = found.span("CheckDigit")
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if definition.checksum == {"name": "mod_37_36"} else "0123456789"
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


def test_prepend_if_applies_before_the_checksum() -> None:
    found = detect("C11031500001879")  # OnTrac: "4" is put before the serial number
    assert found is not None and found.courier_code == "ontrac"
    assert found.serial_number == "41103150000187"


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
])
def test_checksum_algorithms_accept_the_right_digit_only(algorithm: Callable[[str, str], bool],
                                                         good: tuple[str, str], bad: tuple[str, str]) -> None:
    assert algorithm(*good) is True
    assert algorithm(*bad) is False


def test_s10_remainders_zero_and_one_map_to_five_and_zero() -> None:
    assert tracking_numbers.s10("00000000", "5")  # weighted sum 0: remainder 0 -> 5
    assert tracking_numbers.s10("00000008", "0")  # 8 * 7 = 56: remainder 1 -> 0
    assert tracking_numbers.s10("10000000", "3")  # 1 * 8 = 8: 11 - 8 -> 3
    assert not tracking_numbers.s10("1000000", "3")  # seven digits: not an S10 serial


def test_an_unknown_checksum_rejects_instead_of_passing() -> None:
    assert tracking_numbers._checksum_passes({"name": "crc_4"}, "123", "4") is False
    assert tracking_numbers._checksum_passes({"name": "mod10"}, "123", None) is False
    assert tracking_numbers._checksum_passes({"name": "sum_product_with_weightings_and_modulo"}, "12", "3") is False


# -- any text ----------------------------------------------------------------------------------------------------

EXAMPLES = [number for d, number in VALID if (d.definition_id, number) not in DATA_EXCEPTIONS]


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

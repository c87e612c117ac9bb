"""Which courier a tracking number belongs to, from its format alone.

The formats are the MIT-licensed `tracking_number_data` courier definitions, vendored unchanged as package data
in `schemas/data/tracking_number_data/` (source, release and licence in its NOTICE.md). This module is our own
small reader of that format; no code comes from any other project. It is pure: the only I/O is reading the
package data, once, on first use.

What a definition says and how it is read here:
- `regex` (a string or a list of strings joined): named groups in the Ruby/PCRE `(?<Name>...)` spelling, with
  `SerialNumber` and, when there is a checksum, `CheckDigit` (not always the last character: FedEx ASTRA). The
  whole number must match (`fullmatch`); lookaheads and word boundaries are read as Python reads them.
- `validation.checksum.name`: `mod10`, `mod7`, `s10`, `sum_product_with_weightings_and_modulo`, `mod_37_36` and
  `luhn`, each written from the upstream data's description of the algorithm. Each reads the
  constants the data states beside the name (`modulo`, `weightings`, `modulo1`/`modulo2`, `evens_multiplier`/
  `odds_multiplier`, `reverse`, `alphabet`) and falls back to the algorithm's usual ones where a constant is
  absent. A checksum the reader does not know rejects the number: an unverifiable match never counts.
- `validation.serial_number_format.prepend_if`: `content` is put before the serial number when it matches
  `matches_regex`, before the checksum runs (USPS "91", OnTrac "4"/"5").
- `validation.additional.exists`: the named `additional` lookup must know the group's value (S10: the country code
  must belong to a known postal operator).
- `additional` lookups (`matches` or `matches_regex` against a group) name the service and, for S10, the operator.
- `tracking_url`: a template with `%s` for the number (URL-quoted here); null or absent when the courier has none.
- `description` is kept; `glossary` is documentation only. A definition with a validation key the reader does
  not know, or with `partners` / `validates_with` (which change what counts as a match and which the vendored
  release does not use), never matches (`Definition.unsupported` says why), so a data update that relies on
  them fails the example tests instead of detecting wrongly; other unknown keys are listed in
  `Definition.unknown_keys` for the same tests.

Input handling: every whitespace character is removed and letters are upper-cased before matching, so spacing and
case never change the answer. Inputs longer than `MAX_LENGTH` characters (after that) are not tracking numbers.

Detection rule (`detect`): collect every definition that matches and validates (`candidates`). No candidate: None.
All candidates from one courier: that courier (its first matching definition in data order). Candidates from
several couriers: None. A passed checksum is not enough to prefer one courier over another (a 10-digit checksum
passes by chance one time in ten, and several formats carry none), so an ambiguous number is left for the caller
(who may know the carrier from elsewhere) rather than guessed. The data's own examples that two couriers' formats
both accept are listed in tests/schemas/test_tracking_numbers.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

MAX_LENGTH = 64
DATA_DIR = ("data", "tracking_number_data", "couriers")

_RUBY_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Detection:
    """A tracking number recognised as one courier's product.

    `courier_code` and `courier_name` are the data's (`ups`/"UPS", `s10`/"S10 International Standard"...);
    for an S10 number `postal_operator` and `country_code` name the issuing post. `number` is the normalised
    number (no whitespace, upper case) and `tracking_url` the courier's URL for it, or None when the data has none.
    """

    courier_code: str
    courier_name: str
    product: str
    definition_id: str | None
    number: str
    serial_number: str
    tracking_url: str | None
    service: str | None = None
    country_code: str | None = None
    postal_operator: str | None = None


@dataclass(frozen=True)
class _Lookup:
    name: str
    group: str
    entries: tuple[Mapping[str, Any], ...]

    def find(self, value: str) -> Mapping[str, Any] | None:
        for entry in self.entries:
            exact = entry.get("matches")
            pattern = entry.get("matches_regex")
            if (isinstance(exact, str) and exact == value) or (
                    isinstance(pattern, str) and re.fullmatch(pattern, value) is not None):
                return entry
        return None


@dataclass(frozen=True)
class Definition:
    """One product format of one courier, compiled from the data. `valid_examples` / `invalid_examples` are the
    data's own `test_numbers`. `unsupported` names what the reader cannot honour (then `match` is always None);
    `unknown_keys` lists keys of the definition this reader does not know at all."""

    courier_code: str
    courier_name: str
    product: str
    definition_id: str | None
    pattern: re.Pattern[str]
    checksum: Mapping[str, Any] | None
    prepend_if: tuple[re.Pattern[str], str] | None
    required_lookups: tuple[str, ...]
    lookups: tuple[_Lookup, ...]
    tracking_url_template: str | None
    valid_examples: tuple[str, ...]
    invalid_examples: tuple[str, ...]
    description: str | None = None
    unsupported: tuple[str, ...] = ()
    unknown_keys: tuple[str, ...] = ()

    def match(self, number: str) -> Detection | None:
        """The detection when `number` (already normalised) has this format and passes its validation."""
        if self.unsupported:
            return None
        found = self.pattern.fullmatch(number)
        if found is None:
            return None
        groups = {name: _strip(value) for name, value in found.groupdict().items() if value is not None}
        serial = groups.get("SerialNumber", "")
        if self.prepend_if is not None and self.prepend_if[0].search(serial):
            serial = self.prepend_if[1] + serial
        if self.checksum is not None and not _checksum_passes(self.checksum, serial, groups.get("CheckDigit")):
            return None
        matched: dict[str, Mapping[str, Any]] = {}
        for lookup in self.lookups:
            value = groups.get(lookup.group)
            entry = lookup.find(value) if value is not None else None
            if entry is not None:
                matched[lookup.name] = entry
        if any(name not in matched for name in self.required_lookups):
            return None
        service = matched.get("Service Type", {}).get("name")
        operator_entry = matched.get("Courier")
        operator = operator_entry.get("courier") if operator_entry is not None else None
        url = self.tracking_url_template.replace("%s", quote(number, safe="")) if self.tracking_url_template else None
        return Detection(
            courier_code=self.courier_code, courier_name=self.courier_name, product=self.product,
            definition_id=self.definition_id, number=number, serial_number=serial, tracking_url=url,
            service=service if isinstance(service, str) else None,
            country_code=groups.get("CountryCode") if operator_entry is not None else None,
            postal_operator=operator if isinstance(operator, str) else None,
        )


def normalise(number: str) -> str:
    """`number` without any whitespace, upper-cased: the form every definition is matched against."""
    return _WHITESPACE.sub("", number).upper()


def definitions() -> tuple[Definition, ...]:
    """Every definition in the vendored data, in file order (files sorted by name)."""
    return _load()


def candidates(number: str) -> list[Detection]:
    """Every definition `number` matches and validates against, in data order; [] for anything else."""
    normal = normalise(number)
    if not normal or len(normal) > MAX_LENGTH:
        return []
    return [found for definition in _load() if (found := definition.match(normal)) is not None]


def detect(number: str) -> Detection | None:
    """The courier `number` belongs to by the module's detection rule; None when none or several plausibly do.

    Never raises for any text."""
    found = candidates(number)
    return found[0] if len({detection.courier_code for detection in found}) == 1 else None


# -- checksums ---------------------------------------------------------------------------------------------------


def _digit_value(char: str) -> int:
    return int(char) if char.isdigit() else (ord(char) - 3) % 10


def mod10(sequence: str, check_digit: str, evens_multiplier: int = 1, odds_multiplier: int = 1, *,
          modulo: int = 10, reverse: bool = False) -> bool:
    """Weighted mod-10: characters at even (0-based) positions times `evens_multiplier`, odd ones times
    `odds_multiplier`, positions counted from the right when `reverse`; letters count as `(ord - 3) % 10`; the check
    digit brings the sum to a multiple of `modulo`."""
    if not check_digit.isdigit() or not sequence.isalnum() or modulo < 1:
        return False
    chars = sequence[::-1] if reverse else sequence
    total = sum(_digit_value(char) * (odds_multiplier if index % 2 else evens_multiplier)
                for index, char in enumerate(chars))
    return (modulo - total % modulo) % modulo == int(check_digit)


def mod7(sequence: str, check_digit: str, *, modulo: int = 7) -> bool:
    """The check digit is the serial number modulo `modulo` (7)."""
    return (sequence.isdigit() and check_digit.isdigit() and modulo > 0
            and int(sequence) % modulo == int(check_digit))


_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10(sequence: str, check_digit: str, weightings: Sequence[int] = _S10_WEIGHTS, *, modulo: int = 11) -> bool:
    """UPU S10: the serial digits times `weightings` (8,6,4,2,3,5,9,7), summed; a remainder mod `modulo` (11) of 0
    gives 5, of 1 gives 0, otherwise `modulo` minus the remainder."""
    if len(sequence) != len(weightings) or not sequence.isdigit() or not check_digit.isdigit() or modulo < 2:
        return False
    remainder = sum(int(char) * weight for char, weight in zip(sequence, weightings, strict=True)) % modulo
    expected = 5 if remainder == 0 else 0 if remainder == 1 else modulo - remainder
    return expected == int(check_digit)


def sum_product_with_weightings_and_modulo(sequence: str, check_digit: str, weightings: Sequence[int],
                                           modulo1: int, modulo2: int) -> bool:
    """Digits times their weightings (pairwise from the left), summed, then `% modulo1 % modulo2` is the check
    digit."""
    if not sequence.isdigit() or not check_digit.isdigit() or len(sequence) != len(weightings):
        return False
    total = sum(int(char) * weight for char, weight in zip(sequence, weightings, strict=True))
    return total % modulo1 % modulo2 == int(check_digit)


_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def mod_37_36(sequence: str, check_digit: str, *, modulo: int = 36, alphabet: str = _ALPHANUMERIC) -> bool:
    """ISO/IEC 7064 MOD 37,36 (hybrid), as DPD's parcel label specification uses it: each character is its index in
    `alphabet` (digits 0-9, letters 10-35), `modulo` is 36 and the check character is taken from `alphabet`."""
    if not sequence or len(alphabet) < modulo or any(char not in alphabet for char in sequence):
        return False
    value = modulo
    for char in sequence:
        value += alphabet.index(char)
        if value > modulo:
            value -= modulo
        value *= 2
        if value > modulo:
            value -= modulo + 1
    value = (modulo + 1) - value
    if value == modulo:
        value = 0
    return alphabet[value] == check_digit


def luhn(sequence: str, check_digit: str, *, modulo: int = 10) -> bool:
    """Luhn: from the right of the full number (serial + check digit), every second digit doubled (minus 9 above
    9); the total is a multiple of `modulo` (10)."""
    digits = sequence + check_digit
    if not digits.isdigit() or modulo < 1:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % modulo == 0


def _checksum_passes(spec: Mapping[str, Any], serial: str, check_digit: str | None) -> bool:
    if check_digit is None:
        return False
    algorithm = _CHECKSUMS.get(str(spec.get("name")))
    if algorithm is None:
        return False
    try:
        return algorithm(serial, check_digit, spec)
    except (TypeError, ValueError, KeyError, IndexError):  # a malformed spec in the data: unverifiable, no match
        return False


def _int(spec: Mapping[str, Any], key: str, default: int) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"checksum constant {key!r} is not an integer")
    return value


def _weights(spec: Mapping[str, Any], default: Sequence[int] | None = None) -> list[int]:
    value = spec.get("weightings", default)
    if not isinstance(value, list | tuple) or not all(isinstance(w, int) and not isinstance(w, bool) for w in value):
        raise TypeError("checksum weightings are not a list of integers")
    return list(value)


def _flag(spec: Mapping[str, Any], key: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise TypeError(f"checksum flag {key!r} is not a boolean")
    return value


_CHECKSUMS: dict[str, Callable[[str, str, Mapping[str, Any]], bool]] = {
    "mod10": lambda serial, check, spec: mod10(
        serial, check, _int(spec, "evens_multiplier", 1), _int(spec, "odds_multiplier", 1),
        modulo=_int(spec, "modulo", 10), reverse=_flag(spec, "reverse")),
    "mod7": lambda serial, check, spec: mod7(serial, check, modulo=_int(spec, "modulo", 7)),
    "s10": lambda serial, check, spec: s10(serial, check, _weights(spec, _S10_WEIGHTS),
                                           modulo=_int(spec, "modulo", 11)),
    "sum_product_with_weightings_and_modulo": lambda serial, check, spec: sum_product_with_weightings_and_modulo(
        serial, check, _weights(spec), _int(spec, "modulo1", 0), _int(spec, "modulo2", 0)),
    "mod_37_36": lambda serial, check, spec: mod_37_36(
        serial, check, modulo=_int(spec, "modulo", 36), alphabet=str(spec.get("alphabet", _ALPHANUMERIC))),
    "luhn": lambda serial, check, spec: luhn(serial, check, modulo=_int(spec, "modulo", 10)),
}


# -- loading -----------------------------------------------------------------------------------------------------

# Keys of a definition this reader reads or knows to be documentation only.
_DEFINITION_KEYS = frozenset({"name", "id", "regex", "validation", "tracking_url", "test_numbers", "additional",
                              "description", "glossary"})
_VALIDATION_KEYS = frozenset({"checksum", "serial_number_format", "additional"})
# Keys that would change what counts as a match, which this reader does not implement.
_UNSUPPORTED_KEYS = frozenset({"partners", "validates_with"})


def _strip(value: str) -> str:
    return _WHITESPACE.sub("", value)


def _pattern(regex: str | Sequence[str]) -> re.Pattern[str]:
    source = regex if isinstance(regex, str) else "".join(regex)
    return re.compile(_RUBY_GROUP.sub("(?P<", source))


def _unsupported(spec: Mapping[str, Any], validation: Mapping[str, Any]) -> tuple[str, ...]:
    reasons = [f"{key} is not implemented" for key in sorted(_UNSUPPORTED_KEYS & spec.keys())]
    reasons += [f"validation.{key} is unknown" for key in sorted(validation.keys() - _VALIDATION_KEYS)]
    checksum = validation.get("checksum")
    if checksum is not None and str(checksum.get("name")) not in _CHECKSUMS:
        reasons.append(f"checksum {checksum.get('name')!r} is unknown")
    serial_format = validation.get("serial_number_format") or {}
    reasons += [f"serial_number_format.{key} is unknown" for key in sorted(serial_format.keys() - {"prepend_if"})]
    return tuple(reasons)


def _compile(courier: Mapping[str, Any], spec: Mapping[str, Any]) -> Definition:
    validation = spec.get("validation") or {}
    prepend = (validation.get("serial_number_format") or {}).get("prepend_if")
    additional = validation.get("additional") or {}
    tests = spec.get("test_numbers") or {}
    description = spec.get("description")
    return Definition(
        courier_code=str(courier["courier_code"]),
        courier_name=str(courier["name"]),
        product=str(spec["name"]),
        definition_id=spec.get("id"),
        pattern=_pattern(spec["regex"]),
        checksum=validation.get("checksum"),
        prepend_if=(re.compile(prepend["matches_regex"]), str(prepend["content"])) if prepend else None,
        required_lookups=tuple(additional.get("exists") or ()),
        lookups=tuple(
            _Lookup(name=str(item["name"]), group=str(item["regex_group_name"]), entries=tuple(item["lookup"]))
            for item in spec.get("additional") or ()),
        tracking_url_template=spec.get("tracking_url"),
        valid_examples=tuple(tests.get("valid") or ()),
        invalid_examples=tuple(tests.get("invalid") or ()),
        description=description if isinstance(description, str) else None,
        unsupported=_unsupported(spec, validation),
        unknown_keys=tuple(sorted(spec.keys() - _DEFINITION_KEYS - _UNSUPPORTED_KEYS)),
    )


@cache
def _load() -> tuple[Definition, ...]:
    folder = resources.files("schemas").joinpath(*DATA_DIR)
    files = sorted((entry for entry in folder.iterdir() if entry.name.endswith(".json")), key=lambda e: e.name)
    compiled: list[Definition] = []
    for entry in files:
        courier = json.loads(entry.read_text(encoding="utf-8"))
        compiled.extend(_compile(courier, spec) for spec in courier["tracking_numbers"])
    return tuple(compiled)

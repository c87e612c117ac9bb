"""schemas/compatibility.py on small schemas: each kind of breaking change is caught in the direction where it
breaks someone, and the compatible changes pass (docs/consumers.md, "Compatibility")."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from schemas.compatibility import Direction, incompatibilities, schema_version, verdict

Change = Callable[[dict[str, Any]], object]


def record(*, closed: bool) -> dict[str, Any]:
    """A record schema as pydantic writes it: a `$defs` part, an optional nullable field, an enum, bounds."""
    schema: dict[str, Any] = {
        "$defs": {"Line": {"properties": {"sku": {"type": "string", "minLength": 1, "maxLength": 64},
                                          "quantity": {"type": "integer", "minimum": 1}},
                           "required": ["sku", "quantity"], "type": "object"}},
        "properties": {
            "event_id": {"type": "string"},
            "schema_version": {"const": 1, "default": 1, "type": "integer"},
            "carrier": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "status": {"enum": ["open", "shipped"], "type": "string"},
            "lines": {"items": {"$ref": "#/$defs/Line"}, "type": "array", "minItems": 1},
            "tracking_url": {"type": "string", "pattern": "^https?://"},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}], "minItems": 2,
                     "maxItems": 2},
        },
        "required": ["event_id", "status", "lines"],
        "type": "object",
    }
    if closed:
        schema["additionalProperties"] = False
        schema["$defs"]["Line"]["additionalProperties"] = False
    return schema


def changed(schema: dict[str, Any], change: Change) -> dict[str, Any]:
    new = copy.deepcopy(schema)
    change(new)
    return new


def kinds(released: dict[str, Any], current: dict[str, Any], direction: Direction) -> set[str]:
    return {problem.kind for problem in incompatibilities(released, current, direction)}


# -- outputs: fulfillsync writes, consumers read with the released schema ----------------------------------------

OUTPUT_BREAKING: dict[str, tuple[Change, str]] = {
    "required property removed": (lambda s: (s["properties"].pop("status"), s["required"].remove("status")),
                                  "property_removed"),
    "optional property removed": (lambda s: s["properties"].pop("carrier"), "property_removed"),
    "required made optional": (lambda s: s["required"].remove("lines"), "required_removed"),
    "nested required made optional": (lambda s: s["$defs"]["Line"]["required"].remove("sku"), "required_removed"),
    "null allowed": (lambda s: s["properties"].update(event_id={"anyOf": [{"type": "string"}, {"type": "null"}]}),
                     "type_changed"),
    "type changed": (lambda s: s["$defs"]["Line"]["properties"].update(quantity={"type": "string"}),
                     "type_changed"),
    "integer widened to number": (lambda s: s["$defs"]["Line"]["properties"]["quantity"].update(type="number"),
                                  "type_changed"),
    "enum widened": (lambda s: s["properties"]["status"]["enum"].append("reopened"), "enum_changed"),
    "const changed": (lambda s: s["properties"]["schema_version"].update(const=2), "enum_changed"),
    "bound loosened": (lambda s: s["$defs"]["Line"]["properties"]["quantity"].update(minimum=0),
                       "constraint_changed"),
    "max length loosened": (lambda s: s["$defs"]["Line"]["properties"]["sku"].pop("maxLength"),
                            "constraint_changed"),
    "pattern dropped": (lambda s: s["properties"]["tracking_url"].pop("pattern"), "constraint_changed"),
    "tuple item widened": (lambda s: s["properties"]["pair"]["prefixItems"][1].update(type=["string", "null"]),
                           "type_changed"),
}


@pytest.mark.parametrize("name", sorted(OUTPUT_BREAKING))
def test_a_breaking_output_change_is_caught(name: str) -> None:
    change, kind = OUTPUT_BREAKING[name]
    released = record(closed=False)
    found = incompatibilities(released, changed(released, change), "output")
    assert kind in {problem.kind for problem in found}, [str(problem) for problem in found]


def test_a_property_added_to_a_closed_released_output_is_caught() -> None:
    released = record(closed=True)
    current = changed(released, lambda s: s["properties"].update(note={"type": "string"}))
    assert kinds(released, current, "output") == {"additional_properties"}


OUTPUT_COMPATIBLE: dict[str, Change] = {
    "optional property added": lambda s: s["properties"].update(note={"type": "string", "default": ""}),
    "required property added": lambda s: (s["properties"].update(note={"type": "string"}),
                                          s["required"].append("note")),
    "optional made required": lambda s: s["required"].append("carrier"),
    "null no longer written": lambda s: s["properties"].update(carrier={"type": "string"}),
    "enum narrowed": lambda s: s["properties"]["status"]["enum"].remove("open"),
    "bound tightened": lambda s: s["$defs"]["Line"]["properties"]["sku"].update(maxLength=32),
    "descriptions and titles": lambda s: s["properties"]["event_id"].update(description="new words", title="Id"),
    "default changed": lambda s: s["properties"]["carrier"].update(default="UPS"),
}


@pytest.mark.parametrize("name", sorted(OUTPUT_COMPATIBLE))
def test_a_compatible_output_change_passes(name: str) -> None:
    released = record(closed=False)
    current = changed(released, OUTPUT_COMPATIBLE[name])
    assert incompatibilities(released, current, "output") == []


# -- inputs: others write with the released schema, fulfillsync reads with the current one ------------------------

INPUT_BREAKING: dict[str, tuple[Change, str]] = {
    "required property added": (lambda s: (s["properties"].update(note={"type": "string"}),
                                           s["required"].append("note")), "required_added"),
    "optional made required": (lambda s: s["required"].append("carrier"), "required_added"),
    "property removed from a closed schema": (lambda s: s["properties"].pop("carrier"), "property_removed"),
    "nested property removed": (lambda s: (s["$defs"]["Line"]["properties"].pop("sku"),
                                           s["$defs"]["Line"]["required"].remove("sku")), "property_removed"),
    "null refused": (lambda s: s["properties"].update(carrier={"type": "string"}), "type_changed"),
    "type changed": (lambda s: s["properties"].update(event_id={"type": "integer"}), "type_changed"),
    "enum narrowed": (lambda s: s["properties"]["status"]["enum"].remove("open"), "enum_changed"),
    "enum added to a free string": (lambda s: s["properties"]["event_id"].update(enum=["a"]), "enum_changed"),
    "bound tightened": (lambda s: s["$defs"]["Line"]["properties"]["quantity"].update(minimum=2),
                        "constraint_changed"),
    "max length tightened": (lambda s: s["$defs"]["Line"]["properties"]["sku"].update(maxLength=8),
                             "constraint_changed"),
    "min items raised": (lambda s: s["properties"]["lines"].update(minItems=2), "constraint_changed"),
    "pattern changed": (lambda s: s["properties"]["tracking_url"].update(pattern="^https://"),
                        "constraint_changed"),
    "format added": (lambda s: s["properties"]["event_id"].update(format="uuid"), "constraint_changed"),
    "default of an optional property changed": (lambda s: s["properties"]["carrier"].update(default="UPS"),
                                                "default_changed"),
}


@pytest.mark.parametrize("name", sorted(INPUT_BREAKING))
def test_a_breaking_input_change_is_caught(name: str) -> None:
    change, kind = INPUT_BREAKING[name]
    released = record(closed=True)
    found = incompatibilities(released, changed(released, change), "input")
    assert kind in {problem.kind for problem in found}, [str(problem) for problem in found]


def test_additional_properties_made_stricter_on_an_input_is_caught() -> None:
    released = record(closed=False)
    current = record(closed=True)
    found = incompatibilities(released, current, "input")
    assert {problem.kind for problem in found} == {"additional_properties"}
    assert {problem.path for problem in found} == {"(record)", "/lines/*"}


INPUT_COMPATIBLE: dict[str, Change] = {
    "optional property added": lambda s: s["properties"].update(note={"type": "string", "default": ""}),
    "required made optional": lambda s: s["required"].remove("lines"),
    "null accepted": lambda s: s["properties"].update(event_id={"anyOf": [{"type": "string"}, {"type": "null"}]}),
    "integer widened to number": lambda s: s["$defs"]["Line"]["properties"]["quantity"].update(type="number"),
    "enum widened": lambda s: s["properties"]["status"]["enum"].append("reopened"),
    "bound loosened": lambda s: s["$defs"]["Line"]["properties"]["quantity"].update(minimum=0),
    "pattern dropped": lambda s: s["properties"]["tracking_url"].pop("pattern"),
    "additional properties allowed": lambda s: s.update(additionalProperties=True),
}


@pytest.mark.parametrize("name", sorted(INPUT_COMPATIBLE))
def test_a_compatible_input_change_passes(name: str) -> None:
    released = record(closed=True)
    current = changed(released, INPUT_COMPATIBLE[name])
    assert incompatibilities(released, current, "input") == []


def test_the_same_change_can_break_one_direction_only() -> None:
    released = record(closed=True)
    widened = changed(released, lambda s: s["properties"]["status"]["enum"].append("reopened"))
    assert incompatibilities(released, widened, "input") == []
    assert kinds(released, widened, "output") == {"enum_changed"}


# -- the release policy and the checker's own limits ----------------------------------------------------------


def test_a_breaking_change_passes_only_with_a_higher_schema_version() -> None:
    released = record(closed=False)
    broken = changed(released, lambda s: s["required"].remove("lines"))
    assert schema_version(released) == 1
    assert not verdict(released, broken, "output").ok
    bumped = changed(broken, lambda s: s["properties"]["schema_version"].update(const=2, default=2))
    result = verdict(released, bumped, "output")
    assert result.ok and result.bumped and result.problems  # still listed, for the release notes
    compatible = changed(released, lambda s: s["properties"].update(note={"type": "string"}))
    assert verdict(released, compatible, "output").ok


def test_a_schema_version_going_down_is_refused() -> None:
    released = changed(record(closed=False), lambda s: s["properties"]["schema_version"].update(const=3, default=3))
    lower = changed(released, lambda s: s["properties"]["schema_version"].update(const=2, default=2))
    result = verdict(released, lower, "output")
    assert not result.ok
    assert "schema_version" in {problem.kind for problem in result.problems}


def test_a_keyword_the_checker_does_not_model_is_reported_not_passed_over() -> None:
    released = record(closed=False)
    current = changed(released, lambda s: s["properties"]["event_id"].update(**{"not": {"const": ""}}))
    assert kinds(released, current, "output") == {"unsupported"}
    assert kinds(released, current, "input") == {"unsupported"}


def test_a_recursive_definition_is_compared_without_looping() -> None:
    tree: dict[str, Any] = {
        "$defs": {"Node": {"type": "object", "properties": {
            "name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            "required": ["name"]}},
        "$ref": "#/$defs/Node",
    }
    assert incompatibilities(tree, tree, "output") == []
    broken = changed(tree, lambda s: s["$defs"]["Node"]["properties"].update(name={"type": "integer"}))
    found = incompatibilities(tree, broken, "output")
    assert [problem.path for problem in found] == ["/name"]


def test_every_problem_names_where_and_why() -> None:
    released = record(closed=False)
    current = changed(released, lambda s: s["$defs"]["Line"]["properties"].update(quantity={"type": "string"}))
    (problem,) = incompatibilities(released, current, "output")
    assert problem.path == "/lines/*/quantity"
    assert str(problem) == ("/lines/*/quantity: type_changed: the current schema allows string, the released one "
                            "only integer (a type widened or changed)")

"""The JSON Schema of every public record type, as its model generates it now, against the last released one in
`schemas/json/released/`: a backward-incompatible change fails unless the type's `schema_version` was raised
(docs/consumers.md, "Compatibility"; the rules are in schemas/compatibility.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import AwareDatetime

from schemas.asyncapi import direction
from schemas.cloudevents import schema_id
from schemas.compatibility import verdict
from schemas.events import PUBLISHED_MODELS, DeadLetter, OrderPlaced, OrderShipped
from schemas.generate import RELEASED_DIR, generated_schemas, main, record_schema_files


def released(record_type: str) -> dict[str, Any]:
    path = RELEASED_DIR / f"{record_type}.schema.json"
    assert path.exists(), (f"schemas/json/released/{path.name} is missing: a new record type is released with "
                           "`python -m schemas.generate --release` (docs/consumers.md, \"Compatibility\")")
    loaded = json.loads(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def current(record_type: str) -> dict[str, Any]:
    loaded = json.loads(generated_schemas()[f"{record_type}.schema.json"])
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize("record_type", sorted(PUBLISHED_MODELS))
def test_the_current_schema_is_compatible_with_the_released_one(record_type: str) -> None:
    result = verdict(released(record_type), current(record_type), direction(record_type))
    readers = "consumers" if direction(record_type) == "output" else "producers"
    assert result.ok, (
        f"{record_type}: backward-incompatible for its {readers}"
        f" and schema_version not raised ({result.released_version} -> {result.current_version}):\n  "
        + "\n  ".join(str(problem) for problem in result.problems)
        + "\nKeep the change compatible, or raise schema_version in schemas/events.py and announce it "
          "(docs/consumers.md, \"Compatibility\")")


def test_every_released_record_type_still_exists() -> None:
    names = sorted(path.name for path in RELEASED_DIR.glob("*.schema.json"))
    assert names == record_schema_files(), "a record type was removed or renamed: consumers of it would break"


@pytest.mark.parametrize("record_type", sorted(PUBLISHED_MODELS))
def test_the_released_schema_has_the_id_that_records_name(record_type: str) -> None:
    assert released(record_type)["$id"] == current(record_type)["$id"] == schema_id(record_type)


# -- the check fails on real models changed the wrong way -----------------------------------------------------


class LooserShipped(OrderShipped):
    """`shipped_at` made optional: consumers that rely on it would break."""

    shipped_at: AwareDatetime | None = None  # type: ignore[assignment]


class StricterPlaced(OrderPlaced):
    """A new required field on an input: records the released schema allowed would be refused."""

    warehouse: str


def _schema(model: type[Any], record_type: str) -> dict[str, Any]:
    return {"$id": schema_id(record_type), **model.model_json_schema(mode="validation")}


def _bumped(schema: dict[str, Any]) -> dict[str, Any]:
    bumped = copy.deepcopy(schema)
    bumped["properties"]["schema_version"].update(const=2, default=2)
    return bumped


def test_an_optional_shipped_at_fails_unless_schema_version_is_raised() -> None:
    broken = _schema(LooserShipped, "order.shipped")
    result = verdict(released("order.shipped"), broken, "output")
    assert not result.ok
    assert {(problem.path, problem.kind) for problem in result.problems} >= {("/shipped_at", "required_removed"),
                                                                           ("/shipped_at", "type_changed")}
    assert verdict(released("order.shipped"), _bumped(broken), "output").ok


def test_a_new_required_input_field_fails() -> None:
    result = verdict(released("order.placed"), _schema(StricterPlaced, "order.placed"), "input")
    assert not result.ok
    assert [(problem.path, problem.kind) for problem in result.problems] == [("/warehouse", "required_added")]


def test_a_removed_input_field_fails() -> None:
    broken = copy.deepcopy(current("fulfillment.recorded"))
    del broken["properties"]["carrier"]
    result = verdict(released("fulfillment.recorded"), broken, "input")
    assert [(problem.path, problem.kind) for problem in result.problems] == [("/carrier", "property_removed")]


def test_a_new_dead_letter_reason_fails_for_consumers() -> None:
    broken = copy.deepcopy(current("dead_letter"))
    broken["properties"]["reason"]["enum"].append("brand_new_reason")
    result = verdict(current("dead_letter"), broken, "output")
    assert not result.ok and [problem.kind for problem in result.problems] == ["enum_changed"]


def test_the_catalog_reasons_came_with_a_raised_dead_letter_version() -> None:
    result = verdict(released("dead_letter"), current("dead_letter"), "output")
    assert result.ok and (result.released_version, result.current_version) == (1, 2)
    assert DeadLetter.model_fields["schema_version"].default == 2
    assert DeadLetter.model_validate({**_letter(), "schema_version": 1}).schema_version == 1


def test_a_nested_field_made_nullable_in_shipped_orders_fails() -> None:
    broken = copy.deepcopy(current("order.shipped"))
    broken["$defs"]["PublishedFulfilledLine"]["properties"]["sku"] = {"anyOf": [{"type": "string"},
                                                                                {"type": "null"}]}
    result = verdict(released("order.shipped"), broken, "output")
    assert not result.ok
    assert {problem.path for problem in result.problems} == {"/fulfillments/*/lines/*/sku"}


def test_an_added_optional_field_passes() -> None:
    for record_type in ("order.shipped", "order.placed"):
        changed = copy.deepcopy(current(record_type))
        changed["properties"]["note"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
        assert verdict(released(record_type), changed, direction(record_type)).ok, record_type


def test_the_generator_refuses_an_unknown_argument_without_writing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--relase"]) == 2
    assert "usage: python -m schemas.generate [--release]" in capsys.readouterr().err


def _letter() -> dict[str, Any]:
    return {"event_id": "e1", "order_id": None, "reason": "unknown_sku", "message": "m", "stage": "seller_orders",
            "dead_lettered_at": "2026-01-01T00:00:00Z",
            "original": {"topic": "t", "partition": 0, "offset": 1, "key": None, "value": "{}", "headers": []}}

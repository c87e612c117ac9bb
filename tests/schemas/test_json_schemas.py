"""The committed JSON Schemas are exactly what the models generate, and they accept what we publish."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from schemas.events import PUBLISHED_MODELS
from schemas.generate import JSON_DIR, generated_schemas


@pytest.mark.parametrize("file_name", sorted(generated_schemas()))
def test_committed_schema_matches_its_model(file_name: str) -> None:
    committed = JSON_DIR / file_name
    assert committed.exists(), f"schemas/json/{file_name} is missing: run `python -m schemas.generate`"
    assert committed.read_text() == generated_schemas()[file_name], (
        f"schemas/json/{file_name} differs from its model: run `python -m schemas.generate` and commit the result")


def test_every_record_type_has_a_schema() -> None:
    assert {f"{name}.schema.json" for name in PUBLISHED_MODELS} <= set(generated_schemas())


def test_schemas_are_valid_draft_2020_12() -> None:
    for text in generated_schemas().values():
        jsonschema.Draft202012Validator.check_schema(json.loads(text))


def test_input_schema_rejects_unknown_fields_but_published_schema_allows_them() -> None:
    placed = json.loads((JSON_DIR / "order.placed.schema.json").read_text())
    shipped = json.loads((JSON_DIR / "order.shipped.schema.json").read_text())
    assert placed.get("additionalProperties") is False
    assert shipped.get("additionalProperties", True) is not False


def test_committed_schema_rejects_a_shipped_record_without_its_lines() -> None:
    schema = json.loads((JSON_DIR / "order.shipped.schema.json").read_text())
    party = {"partner": "p", "connection": "c", "platform": "shopify", "order_ref": "1"}
    record = {"event_id": "e", "type": "order.shipped", "schema_version": 1, "order_id": "o", "buyer": party,
              "seller": party, "shipped_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(), "fulfillments": []}
    with pytest.raises(jsonschema.ValidationError, match="'lines' is a required property"):
        jsonschema.Draft202012Validator(schema).validate(record)

"""schemas/asyncapi.yaml: generated from the models, valid against the official AsyncAPI 3.0.0 JSON Schema
(vendored in schemas/vendor/asyncapi/), and true to what fulfillsync actually writes: topic names, keys, CloudEvents
headers (`ce_dataschema` included) and payloads, checked on records encoded by `streams.kit.records`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from schemas.asyncapi import CHANNELS, DEFAULT_PREFIX, direction, document
from schemas.cloudevents import header_map, schema_id
from schemas.events import PUBLISHED_MODELS
from schemas.generate import ASYNCAPI_FILE, SCHEMAS_DIR, generated_asyncapi
from schemas.topics import TopicNames
from streams.kit.records import encode_event
from tests.schemas.samples import every_type, shipped

VENDOR = SCHEMAS_DIR / "vendor" / "asyncapi"
ASYNCAPI_SCHEMA = VENDOR / "asyncapi-3.0.0-without-id.json"
DOC_URI = "urn:fulfillsync:asyncapi"


def committed() -> dict[str, Any]:
    loaded = yaml.safe_load(ASYNCAPI_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def asyncapi_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def errors_of(doc: dict[str, Any]) -> list[str]:
    """Every error the AsyncAPI schema finds, with those under `oneOf`/`anyOf` branches (`context`)."""
    found: list[str] = []

    def walk(error: jsonschema.ValidationError) -> None:
        found.append(f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
        for inner in error.context or []:
            walk(inner)

    for error in asyncapi_validator().iter_errors(doc):
        walk(error)
    return found


# -- generated, and valid ---------------------------------------------------------------------------------------


def test_committed_document_is_what_the_models_generate() -> None:
    assert ASYNCAPI_FILE.exists(), "schemas/asyncapi.yaml is missing: run `python -m schemas.generate`"
    assert ASYNCAPI_FILE.read_text() == generated_asyncapi(), (
        "schemas/asyncapi.yaml differs from what the models generate: run `python -m schemas.generate` (make schemas) "
        "and commit the result")


def test_committed_document_is_valid_asyncapi_3_0_0() -> None:
    doc = committed()
    assert doc["asyncapi"] == "3.0.0"
    assert errors_of(doc) == []


@pytest.mark.parametrize(("breaks", "expected"), [
    (lambda doc: doc["operations"]["sendShippedOrders"].update(action="publish"), "'publish' is not one of"),
    (lambda doc: doc["operations"]["sendShippedOrders"].pop("channel"), "'channel' is a required property"),
    (lambda doc: doc["servers"]["kafka"].pop("protocol"), "'protocol' is a required property"),
    (lambda doc: doc["components"]["messages"]["order.shipped"].update(key={"type": "string"}),
     "'key' does not match any of the regexes"),
    (lambda doc: doc["components"]["messages"]["order.shipped"]["bindings"]["kafka"].update(bindingVersion="9.9.9"),
     "is not one of"),
    (lambda doc: doc.update(asyncapi="2.6.0"), "'3.0.0' was expected"),
], ids=["operation-action", "operation-without-channel", "server-without-protocol", "message-unknown-field",
        "kafka-binding-version", "spec-version"])
def test_the_validation_catches_a_broken_document(breaks: Any, expected: str) -> None:
    doc = copy.deepcopy(committed())
    breaks(doc)
    found = errors_of(doc)
    assert found, "a broken document passed the AsyncAPI 3.0.0 schema"
    assert any(expected in error for error in found), found


def test_the_vendored_schema_carries_its_licence_and_origin() -> None:
    notice = (VENDOR / "NOTICE.md").read_text()
    assert "asyncapi/spec-json-schemas" in notice and "schemas/3.0.0-without-$id.json" in notice
    assert "Apache License" in (VENDOR / "LICENSE").read_text()


# -- true to the topics and records -----------------------------------------------------------------------------


def test_every_public_record_type_is_a_message_of_exactly_one_channel() -> None:
    carried = [record_type for channel in CHANNELS for record_type in channel.types]
    assert sorted(carried) == sorted(PUBLISHED_MODELS)
    doc = document()
    assert set(doc["components"]["messages"]) == set(PUBLISHED_MODELS)


def test_channel_addresses_are_the_topic_names_under_the_prefix() -> None:
    doc = document()
    assert doc["components"]["parameters"]["prefix"]["default"] == DEFAULT_PREFIX == "fulfillsync"
    addresses = {channel["address"].replace("{prefix}", DEFAULT_PREFIX) for channel in doc["channels"].values()}
    assert addresses == set(TopicNames().public)
    assert {channel.address("acme") for channel in CHANNELS} == set(TopicNames("acme").public)
    for channel_id, channel in doc["channels"].items():
        assert set(channel["parameters"]) == {"prefix"}, channel_id


def test_operations_say_fulfillsync_sends_outputs_and_receives_inputs() -> None:
    doc = document()
    actions = {op["channel"]["$ref"].split("/")[-1]: op["action"] for op in doc["operations"].values()}
    assert actions == {"shippedOrders": "send", "deadLetters": "send", "orderEvents": "receive",
                       "fulfillmentEvents": "receive"}
    for op in doc["operations"].values():
        channel = op["channel"]["$ref"].split("/")[-1]
        for message in op["messages"]:
            assert message["$ref"].startswith(f"#/channels/{channel}/messages/")
    assert direction("order.shipped") == "output" and direction("order.placed") == "input"


def _registry(doc: dict[str, Any]) -> Registry:
    """The document and the committed JSON Schemas it references, for resolving `$ref`s in tests."""
    registry: Registry = Registry().with_resource(DOC_URI, Resource.from_contents(doc, default_specification=DRAFT7))
    for path in (SCHEMAS_DIR / "json").glob("*.schema.json"):
        contents = json.loads(path.read_text())
        registry = registry.with_resource(contents["$id"], Resource.from_contents(contents))
    return registry


@pytest.mark.parametrize("record_type", sorted(PUBLISHED_MODELS))
def test_payload_references_the_committed_schema_that_ce_dataschema_names(record_type: str) -> None:
    message = committed()["components"]["messages"][record_type]
    payload = message["payload"]
    assert payload["schemaFormat"] == "application/schema+json;version=draft-2020-12"
    file = (ASYNCAPI_FILE.parent / payload["schema"]["$ref"]).resolve()
    assert file == (SCHEMAS_DIR / "json" / f"{record_type}.schema.json").resolve() and file.exists()
    assert json.loads(file.read_text())["$id"] == schema_id(record_type)
    assert message["headers"]["properties"]["ce_dataschema"]["const"] == schema_id(record_type)
    assert message["x-schema-version"] == PUBLISHED_MODELS[record_type].model_fields["schema_version"].default


@pytest.mark.parametrize(("record_type", "record"), sorted(every_type().items()), ids=sorted(every_type()))
def test_an_encoded_record_matches_its_message(record_type: str, record: Any) -> None:
    """What `streams.kit.records.encode_event` writes: key, headers and value, against the document."""
    doc = committed()
    value = json.loads(record.model_dump_json())
    order_id = value["order_id"] or "o-1"
    encoded = encode_event(record, order_id=order_id, record_id=value["event_id"], record_type=record_type,
                           time=record.model_dump()[_time_field(value)])
    headers = header_map(encoded.headers)
    assert headers["ce_dataschema"] == schema_id(record_type)
    registry = _registry(doc)
    base = f"{DOC_URI}#/components/messages/{record_type}"
    header_schema = {"$ref": f"{base}/headers"}
    jsonschema.Draft7Validator(header_schema, registry=registry,
                               format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(headers)
    key_schema = {"$ref": f"{base}/bindings/kafka/key"}
    jsonschema.Draft7Validator(key_schema, registry=registry).validate(encoded.key.decode())
    payload = json.loads(encoded.value)
    jsonschema.Draft202012Validator({"$ref": schema_id(record_type)}, registry=registry).validate(payload)
    assert headers["ce_id"] == payload["event_id"] and headers["ce_subject"] == encoded.key.decode()


def test_a_record_of_another_type_does_not_match_the_message() -> None:
    record = shipped()
    encoded = encode_event(record, order_id="o", record_id="e", record_type="order.reopened", time=record.shipped_at)
    validator = jsonschema.Draft7Validator({"$ref": f"{DOC_URI}#/components/messages/order.shipped/headers"},
                                           registry=_registry(committed()))
    problems = [error.message for error in validator.iter_errors(header_map(encoded.headers))]
    assert any("io.fulfillsync.order.shipped" in problem for problem in problems), problems


def _time_field(value: dict[str, Any]) -> str:
    for name in ("occurred_at", "shipped_at", "reopened_at", "updated_at", "dead_lettered_at"):
        if name in value:
            return name
    raise AssertionError(f"no time in {value}")


def test_the_document_can_be_read_where_it_lies() -> None:
    """The payload references are relative to the document: the JSON Schemas sit beside it in json/."""
    assert Path(ASYNCAPI_FILE).parent == SCHEMAS_DIR
    for message in committed()["components"]["messages"].values():
        assert (SCHEMAS_DIR / message["payload"]["schema"]["$ref"]).is_file()

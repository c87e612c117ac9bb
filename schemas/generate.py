"""Writes the JSON Schema of every record type (and of the configuration file) into `schemas/json/`, and the
AsyncAPI document of the public topics into `schemas/asyncapi.yaml` (`schemas.asyncapi`).

Run `python -m schemas.generate` (`make schemas`) after changing a model; tests/schemas/test_json_schemas.py and
tests/schemas/test_asyncapi.py fail while a committed file differs from what the models generate.

`python -m schemas.generate --release` also copies each record type's schema into `schemas/json/released/`, the
schemas consumers were last promised (docs/consumers.md, "Compatibility"): run it when a release is made, never
to silence tests/schemas/test_released_schemas.py. Exit code 0; an unknown argument exits 2 with usage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.asyncapi import DOCUMENT_FILE, document, render
from schemas.cloudevents import schema_id
from schemas.config import Config
from schemas.events import PUBLISHED_MODELS

SCHEMAS_DIR = Path(__file__).parent
JSON_DIR = SCHEMAS_DIR / "json"
RELEASED_DIR = JSON_DIR / "released"
ASYNCAPI_FILE = SCHEMAS_DIR / DOCUMENT_FILE


def generated_schemas() -> dict[str, str]:
    """File name -> JSON text, for every record type and the configuration."""
    models = {name: model for name, model in PUBLISHED_MODELS.items()}
    models["config"] = Config
    files = {}
    for name, model in models.items():
        schema = model.model_json_schema(mode="validation")
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id(name), **schema}
        files[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def record_schema_files() -> list[str]:
    """The file names of the record types' schemas (not the configuration's): what `--release` copies."""
    return sorted(f"{name}.schema.json" for name in PUBLISHED_MODELS)


def generated_asyncapi() -> str:
    """The text of `schemas/asyncapi.yaml`."""
    return render(document())


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if any(argument != "--release" for argument in arguments):
        print("usage: python -m schemas.generate [--release]", file=sys.stderr)
        return 2
    JSON_DIR.mkdir(exist_ok=True)
    files = generated_schemas()
    for file_name, text in files.items():
        (JSON_DIR / file_name).write_text(text)
        print(f"wrote schemas/json/{file_name}")
    ASYNCAPI_FILE.write_text(generated_asyncapi())
    print(f"wrote schemas/{DOCUMENT_FILE}")
    if "--release" in arguments:
        RELEASED_DIR.mkdir(exist_ok=True)
        for file_name in record_schema_files():
            (RELEASED_DIR / file_name).write_text(files[file_name])
            print(f"released schemas/json/released/{file_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

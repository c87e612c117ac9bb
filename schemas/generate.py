"""Writes the JSON Schema of every record type (and of the configuration file) into `schemas/json/`.

Run `python -m schemas.generate` after changing a model; `tests/schemas/test_json_schemas.py` fails while a
committed file differs from what its model generates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.config import Config
from schemas.events import PUBLISHED_MODELS

JSON_DIR = Path(__file__).parent / "json"
SCHEMA_ID_BASE = "https://fulfillsync.io/schemas/"


def generated_schemas() -> dict[str, str]:
    """File name -> JSON text, for every record type and the configuration."""
    models = {f"{name}.schema.json": model for name, model in PUBLISHED_MODELS.items()}
    models["config.schema.json"] = Config
    files = {}
    for file_name, model in models.items():
        schema = model.model_json_schema(mode="validation")
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID_BASE + file_name,
                  **schema}
        files[file_name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def main() -> int:
    JSON_DIR.mkdir(exist_ok=True)
    for file_name, text in generated_schemas().items():
        (JSON_DIR / file_name).write_text(text)
        print(f"wrote schemas/json/{file_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Admin GraphQL schema the simulated store executes against, built once per process and path.

`load_schema(None)` builds the vendored 2025-01 introspection beside this file (ISC, see NOTICE.md);
`load_schema(path)` builds an SDL file such as the 2026-07 capture (3.8 MB, about 4 s). Both are built with
`assume_valid=True`: Shopify's dumps carry deprecation inconsistencies that graphql-core's schema check refuses
(graphql-core 3.3 refuses them otherwise); documents are still validated normally against them.

Failure: OSError when the file cannot be read, GraphQLError / ValueError when it is not a schema.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema, build_schema

VENDORED = Path(__file__).resolve().parent / "admin_schema_2025-01.json.gz"


@lru_cache(maxsize=4)
def load_schema(sdl_path: str | None = None) -> GraphQLSchema:
    """The schema from `sdl_path` (an SDL file), else the vendored 2025-01 introspection. Cached."""
    if sdl_path is not None:
        return build_schema(Path(sdl_path).read_text(encoding="utf-8"), assume_valid=True)
    with gzip.open(VENDORED, "rt", encoding="utf-8") as handle:
        introspection = json.load(handle)
    return build_client_schema(introspection.get("data", introspection), assume_valid=True)

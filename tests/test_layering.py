"""README.md's "Layout" table, checked on every module: which part of the tree may import which."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS = ("schemas", "ledger", "connectors", "sandbox", "streams", "webapp", "fulfillsync")
ALLOWED: dict[str, frozenset[str]] = {
    "schemas": frozenset({"schemas"}),
    "ledger": frozenset({"ledger", "schemas"}),
    "connectors": frozenset({"connectors", "schemas"}),
    "sandbox": frozenset({"sandbox"}),  # an independent implementation of each platform: not even our models
    "streams": frozenset({"streams", "schemas", "ledger", "connectors"}),
    "webapp": frozenset({"webapp", "schemas", "ledger", "streams"}),  # an entry point, like fulfillsync/
    "fulfillsync": frozenset(OURS),
}


def imported_parts(path: Path) -> set[str]:
    """The top-level packages of ours that `path` imports (at module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(OURS)


MODULES = sorted(path for part in OURS for path in (REPO / part).rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(REPO)))
def test_a_module_imports_only_what_its_part_may(path: Path) -> None:
    part = path.relative_to(REPO).parts[0]
    forbidden = imported_parts(path) - ALLOWED[part]
    assert not forbidden, (f"{path.relative_to(REPO)} ({part}/) imports {sorted(forbidden)}; "
                           "README.md's Layout table forbids it")


def test_every_part_is_checked() -> None:
    assert {path.relative_to(REPO).parts[0] for path in MODULES} == set(OURS)

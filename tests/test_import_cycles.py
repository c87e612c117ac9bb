"""No import cycles among our own modules, checked on the source with `ast`.

Every import counts, wherever it is written: at module level, inside a function (so a function-level import
cannot hide a cycle) and under `if TYPE_CHECKING:`. The graph is at module granularity: `import a.b` and
`from a import b` (b a submodule) import `a/b.py`; importing a package imports its `__init__.py`. Parent
packages a dotted import runs on the way are not edges (every `from pkg.sub import x` inside `pkg` would be a
cycle through `pkg/__init__.py`). A cycle is a strongly connected component of more than one module, or a
module importing itself; each is reported with its modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OURS = ("schemas", "ledger", "connectors", "sandbox", "streams", "fulfillsync", "webapp")


def module_name(path: Path, root: Path = REPO) -> str:
    """`connectors/shopify/__init__.py` -> `connectors.shopify`; `schemas/config.py` -> `schemas.config`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = REPO, parts: tuple[str, ...] = OURS) -> dict[str, Path]:
    """Every module of ours, by dotted name."""
    return {module_name(path, root): path for part in parts for path in sorted((root / part).rglob("*.py"))}


def _package_of(name: str, path: Path) -> str:
    """The package a relative import in module `name` (file `path`) starts from."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The modules of ours that module `name` imports anywhere in its source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(name, path)
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {module for module in found if module in known}


def import_graph(root: Path = REPO, parts: tuple[str, ...] = OURS) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports."""
    known = modules(root, parts)
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every cycle, as the sorted modules of one strongly connected component (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))
    return sorted(found)


def test_no_module_of_ours_is_part_of_an_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (each line one strongly connected set of modules):\n" + "\n".join(
        " <-> ".join(component) for component in found)


def test_the_check_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("def f() -> None:\n    from pkg import b\n")
    (tmp_path / "pkg" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.c\n")
    (tmp_path / "pkg" / "c.py").write_text("from .a import f\n")
    (tmp_path / "pkg" / "d.py").write_text("from pkg.a import f\nimport pkg\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.d"] == {"pkg.a", "pkg"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_a_module_importing_itself_is_a_cycle() -> None:
    assert cycles({"a": {"a"}, "b": set()}) == [["a"]]

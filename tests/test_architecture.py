"""The shape of the house, kept: no import cycles, no private names across modules.

import-linter (run by ``.ci/run``) holds the order of the packages; these tests
hold what it cannot say: no cycle between any two modules, no underscore name
imported from another module, every deferred import saying why, every package
saying what lives in it, and the service floor in readable pieces.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import grimp
import networkx as nx
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "watchfloor"

#: The service floor stays readable: about 700 lines a module, 80 of code a function.
MAX_SERVICE_MODULE_LINES = 750
MAX_SERVICE_FUNCTION_LINES = 85


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if "migrations" in parts:
            continue
        yield ".".join(parts), path


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (SRC.parent / rel).with_suffix(".py").is_file() or (SRC.parent / rel).is_dir()


def test_no_import_cycle_between_any_two_modules() -> None:
    graph = grimp.build_graph("watchfloor")
    g = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("watchfloor"):
                g.add_edge(module, imported)
    # A package's __init__ re-exporting its modules is not a cycle of code.
    for a, b in list(g.edges):
        if b.startswith(a + "."):
            g.remove_edge(a, b)
    cycles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    assert cycles == []


def _private_imports(module: str, path: Path) -> Iterator[str]:
    package = _package_of(module, path)
    top = ".".join(module.split(".")[:2])
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if not node.module.startswith("watchfloor"):
            continue
        source = node.module
        source_top = ".".join(source.split(".")[:2])
        private_source = any(
            p.startswith("_") and not p.startswith("__") for p in source.split(".")
        )
        if private_source and source_top != top:
            # a private module is fine from inside its own package tree only
            yield f"{module}:{node.lineno} imports from private module {source}"
        for alias in node.names:
            name = alias.name
            if not name.startswith("_") or name.startswith("__"):
                continue
            if _is_module(f"{source}.{name}"):
                if source_top != top:
                    yield f"{module}:{node.lineno} imports private module {source}.{name}"
            elif source != package or path.name != "__init__.py":
                yield f"{module}:{node.lineno} imports private name {name} from {source}"


def test_no_private_name_is_imported_from_another_module() -> None:
    found = [hit for module, path in _modules() for hit in _private_imports(module, path)]
    assert found == []


_NOQA_DEFERRED = re.compile(r"#\s*noqa:[^#]*\bPLC0415\b(?P<rest>.*)$")


def test_every_deferred_import_says_why() -> None:
    bare = []
    for module, path in _modules():
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _NOQA_DEFERRED.search(line)
            if match and len(match.group("rest").strip(" ,-():")) < 8:
                bare.append(f"{module}:{lineno}")
    assert bare == []


def test_every_package_says_what_lives_there_and_what_it_may_import() -> None:
    silent = []
    for module, path in _modules():
        if path.name != "__init__.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if len(doc.split()) < 12 or "import" not in doc:
            silent.append(module)
    assert silent == []


def _long_functions(path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            length = node.end_lineno - node.lineno + 1
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
                and first.end_lineno
            ):  # the docstring is reading, not code
                length -= first.end_lineno - first.lineno + 1
            if length > MAX_SERVICE_FUNCTION_LINES:
                yield node.name, length


@pytest.mark.parametrize(
    "path",
    sorted((SRC / "services").rglob("*.py")),
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_service_modules_and_functions_stay_readable(path: Path) -> None:
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    assert n_lines <= MAX_SERVICE_MODULE_LINES
    assert list(_long_functions(path)) == []


def test_no_module_loads_watchfloor_code_through_importlib() -> None:
    # Only the CLI's lazy command table may (its targets are named in one table).
    users = []
    for module, path in _modules():
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*import importlib\b|importlib\.import_module", text, re.M):
            users.append(module)
    assert users in ([], ["watchfloor.cli.main"])

"""The layout's import rules (docs/architecture.md, "Layout"), checked on the source.

Developer tooling (`bench`, `demo`, pyinstrument) stays out of the runtime, and only the
composition root (`bootstrap`) builds the event store application: the runtime packages
ask it instead of calling `CrmApplication(...)` themselves.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = (
    "aggregates",
    "commands",
    "events",
    "gateway",
    "ops",
    "projections",
    "schemas",
    "streams",
)
LIBRARIES = ("aggregates", "commands", "events", "gateway", "projections", "schemas")
"""Packages that receive their parts and never reach up to the composition root."""


def modules(*packages: str) -> Iterator[tuple[Path, ast.Module]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(), filename=str(path))


def imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def top(name: str) -> str:
    return name.split(".", 1)[0]


def test_runtime_never_imports_dev_tooling_at_module_level() -> None:
    """`crm bench` / `crm seed` import their package inside the command, so loading the
    runtime (a production install) never loads the tooling or its dev-only libraries."""
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
        for path, tree in modules(*RUNTIME)
        for node in tree.body
        for name in imported(node)
        if top(name) in {"bench", "demo", "pyinstrument"}
    ]
    assert offenders == []


def test_pyinstrument_is_imported_only_by_the_benchmarks() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in modules(*RUNTIME, "demo")
        for node in ast.walk(tree)
        if "pyinstrument" in map(top, imported(node))
    ]
    assert offenders == []


def test_libraries_never_import_the_composition_root() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in modules(*LIBRARIES)
        for node in ast.walk(tree)
        if "bootstrap" in map(top, imported(node))
    ]
    assert offenders == []


def test_only_the_composition_root_builds_the_event_store_application() -> None:
    """`CrmApplication(...)` outside `bootstrap` (and its own module) is a second place
    deciding pool sizes and wiring; tests' fixtures are the exception (not checked)."""
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in modules(*RUNTIME, "bench", "demo")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "CrmApplication"
        and path.relative_to(ROOT).as_posix() not in ALLOWED_BUILDERS
    ]
    assert offenders == []


ALLOWED_BUILDERS = {
    # The test harness, moving to tests/support (another change); it builds a throwaway
    # store for one test.
    "gateway/testing.py",
}

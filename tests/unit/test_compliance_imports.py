"""The compliance package's import rule (its `__init__` docstring, docs/architecture.md):
it may use the event store's side of the project, never the gateway or the command line,
and the write side never imports it (commands/ keeps only what the transaction needs)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"events", "aggregates", "commands", "projections", "streams", "gateway", "ops"}
PROJECT |= {"compliance", "schemas"}
ALLOWED = {"events", "aggregates", "commands", "projections", "streams", "compliance"}


def project_imports(folder: str) -> dict[str, set[str]]:
    """Per module of `folder`, the top-level project packages it imports (lazily too)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names & PROJECT
    return found


def test_compliance_holds_the_audit_reads_and_imports_neither_gateway_nor_ops() -> None:
    modules = project_imports("compliance")
    for name in ("audit", "trail", "verify", "access_log", "export", "erasure"):
        assert f"compliance/{name}.py" in modules
    wrong = {m: sorted(names - ALLOWED) for m, names in modules.items() if names - ALLOWED}
    assert wrong == {}


def test_the_write_side_does_not_import_compliance() -> None:
    wrong = [m for m, names in project_imports("commands").items() if "compliance" in names]
    assert wrong == []

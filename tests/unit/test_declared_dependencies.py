"""Every distribution the runtime imports is declared in pyproject.toml (issue 12).

An undeclared import works only while something else happens to pull the package in;
a fresh install from the lock then breaks on the first other upgrade.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = (
    "aggregates",
    "bootstrap",
    "commands",
    "compliance",
    "events",
    "gateway",
    "ops",
    "projections",
    "schemas",
    "streams",
)
OWN = {*RUNTIME, "bench", "demo", "chaos", "tests"}


def _name(requirement: str) -> str:
    """`psycopg[binary,pool]>=3.2` → `psycopg`, normalised as PyPI compares names."""
    bare = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    # Extras pull their own distributions in: psycopg[pool] is psycopg-pool.
    for requirement in project["dependencies"]:
        extras = re.search(r"\[([^\]]+)\]", requirement)
        for extra in extras.group(1).split(",") if extras else ():
            names.add(f"{_name(requirement)}-{extra.strip()}")
    return names


def _imported_tops() -> dict[str, str]:
    """Top-level module → one file importing it, for every third-party import."""
    found: dict[str, str] = {}
    for package in RUNTIME:
        for path in sorted(ROOT.glob(f"{package}/**/*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top not in OWN and top not in sys.stdlib_module_names:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_distribution_the_runtime_imports_is_declared() -> None:
    declared = _declared()
    by_module = packages_distributions()
    undeclared = {
        top: where
        for top, where in _imported_tops().items()
        if not {_name(d) for d in by_module.get(top, [top])} & declared
    }
    assert undeclared == {}, f"imported but not in [project] dependencies: {undeclared}"

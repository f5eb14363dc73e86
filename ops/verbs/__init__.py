"""More `crm` verbs, found at start-up: drop a module here to add one.

Each module in this package that defines `register(app: typer.Typer) -> None` is
imported by `ops.cli` and may add commands or sub-apps to the `crm` app, e.g.

    def register(app: typer.Typer) -> None:
        @app.command()
        def seed(customers: int = 1000) -> None:
            "Load demo data."
            from ops.demo_data import load   # heavy imports inside the command
            ...

Keep the module's top-level imports light: every `crm` process (the gateway, each
worker) imports it. `crm demo` runs `crm seed` when a verb of that name exists.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def register_all(app: Any) -> None:
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)

"""`crm bench NAME` and `crm bench all`: benchmarks on a real PostgreSQL.

Only typer is imported at module level: every `crm` process imports this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Quick = Annotated[
    bool, typer.Option("--quick", help="Tiny sizes, two repeats: a smoke run, not a measurement.")
]
Out = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Results folder (default bench/results).", show_default=False),
]
Clients = Annotated[
    int | None,
    typer.Option(
        "--clients",
        "-c",
        help="Concurrent clients for group commit (default 16).",
        show_default=False,
    ),
]
Repeats = Annotated[
    int | None,
    typer.Option(
        "--repeats",
        "-r",
        help="Runs per measurement; medians are reported (default 5).",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    bench = typer.Typer(
        name="bench",
        help="Benchmarks on a real PostgreSQL (CRM_DATABASE_URL or an embedded one).",
        no_args_is_help=True,
    )

    def _run(
        names: list[str], quick: bool, out: Path | None, clients: int | None, repeats: int | None
    ) -> None:
        from ops.bench import BENCHMARKS, RESULTS_DIR, BenchRequest
        from ops.cli import console, setting_errors, settings_from

        with setting_errors():
            settings = settings_from()
            request = BenchRequest(
                quick=quick,
                out_dir=out or RESULTS_DIR,
                database_url=settings.database_url,
                console=console,
                clients=clients,
                repeats=repeats,
            )
            for name in names:
                BENCHMARKS[name](request)

    @bench.command("commands")
    def commands(
        quick: Quick = False, out: Out = None, clients: Clients = None, repeats: Repeats = None
    ) -> None:
        """The write side: (a) the plain eventsourcing loop, (b) our single path, sequential
        and with concurrent clients through group commit, (c) the bulk path (events/s)."""
        _run(["commands"], quick, out, clients, repeats)

    @bench.command("all")
    def run_all(
        quick: Quick = False, out: Out = None, clients: Clients = None, repeats: Repeats = None
    ) -> None:
        """Every benchmark, one after the other."""
        from ops.bench import BENCHMARKS

        _run(list(BENCHMARKS), quick, out, clients, repeats)

    app.add_typer(bench)

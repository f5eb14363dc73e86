"""`crm bench NAME` and `crm bench all`: benchmarks on real servers.

Only typer is imported at module level: every `crm` process imports this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Quick = Annotated[
    bool,
    typer.Option("--quick", help="Small sizes, one repeat: a developer's loop, not a measurement."),
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
        help="Concurrent clients (group commit, HTTP; default 16).",
        show_default=False,
    ),
]
Repeats = Annotated[
    int | None,
    typer.Option(
        "--repeats",
        "-r",
        help="Runs per measurement; medians are reported (default 5 commands, 3 others).",
        show_default=False,
    ),
]
ScaleMax = Annotated[
    int | None,
    typer.Option(
        "--scale-max",
        help="Largest store the scale scenario grows to, in events (default 1,000,000).",
        show_default=False,
    ),
]

HELP = {
    "commands": "The write side: (a) the plain eventsourcing loop, (b) our single path, "
    "sequential and with concurrent clients through group commit, (c) the bulk path.",
    "end_to_end": "GraphQL mutations/s over HTTP (16 clients) beside the plain loop, and "
    "commit → read-model lag at 1,000 events/s, through the real relay and worker.",
    "streams": "Relay and rebuild events/s beside raw aiokafka produce/consume.",
    "gateway": "360° and list query requests/s and p99 beside `{ __typename }`.",
    "gateways": "GraphQL mutations/s and query requests/s, p50 and p99, with 1 and with 2 "
    "gateway processes sharing one socket (as `crm up --gateways N`), side by side.",
    "scale": "Disk per event, rebuild time and query p99 as the store grows (extrapolated "
    "to 20M events past --scale-max); list and 360° p99 measured at 100k, 300k, 1M customers.",
    "analytics": "Funnel, cohort and RFM queries on the DuckDB catalog over 10M synthetic "
    "events in Parquet, beside the same questions on the PostgreSQL read models.",
    "compliance": "`crm audit verify` events/s over 1M chained events and as-of latency for "
    "a customer with 10,000 events (as `crm audit bench`).",
    "recovery": "Seconds until /healthz is 200 and a fresh write is readable after a kill -9 "
    "of PostgreSQL, the broker, the relay and each worker (a `crm up` of its own).",
    "console": "The web console's first screen (the customer list) interactive in headless "
    "Chromium, with demo data, beside a bare round trip to the gateway (target <= 1 s).",
}


def register(app: typer.Typer) -> None:
    bench = typer.Typer(
        name="bench",
        help="Benchmarks on real servers (CRM_DATABASE_URL / CRM_KAFKA_BOOTSTRAP, or embedded).",
        no_args_is_help=True,
    )

    def _run(
        names: list[str],
        quick: bool,
        out: Path | None,
        clients: int | None,
        repeats: int | None,
        scale_max: int | None,
    ) -> None:
        from bench import RESULTS_DIR, BenchRequest
        from bench.suite import BenchFailed, run_suite
        from ops.cli import console, setting_errors, settings_from

        with setting_errors():
            settings = settings_from()
            request = BenchRequest(
                quick=quick,
                out_dir=out or RESULTS_DIR,
                database_url=settings.database_url,
                kafka_bootstrap=settings.kafka_bootstrap,
                console=console,
                clients=clients,
                repeats=repeats,
                scale_max_events=scale_max,
            )
            try:
                run_suite(names, request)
            except BenchFailed as error:
                console.print(f"[red]error:[/red] {error}")
                raise typer.Exit(1) from None

    def add(name: str) -> None:
        def command(
            quick: Quick = False,
            out: Out = None,
            clients: Clients = None,
            repeats: Repeats = None,
            scale_max: ScaleMax = None,
        ) -> None:
            _run([name], quick, out, clients, repeats, scale_max)

        command.__doc__ = HELP[name]
        bench.command(name.replace("_", "-"))(command)

    for name in HELP:
        add(name)

    @bench.command("all")
    def run_all(
        quick: Quick = False,
        out: Out = None,
        clients: Clients = None,
        repeats: Repeats = None,
        scale_max: ScaleMax = None,
    ) -> None:
        """Every benchmark in one run: one JSON, one Markdown summary, charts, a table."""
        from bench import BENCHMARKS

        _run(list(BENCHMARKS), quick, out, clients, repeats, scale_max)

    app.add_typer(bench)

"""`crm seed`: load demo data (a year of history) through the command layer.

Only typer is imported at module level: every `crm` process imports this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ops.config import Settings


def demo_team_tokens(settings: Settings, seed: int = 42) -> list[str]:
    """Tokens of a sales rep and of a manager of the demo's first team (seed `seed`),
    one printable line each, so `crm demo` shows the scoping from the start."""
    from demo.organisation import MANAGERS, TEAMS, first_rep_of
    from demo.people import People
    from ops.keys import jwt_secret
    from ops.tokens import mint_token, parse_ttl

    team, department = TEAMS[0]
    rep = first_rep_of(team, People(seed).owners)
    secret, ttl = jwt_secret(settings), parse_ttl("12h")
    lines = []
    for role, subject in (("sales", rep), ("manager", MANAGERS[0])):
        token = mint_token(
            secret, role=role, subject=subject, ttl=ttl, team=team, department=department
        )
        lines.append(f"{role} token of {subject} ({team}, {department}; 12h): {token}")
    return lines


def register(app: typer.Typer) -> None:
    @app.command()
    def seed(
        customers: Annotated[
            int, typer.Option("--customers", "-n", help="How many customers to create.")
        ] = 10_000,
        seed_value: Annotated[
            int, typer.Option("--seed", help="Random seed: the same seed gives the same data.")
        ] = 42,
        batch: Annotated[
            int | None,
            typer.Option(
                "--batch",
                "-b",
                help="Customers' worth of commands per transaction (default 100: four cohorts).",
            ),
        ] = None,
        until: Annotated[
            str | None,
            typer.Option(help="End of the year of history (ISO date or time, UTC); default now."),
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="Seed even if the event store holds events.")
        ] = False,
        processes: Annotated[
            int,
            typer.Option(
                "--processes",
                "-p",
                help="Worker processes recording the customers' batches (whole cohorts);"
                " about one per free core.",
            ),
        ] = 1,
        data_dir: Annotated[
            Path | None,
            typer.Option("--data-dir", "-d", help="Data folder (CRM_DATA_DIR, default ./.crm)."),
        ] = None,
    ) -> None:
        """Load a realistic year of CRM history through the command layer.

        Customers, touches, needs, deals, purchases, complaints, surveys, referrals,
        merges and forgets, recorded in batches (one transaction each).

        Writes to CRM_DATABASE_URL, else to the running `crm up`, else to the data
        folder's embedded PostgreSQL. A store that holds events is left alone unless
        --force is given (then pick another --seed).
        """
        from demo.command import run_seed_verb
        from demo.runner import SeedFailed
        from ops.cli import _log, console, setting_errors, settings_from

        with setting_errors():
            try:
                run_seed_verb(
                    settings_from(data_dir=data_dir),
                    customers=customers,
                    seed=seed_value,
                    batch=batch,
                    until=until,
                    force=force,
                    console=console,
                    log=_log,
                    processes=processes,
                )
            except SeedFailed as error:
                console.print(f"seeding stopped: {error}", style="bold red", markup=False)
                raise typer.Exit(1) from None

"""`crm schemas export` / `crm schemas check`: the published JSON Schemas."""

from __future__ import annotations

from typing import Annotated

import typer

DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", "-d", help="Data folder of the platform (CRM_DATA_DIR)."),
]

schemas_app = typer.Typer(
    help="Published contracts: JSON Schema per event type and version.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(schemas_app, name="schemas")


@schemas_app.command()
def export() -> None:
    """Write schemas/events/*.json and schemas/envelope.json from the code."""
    from schemas.generate import export as write_all

    written = write_all()
    typer.echo(f"wrote {len(written)} schema files")


@schemas_app.command()
def check(
    events: Annotated[
        bool,
        typer.Option(
            "--events",
            help="Also validate every stored event, as the relay sends it, against the "
            "schemas (the relay itself validates a sample).",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Exit 1 when the committed schema files differ from what the code generates (or,
    with --events, when a stored event's envelope breaks them)."""
    from schemas.generate import differences

    problems = differences()
    for name in problems:
        typer.echo(f"out of date: {name}", err=True)
    if events:
        problems += _check_events(data_dir)
    raise typer.Exit(1 if problems else 0)


def _check_events(data_dir: str | None) -> list[str]:
    from ops.cli import setting_errors, settings_from
    from ops.runtime import open_application
    from streams.sampling import validate_stored
    from streams.source import EventSource

    with setting_errors(), open_application(settings_from(data_dir=data_dir)) as app:
        result = validate_stored(EventSource(app), app.stream_signing_key)
    for problem in result.problems:
        typer.echo(f"invalid envelope: {problem}", err=True)
    typer.echo(f"{result.checked} stored events checked, {len(result.problems)} invalid")
    return result.problems

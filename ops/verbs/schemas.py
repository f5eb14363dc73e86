"""`crm schemas export` / `crm schemas check`: the published JSON Schemas."""

from __future__ import annotations

import typer

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
def check() -> None:
    """Exit 1 when the committed schema files differ from what the code generates."""
    from schemas.generate import differences

    problems = differences()
    for name in problems:
        typer.echo(f"out of date: {name}", err=True)
    raise typer.Exit(1 if problems else 0)

"""`crm projections rebuild [NAME…]` and `crm projections list`."""

from __future__ import annotations

from typing import Annotated

import typer

projections_app = typer.Typer(
    help="Read models: list them, rebuild them from the event store.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(projections_app, name="projections")


@projections_app.command("list")
def list_projections() -> None:
    """Name every read-model projection and the tables it writes."""
    from projections.schema import PROJECTION_TABLES

    for name, tables in PROJECTION_TABLES.items():
        typer.echo(f"{name}: {', '.join(tables)}")


@projections_app.command()
def rebuild(
    names: Annotated[
        list[str] | None, typer.Argument(help="Projections to rebuild (default: all).")
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option("--data-dir", "-d", help="Data folder of the running platform.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", "-w", min=1, help="Processes of a full rebuild (default: cores)."
        ),
    ] = None,
) -> None:
    """Rebuild read models from the event store, while the platform keeps serving.

    All of them (the default): shadow tables filled by one process per core, then
    swapped in, in one short transaction; a crash leaves the serving tables as they were
    and a re-run starts over. Some of them: one transaction, readers see the old rows
    until the rebuilt ones commit.
    """
    from ops.cli import err_console, setting_errors, settings_from
    from ops.keys import master_key
    from ops.progress import progress_bar
    from ops.runtime import database_url, open_application
    from streams.rebuild import rebuild as rebuild_projections
    from streams.rebuild import select_projections
    from streams.rebuild_shadow import RebuildBusy
    from streams.rebuild_workers import RebuildFailed

    with setting_errors():
        settings = settings_from(data_dir=data_dir)
        try:
            chosen = select_projections(names)
        except ValueError as error:
            err_console.print(f"error: NAME: {error}", style="bold red", markup=False)
            raise typer.Exit(2) from None
        url = database_url(settings)
        # A full rebuild's lock is session state: past a transaction pooler (a partial
        # rebuild takes none, so it needs no direct URL).
        full = len(chosen) == len(select_projections(None))
        session = settings.relay_session_url if full else None
        try:
            with (
                open_application(settings) as app,
                progress_bar("replaying events") as progress,
            ):
                count = rebuild_projections(
                    app,
                    url,
                    [p.name for p in chosen],
                    progress=progress,
                    workers=workers,
                    master_key=master_key(settings),
                    session_url=session,
                )
        except (RebuildBusy, RebuildFailed) as error:
            # Expected refusals, not bugs: one line, the serving tables untouched.
            err_console.print(f"error: {error}", style="bold red", markup=False)
            raise typer.Exit(1) from None
    typer.echo(f"rebuilt {', '.join(p.name for p in chosen)} from {count} events")

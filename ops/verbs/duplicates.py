"""`crm duplicates list`: likely duplicate customers, as `duplicateCandidates` pages them."""

from __future__ import annotations

from typing import Annotated

import typer

duplicates_app = typer.Typer(help="Find likely duplicate customers.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(duplicates_app, name="duplicates")


@duplicates_app.command("list")
def list_(
    first: Annotated[int, typer.Option("--first", "-n", help="Pairs to show (1-1000).")] = 20,
    after: Annotated[
        str | None, typer.Option("--after", help="The cursor a previous page printed.")
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option("--data-dir", "-d", help="Data folder of the running platform.")
    ] = None,
) -> None:
    """Pairs of live customers sharing a normalized phone or email, or a pinyin name at
    the same company, highest score first: score, reasons, then the suggested survivor
    and duplicate ids (the arguments of `mergeCustomers`). No personal data is printed."""
    import psycopg

    from ops.cli import err_console, setting_errors, settings_from
    from ops.runtime import database_url
    from projections.cursors import InvalidCursor
    from projections.duplicates import duplicate_candidates

    def fail(message: str) -> None:
        err_console.print(f"error: {message}", style="bold red", markup=False)
        raise typer.Exit(2)

    if not 1 <= first <= 1000:
        fail(f"--first: must be between 1 and 1000, not {first}")
    with setting_errors():
        url = database_url(settings_from(data_dir=data_dir))
        with psycopg.connect(url) as conn:
            try:
                page = duplicate_candidates(conn, first=first, after=after)
            except InvalidCursor as error:
                fail(f"--after: {error}")
    for c in page.candidates:
        typer.echo(f"{c.score:3d}  {','.join(c.reasons):<22} {c.survivor_id}  {c.duplicate_id}")
    typer.echo(
        f"{len(page.candidates)} pairs"
        + (f"; next: --after {page.candidates[-1].cursor}" if page.has_next else "")
    )

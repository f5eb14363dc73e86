"""`crm import customers FILE.csv`: customers from a spreadsheet (see `commands.importing`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import_app = typer.Typer(help="Import data from files (CSV).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")


@import_app.command()
def customers(
    file: Annotated[Path, typer.Argument(help="A CSV file, UTF-8 or GB18030, with a header row.")],
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="HEADER=field, e.g. --map 客户名称=name, or HEADER=custom:KEY for a custom "
            "field (repeatable).",
        ),
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option("--data-dir", "-d", help="Data folder of the running platform.")
    ] = None,
) -> None:
    """Register every row as a customer through the same rules as the API, in batches of
    500 (each one transaction). Refused rows are listed with their line and reason, rows
    whose email an existing customer holds as duplicates; running the same file again
    records nothing. Exit 0 when every row is in, 1 when some were refused or duplicates,
    2 when the file cannot be read."""
    from commands.importing import ImportRefused, import_customers, store_service
    from ops.cli import err_console, setting_errors, settings_from
    from ops.progress import progress_bar
    from ops.runtime import open_application

    def fail(message: str) -> None:
        err_console.print(f"error: {message}", style="bold red", markup=False)
        raise typer.Exit(2)

    mapping: dict[str, str] = {}
    for item in map_ or []:
        header, sep, target = item.partition("=")
        if not sep or not header.strip():
            fail(f"--map: {item!r} is not HEADER=field")
        mapping[header.strip()] = target.strip()
    try:
        raw = file.read_bytes()
    except OSError as error:
        fail(f"FILE: {error.strerror}: {file}")
    with setting_errors(), open_application(settings_from(data_dir=data_dir)) as app:
        from commands.service import CommandService

        commands = CommandService(app)
        service = store_service(app, commands.handle_many)
        try:
            with progress_bar("importing rows", unit="rows") as progress:
                report = import_customers(raw, service, mapping=mapping, progress=progress)
        except ImportRefused as error:
            option = {"file": "FILE", "mapping": "--map", "encoding": "FILE"}[error.field]
            hint = f" ({error.cli_hint})" if error.cli_hint else ""
            fail(f"{option}: {error}{hint}")
    for problem in report.refused:
        typer.echo(f"line {problem.line}: refused {problem.code} {problem.field}: {problem.reason}")
    for problem in report.duplicates:
        typer.echo(f"line {problem.line}: duplicate ({problem.reason}), not inserted")
    typer.echo(
        f"{report.rows} rows ({report.encoding}): {report.imported} imported, "
        f"{report.already} already imported, {len(report.duplicates)} duplicates, "
        f"{len(report.refused)} refused"
    )
    if report.refused or report.duplicates:
        raise typer.Exit(1)  # a script must see that not every row went in

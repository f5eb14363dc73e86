"""`crm export customers`: the customer list as CSV or Parquet, masked by role."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from ops.actor import cli_actor

OPERATION = "cli:export customers"

export_app = typer.Typer(help="Export data to files (CSV or Parquet).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


@export_app.command()
def customers(
    out: Annotated[Path, typer.Argument(help="The file to write.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or parquet.")] = "csv",
    role: Annotated[
        str, typer.Option("--role", help="Whose view: personal columns empty without access.")
    ] = "analyst",
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="Who exports (required for sales, support, manager: their teams' customers).",
        ),
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option("--data-dir", "-d", help="Data folder of the running platform.")
    ] = None,
) -> None:
    """Write every customer (merged duplicates left out) with the role's masking, as the
    API masks it (docs/roles.md): an analyst gets name, email, phone and address empty,
    support the partial email, phone and address; a role that may not read customers is
    refused. A scoped role (sales, support, manager) exports
    only the customers its `--subject` reaches over the API (docs/roles.md). Personal data
    written is recorded in the access log (`crm audit access`) as `cli:export customers`
    by `--subject` (else cli:<login name>), each batch before it reaches the file."""
    import psycopg

    from compliance.access_log import AccessEntry, append_access_on
    from gateway.masking import mask, visibility
    from gateway.roles import ROLES, Permission, Role, allows
    from gateway.scope import DEPARTMENT_SCOPED, is_scoped
    from ops.cli import err_console, setting_errors, settings_from
    from ops.out_file import check_out_file
    from ops.runtime import database_url
    from projections.customer_export import (
        FORMATS,
        ID_AT,
        PERSONAL,
        Row,
        export_customers,
        personal_in,
    )
    from projections.org_scope import visible_owners

    def fail(message: str) -> None:
        err_console.print(f"error: {message}", style="bold red", markup=False)
        raise typer.Exit(2)

    if fmt not in FORMATS:
        fail(f"--format: must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if role not in ROLES:
        fail(f"--role: must be one of {', '.join(ROLES)}, not {role!r}")
    if not allows(Role(role), Permission.READ_CUSTOMERS):
        fail(f"--role: {role} may not read customers")
    how = {column: visibility(Role(role), column) for column in PERSONAL}
    masks = {column: functools.partial(mask, column, how=seen) for column, seen in how.items()}
    scoped = is_scoped(Role(role))
    if scoped and not (subject and subject.strip()):
        fail(f"--subject: a {role} exports their teams' customers; say who they are")
    actor = cli_actor(subject)

    def entries(batch: list[Row]) -> list[AccessEntry]:
        read = ((UUID(row[ID_AT]), personal_in(row)) for row in batch)
        return [AccessEntry(actor, role, cid, fields, OPERATION) for cid, fields in read if fields]

    with setting_errors():
        check_out_file(out, "OUT")
        url = database_url(settings_from(data_dir=data_dir))
        with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as log:
            owners = (
                visible_owners(conn, subject, department=Role(role) in DEPARTMENT_SCOPED)
                if scoped and subject
                else None
            )
            try:
                count = export_customers(
                    conn,
                    out,
                    fmt=fmt,
                    masks=masks,
                    owners=owners,
                    before_write=lambda batch: append_access_on(log, entries(batch)),
                )
            except psycopg.Error as error:
                out.unlink(missing_ok=True)  # a part of the list would pass for all of it
                first = str(error).strip().splitlines()[0]
                fail(f"database: {first}; no file written")
    typer.echo(f"exported {count} customers to {out}{_masking_note(how, role)}")


def _masking_note(how: Mapping[str, str], role: str) -> str:
    """ " (name, email, phone, address masked for analyst)", or "" when nothing is."""
    parts = []
    for seen, word in (("none", "masked"), ("partial", "partly masked")):
        columns = [column for column, cell in how.items() if cell == seen]
        if columns:
            parts.append(f"{', '.join(columns)} {word}")
    return f" ({'; '.join(parts)} for {role})" if parts else ""

"""`crm fields define|list|retire`: custom field definitions from the command line.

The same commands as the admin-only GraphQL mutations (`defineCustomField`,
`retireCustomField`), through the command layer and the catalog's rules; `list` reads
the catalog from the event store itself, so it answers without the stream workers.
"""

from __future__ import annotations

from typing import Annotated

import typer

fields_app = typer.Typer(
    help="Custom fields: define, list and retire the typed fields customers may carry.",
    no_args_is_help=True,
)
ACTOR = "crm-cli"
DATA_DIR = typer.Option("--data-dir", "-d", help="Data folder of the running platform.")


def register(app: typer.Typer) -> None:
    app.add_typer(fields_app, name="fields")


def _run(command: object, data_dir: str | None) -> int:
    """Record one command; exits 1 with the refusal's code and field."""
    from aggregates.errors import DomainError
    from commands.messages import Command, CommandContext
    from commands.service import CommandService
    from ops.cli import err_console, setting_errors, settings_from
    from ops.runtime import open_application

    assert isinstance(command, Command)
    with setting_errors(), open_application(settings_from(data_dir=data_dir)) as app:
        try:
            result = CommandService(app).handle(command, CommandContext(actor=ACTOR))
        except DomainError as error:
            err_console.print(
                f"refused {error.code} {error.field}: {error.message}", style="bold red",
                markup=False,
            )  # fmt: skip
            raise typer.Exit(1) from None
    return result.position or 0


@fields_app.command()
def define(
    key: Annotated[str, typer.Argument(help="Snake case, unique for good (contract_end).")],
    label: Annotated[str, typer.Option("--label", "-l", help="What screens show.")],
    type_: Annotated[
        str,
        typer.Option("--type", "-t", help="TEXT, NUMBER, DATE, SINGLE_CHOICE or MULTI_CHOICE."),
    ],
    choice: Annotated[
        list[str] | None, typer.Option("--choice", "-c", help="A choice (repeatable).")
    ] = None,
    required: Annotated[
        bool, typer.Option("--required", help="Writes of custom fields must set it.")
    ] = False,
    data_dir: Annotated[str | None, DATA_DIR] = None,
) -> None:
    """Define a custom field (TEXT values are personal: sealed, erased by forget)."""
    from commands.messages import DefineCustomField

    command = DefineCustomField(
        key=key, label=label, field_type=type_, choices=tuple(choice or ()), required=required
    )
    position = _run(command, data_dir)
    typer.echo(f"defined {key.strip()} (position {position})")


@fields_app.command()
def retire(
    key: Annotated[str, typer.Argument(help="The field's key.")],
    data_dir: Annotated[str | None, DATA_DIR] = None,
) -> None:
    """Retire a custom field: it takes no new values; existing values stay."""
    from commands.messages import RetireCustomField

    position = _run(RetireCustomField(key=key), data_dir)
    typer.echo(f"retired {key.strip()} (position {position})")


@fields_app.command("list")
def list_(
    retired: Annotated[bool, typer.Option("--retired", help="Show retired fields too.")] = False,
    data_dir: Annotated[str | None, DATA_DIR] = None,
) -> None:
    """The defined fields: key, type, required, label, choices (tab-separated)."""
    from eventsourcing.application import AggregateNotFoundError

    from aggregates.custom_fields import CATALOG_ID, CustomFieldCatalog
    from ops.cli import setting_errors, settings_from
    from ops.runtime import open_application

    catalog: object
    with setting_errors(), open_application(settings_from(data_dir=data_dir)) as app:
        try:
            catalog = app.repository.get(CATALOG_ID)
        except AggregateNotFoundError:
            catalog = None
    if not isinstance(catalog, CustomFieldCatalog):
        typer.echo("no custom fields defined")
        return
    for d in catalog.fields.values():
        if d.retired and not retired:
            continue
        flags = ",".join(f for f, on in (("required", d.required), ("retired", d.retired)) if on)
        typer.echo("\t".join([d.key, d.field_type, flags or "-", d.label, "|".join(d.choices)]))

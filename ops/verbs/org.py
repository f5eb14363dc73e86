"""`crm org`: the organisation (departments, teams, members, lead-assignment rules) from
the command line.

Changes are the same commands as the admin's GraphQL mutations (`defineDepartment`,
`defineTeam`, `addTeamMember`, `removeTeamMember`, `defineAssignmentRule`), through the
command service and the organisation aggregate's rules, recorded as `cli:<user>`; a
refusal exits 1 with its code and field. `show` reads the read model through
`projections.org_view.read_organisation`, the reader of the GraphQL `organisation`
query, so it shows what the projections worker has applied (a change just made appears
once the running platform has projected it).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from ops.actor import cli_actor

org_app = typer.Typer(
    help="The organisation: departments, teams, members and lead-assignment rules.",
    no_args_is_help=True,
)
member_app = typer.Typer(help="Add a person to a team or remove them.", no_args_is_help=True)
org_app.add_typer(member_app, name="member")

DATA_DIR = typer.Option("--data-dir", "-d", help="Data folder of the running platform.")


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")


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
            result = CommandService(app).handle(command, CommandContext(actor=cli_actor()))
        except DomainError as error:
            err_console.print(
                f"refused {error.code} {error.field}: {error.message}",
                style="bold red",
                markup=False,
            )
            raise typer.Exit(1) from None
    return result.position or 0


@org_app.command()
def show(
    as_json: Annotated[
        bool, typer.Option("--json", help="The `organisation` query's shape, for scripts.")
    ] = False,
    data_dir: Annotated[str | None, DATA_DIR] = None,
) -> None:
    """Departments, teams, members, and the rules with their open leads, by name.

    A rule's open leads: those it routed still with the rep it chose."""
    import psycopg
    from rich.table import Table

    from ops.cli import console, err_console, setting_errors, settings_from
    from ops.runtime import database_url
    from projections.org_view import read_organisation

    with setting_errors():
        url = database_url(settings_from(data_dir=data_dir))
        with psycopg.connect(url) as conn:
            try:
                view = read_organisation(conn)
            except psycopg.errors.UndefinedTable:
                err_console.print(
                    "error: no read models in this database yet: start the platform "
                    "(`crm up`) so the projections worker creates them",
                    style="bold red",
                    markup=False,
                )
                raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(asdict(view), ensure_ascii=False))
        return
    teams = Table("department", "team", "members", title="teams")
    for department in view.departments:
        for team in department.teams:
            teams.add_row(department.name, team.name, ", ".join(team.members) or "-")
        if not department.teams:
            teams.add_row(department.name, "-", "-")
    rules = Table("rule", "team", "region", "source", "capacity", "open", title="assignment rules")
    for r in view.rules:
        cap = "-" if r.capacity is None else str(r.capacity)
        rules.add_row(r.rule, r.team, r.region or "-", r.source or "-", cap, str(r.open))
    console.print(teams)
    console.print(rules)


@org_app.command()
def department(
    name: Annotated[str, typer.Argument(help="The department's name.")],
    data_dir: Annotated[str | None, DATA_DIR] = None,
) -> None:
    """Define a department (defining it again records nothing)."""
    from commands.messages import DefineDepartment

    position = _run(DefineDepartment(department=name), data_dir)
    typer.echo(f"department {name.strip()} (position {position})")


@org_app.command()
def team(
    name: Annotated[str, typer.Argument(help="The team's name.")],
    department_: Annotated[
        str, typer.Option("--department", help="Its department (defined before).")
    ],
    data_dir: Annotated[str | None, DATA_DIR] = None,
) -> None:
    """Define a team in a department (again with another department: moves it)."""
    from commands.messages import DefineTeam

    position = _run(DefineTeam(team=name, department=department_), data_dir)
    typer.echo(f"team {name.strip()} in {department_.strip()} (position {position})")


@member_app.command()
def add(
    team_: Annotated[str, typer.Argument(metavar="TEAM", help="The team.")],
    person: Annotated[str, typer.Argument(help="The person (their token's subject).")],
    data_dir: Annotated[str | None, DATA_DIR] = None,
) -> None:
    """A person joins a team: they see its customers, rules may route leads to them."""
    from commands.messages import AddTeamMember

    position = _run(AddTeamMember(team=team_, member=person), data_dir)
    typer.echo(f"{person.strip()} joined {team_.strip()} (position {position})")


@member_app.command()
def remove(
    team_: Annotated[str, typer.Argument(metavar="TEAM", help="The team.")],
    person: Annotated[str, typer.Argument(help="The person (their token's subject).")],
    data_dir: Annotated[str | None, DATA_DIR] = None,
) -> None:
    """A person leaves a team."""
    from commands.messages import RemoveTeamMember

    position = _run(RemoveTeamMember(team=team_, member=person), data_dir)
    typer.echo(f"{person.strip()} left {team_.strip()} (position {position})")


@org_app.command()
def rule(
    name: Annotated[str, typer.Argument(help="The rule's name (the same name replaces it).")],
    team_: Annotated[str, typer.Option("--team", help="The team whose members get the leads.")],
    region: Annotated[
        str | None, typer.Option("--region", help="Only leads from this region.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Only leads from this source.")
    ] = None,
    capacity: Annotated[
        int | None, typer.Option("--capacity", help="Most open routed leads per rep.")
    ] = None,
    data_dir: Annotated[str | None, DATA_DIR] = None,
) -> None:
    """Define a lead-assignment rule: round-robin within a team.

    Rules with a region or source are tried before the catch-all ones."""
    from commands.messages import DefineAssignmentRule

    command = DefineAssignmentRule(
        rule=name, team=team_, region=region, source=source, capacity=capacity
    )
    position = _run(command, data_dir)
    typer.echo(f"rule {name.strip()} → {team_.strip()} (position {position})")

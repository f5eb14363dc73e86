"""The organisation in the contract: the `organisation` query (admin, manager, compliance)
and the admin's mutations' inputs (departments, teams, members, assignment rules)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from commands import messages as m
from gateway.context import GatewayContext
from gateway.roles import Permission
from gateway.schema.inputs import EXPECTED, IDEMPOTENCY
from projections.org_view import OrganisationView, TeamView, read_organisation

GInfo = Info[GatewayContext, None]


@strawberry.type(description="A team: its department and its members (token subjects).")
class Team:
    name: str
    department: str
    members: list[str] = strawberry.field(description="Sorted by name.")


@strawberry.type(description="A department and its teams.")
class Department:
    name: str
    teams: list[Team] = strawberry.field(description="Sorted by name.")


@strawberry.type(description="A rule that routes new leads without an owner to a team.")
class AssignmentRule:
    rule: str
    team: str
    region: str | None = strawberry.field(description="Only leads from this region; null: any.")
    source: str | None = strawberry.field(description="Only leads from this source; null: any.")
    capacity: int | None = strawberry.field(
        description="Most open routed leads a rep may hold under it; null: no cap."
    )
    open: int = strawberry.field(
        description="Leads this rule routed that are still with the rep it chose (none "
        "reassigned since): the leads counted against `capacity`, from the read model "
        "(LeadRouted minus LeadReleased)."
    )


@strawberry.type(description="Departments with their teams and members, and the rules.")
class Organisation:
    departments: list[Department] = strawberry.field(description="Sorted by name.")
    rules: list[AssignmentRule] = strawberry.field(description="Sorted by name.")


def _team(view: TeamView) -> Team:
    return Team(name=view.name, department=view.department, members=list(view.members))


def organisation_of(view: OrganisationView) -> Organisation:
    return Organisation(
        departments=[
            Department(name=d.name, teams=[_team(t) for t in d.teams]) for d in view.departments
        ],
        rules=[
            AssignmentRule(
                rule=r.rule,
                team=r.team,
                region=r.region,
                source=r.source,
                capacity=r.capacity,
                open=r.open,
            )
            for r in view.rules
        ],
    )


@strawberry.type
class OrganisationQuery:
    @strawberry.field(
        description="The organisation from the read model: departments, their teams and "
        "members, and the lead-assignment rules, each sorted by name. Admin, manager and "
        "compliance."
    )
    async def organisation(self, info: GInfo) -> Organisation:
        ctx = info.context
        ctx.require(Permission.READ_ORGANISATION, "read the organisation")
        return organisation_of(await ctx.deps.reads.run(read_organisation))


def _common(given: Any) -> dict[str, Any]:
    return {"expected_version": given.expected_version, "idempotency_key": given.idempotency_key}


@strawberry.type(description="Where an organisation change landed.")
class OrganisationPayload:
    position: int = strawberry.field(description="Global position of the command's last event.")
    version: int = strawberry.field(description="Version of the organisation's stream.")


@strawberry.input(description="A department (defining it again records nothing).")
class DefineDepartmentInput:
    department: str
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.DefineDepartment:
        return m.DefineDepartment(department=self.department, **_common(self))


@strawberry.input(description="A team in a department (again: moves it there).")
class DefineTeamInput:
    team: str
    department: str
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.DefineTeam:
        return m.DefineTeam(team=self.team, department=self.department, **_common(self))


@strawberry.input(description="A person (a token's subject) joins a team: scoping follows.")
class AddTeamMemberInput:
    team: str
    member: str
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.AddTeamMember:
        return m.AddTeamMember(team=self.team, member=self.member, **_common(self))


@strawberry.input(description="A person leaves a team.")
class RemoveTeamMemberInput:
    team: str
    member: str
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.RemoveTeamMember:
        return m.RemoveTeamMember(team=self.team, member=self.member, **_common(self))


@strawberry.input(
    description="Route new leads without an owner round-robin within `team`; `region` / "
    "`source` restrict the rule (tried before the catch-all rules); `capacity` caps a rep's "
    "open routed leads. The same name again replaces the rule."
)
class DefineAssignmentRuleInput:
    rule: str
    team: str
    region: str | None = None
    source: str | None = None
    capacity: int | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.DefineAssignmentRule:
        return m.DefineAssignmentRule(
            rule=self.rule,
            team=self.team,
            region=self.region,
            source=self.source,
            capacity=self.capacity,
            **_common(self),
        )

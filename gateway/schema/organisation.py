"""The organisation's mutations (admin only): departments, teams, members, assignment rules."""

from __future__ import annotations

from typing import Any

import strawberry

from commands import messages as m
from gateway.schema.inputs import EXPECTED, IDEMPOTENCY


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

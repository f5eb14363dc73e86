"""The organisation as one value: departments with their teams and members, and the
lead-assignment rules with how many open leads each holds.

One reader for every caller (the GraphQL `organisation` query, `crm org show`), so both
show the same thing. Everything is sorted by name in Python (code-point order), not by
the database's collation, so the order is the same on every PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Connection


@dataclass(frozen=True)
class TeamView:
    name: str
    department: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class DepartmentView:
    name: str
    teams: tuple[TeamView, ...]


@dataclass(frozen=True)
class RuleView:
    rule: str
    team: str
    region: str | None
    source: str | None
    capacity: int | None
    open: int
    """Leads this rule routed that are still with the rep it chose (not yet released by a
    reassignment): the leads the aggregate counts against a rep's capacity."""


@dataclass(frozen=True)
class OrganisationView:
    departments: tuple[DepartmentView, ...]
    rules: tuple[RuleView, ...]


# Departments come from their own table and from the teams' (a read model built before
# rm_org_departments existed knows a department only through its teams until rebuilt).
_DEPARTMENTS = """
SELECT department FROM rm_org_departments
UNION SELECT department FROM rm_org_teams
"""
_TEAMS = "SELECT team, department FROM rm_org_teams"
_MEMBERS = "SELECT team, member FROM rm_org_members"
_RULES = """
SELECT r.rule, r.team, r.region, r.source, r.capacity,
       (SELECT count(*) FROM rm_org_routed AS o WHERE o.rule = r.rule) AS open
FROM rm_org_rules AS r
"""


def read_organisation(conn: Connection[Any]) -> OrganisationView:
    """The whole organisation, sorted by name at every level."""
    members: dict[str, list[str]] = {}
    for team, member in conn.execute(_MEMBERS).fetchall():
        members.setdefault(team, []).append(member)
    teams: dict[str, list[TeamView]] = {}
    for team, department in conn.execute(_TEAMS).fetchall():
        view = TeamView(team, department, tuple(sorted(members.get(team, ()))))
        teams.setdefault(department, []).append(view)
    departments = tuple(
        DepartmentView(name, tuple(sorted(teams.get(name, ()), key=lambda t: t.name)))
        for name in sorted(row[0] for row in conn.execute(_DEPARTMENTS).fetchall())
    )
    rules = tuple(
        sorted(
            (RuleView(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in conn.execute(_RULES)),
            key=lambda rule: rule.rule,
        )
    )
    return OrganisationView(departments, rules)

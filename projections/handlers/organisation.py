"""rm_org_*: the organisation as the gateway scopes by it and `organisation` reads it.

Folded from the organisation's one stream (`events.organisation`), in position order,
one statement per event (the organisation changes a handful of times a day; a routed
lead is one row). rm_org_routed mirrors the aggregate's open routed leads (LeadRouted
until LeadReleased), so a rule's `open` count is the load its capacity is judged by.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import Connection

from events.organisation import (
    AssignmentRuleDefined,
    DepartmentDefined,
    LeadReleased,
    LeadRouted,
    TeamDefined,
    TeamMemberAdded,
    TeamMemberRemoved,
)
from projections.handlers.base import Projection, of_kind
from projections.incoming import IncomingEvent

_SQL = {
    DepartmentDefined.TYPE: "INSERT INTO rm_org_departments (department) "
    "VALUES (%(department)s) ON CONFLICT DO NOTHING",
    TeamDefined.TYPE: "INSERT INTO rm_org_teams (team, department) VALUES (%(team)s, "
    "%(department)s) ON CONFLICT (team) DO UPDATE SET department = EXCLUDED.department",
    TeamMemberAdded.TYPE: "INSERT INTO rm_org_members (team, member) VALUES (%(team)s, "
    "%(member)s) ON CONFLICT DO NOTHING",
    TeamMemberRemoved.TYPE: "DELETE FROM rm_org_members WHERE team = %(team)s "
    "AND member = %(member)s",
    AssignmentRuleDefined.TYPE: "INSERT INTO rm_org_rules (rule, team, region, source, "
    "capacity) VALUES (%(rule)s, %(team)s, %(region)s, %(source)s, %(capacity)s) "
    "ON CONFLICT (rule) DO UPDATE SET team = EXCLUDED.team, region = EXCLUDED.region, "
    "source = EXCLUDED.source, capacity = EXCLUDED.capacity",
    LeadRouted.TYPE: "INSERT INTO rm_org_routed (customer_id, rule, owner) VALUES "
    "(%(customer_id)s::uuid, %(rule)s, %(owner)s) ON CONFLICT (customer_id) DO UPDATE "
    "SET rule = EXCLUDED.rule, owner = EXCLUDED.owner",
    LeadReleased.TYPE: "DELETE FROM rm_org_routed WHERE customer_id = %(customer_id)s::uuid",
}


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    for event in of_kind(events, *_SQL):
        conn.execute(_SQL[event.kind], dict(event.data))


PROJECTION = Projection("organisation", apply)

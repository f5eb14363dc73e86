"""Facts about the organisation: departments, teams, who is in which team, and the rules
that hand new leads to reps.

They live on ONE stream with a fixed id (`ORGANISATION_ID`): the organisation is small,
changes rarely, and one stream makes every rule decision (round-robin, capacity)
serialised by the stream's version, so two concurrent registrations cannot both take a
rep's last free place. These are not customer events: processors that fold customers
skip them (`projections.incoming.IncomingEvent.on_own_stream`). No field is personal.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from events.base import ConfigurationFact, CrmCreated, CrmEvent

ORGANISATION_ID: Final = UUID("00000000-0000-4000-8000-00000000c0de")
"""The organisation's stream (also the Kafka key of its events)."""


class OrganisationStarted(ConfigurationFact, CrmCreated):
    """The organisation stream's first event (recorded with its first definition)."""

    TYPE = "crm.organisation.started"


class DepartmentDefined(ConfigurationFact, CrmEvent):
    TYPE = "crm.organisation.department_defined"
    department: str


class TeamDefined(ConfigurationFact, CrmEvent):
    """A team in a department (defining it again moves it to another department)."""

    TYPE = "crm.organisation.team_defined"
    team: str
    department: str


class TeamMemberAdded(ConfigurationFact, CrmEvent):
    TYPE = "crm.organisation.team_member_added"
    team: str
    member: str


class TeamMemberRemoved(ConfigurationFact, CrmEvent):
    TYPE = "crm.organisation.team_member_removed"
    team: str
    member: str


class AssignmentRuleDefined(ConfigurationFact, CrmEvent):
    """A rule that routes new leads without an owner round-robin among `team`'s members.

    `region` / `source` (when given) restrict it to leads from there; rules with a
    condition are tried before the catch-all ones. `capacity` caps the open routed leads
    a rep holds (None: no cap). Defining a rule of the same name again replaces it."""

    TYPE = "crm.organisation.assignment_rule_defined"
    rule: str
    team: str
    region: str | None
    source: str | None
    capacity: int | None


class LeadRouted(ConfigurationFact, CrmEvent):
    """A rule chose `owner` for the new lead `customer_id` (the round-robin's memory and
    the rep's load; the customer's own `OwnerAssigned` names the same rule)."""

    TYPE = "crm.organisation.lead_routed"
    rule: str
    owner: str
    customer_id: UUID


class LeadReleased(ConfigurationFact, CrmEvent):
    """A routed lead left its rep (reassigned), freeing a place under the capacity."""

    TYPE = "crm.organisation.lead_released"
    owner: str
    customer_id: UUID


ORGANISATION_EVENTS: Final[tuple[type[CrmEvent], ...]] = (
    OrganisationStarted,
    DepartmentDefined,
    TeamDefined,
    TeamMemberAdded,
    TeamMemberRemoved,
    AssignmentRuleDefined,
    LeadRouted,
    LeadReleased,
)

"""The organisation: departments, teams and their members, and the lead-assignment rules.

One aggregate on one stream (`events.organisation.ORGANISATION_ID`). Routing a lead is a
decision of this aggregate (`route`), recorded as `LeadRouted` on its stream in the same
transaction as the customer's `OwnerAssigned`: the round-robin's position and each rep's
load are the stream's own state, so two registrations racing for the last free place
conflict on the stream's version and the loser is retried against the new state.

Rules: those with a region or source condition are tried first (in definition order),
then the catch-all ones; a rule picks the next member of its team after the one it chose
last (members in the order they joined), skipping reps at the rule's `capacity` of open
routed leads. A lead stays counted until it is reassigned (`release`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import singledispatchmethod
from typing import Self
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.errors import NotFound, ValidationFailed
from aggregates.validation import ID_MAX, SHORT_TEXT_MAX, require_aware, require_text
from events.base import CrmEvent
from events.organisation import (
    ORGANISATION_ID,
    AssignmentRuleDefined,
    DepartmentDefined,
    LeadReleased,
    LeadRouted,
    OrganisationStarted,
    TeamDefined,
    TeamMemberAdded,
    TeamMemberRemoved,
)

__all__ = ["AssignmentRule", "Organisation", "Routing"]

MAX_CAPACITY = 100_000


@dataclass(frozen=True)
class AssignmentRule:
    name: str
    team: str
    region: str | None
    source: str | None
    capacity: int | None

    def matches(self, region: str | None, source: str | None) -> bool:
        return (self.region is None or self.region == region) and (
            self.source is None or self.source == source
        )

    @property
    def conditional(self) -> bool:
        return self.region is not None or self.source is not None


@dataclass(frozen=True)
class Routing:
    owner: str
    rule: str


def _name(value: object, field: str) -> str:
    return require_text(value, field=field, max_length=SHORT_TEXT_MAX, multiline=False)


def _optional(value: object, field: str) -> str | None:
    return None if value is None else _name(value, field)


def _condition(value: object, field: str) -> str | None:
    """A rule's region or source, bounded as a customer's are (`ID_MAX`): a longer one
    could never match a customer."""
    if value is None:
        return None
    return require_text(value, field=field, max_length=ID_MAX, multiline=False)


class Organisation(Aggregate):
    """Departments, teams, members and assignment rules of the one organisation."""

    @classmethod
    def start(cls, *, at: datetime) -> Self:
        return cls._create(OrganisationStarted, id=ORGANISATION_ID, timestamp=require_aware(at))

    # ----------------------------------------------------------------- commands

    def define_department(self, *, department: str, at: datetime) -> None:
        name = _name(department, "department")
        if name not in self.departments:
            self.trigger_event(DepartmentDefined, timestamp=require_aware(at), department=name)

    def define_team(self, *, team: str, department: str, at: datetime) -> None:
        name, dept = _name(team, "team"), _name(department, "department")
        if dept not in self.departments:
            raise NotFound(f"no department {dept!r}", field="department")
        if self.teams.get(name) != dept:
            self.trigger_event(TeamDefined, timestamp=require_aware(at), team=name, department=dept)

    def add_member(self, *, team: str, member: str, at: datetime) -> None:
        name, who = self._team(team), _name(member, "member")
        if who not in self.members[name]:
            self.trigger_event(TeamMemberAdded, timestamp=require_aware(at), team=name, member=who)

    def remove_member(self, *, team: str, member: str, at: datetime) -> None:
        name, who = self._team(team), _name(member, "member")
        if who in self.members[name]:
            self.trigger_event(
                TeamMemberRemoved, timestamp=require_aware(at), team=name, member=who
            )

    def define_rule(
        self,
        *,
        rule: str,
        team: str,
        region: str | None = None,
        source: str | None = None,
        capacity: int | None = None,
        at: datetime,
    ) -> None:
        if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
            raise ValidationFailed(
                f"capacity must be between 1 and {MAX_CAPACITY}", field="capacity"
            )
        self.trigger_event(
            AssignmentRuleDefined,
            timestamp=require_aware(at),
            rule=_name(rule, "rule"),
            team=self._team(team),
            region=_condition(region, "region"),
            source=_condition(source, "source"),
            capacity=capacity,
        )

    def route(
        self, *, customer_id: UUID, region: str | None, source: str | None, at: datetime
    ) -> Routing | None:
        """Choose and record the owner of a new lead; None when no rule has a free rep."""
        ordered = [r for r in self.rules.values() if r.conditional] + [
            r for r in self.rules.values() if not r.conditional
        ]
        for rule in ordered:
            if not rule.matches(region, source):
                continue
            owner = self._next_free(rule)
            if owner is not None:
                self.trigger_event(
                    LeadRouted,
                    timestamp=require_aware(at),
                    rule=rule.name,
                    owner=owner,
                    customer_id=customer_id,
                )
                return Routing(owner, rule.name)
        return None

    def release(self, *, customer_id: UUID, at: datetime) -> None:
        """The routed lead was handed to someone else: its rep has a place again."""
        owner = self.routed.get(customer_id)
        if owner is not None:
            self.trigger_event(
                LeadReleased, timestamp=require_aware(at), owner=owner, customer_id=customer_id
            )

    # ----------------------------------------------------------------- queries

    def load_of(self, owner: str) -> int:
        """Open routed leads `owner` holds."""
        return sum(1 for o in self.routed.values() if o == owner)

    def _next_free(self, rule: AssignmentRule) -> str | None:
        members = self.members.get(rule.team, [])
        if not members:
            return None
        last = self.last_chosen.get(rule.name)
        start = (members.index(last) + 1) % len(members) if last in members else 0
        for step in range(len(members)):
            candidate = members[(start + step) % len(members)]
            if rule.capacity is None or self.load_of(candidate) < rule.capacity:
                return candidate
        return None

    def _team(self, team: object) -> str:
        name = _name(team, "team")
        if name not in self.teams:
            raise NotFound(f"no team {name!r}", field="team")
        return name

    # ----------------------------------------------------------------- state

    @singledispatchmethod
    def when(self, event: CrmEvent) -> None:
        raise TypeError(f"{type(self).__name__} cannot apply {type(event).__name__}")

    @when.register
    def _started(self, event: OrganisationStarted) -> None:
        self.departments: list[str] = []
        self.teams: dict[str, str] = {}  # team -> department
        self.members: dict[str, list[str]] = {}  # team -> members in joining order
        self.rules: dict[str, AssignmentRule] = {}
        self.last_chosen: dict[str, str] = {}  # rule -> the rep it chose last
        self.routed: dict[UUID, str] = {}  # open routed lead -> its rep

    @when.register
    def _department(self, event: DepartmentDefined) -> None:
        self.departments.append(event.department)

    @when.register
    def _team_defined(self, event: TeamDefined) -> None:
        self.teams[event.team] = event.department
        self.members.setdefault(event.team, [])

    @when.register
    def _member_added(self, event: TeamMemberAdded) -> None:
        self.members[event.team].append(event.member)

    @when.register
    def _member_removed(self, event: TeamMemberRemoved) -> None:
        self.members[event.team].remove(event.member)

    @when.register
    def _rule(self, event: AssignmentRuleDefined) -> None:
        self.rules[event.rule] = AssignmentRule(
            event.rule, event.team, event.region, event.source, event.capacity
        )

    @when.register
    def _routed(self, event: LeadRouted) -> None:
        self.last_chosen[event.rule] = event.owner
        self.routed[event.customer_id] = event.owner

    @when.register
    def _released(self, event: LeadReleased) -> None:
        self.routed.pop(event.customer_id, None)

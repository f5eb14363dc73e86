"""The organisation aggregate: teams, members and how assignment rules route leads."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from aggregates.errors import NotFound, ValidationFailed
from aggregates.organisation import Organisation, Routing
from events import LeadReleased, LeadRouted, OwnerAssigned

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def organisation(*members: str, capacity: int | None = None) -> Organisation:
    org = Organisation.start(at=AT)
    org.define_department(department="East", at=AT)
    org.define_team(team="A", department="East", at=AT)
    for member in members:
        org.add_member(team="A", member=member, at=AT)
    org.define_rule(rule="round-robin A", team="A", capacity=capacity, at=AT)
    return org


def route(org: Organisation, region: str | None = None, source: str | None = None):
    return org.route(customer_id=uuid4(), region=region, source=source, at=AT)


def test_round_robin_alternates_and_names_the_rule() -> None:
    org = organisation("ann", "bob")
    owners = [route(org) for _ in range(4)]
    assert owners == [Routing("ann", "round-robin A"), Routing("bob", "round-robin A")] * 2
    routed = [e for e in org.pending_events if isinstance(e, LeadRouted)]
    assert [e.owner for e in routed] == ["ann", "bob", "ann", "bob"]


def test_capacity_skips_a_full_rep_and_release_frees_a_place() -> None:
    org = organisation("ann", "bob", capacity=1)
    first = org.route(customer_id=(lead := uuid4()), region=None, source=None, at=AT)
    assert first == Routing("ann", "round-robin A")
    assert route(org) == Routing("bob", "round-robin A")
    assert route(org) is None  # both full
    org.release(customer_id=lead, at=AT)
    assert isinstance(org.pending_events[-1], LeadReleased)
    assert route(org) == Routing("ann", "round-robin A")


def test_region_and_source_rules_match_before_the_catch_all() -> None:
    org = organisation("ann")
    org.define_team(team="B", department="East", at=AT)
    org.add_member(team="B", member="carl", at=AT)
    org.define_rule(rule="Shanghai", team="B", region="Shanghai", at=AT)
    org.define_rule(rule="trade show", team="B", source="trade show", at=AT)
    assert route(org, region="Shanghai") == Routing("carl", "Shanghai")
    assert route(org, source="trade show") == Routing("carl", "trade show")
    assert route(org, region="Beijing") == Routing("ann", "round-robin A")


def test_removed_members_get_no_leads_and_unknown_names_are_refused() -> None:
    org = organisation("ann", "bob")
    org.remove_member(team="A", member="ann", at=AT)
    assert {route(org) for _ in range(3)} == {Routing("bob", "round-robin A")}
    with pytest.raises(NotFound) as team:
        org.add_member(team="Z", member="x", at=AT)
    assert team.value.field == "team"
    with pytest.raises(NotFound):
        org.define_team(team="C", department="Nowhere", at=AT)
    with pytest.raises(ValidationFailed) as capacity:
        org.define_rule(rule="r", team="A", capacity=0, at=AT)
    assert capacity.value.field == "capacity"
    # A customer's source and region hold at most 100 characters: a longer condition
    # could never match one.
    for condition in ("source", "region"):
        with pytest.raises(ValidationFailed) as long:
            org.define_rule(rule="r", team="A", at=AT, **{condition: "x" * 101})
        assert long.value.field == condition
    org.define_rule(rule="r", team="A", source="x" * 100, at=AT)


def test_a_team_without_members_routes_nothing() -> None:
    org = organisation()
    assert route(org) is None


def test_owner_assigned_v2_upcasts_without_a_rule() -> None:
    state = {"owner": "ann", "previous_owner": None, "reason": None}
    OwnerAssigned.upcast_v2_v3(state)
    assert state["rule"] is None

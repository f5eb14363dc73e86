"""Assigning complaints (issue 15): who works a complaint, and the rule that a resolved
one cannot be assigned. Pure: no servers."""

from __future__ import annotations

from events import ComplaintAssigned, OwnerAssigned
from tests.unit.support.aggregates import (
    later,
    mapper,
    new_complaint,
    new_customer,
    only_event,
    recorded,
    refused,
)


def test_assigning_records_the_agent_and_the_previous_one() -> None:
    complaint = new_complaint()
    complaint.assign(assignee=" susan ", at=later())
    first = only_event(complaint)
    assert isinstance(first, ComplaintAssigned)
    assert (first.assignee, first.previous_assignee, first.timestamp) == ("susan", None, later())
    assert first.customer_id == complaint.customer_id and complaint.assignee == "susan"
    complaint.assign(assignee="li", at=later(2))
    second = only_event(complaint)
    assert (second.assignee, second.previous_assignee) == ("li", "susan")


def test_the_same_agent_again_records_nothing() -> None:
    complaint = new_complaint()
    complaint.assign(assignee="susan", at=later())
    complaint.collect_events()
    complaint.assign(assignee="susan", at=later(2))
    assert recorded(complaint) == []


def test_an_escalated_complaint_can_still_be_assigned() -> None:
    complaint = new_complaint("CRITICAL")
    assert complaint.status == "ESCALATED"
    complaint.assign(assignee="lead-agent", at=later())
    assert only_event(complaint).assignee == "lead-agent"


def test_a_resolved_complaint_cannot_be_assigned() -> None:
    complaint = new_complaint()
    complaint.resolve(resolution="done", at=later())
    complaint.collect_events()
    with refused("RULE", "complaintId", complaint):
        complaint.assign(assignee="susan", at=later(2))
    assert complaint.assignee is None


def test_the_assignee_is_required_and_one_line() -> None:
    complaint = new_complaint()
    with refused("VALIDATION", "assignee", complaint):
        complaint.assign(assignee="  ", at=later())
    with refused("VALIDATION", "assignee", complaint):
        complaint.assign(assignee="su\nsan", at=later())


def test_an_owner_change_carries_its_reason_and_the_previous_owner() -> None:
    customer = new_customer(owner="bob")
    customer.assign_owner(owner="amy", reason="territory change", at=later())
    event = only_event(customer)
    assert isinstance(event, OwnerAssigned)
    assert (event.owner, event.previous_owner, event.reason) == ("amy", "bob", "territory change")


def test_an_owner_assigned_v1_event_reads_with_no_reason() -> None:
    customer = new_customer(owner="bob")
    customer.assign_owner(owner="amy", at=later())
    stored = mapper().to_stored_event(only_event(customer))
    state = mapper().transcoder.decode(stored.state)
    state.pop("reason")
    state["class_version"] = 1
    old = type(stored)(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=mapper().transcoder.encode(state),
    )
    event = mapper().to_domain_event(old)
    assert isinstance(event, OwnerAssigned) and event.reason is None and event.owner == "amy"

"""Complaints (RULES.md "Complaints")."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from aggregates import Complaint
from events import ComplaintEscalated, ComplaintFiled, ComplaintResolved
from tests.unit.support.aggregates import (
    AT,
    later,
    new_complaint,
    new_customer,
    only_event,
    recorded,
    refused,
)


def test_filing_records_the_complaint_open_under_its_customer() -> None:
    customer = new_customer()
    complaint_id = uuid4()
    complaint = Complaint.file(
        complaint_id=complaint_id,
        customer=customer,
        category=" billing ",
        severity="medium",
        description=" charged twice ",
        at=AT,
    )
    event = only_event(complaint)
    assert isinstance(event, ComplaintFiled)
    assert (event.originator_id, event.customer_id, event.subject_id) == (
        complaint_id,
        customer.id,
        customer.id,
    )
    assert (event.category, event.severity, event.description) == (
        "billing",
        "MEDIUM",
        "charged twice",
    )
    assert (complaint.status, complaint.customer_id, complaint.filed_at) == (
        "OPEN",
        customer.id,
        AT,
    )
    assert complaint.is_open


def test_a_critical_complaint_is_escalated_when_filed() -> None:
    customer = new_customer()
    complaint = Complaint.file(
        complaint_id=uuid4(),
        customer=customer,
        category="safety",
        severity="CRITICAL",
        description="smoke from the charger",
        at=AT,
    )
    filed, escalated = recorded(complaint)
    assert isinstance(filed, ComplaintFiled)
    assert isinstance(escalated, ComplaintEscalated)
    assert (escalated.automatic, escalated.customer_id, escalated.timestamp) == (
        True,
        customer.id,
        AT,
    )
    assert (complaint.status, complaint.escalated_at) == ("ESCALATED", AT)
    assert complaint.escalated_automatically


@pytest.mark.parametrize("severity", ["LOW", "MEDIUM", "HIGH"])
def test_non_critical_complaints_stay_open(severity: str) -> None:
    assert new_complaint(severity).status == "OPEN"


def test_open_escalated_resolved() -> None:
    complaint = new_complaint()
    complaint.escalate(reason=" angry ", at=later())
    event = only_event(complaint)
    assert isinstance(event, ComplaintEscalated)
    assert (event.reason, event.automatic) == ("angry", False)
    assert complaint.status == "ESCALATED"
    assert complaint.is_open
    complaint.resolve(resolution="refunded", satisfaction=4, at=later(2))
    resolved = only_event(complaint)
    assert isinstance(resolved, ComplaintResolved)
    assert (resolved.resolution, resolved.satisfaction) == ("refunded", 4)
    assert (complaint.status, complaint.satisfaction, complaint.resolved_at) == (
        "RESOLVED",
        4,
        later(2),
    )
    assert not complaint.is_open


def test_open_straight_to_resolved_without_satisfaction() -> None:
    complaint = new_complaint()
    complaint.resolve(resolution="explained", at=later())
    assert (only_event(complaint).satisfaction, complaint.status) == (None, "RESOLVED")


def test_resolving_a_resolved_complaint_is_refused() -> None:
    complaint = new_complaint()
    complaint.resolve(resolution="done", at=later())
    complaint.collect_events()
    with refused("RULE", "complaintId", complaint):
        complaint.resolve(resolution="again", at=later(2))


@pytest.mark.parametrize("first", ["escalate", "resolve"])
def test_escalating_a_complaint_that_is_not_open_is_refused(first: str) -> None:
    complaint = new_complaint()
    if first == "escalate":
        complaint.escalate(at=later())
    else:
        complaint.resolve(resolution="done", at=later())
    complaint.collect_events()
    with refused("RULE", "complaintId", complaint):
        complaint.escalate(at=later(2))


def test_a_critical_complaint_cannot_be_escalated_twice() -> None:
    complaint = new_complaint("CRITICAL")
    with refused("RULE", "complaintId", complaint):
        complaint.escalate(at=later())


@pytest.mark.parametrize("satisfaction", [0, 6])
def test_satisfaction_is_1_to_5(satisfaction: int) -> None:
    complaint = new_complaint()
    with refused("VALIDATION", "satisfaction", complaint):
        complaint.resolve(resolution="done", satisfaction=satisfaction, at=later())


def test_resolution_is_required() -> None:
    complaint = new_complaint()
    with refused("VALIDATION", "resolution", complaint):
        complaint.resolve(resolution="  ", at=later())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"severity": "URGENT"}, "severity"),
        ({"category": " "}, "category"),
        ({"description": ""}, "description"),
        ({"description": "x" * 5001}, "description"),
        ({"complaint_id": "nope"}, "complaintId"),
        ({"at": AT.replace(tzinfo=None)}, "occurredAt"),
    ],
)
def test_filing_validation(kwargs: dict[str, object], field: str) -> None:
    fields: dict[str, object] = {
        "complaint_id": uuid4(),
        "customer": new_customer(),
        "category": "delivery",
        "severity": "LOW",
        "description": "late",
        "at": AT,
        **kwargs,
    }
    with refused("VALIDATION", field):
        Complaint.file(**fields)  # type: ignore[arg-type]


def test_filing_for_a_forgotten_customer_is_refused() -> None:
    customer = new_customer()
    customer.forget(reason="erasure request", at=later())
    with refused("RULE", "customerId"):
        new_complaint(customer=customer)


@pytest.mark.parametrize("step", ["escalate", "assign", "resolve"])
def test_no_step_is_dated_before_the_complaint_was_filed(step: str) -> None:
    """A resolution dated before the filing gave the queue a negative SLA age."""
    complaint = new_complaint(severity="LOW")
    earlier = AT - timedelta(days=1)
    steps = {
        "escalate": lambda: complaint.escalate(at=earlier),
        "assign": lambda: complaint.assign(assignee="amy", at=earlier),
        "resolve": lambda: complaint.resolve(resolution="done", at=earlier),
    }
    with refused("VALIDATION", "occurredAt", complaint):
        steps[step]()
    complaint.resolve(resolution="done", at=AT)  # the same moment is fine
    assert isinstance(only_event(complaint), ComplaintResolved)

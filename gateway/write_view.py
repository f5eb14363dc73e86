"""A mutation's answer straight from the event store, when the read models lag.

A payload first waits (briefly) for the read models to include the mutation's
position, so it shows what every query will show. If they have not caught up in time
(stream processors slow or down), the payload is built from the aggregate instead:
exact for the customer's own facts, with lifecycle and tier derived by the same rules
(`projections.derived`) from its own purchases. Two approximations, both documented
in the API: a survivor's merged duplicates and open complaints are not counted.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from aggregates.complaint import Complaint
from aggregates.customer import Customer
from commands.application import CrmApplication
from events import (
    ComplaintEscalated,
    ComplaintFiled,
    ComplaintResolved,
    TaskCancelled,
    TaskCompleted,
    TaskFellDue,
    TaskRescheduled,
    TaskScheduled,
)
from events.vocabulary import CHANNELS, TaskStatus
from gateway.store import first_actor_of, purchase_facts
from projections.derived import PurchaseFact, Thresholds, facts_as_of, lifecycle_stage, tier
from projections.task_list import TaskView
from projections.views import (
    ChannelCount,
    ComplaintView,
    CustomerView,
    PurchaseSummary,
    TouchSummary,
)


def customer_view_from_store(
    app: CrmApplication, customer_id: UUID, now: datetime, thresholds: Thresholds
) -> CustomerView | None:
    try:
        customer: object = app.repository.get(customer_id)
    except AggregateNotFoundError:
        return None
    if not isinstance(customer, Customer):
        return None
    purchases = [PurchaseFact(at, Decimal(total)) for at, total in purchase_facts(app, customer_id)]
    facts = facts_as_of(stage=customer.stage, purchases=purchases, now=now, thresholds=thresholds)
    touches = dict(customer.touch_counts)
    return CustomerView(
        id=customer.id,
        version=customer.version,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        address=customer.address,
        company=customer.company,
        industry=customer.industry,
        region=customer.region,
        source=customer.source,
        owner=customer.owner,
        referred_by=customer.referred_by,
        tags=tuple(customer.tags),
        stage=customer.stage,
        lifecycle_stage=lifecycle_stage(facts, now, thresholds),
        tier=tier(facts, thresholds),
        purchases=PurchaseSummary(
            count=customer.purchase_count,
            total=customer.purchase_total_cny,
            first_at=customer.first_purchase_at,
            last_at=customer.last_purchase_at,
        ),
        touches=TouchSummary(
            count=sum(touches.values()),
            last_at=customer.last_touch_at,
            by_channel=tuple(
                ChannelCount(channel, touches[channel])
                for channel in CHANNELS
                if channel in touches
            ),
        ),
        consents=(),
        needs=(),
        surveys=(),
        merged_into=customer.merged_into,
        merged_ids=tuple(customer.merged_duplicates),
        forgotten=customer.forgotten,
        forgotten_at=None,
        created_at=customer.created_on,
        updated_at=customer.modified_on,
        last_position=0,
        custom_values=customer.custom_values_now(),
    )


def complaint_view_from_store(app: CrmApplication, complaint_id: UUID) -> ComplaintView | None:
    try:
        complaint: object = app.repository.get(complaint_id)
    except AggregateNotFoundError:
        return None
    if not isinstance(complaint, Complaint):
        return None
    texts: dict[str, str | None] = {"description": None, "reason": None, "resolution": None}
    for stored in app.recorder.select_events(complaint_id):
        event = app.crm_mapper.decode(stored)
        if isinstance(event, ComplaintFiled):
            texts["description"] = event.description
        elif isinstance(event, ComplaintEscalated):
            texts["reason"] = event.reason
        elif isinstance(event, ComplaintResolved):
            texts["resolution"] = event.resolution
    return ComplaintView(
        id=complaint.id,
        customer_id=complaint.customer_id,
        category=complaint.category,
        severity=complaint.severity,
        status=complaint.status,
        description=texts["description"],
        escalation_reason=texts["reason"],
        resolution=texts["resolution"],
        satisfaction=complaint.satisfaction,
        filed_at=complaint.filed_at,
        escalated_at=complaint.escalated_at,
        resolved_at=complaint.resolved_at,
        version=complaint.version,
        assignee=complaint.assignee,
    )


def task_view_from_store(app: CrmApplication, task_id: UUID) -> TaskView | None:
    """The task folded from its own events (free texts opened with the customer's key)."""
    events = [app.crm_mapper.decode(s) for s in app.recorder.select_events(task_id)]
    if not events or not isinstance(events[0], TaskScheduled):
        return None
    first = events[0]
    row: dict[str, object] = {
        "id": task_id,
        "customer_id": first.customer_id,
        "kind": first.kind,
        "title": first.title,
        "assignee": first.assignee,
        "status": TaskStatus.OPEN.value,
        "due_at": first.due_at,
        "scheduled_at": first.timestamp,
        "scheduled_by": first_actor_of(app, task_id),  # as rm_tasks has it
        "fell_due_at": None,
        "closed_at": None,
        "outcome": None,
        "reason": None,
        "version": len(events),
    }
    for event in events[1:]:
        if isinstance(event, TaskRescheduled):
            row.update(status=TaskStatus.OPEN.value, due_at=event.due_at, fell_due_at=None)
        elif isinstance(event, TaskFellDue):
            row.update(status=TaskStatus.OVERDUE.value, fell_due_at=event.timestamp)
        elif isinstance(event, TaskCompleted):
            row.update(status=TaskStatus.DONE.value, closed_at=event.timestamp)
            row["outcome"] = event.outcome
        elif isinstance(event, TaskCancelled):
            row.update(status=TaskStatus.CANCELLED.value, closed_at=event.timestamp)
            row["reason"] = event.reason
    return TaskView(**row)  # type: ignore[arg-type]

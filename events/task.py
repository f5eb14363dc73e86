"""Facts about a follow-up task (a call-back, a visit, ...). Each carries its customer,
who owns the encryption key of the task's free texts (title, outcome, reason)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from events.base import CrmCreated, CrmEvent, CustomerScoped, enum_schema
from events.vocabulary import TASK_KINDS

_DUE = {"type": "string", "format": "date-time"}


class TaskScheduled(CustomerScoped, CrmCreated):
    """A task for `assignee`, due at `due_at`; who scheduled it is the event's actor."""

    TYPE = "crm.task.scheduled"
    PERSONAL = ("title",)
    FIELD_SCHEMAS = {"kind": enum_schema(TASK_KINDS), "due_at": _DUE}
    customer_id: UUID
    kind: str
    title: str | None
    assignee: str
    due_at: datetime


class TaskRescheduled(CustomerScoped, CrmEvent):
    TYPE = "crm.task.rescheduled"
    FIELD_SCHEMAS = {"due_at": _DUE, "previous_due_at": _DUE}
    customer_id: UUID
    assignee: str
    due_at: datetime
    previous_due_at: datetime


class TaskFellDue(CustomerScoped, CrmEvent):
    """The due time passed with the task still open: it is OVERDUE now. Recorded by the
    scheduler (actor ``system:scheduler``); carries the assignee so a reminder reaches
    them without a lookup."""

    TYPE = "crm.task.fell_due"
    FIELD_SCHEMAS = {"kind": enum_schema(TASK_KINDS), "due_at": _DUE}
    customer_id: UUID
    kind: str
    assignee: str
    due_at: datetime


class TaskCompleted(CustomerScoped, CrmEvent):
    TYPE = "crm.task.completed"
    PERSONAL = ("outcome",)
    customer_id: UUID
    outcome: str | None


class TaskCancelled(CustomerScoped, CrmEvent):
    TYPE = "crm.task.cancelled"
    PERSONAL = ("reason",)
    customer_id: UUID
    reason: str | None

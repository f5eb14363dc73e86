"""The follow-up task aggregate: a call-back, visit, quote follow-up or care call.

A separate aggregate (like `Complaint`) so working tasks never contends with the
customer's stream; its events carry `customer_id`, whose key seals the free texts.
OPEN -> OVERDUE (time, recorded by the scheduler) -> DONE or CANCELLED; rescheduling an
open or overdue task makes it OPEN again with a new due time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import singledispatchmethod
from typing import Final, Self
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.customer import Customer
from aggregates.errors import RuleViolated
from aggregates.validation import (
    REASON_MAX,
    SHORT_TEXT_MAX,
    check_choice,
    check_not_before,
    check_uuid,
    normalize_text,
    require_aware,
    require_text,
)
from events import (
    CrmEvent,
    TaskCancelled,
    TaskCompleted,
    TaskFellDue,
    TaskRescheduled,
    TaskScheduled,
)
from events.vocabulary import TASK_KINDS, TaskStatus

__all__ = ["Task"]

OPEN: Final = TaskStatus.OPEN.value
OVERDUE: Final = TaskStatus.OVERDUE.value
DONE: Final = TaskStatus.DONE.value
CANCELLED: Final = TaskStatus.CANCELLED.value
LATEST_DUE: Final = timedelta(days=5 * 366)
"""How far ahead a task may be due: a follow-up years away is a typo."""


def check_due(due_at: datetime, at: datetime) -> datetime:
    """A due time with a zone, after the command's time and within five years of it."""
    due = require_aware(due_at, field="dueAt")
    if due <= at:
        raise RuleViolated("dueAt must be in the future", field="dueAt")
    if due > at + LATEST_DUE:
        raise RuleViolated("dueAt must be within five years", field="dueAt")
    return due


class Task(Aggregate):
    """One follow-up task for one assignee about one customer."""

    # ----------------------------------------------------------------- commands

    @classmethod
    def schedule(
        cls,
        *,
        task_id: UUID,
        customer: Customer,
        kind: str,
        title: str,
        assignee: str,
        due_at: datetime,
        at: datetime,
    ) -> Self:
        """A new task for an open customer, due in the future."""
        when = require_aware(at)
        customer.require_open()
        return cls._create(
            TaskScheduled,
            id=check_uuid(task_id, field="taskId"),
            timestamp=when,
            customer_id=customer.id,
            kind=check_choice(kind, TASK_KINDS, field="kind"),
            title=require_text(title, field="title", max_length=SHORT_TEXT_MAX),
            assignee=require_text(
                assignee, field="assignee", max_length=SHORT_TEXT_MAX, multiline=False
            ),
            due_at=check_due(due_at, when),
        )

    def reschedule(self, *, due_at: datetime, at: datetime) -> None:
        """A new due time for an open or overdue task; the same time records nothing."""
        when = self._after_scheduling(at)
        self.check_not_closed("rescheduled")
        due = check_due(due_at, when)
        if due != self.due_at:
            self.trigger_event(
                TaskRescheduled,
                timestamp=when,
                customer_id=self.customer_id,
                assignee=self.assignee,
                due_at=due,
                previous_due_at=self.due_at,
            )

    def complete(self, *, outcome: str | None = None, at: datetime) -> None:
        when = self._after_scheduling(at)
        self.check_not_closed("completed")
        self.trigger_event(
            TaskCompleted,
            timestamp=when,
            customer_id=self.customer_id,
            outcome=normalize_text(outcome, field="outcome", max_length=REASON_MAX),
        )

    def cancel(self, *, reason: str | None = None, at: datetime) -> None:
        when = self._after_scheduling(at)
        self.check_not_closed("cancelled")
        self.trigger_event(
            TaskCancelled,
            timestamp=when,
            customer_id=self.customer_id,
            reason=normalize_text(reason, field="reason", max_length=REASON_MAX),
        )

    def fall_due(self, *, at: datetime) -> None:
        """The scheduler's step: an OPEN task whose due time has passed becomes OVERDUE.
        Anything else (already overdue, closed, rescheduled later) records nothing, so a
        tick that runs twice or late is harmless."""
        when = require_aware(at)
        if self.status == OPEN and self.due_at <= when:
            self.trigger_event(
                TaskFellDue,
                timestamp=when,
                customer_id=self.customer_id,
                kind=self.kind,
                assignee=self.assignee,
                due_at=self.due_at,
            )

    def _after_scheduling(self, at: datetime) -> datetime:
        return check_not_before(at, self.created_on, "the task was scheduled")

    def check_not_closed(self, verb: str) -> None:
        """DONE and CANCELLED are final: a closed task is never worked again."""
        if self.status in (DONE, CANCELLED):
            raise RuleViolated(f"a {self.status.lower()} task cannot be {verb}", field="taskId")

    # ------------------------------------------------------------ evolution

    @singledispatchmethod
    def when(self, event: CrmEvent) -> None:
        """Apply one recorded event to the state (called by the event's `apply`)."""
        raise TypeError(f"{type(self).__name__} cannot apply {type(event).__name__}")

    @when.register
    def _scheduled(self, event: TaskScheduled) -> None:
        self.customer_id: UUID = event.customer_id
        self.kind: str = event.kind
        self.assignee: str = event.assignee
        self.due_at: datetime = event.due_at
        self.status: str = OPEN

    @when.register
    def _rescheduled(self, event: TaskRescheduled) -> None:
        self.due_at = event.due_at
        self.status = OPEN

    @when.register
    def _fell_due(self, event: TaskFellDue) -> None:
        self.status = OVERDUE

    @when.register
    def _completed(self, event: TaskCompleted) -> None:
        self.status = DONE

    @when.register
    def _cancelled(self, event: TaskCancelled) -> None:
        self.status = CANCELLED

"""The complaint aggregate: one complaint's life from filing to resolution.

A separate aggregate (not part of Customer) so support can work complaints without
contending on the customer's stream. Its events carry `customer_id` because the
customer owns the encryption key of the complaint's personal text.
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Self
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.customer import Customer
from aggregates.errors import RuleViolated
from aggregates.labels import check_label
from aggregates.validation import (
    DESCRIPTION_MAX,
    ID_MAX,
    REASON_MAX,
    SHORT_TEXT_MAX,
    check_choice,
    check_not_before,
    check_satisfaction,
    check_uuid,
    normalize_text,
    require_aware,
    require_text,
)
from events import (
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintFiled,
    ComplaintResolved,
    CrmEvent,
)
from events.vocabulary import CRITICAL, ESCALATED, OPEN, RESOLVED, SEVERITIES

__all__ = ["Complaint"]


class Complaint(Aggregate):
    """OPEN -> ESCALATED -> RESOLVED, or OPEN -> RESOLVED; CRITICAL escalates on filing."""

    # A class default, so a snapshot taken before assignments existed still reads.
    assignee: str | None = None

    # ----------------------------------------------------------------- commands

    @classmethod
    def file(
        cls,
        *,
        complaint_id: UUID,
        customer: Customer,
        category: str,
        severity: str,
        description: str,
        at: datetime,
    ) -> Self:
        """File a complaint for an open customer; a CRITICAL one is escalated at once."""
        when = require_aware(at)
        customer.require_open()
        level = check_choice(severity, SEVERITIES, field="severity")
        complaint = cls._create(
            ComplaintFiled,
            id=check_uuid(complaint_id, field="complaintId"),
            timestamp=when,
            customer_id=customer.id,
            category=check_label(category, field="category", max_length=ID_MAX),
            severity=level,
            description=require_text(description, field="description", max_length=DESCRIPTION_MAX),
        )
        if level == CRITICAL:
            complaint.trigger_event(
                ComplaintEscalated,
                timestamp=when,
                customer_id=complaint.customer_id,
                reason=None,
                automatic=True,
            )
        return complaint

    def escalate(self, *, reason: str | None = None, at: datetime) -> None:
        """Hand an open complaint up; only OPEN complaints can be escalated."""
        when = self._after_filing(at)
        if self.status != OPEN:
            raise RuleViolated(
                f"only an OPEN complaint can be escalated; it is {self.status}",
                field="complaintId",
            )
        self.trigger_event(
            ComplaintEscalated,
            timestamp=when,
            customer_id=self.customer_id,
            reason=normalize_text(reason, field="reason", max_length=REASON_MAX),
            automatic=False,
        )

    def assign(self, *, assignee: str, at: datetime) -> None:
        """Hand the complaint to a support agent; the same agent again records nothing."""
        when = self._after_filing(at)
        agent = require_text(assignee, field="assignee", max_length=SHORT_TEXT_MAX, multiline=False)
        self.check_assignable()
        if agent != self.assignee:
            self.trigger_event(
                ComplaintAssigned,
                timestamp=when,
                customer_id=self.customer_id,
                assignee=agent,
                previous_assignee=self.assignee,
            )

    def _after_filing(self, at: datetime) -> datetime:
        return check_not_before(at, self.created_on, "the complaint was filed")

    def check_assignable(self) -> None:
        """A resolved complaint is closed: nobody can be assigned to work it."""
        if self.status == RESOLVED:
            raise RuleViolated("a resolved complaint cannot be assigned", field="complaintId")

    def resolve(self, *, resolution: str, satisfaction: int | None = None, at: datetime) -> None:
        """Close the complaint; resolving it twice is refused."""
        when = self._after_filing(at)
        if self.status == RESOLVED:
            raise RuleViolated("the complaint is already resolved", field="complaintId")
        self.trigger_event(
            ComplaintResolved,
            timestamp=when,
            customer_id=self.customer_id,
            resolution=require_text(resolution, field="resolution", max_length=DESCRIPTION_MAX),
            satisfaction=check_satisfaction(satisfaction),
        )

    # ------------------------------------------------------------- queries

    @property
    def is_open(self) -> bool:
        """Open means not yet resolved (escalated complaints are still open)."""
        return self.status != RESOLVED

    # ------------------------------------------------------------ evolution

    @singledispatchmethod
    def when(self, event: CrmEvent) -> None:
        """Apply one recorded event to the state (called by the event's `apply`)."""
        raise TypeError(f"{type(self).__name__} cannot apply {type(event).__name__}")

    @when.register
    def _filed(self, event: ComplaintFiled) -> None:
        self.customer_id: UUID = event.customer_id
        self.category: str = event.category
        self.severity: str = event.severity
        self.status: str = OPEN
        self.satisfaction: int | None = None
        self.filed_at: datetime = event.timestamp
        self.escalated_at: datetime | None = None
        self.escalated_automatically: bool = False
        self.resolved_at: datetime | None = None
        self.assignee = None

    @when.register
    def _escalated(self, event: ComplaintEscalated) -> None:
        self.status = ESCALATED
        self.escalated_at = event.timestamp
        self.escalated_automatically = event.automatic

    @when.register
    def _assigned(self, event: ComplaintAssigned) -> None:
        self.assignee = event.assignee

    @when.register
    def _resolved(self, event: ComplaintResolved) -> None:
        self.status = RESOLVED
        self.resolved_at = event.timestamp
        self.satisfaction = event.satisfaction

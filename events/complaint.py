"""Facts about a complaint. Each carries its customer, who owns the encryption key."""

from __future__ import annotations

from uuid import UUID

from events.base import CrmCreated, CrmEvent, CustomerScoped, enum_schema
from events.vocabulary import SEVERITIES


class ComplaintFiled(CustomerScoped, CrmCreated):
    TYPE = "crm.complaint.filed"
    PERSONAL = ("description",)
    FIELD_SCHEMAS = {"severity": enum_schema(SEVERITIES)}
    customer_id: UUID
    category: str
    severity: str
    description: str | None


class ComplaintEscalated(CustomerScoped, CrmEvent):
    """`automatic` is true when the rules escalated it (a CRITICAL complaint on filing)."""

    TYPE = "crm.complaint.escalated"
    PERSONAL = ("reason",)
    customer_id: UUID
    reason: str | None
    automatic: bool


class ComplaintAssigned(CustomerScoped, CrmEvent):
    """Handed to a support agent; `previous_assignee` is None on the first assignment.

    Who assigned it and when travel with every event (the actor and the timestamp).
    """

    TYPE = "crm.complaint.assigned"
    customer_id: UUID
    assignee: str
    previous_assignee: str | None


class ComplaintResolved(CustomerScoped, CrmEvent):
    TYPE = "crm.complaint.resolved"
    PERSONAL = ("resolution",)
    FIELD_SCHEMAS = {
        "satisfaction": {
            "anyOf": [{"type": "integer", "minimum": 1, "maximum": 5}, {"type": "null"}]
        }
    }
    customer_id: UUID
    resolution: str | None
    satisfaction: int | None

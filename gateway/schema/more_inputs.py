"""Inputs of the mutations added for issue 15: one per command that had none.

Same conventions as `gateway.schema.inputs`: `occurredAt`, `expectedVersion` and
`idempotencyKey` on each, ids parsed with the field named, and `command()` building the
one command the mutation records.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from commands import messages as m
from gateway.schema.enums import Channel
from gateway.schema.inputs import EXPECTED, IDEMPOTENCY
from gateway.schema.scalars import parse_id


@strawberry.input(description="Hand the customer to another salesperson.")
class AssignOwnerInput:
    customer_id: strawberry.ID
    owner: str = strawberry.field(description="The new owner (a salesperson's user name).")
    reason: str | None = strawberry.field(
        default=None, description="Why; kept in the timeline's OWNER_CHANGE entry."
    )
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.AssignOwner:
        return m.AssignOwner(
            customer_id=parse_id(self.customer_id, "customerId"),
            owner=self.owner,
            reason=self.reason,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="Something the customer needs, for sales to follow up.")
class RecordNeedInput:
    customer_id: strawberry.ID
    description: str
    product_interest: str | None = None
    need_id: str | None = strawberry.field(
        default=None,
        description="Choose the need's id (once per customer: RULE on `needId`); generated "
        "if absent.",
    )
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.RecordNeed:
        return m.RecordNeed(
            customer_id=parse_id(self.customer_id, "customerId"),
            description=self.description,
            product_interest=self.product_interest,
            need_id=self.need_id,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(
    description="A note on a customer; its author is the caller (the token's subject)."
)
class AddNoteInput:
    customer_id: strawberry.ID
    text: str = strawberry.field(description="Free text (personal: sealed, erased by forget).")
    note_id: str | None = strawberry.field(
        default=None, description="Choose the note's id; generated if absent."
    )
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.AddNote:
        return m.AddNote(
            customer_id=parse_id(self.customer_id, "customerId"),
            text=self.text,
            note_id=self.note_id,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="Grant or withdraw consent for a purpose (optionally per channel).")
class ChangeConsentInput:
    customer_id: strawberry.ID
    purpose: str = strawberry.field(description='e.g. "marketing", "newsletter".')
    granted: bool
    channel: Channel | None = strawberry.field(
        default=None, description="Null: the whole purpose, on every channel."
    )
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.ChangeConsent:
        return m.ChangeConsent(
            customer_id=parse_id(self.customer_id, "customerId"),
            purpose=self.purpose,
            granted=self.granted,
            channel=self.channel.value if self.channel else None,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="A satisfaction survey answer.")
class AnswerSurveyInput:
    customer_id: strawberry.ID
    survey_id: str
    score: int = strawberry.field(description="1 to 5.")
    comment: str | None = None
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.AnswerSatisfactionSurvey:
        return m.AnswerSatisfactionSurvey(
            customer_id=parse_id(self.customer_id, "customerId"),
            survey_id=self.survey_id,
            score=self.score,
            comment=self.comment,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="Hand an OPEN complaint up (only OPEN ones can be escalated).")
class EscalateComplaintInput:
    complaint_id: strawberry.ID
    reason: str | None = None
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.EscalateComplaint:
        return m.EscalateComplaint(
            complaint_id=parse_id(self.complaint_id, "complaintId"),
            reason=self.reason,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="Hand a complaint that is not resolved to a support agent.")
class AssignComplaintInput:
    complaint_id: strawberry.ID
    assignee: str = strawberry.field(description="The support agent's user name.")
    client_mutation_id: str | None = strawberry.field(
        default=None, description="Echoed back in the payload (Relay)."
    )
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.AssignComplaint:
        return m.AssignComplaint(
            complaint_id=parse_id(self.complaint_id, "complaintId"),
            assignee=self.assignee,
            occurred_at=self.occurred_at,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )

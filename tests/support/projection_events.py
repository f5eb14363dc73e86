"""A small builder of Kafka envelopes for projection tests (unit and integration).

`Events` hands out increasing global positions and per-stream versions exactly as the
relay would, so tests read like the story they tell: register, buy, complain, merge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from events import (
    ComplaintEscalated,
    ComplaintFiled,
    ComplaintResolved,
    ConsentChanged,
    ContactDetailsChanged,
    ContactTouchRecorded,
    CrmEvent,
    CustomerForgotten,
    CustomerMerged,
    CustomerRegistered,
    CustomerTagged,
    CustomerUntagged,
    DuplicateMerged,
    NeedRecorded,
    OwnerAssigned,
    PurchaseRecorded,
    ReferralRecorded,
    SatisfactionSurveyAnswered,
    StageMoved,
)

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
Envelope = dict[str, Any]


def days(n: float) -> timedelta:
    return timedelta(days=n)


class Events:
    """Envelopes in the relay's shape, positions and versions handed out in order."""

    def __init__(self, start_position: int = 0) -> None:
        self.position = start_position
        self.versions: dict[UUID, int] = {}

    def envelope(
        self,
        event: type[CrmEvent],
        subject: UUID,
        data: dict[str, Any],
        at: datetime,
        *,
        stream: UUID | None = None,
        type_name: str | None = None,
        actor: str | None = "alice",
    ) -> Envelope:
        self.position += 1
        stream = stream or subject
        self.versions[stream] = self.versions.get(stream, 0) + 1
        return {
            "specversion": "1.0",
            "id": str(uuid4()),
            "type": type_name or event.cloudevents_type(),
            "source": "crm/event-store",
            "subject": str(subject),
            "time": at.isoformat(),
            "datacontenttype": "application/json",
            "data": data,
            "position": self.position,
            "stream": str(stream),
            "version": self.versions[stream],
            "recordedat": (at + timedelta(seconds=1)).isoformat(),
            "actor": actor,
            "correlationid": None,
            "causationid": None,
        }

    def register(
        self,
        name: str | None = "Ann Lee",
        *,
        at: datetime = T0,
        email: str | None = None,
        phone: str | None = None,
        customer_id: UUID | None = None,
        **fields: Any,
    ) -> tuple[UUID, Envelope]:
        cid = customer_id or uuid4()
        data = {
            "name": name,
            "email": email,
            "phone": phone,
            "company": None,
            "industry": None,
            "region": None,
            "source": None,
            "referred_by": None,
            "owner": None,
        }
        data.update(fields)
        return cid, self.envelope(CustomerRegistered, cid, data, at)

    def change_contact(self, cid: UUID, at: datetime, **changes: Any) -> Envelope:
        data: dict[str, Any] = dict.fromkeys(("name", "email", "phone", "address", "company"))
        data.update(changes)
        data["changed"] = sorted(changes)
        return self.envelope(ContactDetailsChanged, cid, data, at)

    def tag(self, cid: UUID, *tags: str, at: datetime = T0) -> Envelope:
        return self.envelope(CustomerTagged, cid, {"tags": list(tags)}, at)

    def untag(self, cid: UUID, *tags: str, at: datetime = T0) -> Envelope:
        return self.envelope(CustomerUntagged, cid, {"tags": list(tags)}, at)

    def touch(
        self, cid: UUID, channel: str = "PHONE", summary: str | None = None, *, at: datetime = T0
    ) -> Envelope:
        data = {"channel": channel, "direction": "INBOUND", "summary": summary, "outcome": None}
        return self.envelope(ContactTouchRecorded, cid, data, at)

    def purchase(
        self,
        cid: UUID,
        total_cny: Decimal | int | str,
        *,
        at: datetime,
        order_id: str | None = None,
        currency: str = "CNY",
        rate: str = "1",
    ) -> Envelope:
        total_cny = Decimal(total_cny)
        total = (total_cny / Decimal(rate)).quantize(Decimal("0.01"))
        line = {"sku": "SKU-1", "quantity": 1, "unit_price": str(total), "amount": str(total)}
        data = {
            "order_id": order_id or f"o-{self.position + 1}",
            "lines": [line],
            "currency": currency,
            "rate_to_cny": rate,
            "total": str(total),
            "total_cny": str(total_cny),
        }
        return self.envelope(PurchaseRecorded, cid, data, at)

    def move(
        self, cid: UUID, from_stage: str, to_stage: str, *, at: datetime, reason: str | None = None
    ) -> Envelope:
        data = {"from_stage": from_stage, "to_stage": to_stage, "reason": reason}
        return self.envelope(StageMoved, cid, data, at)

    def need(self, cid: UUID, description: str, *, at: datetime = T0) -> Envelope:
        data = {
            "need_id": f"n-{self.position}",
            "description": description,
            "product_interest": "x",
        }
        return self.envelope(NeedRecorded, cid, data, at)

    def owner(self, cid: UUID, owner: str, *, at: datetime = T0) -> Envelope:
        return self.envelope(OwnerAssigned, cid, {"owner": owner, "previous_owner": None}, at)

    def consent(
        self,
        cid: UUID,
        purpose: str,
        granted: bool,
        channel: str | None = None,
        *,
        at: datetime = T0,
    ) -> Envelope:
        data = {"purpose": purpose, "channel": channel, "granted": granted}
        return self.envelope(ConsentChanged, cid, data, at)

    def survey(
        self,
        cid: UUID,
        score: int,
        comment: str | None,
        *,
        at: datetime = T0,
        survey_id: str | None = None,
    ) -> Envelope:
        data = {"survey_id": survey_id or f"s-{self.position}", "score": score, "comment": comment}
        return self.envelope(SatisfactionSurveyAnswered, cid, data, at)

    def referral(self, cid: UUID, referred: UUID, *, at: datetime = T0) -> Envelope:
        data = {"referred_customer_id": str(referred)}
        return self.envelope(ReferralRecorded, cid, data, at)

    def complain(
        self,
        cid: UUID,
        severity: str = "LOW",
        description: str | None = "late delivery",
        *,
        at: datetime = T0,
        category: str = "delivery",
    ) -> tuple[UUID, Envelope]:
        complaint = uuid4()
        data = {
            "customer_id": str(cid),
            "category": category,
            "severity": severity,
            "description": description,
        }
        return complaint, self.envelope(ComplaintFiled, cid, data, at, stream=complaint)

    def escalate(
        self, cid: UUID, complaint: UUID, *, at: datetime, reason: str | None = None
    ) -> Envelope:
        data = {"customer_id": str(cid), "reason": reason, "automatic": reason is None}
        return self.envelope(ComplaintEscalated, cid, data, at, stream=complaint)

    def resolve(
        self,
        cid: UUID,
        complaint: UUID,
        *,
        at: datetime,
        resolution: str | None = "refunded",
        satisfaction: int | None = 4,
    ) -> Envelope:
        data = {"customer_id": str(cid), "resolution": resolution, "satisfaction": satisfaction}
        return self.envelope(ComplaintResolved, cid, data, at, stream=complaint)

    def merge(self, survivor: UUID, duplicate: UUID, *, at: datetime) -> list[Envelope]:
        """Both sides, as one command records them: duplicate first, then survivor."""
        return [
            self.envelope(CustomerMerged, duplicate, {"survivor_id": str(survivor)}, at),
            self.envelope(DuplicateMerged, survivor, {"duplicate_id": str(duplicate)}, at),
        ]

    def forget(self, cid: UUID, *, at: datetime, reason: str = "erasure request") -> Envelope:
        return self.envelope(CustomerForgotten, cid, {"reason": reason}, at)

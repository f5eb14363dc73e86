"""Shared helpers for the aggregate unit tests (no tests here; pure, no servers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)

from aggregates import Complaint, Customer, DomainError, Policy, PurchaseLine
from events import CrmEvent

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
POLICY = Policy.default()


def later(minutes: int = 1) -> datetime:
    """A business time after AT; tests never read the clock."""
    return AT + timedelta(minutes=minutes)


def new_customer(**overrides: Any) -> Customer:
    """A registered customer with its registration event already collected."""
    fields: dict[str, Any] = {"customer_id": uuid4(), "name": "Han Meimei", "at": AT}
    fields.update(overrides)
    customer = Customer.register(**fields)
    customer.collect_events()
    return customer


def customer_at(stage: str) -> Customer:
    """A customer moved straight to `stage` (forward moves need no reason)."""
    customer = new_customer()
    if stage != "LEAD":
        customer.move_stage(to=stage, at=later())
    customer.collect_events()
    return customer


def new_complaint(severity: str = "HIGH", customer: Customer | None = None) -> Complaint:
    complaint = Complaint.file(
        complaint_id=uuid4(),
        customer=customer or new_customer(),
        category="delivery",
        severity=severity,
        description="The parcel arrived broken.",
        at=AT,
    )
    complaint.collect_events()
    return complaint


def line(sku: str = "SKU-1", quantity: int = 1, unit_price: Any = "10.00") -> PurchaseLine:
    return PurchaseLine(sku=sku, quantity=quantity, unit_price=unit_price)


def recorded(aggregate: Customer | Complaint) -> list[CrmEvent]:
    """The events the last commands recorded (and clears them)."""
    return [event for event in aggregate.collect_events() if isinstance(event, CrmEvent)]


def only_event(aggregate: Customer | Complaint) -> Any:
    """The single event the last command recorded."""
    events = recorded(aggregate)
    assert len(events) == 1, events
    return events[0]


@contextmanager
def refused(code: str, field: str | None, aggregate: Any = None) -> Iterator[None]:
    """Expect a DomainError with this code and field, and (if given) nothing recorded."""
    with pytest.raises(DomainError) as info:
        yield
    assert (info.value.code, info.value.field) == (code, field), info.value
    if aggregate is not None:
        assert aggregate.collect_events() == []


def some_id() -> UUID:
    return uuid4()


def mapper() -> Mapper[UUID]:
    """The transcodings the application registers by default."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)

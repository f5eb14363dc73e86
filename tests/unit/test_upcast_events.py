"""Upcasting stored v1 events to the current v2 shapes (events/customer.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from aggregates import Customer
from events import ContactTouchRecorded, CrmEvent, PurchaseRecorded
from tests.unit.support.aggregates import AT, later, mapper


def stored_v1(cls: type[CrmEvent], originator_id: UUID, version: int, **state: Any) -> StoredEvent:
    """A stored event as v1 code wrote it: no `class_version` key, no v2 fields."""
    return StoredEvent(
        originator_id=originator_id,
        originator_version=version,
        topic=get_topic(cls),
        state=mapper().transcoder.encode({"timestamp": later(version), **state}),
    )


def test_touch_v1_state_upcasts_to_outbound_with_unknown_outcome() -> None:
    state: dict[str, Any] = {"channel": "PHONE", "summary": "hello"}
    ContactTouchRecorded.upcast_v1_v2(state)
    assert state == {
        "channel": "PHONE",
        "summary": "hello",
        "direction": "OUTBOUND",
        "outcome": None,
    }


def test_purchase_v1_state_upcasts_to_cny_at_rate_one() -> None:
    state: dict[str, Any] = {
        "order_id": "SO-1",
        "lines": [{"sku": "A", "quantity": 2, "unit_price": "5.00", "amount": "10.00"}],
        "total": "10.00",
    }
    PurchaseRecorded.upcast_v1_v2(state)
    assert (state["currency"], state["rate_to_cny"], state["total"], state["total_cny"]) == (
        "CNY",
        "1",
        "10.00",
        "10.00",
    )


def test_current_version_is_stamped_when_stored() -> None:
    customer = Customer.register(customer_id=uuid4(), name="A", at=AT)
    customer.record_touch(channel="EMAIL", at=later())
    touch = customer.collect_events()[-1]
    stored = mapper().to_stored_event(touch)
    assert mapper().transcoder.decode(stored.state)["class_version"] == 3
    assert mapper().to_domain_event(stored) == touch


def test_stored_v1_touch_reads_back_as_v2() -> None:
    customer_id = uuid4()
    event = mapper().to_domain_event(
        stored_v1(ContactTouchRecorded, customer_id, 2, channel="VISIT", summary="met")
    )
    assert isinstance(event, ContactTouchRecorded)
    assert (event.originator_id, event.originator_version) == (customer_id, 2)
    assert (event.channel, event.direction, event.summary, event.outcome) == (
        "VISIT",
        "OUTBOUND",
        "met",
        None,
    )
    assert event.timestamp == later(2)


def test_a_stream_with_v1_events_replays_into_the_current_aggregate() -> None:
    customer = Customer.register(customer_id=uuid4(), name="Old Timer", at=AT)
    registered = mapper().to_stored_event(customer.collect_events()[0])
    lines = [{"sku": "A", "quantity": 3, "unit_price": "33.30", "amount": "99.90"}]
    history = [
        registered,
        stored_v1(ContactTouchRecorded, customer.id, 2, channel="PHONE", summary=None),
        stored_v1(PurchaseRecorded, customer.id, 3, order_id="SO-1", lines=lines, total="99.90"),
    ]
    rebuilt: Customer | None = None
    for stored in history:
        rebuilt = mapper().to_domain_event(stored).mutate(rebuilt)  # type: ignore[attr-defined]
    assert rebuilt is not None
    assert rebuilt.version == 3
    assert rebuilt.touch_counts == {"PHONE": 1}
    assert (rebuilt.purchase_count, rebuilt.purchase_total_cny) == (1, Decimal("99.90"))
    assert rebuilt.order_ids == ["SO-1"]

"""Parsing the relay's envelopes into typed projection events (see
`tests/support/projection_events.py` for the builder)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from events import ContactTouchRecorded, CustomerRegistered, CustomerTagged, PurchaseRecorded
from projections.incoming import MalformedEnvelope, parse_envelope, split_type
from tests.support.projection_events import T0, Events


def test_a_current_envelope_is_typed() -> None:
    events = Events()
    cid, registered = events.register("Ann", at=T0, email="ann@example.com")
    event = parse_envelope(registered)
    assert event.known and event.on_own_stream
    assert (event.position, event.subject_id, event.stream_version) == (1, cid, 1)
    assert event.kind == CustomerRegistered.TYPE and event.schema_version == 1
    assert event.occurred_at == T0
    assert event.personal_fields == ("name", "email", "phone")


def test_old_versions_are_upcast_with_the_event_classes_upcasters() -> None:
    events = Events()
    cid = uuid4()
    v1_purchase = events.envelope(
        PurchaseRecorded,
        cid,
        {"order_id": "o1", "lines": [], "total": "12.50"},
        T0,
        type_name="crm.customer.purchase_recorded.v1",
    )
    v1_touch = events.envelope(
        ContactTouchRecorded,
        cid,
        {"channel": "EMAIL", "summary": None},
        T0,
        type_name="crm.customer.contact_touch_recorded.v1",
    )
    purchase = parse_envelope(v1_purchase)
    assert purchase.known and purchase.schema_version == 1
    assert purchase.data["total_cny"] == "12.50" and purchase.data["currency"] == "CNY"
    touch = parse_envelope(v1_touch)
    assert touch.data["direction"] == "OUTBOUND" and touch.data["outcome"] is None
    assert v1_purchase["data"] == {"order_id": "o1", "lines": [], "total": "12.50"}


@pytest.mark.parametrize(
    "type_name", ["crm.customer.teleported.v1", "crm.customer.purchase_recorded.v3", "nonsense"]
)
def test_unknown_types_and_future_versions_are_not_known(type_name: str) -> None:
    envelope = Events().envelope(CustomerTagged, uuid4(), {"x": "secret"}, T0, type_name=type_name)
    event = parse_envelope(envelope)
    assert not event.known
    assert event.personal_fields == ("x",)


@pytest.mark.parametrize("missing", ["position", "subject", "time", "type"])
def test_an_envelope_without_its_core_attributes_is_refused(missing: str) -> None:
    envelope = Events().tag(uuid4(), "vip")
    del envelope[missing]
    with pytest.raises(MalformedEnvelope):
        parse_envelope(envelope)


def test_a_naive_business_time_is_refused() -> None:
    envelope = Events().tag(uuid4(), "vip")
    envelope["time"] = "2024-01-01T00:00:00"
    with pytest.raises(MalformedEnvelope):
        parse_envelope(envelope)


def test_split_type() -> None:
    assert split_type("crm.customer.registered.v12") == ("crm.customer.registered", 12)
    assert split_type("crm.customer.registered") == ("crm.customer.registered", 0)

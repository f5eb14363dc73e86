"""A rebuild reads each stored event as an `IncomingEvent` built straight from its decoded
state; it must equal what the live path gets from the same event through an envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

import streams.envelope as envelope
from aggregates import Customer
from events import CrmEvent
from projections.incoming import parse_envelope
from streams.envelope import RecordedMeta, envelope_id, to_envelope
from streams.rebuild_source import _plain, event_id, incoming
from tests.unit.support.aggregates import AT, POLICY, later, line, new_complaint


def story() -> list[CrmEvent]:
    """One event of (nearly) every shape: nested lists, Decimals, UUIDs, a scoped event."""
    customer = Customer.register(customer_id=uuid4(), name="Li Lei", email="li@example.com", at=AT)
    survivor = Customer.register(customer_id=uuid4(), name="Li Lei", at=AT)
    customer.tag(("vip", "north"), at=later(1))
    customer.record_touch(channel="EMAIL", summary="hello", at=later(2))
    customer.record_purchase(order_id="SO-1", lines=(line(quantity=3),), at=later(3), policy=POLICY)
    customer.move_stage(to="PROPOSAL", at=later(4))
    customer.merge_into(survivor, at=later(5))
    complaint = new_complaint(customer=survivor)
    complaint.resolve(resolution="refund", satisfaction=4, at=later(6))
    events = [*customer.collect_events(), *survivor.collect_events()]
    return [e for e in [*events, *complaint.collect_events()] if isinstance(e, CrmEvent)]


@pytest.mark.parametrize("event", story(), ids=lambda e: type(e).__name__)
def test_incoming_equals_the_live_paths_parse_of_the_envelope(event: CrmEvent) -> None:
    state: dict[str, Any] = dict(vars(event))
    meta = RecordedMeta(position=42, recorded_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    via_envelope = parse_envelope(to_envelope(type(event), state, meta))
    direct = incoming(type(event), state, meta)
    assert direct == via_envelope
    assert dict(direct.data) == dict(via_envelope.data)
    assert direct.event_class is via_envelope.event_class is not None


def test_event_id_is_the_envelope_id() -> None:
    for version in (1, 2, 17, 12345):
        stream = uuid4()
        assert event_id(stream, version) == str(envelope_id(stream, version))


def test_plain_values_match_the_envelopes() -> None:
    value = {
        "a": [Decimal("1.50"), uuid4(), AT, ("x", 1, None, True, 2.5)],
        "b": {"nested": [{"at": later(1), "n": Decimal(3)}]},
    }
    assert _plain(value) == envelope._plain(value)
    assert _plain(value)["a"][0] == "1.50"

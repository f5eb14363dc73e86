"""A rebuild's replay computes each profile's materialized columns from the facts it
folded in memory, with the live path's rules (`projections.materialize.compute`)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

from aggregates import Complaint, Customer
from events import CrmEvent
from projections.derivation import derive
from projections.derived import ComplaintFact, PurchaseFact
from projections.materialize import MATERIALIZED_COLUMNS, columns_of
from projections.replay import PartitionReplay
from streams.envelope import RecordedMeta
from streams.rebuild_source import incoming
from tests.unit.support.aggregates import AT, POLICY, later, line


def replayed(events: list[CrmEvent]) -> PartitionReplay:
    replay = PartitionReplay()
    folded = [
        incoming(type(e), dict(vars(e)), RecordedMeta(position=n, recorded_at=e.timestamp))
        for n, e in enumerate(events, start=1)
    ]
    replay.fold(folded[:3])  # two windows: facts carry across them
    replay.fold(folded[3:])
    return replay


def story() -> tuple[Customer, list[CrmEvent]]:
    customer = Customer.register(customer_id=uuid4(), name="Li Lei", at=AT)
    customer.record_touch(channel="PHONE", at=later(1))
    customer.record_purchase(order_id="SO-1", lines=(line(quantity=2),), at=later(2), policy=POLICY)
    customer.record_touch(channel="EMAIL", at=later(3))
    customer.record_touch(channel="PHONE", at=later(4))
    customer.record_purchase(
        order_id="SO-2", lines=(line(unit_price="5.50"),), at=later(5), policy=POLICY
    )
    return customer, [e for e in customer.collect_events() if isinstance(e, CrmEvent)]


def filed(customer: Customer, severity: str) -> Complaint:
    return Complaint.file(
        complaint_id=uuid4(),
        customer=customer,
        category="delivery",
        severity=severity,
        description="broken",
        at=AT,
    )


def test_a_profile_gets_its_summaries_and_stage_from_its_own_facts() -> None:
    customer, events = story()
    now = later(60 * 24 * 100)  # 100 days on: the last purchase is 90+ days old
    [m] = replayed(events).materialized(now)
    columns = columns_of(m)
    assert m.id == customer.id
    assert columns["purchase_count"] == 2
    assert columns["purchase_total"] == Decimal("25.50")
    assert columns["first_purchase_at"] == later(2)
    assert columns["last_purchase_at"] == later(5)
    assert columns["touch_count"] == 3
    assert columns["last_touch_at"] == later(4)
    assert {c["channel"]: c["count"] for c in columns["touches_by_channel"]} == {
        "PHONE": 2,
        "EMAIL": 1,
    }
    facts = [PurchaseFact(later(2), Decimal("20.00")), PurchaseFact(later(5), Decimal("5.50"))]
    rule = derive("LEAD", facts, [], now)
    assert (columns["lifecycle_stage"], columns["tier"]) == (rule.lifecycle_stage, rule.tier)
    assert columns["valid_until"] == rule.valid_until
    assert set(columns) == {name for name, _ in MATERIALIZED_COLUMNS}


def test_open_complaints_count_and_a_severe_open_one_puts_a_buyer_at_risk() -> None:
    customer = Customer.register(customer_id=uuid4(), name="Han Meimei", at=AT)
    customer.record_purchase(order_id="SO-1", lines=(line(),), at=later(1), policy=POLICY)
    events: list[CrmEvent] = [e for e in customer.collect_events() if isinstance(e, CrmEvent)]
    resolved = filed(customer, "LOW")
    resolved.resolve(resolution="refund", satisfaction=4, at=later(2))
    still_open = filed(customer, "HIGH")
    for complaint in (resolved, still_open):
        events.extend(e for e in complaint.collect_events() if isinstance(e, CrmEvent))
    [m] = replayed(events).materialized(later(10))
    columns = columns_of(m)
    assert columns["open_complaints"] == 1
    assert columns["lifecycle_stage"] == "AT_RISK", "the open HIGH complaint is a fact"
    complaints = [ComplaintFact("LOW", AT, later(2)), ComplaintFact("HIGH", AT, None)]
    purchases = [PurchaseFact(later(1), Decimal("10.00"))]
    assert (
        columns["lifecycle_stage"]
        == derive("LEAD", purchases, complaints, later(10)).lifecycle_stage
    )


def test_a_customer_with_no_facts_is_a_prospect_with_empty_summaries() -> None:
    customer = Customer.register(customer_id=uuid4(), name="Wang Wu", at=AT)
    events = [e for e in customer.collect_events() if isinstance(e, CrmEvent)]
    [m] = replayed(events).materialized(AT + timedelta(days=1))
    columns = columns_of(m)
    assert columns["purchase_count"] == columns["touch_count"] == 0
    assert columns["touches_by_channel"] == [] and columns["merged_ids"] == []
    assert columns["lifecycle_stage"] == derive("LEAD", [], [], AT).lifecycle_stage

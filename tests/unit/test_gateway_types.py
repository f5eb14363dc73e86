"""The profile and complaint types: their own columns are plain fields filled once per
row (`of`), so a list page pays no resolver call per column; personal fields keep the
resolvers that mask them and note them for the access log."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from gateway.schema.enums import ComplaintStatus, LifecycleStage, PipelineStage, Severity, Tier
from gateway.schema.types import Complaint, Customer
from projections.views import ComplaintView, CustomerView, PurchaseSummary, TouchSummary

AT = datetime(2026, 3, 1, tzinfo=UTC)
PLAIN = {
    "id", "version", "company", "industry", "region", "source", "owner", "tags", "stage",
    "lifecycle_stage", "lifecycle_reason", "tier", "tier_reason", "purchases", "forgotten",
    "referred_by", "created_at", "updated_at",
}  # fmt: skip
PERSONAL = {"name", "email", "phone", "address"}


def basic(cls: type) -> dict[str, bool]:
    fields = cls.__strawberry_definition__.fields  # type: ignore[attr-defined]
    return {f.python_name: f.is_basic_field for f in fields}


def test_a_profiles_columns_are_plain_fields_and_its_personal_ones_resolved() -> None:
    fields = basic(Customer)
    assert {name for name in PLAIN if not fields[name]} == set()
    assert {name for name in PERSONAL if fields[name]} == set()
    complaint = basic(Complaint)
    assert complaint["status"] and complaint["severity"] and complaint["filed_at"]
    assert not complaint["description"] and not complaint["resolution"]


def customer_view() -> CustomerView:
    return CustomerView(
        id=uuid4(),
        version=7,
        name="Ann",
        email="ann@example.com",
        phone=None,
        address=None,
        company="Acme",
        industry="retail",
        region="east",
        source="web",
        owner="carol",
        referred_by=uuid4(),
        tags=("vip", "b2b"),
        stage="QUALIFIED",
        lifecycle_stage="AT_RISK",
        tier="GOLD",
        purchases=PurchaseSummary(3, Decimal("120.50"), AT, AT),
        touches=TouchSummary(0, None, ()),
        consents=(),
        needs=(),
        surveys=(),
        merged_into=None,
        merged_ids=(),
        forgotten=False,
        forgotten_at=None,
        created_at=AT,
        updated_at=AT,
        last_position=42,
        lifecycle_reason="no purchase for 91 days",
        tier_reason="120.50 CNY in 365 days",
    )


def test_of_fills_every_column_from_the_view() -> None:
    view = customer_view()
    customer = Customer.of(view, personal=True)
    assert customer.id == str(view.id) and customer.version == 7
    assert (customer.company, customer.industry, customer.region) == ("Acme", "retail", "east")
    assert (customer.source, customer.owner, customer.tags) == ("web", "carol", ["vip", "b2b"])
    assert customer.stage is PipelineStage.QUALIFIED
    assert customer.lifecycle_stage is LifecycleStage.AT_RISK
    assert customer.tier is Tier.GOLD
    assert customer.lifecycle_reason == "no purchase for 91 days"
    assert customer.tier_reason == "120.50 CNY in 365 days"
    assert (customer.purchases.count, customer.purchases.total) == (3, Decimal("120.50"))
    assert customer.referred_by == str(view.referred_by)
    assert (customer.created_at, customer.updated_at, customer.forgotten) == (AT, AT, False)


def test_a_complaint_without_severity_reads_low_and_its_columns_are_copied() -> None:
    view = ComplaintView(
        id=uuid4(),
        customer_id=uuid4(),
        category=None,
        severity=None,
        status="ESCALATED",
        description="secret",
        escalation_reason=None,
        resolution=None,
        satisfaction=None,
        filed_at=AT,
        escalated_at=AT,
        resolved_at=None,
        version=2,
        assignee="sam",
    )
    complaint = Complaint.of(view, personal=False)
    assert complaint.severity is Severity.LOW and complaint.category == ""
    assert complaint.status is ComplaintStatus.ESCALATED
    assert (complaint.customer_id, complaint.assignee) == (str(view.customer_id), "sam")

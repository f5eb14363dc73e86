"""Registration, contact details and tags (RULES.md "Customer data")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from aggregates import UNSET, Customer, Policy
from events import ContactDetailsChanged, CustomerRegistered, CustomerTagged, CustomerUntagged
from tests.unit.support.aggregates import AT, later, new_customer, only_event, refused


def test_register_records_normalised_fields_and_starts_at_lead() -> None:
    customer_id, referrer = uuid4(), uuid4()
    customer = Customer.register(
        customer_id=customer_id,
        name="  Li Lei ",
        email=" Li.Lei@Example.COM ",
        phone="138 0013 8000",
        company=" ACME ",
        industry="retail",
        region="Shanghai",
        source="web",
        referred_by=referrer,
        owner="sales-1",
        at=AT,
    )
    event = only_event(customer)
    assert isinstance(event, CustomerRegistered)
    assert (event.originator_id, event.timestamp) == (customer_id, AT)
    assert (event.name, event.email, event.phone) == (
        "Li Lei",
        "li.lei@example.com",
        "+8613800138000",
    )
    assert (event.company, event.referred_by, event.owner) == ("ACME", referrer, "sales-1")
    assert customer.id == customer_id
    assert customer.stage == "LEAD"
    assert customer.stage_history == [("LEAD", AT)]
    assert customer.tags == []
    assert customer.created_on == AT
    assert customer.version == 1
    assert not customer.is_closed


def test_register_stores_business_time_in_utc() -> None:
    beijing = datetime(2025, 3, 1, 17, 0, tzinfo=timezone(timedelta(hours=8)))
    customer = Customer.register(customer_id=uuid4(), name="A", at=beijing)
    assert only_event(customer).timestamp == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": "nope"}, "email"),
        ({"phone": "12345"}, "phone"),
        ({"customer_id": "not-a-uuid"}, "customerId"),
        ({"at": datetime(2025, 3, 1)}, "occurredAt"),
    ],
)
def test_register_refuses_invalid_fields(overrides: dict[str, object], field: str) -> None:
    fields: dict[str, object] = {"customer_id": uuid4(), "name": "A", "at": AT, **overrides}
    with refused("VALIDATION", field):
        Customer.register(**fields)  # type: ignore[arg-type]


def test_register_refuses_self_referral() -> None:
    customer_id = uuid4()
    with refused("RULE", "referredBy"):
        Customer.register(customer_id=customer_id, name="A", referred_by=customer_id, at=AT)


def test_email_uniqueness_is_not_the_aggregates_job() -> None:
    # The store enforces CONFLICT on email across customers; one aggregate cannot see others.
    first = new_customer(email="same@example.com")
    second = new_customer(email="SAME@example.com")
    assert first.email == second.email == "same@example.com"


def test_change_contact_details_records_only_what_changed() -> None:
    customer = new_customer(email="old@example.com", phone="13800138000")
    customer.change_contact_details(
        at=later(), name="Han Meimei", email=" New@Example.com ", address=" 1 Road "
    )
    event = only_event(customer)
    assert isinstance(event, ContactDetailsChanged)
    assert event.changed == ["email", "address"]
    assert (event.email, event.address) == ("new@example.com", "1 Road")
    assert (event.name, event.phone, event.company) == (None, None, None)
    assert (customer.email, customer.address, customer.phone) == (
        "new@example.com",
        "1 Road",
        "+8613800138000",
    )


def test_change_contact_details_none_clears_a_field() -> None:
    customer = new_customer(phone="13800138000")
    customer.change_contact_details(at=later(), phone=None)
    event = only_event(customer)
    assert (event.changed, event.phone) == (["phone"], None)
    assert customer.phone is None


def test_change_contact_details_with_nothing_new_records_nothing() -> None:
    customer = new_customer(email="a@example.com")
    customer.change_contact_details(at=later(), name=" Han Meimei ", email="A@example.com")
    customer.change_contact_details(at=later(), phone=UNSET)
    assert customer.collect_events() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [({"name": None}, "name"), ({"email": "x@"}, "email"), ({"phone": "1"}, "phone")],
)
def test_change_contact_details_validates_like_registration(
    change: dict[str, object], field: str
) -> None:
    customer = new_customer()
    with refused("VALIDATION", field, customer):
        customer.change_contact_details(at=later(), **change)  # type: ignore[arg-type]


def test_tags_are_trimmed_lower_cased_and_kept_sorted() -> None:
    customer = new_customer()
    customer.tag([" VIP ", "b2b", "vip"], at=later())
    event = only_event(customer)
    assert isinstance(event, CustomerTagged)
    assert event.tags == ["vip", "b2b"]
    assert customer.tags == ["b2b", "vip"]


def test_tagging_a_present_tag_records_only_the_new_ones() -> None:
    customer = new_customer()
    customer.tag(["vip"], at=later())
    customer.collect_events()
    customer.tag(["VIP", "new"], at=later(2))
    assert only_event(customer).tags == ["new"]


def test_tagging_only_present_tags_records_no_event() -> None:
    customer = new_customer()
    customer.tag(["vip"], at=later())
    customer.collect_events()
    customer.tag([" Vip "], at=later(2))
    customer.tag([], at=later(3))
    assert customer.collect_events() == []


def test_tag_longer_than_50_characters_is_validation_on_its_index() -> None:
    customer = new_customer()
    with refused("VALIDATION", "tags[1]", customer):
        customer.tag(["ok", "x" * 51], at=later())


def test_at_most_50_tags_per_customer() -> None:
    customer = new_customer()
    customer.tag([f"t{i}" for i in range(49)], at=later())
    customer.tag(["t49"], at=later(2))
    customer.collect_events()
    assert len(customer.tags) == 50
    with refused("RULE", "tags", customer):
        customer.tag(["one-too-many"], at=later(3))
    customer.tag(["t1"], at=later(4))  # nothing new: fine even when full
    assert customer.collect_events() == []


def test_max_tags_is_configurable() -> None:
    customer = new_customer()
    with refused("RULE", "tags", customer):
        customer.tag(["a", "b", "c"], at=later(), policy=Policy(max_tags=2))


def test_untag_removes_present_tags_and_ignores_absent_ones() -> None:
    customer = new_customer()
    customer.tag(["a", "b"], at=later())
    customer.collect_events()
    customer.untag([" A ", "zzz"], at=later(2))
    event = only_event(customer)
    assert isinstance(event, CustomerUntagged)
    assert event.tags == ["a"]
    assert customer.tags == ["b"]
    customer.untag(["zzz"], at=later(3))
    assert customer.collect_events() == []

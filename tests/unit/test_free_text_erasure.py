"""Free text and erasure without servers: which fields are sealed, which closed forms
refuse contact data (aggregates.labels), how history stored in clear reads once the key
is gone, and how the residue scan extracts needles from free text."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, StoredEvent

from aggregates import Customer, PurchaseLine
from aggregates.complaint import Complaint
from aggregates.errors import ValidationFailed
from aggregates.labels import FEWEST_PHONE_DIGITS, has_phone_number
from aggregates.policy import Policy
from commands.crypto import MasterKey, generate_master_key
from commands.keys import KeyRing
from commands.mapper import SEALED, CrmMapper
from compliance.needles import Needles, emails_in, phones_in
from events import ContactTouchRecorded, NeedRecorded

AT = datetime(2025, 3, 1, tzinfo=UTC)
EMAIL = "zelda.private@example.net"


def field_of(error: pytest.ExceptionInfo[ValidationFailed]) -> str | None:
    return error.value.field


def customer() -> Customer:
    return Customer.register(customer_id=uuid4(), name="Zelda", at=AT)


# -- closed forms ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag", [EMAIL, "13912345678", "138-0013-8000", "86-10-6552-9988", "x_00441234567890", "a b"]
)
def test_a_tag_that_could_hold_contact_data_is_refused(tag: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        customer().tag(["vip", tag], at=AT)
    assert field_of(error) == "tags[1]"


def _fewest_valid_digits() -> int:
    """The fewest digits any valid number of `phonenumbers`' metadata is written with:
    country code and the shortest national number of its region (or non-geographic code)."""
    from phonenumbers import (
        COUNTRY_CODES_FOR_NON_GEO_REGIONS,
        SUPPORTED_REGIONS,
        PhoneMetadata,
    )

    def shortest(metadata: Any) -> int | None:
        descs = [metadata.general_desc, metadata.fixed_line, metadata.mobile]
        descs += [metadata.toll_free, metadata.premium_rate, metadata.shared_cost]
        descs += [metadata.personal_number, metadata.voip, metadata.pager, metadata.uan]
        lengths = [n for d in descs if d is not None for n in d.possible_length if n > 0]
        return min(lengths) if lengths else None

    found = [
        (metadata.country_code, shortest(metadata))
        for metadata in [PhoneMetadata.metadata_for_region(r) for r in SUPPORTED_REGIONS]
        + [PhoneMetadata.metadata_for_nongeo_region(c) for c in COUNTRY_CODES_FOR_NON_GEO_REGIONS]
    ]
    return min(len(str(code)) + length for code, length in found if length is not None)


def test_the_digit_floor_of_the_phone_check_is_below_every_valid_number() -> None:
    # Text with fewer digits skips the matcher: a metadata update with shorter numbers
    # must lower the floor, or such numbers would pass as tags.
    assert _fewest_valid_digits() >= FEWEST_PHONE_DIGITS
    assert has_phone_number("+4312345")  # Austria: 7 digits, found by the matcher
    assert has_phone_number("x-138-0013-8000")
    assert not has_phone_number("q4-2025")  # 5 digits: no number can be written with them


def test_tags_stay_words_in_any_script() -> None:
    zelda = customer()
    tags = ["vip", "高价值", "key-account", "2024-2025", "潜力客户-3fa91234", "b2b_eu"]
    zelda.tag([t.upper() for t in tags], at=AT)
    assert set(zelda.tags) == set(tags)


def test_a_tag_recorded_before_the_rule_can_still_be_removed() -> None:
    zelda = customer()
    zelda.tags.append("old tag")  # as replayed from history
    zelda.untag(["Old Tag"], at=AT)
    assert zelda.tags == []


def test_a_complaint_category_is_a_label() -> None:
    with pytest.raises(ValidationFailed) as error:
        Complaint.file(
            complaint_id=uuid4(),
            customer=customer(),
            category=EMAIL,
            severity="LOW",
            description="d",
            at=AT,
        )
    assert field_of(error) == "category"


def test_order_ids_skus_need_and_survey_ids_cannot_hold_an_email() -> None:
    policy = Policy.default()
    line = PurchaseLine(sku="A-1", quantity=1, unit_price=Decimal("1.00"))
    with pytest.raises(ValidationFailed) as error:
        customer().record_purchase(order_id=EMAIL, lines=[line], policy=policy, at=AT)
    assert field_of(error) == "orderId"
    bad_line = PurchaseLine(sku=EMAIL, quantity=1, unit_price=Decimal("1.00"))
    with pytest.raises(ValidationFailed) as error:
        customer().record_purchase(order_id="SO-1", lines=[bad_line], policy=policy, at=AT)
    assert field_of(error) == "lines[0].sku"
    with pytest.raises(ValidationFailed) as error:
        customer().record_need(need_id=EMAIL, description="d", at=AT)
    assert field_of(error) == "needId"
    with pytest.raises(ValidationFailed) as error:
        customer().answer_survey(survey_id=f"s {EMAIL}", score=3, at=AT)
    assert field_of(error) == "surveyId"
    customer().record_purchase(order_id="20250301000123", lines=[line], policy=policy, at=AT)


def test_clear_descriptive_fields_refuse_contact_data() -> None:
    with pytest.raises(ValidationFailed) as error:
        Customer.register(customer_id=uuid4(), name="Z", company=f"Acme ({EMAIL})", at=AT)
    assert field_of(error) == "company"
    with pytest.raises(ValidationFailed) as error:
        customer().change_contact_details(company="Acme +86 139 1234 5678", at=AT)
    assert field_of(error) == "company"
    with pytest.raises(ValidationFailed) as error:
        customer().forget(reason=f"asked by {EMAIL}", at=AT)
    assert field_of(error) == "reason"
    customer().forget(reason="GDPR art. 17 request #81", at=AT)


# -- sealing ---------------------------------------------------------------------------


class KeyTable:
    def __init__(self, master: MasterKey) -> None:
        self.master = master
        self.rows: dict[UUID, bytes] = {}

    def add(self, customer_id: UUID) -> None:
        self.rows[customer_id] = self.master.new_data_key(customer_id)[1]

    def fetch(self, ids: Any) -> dict[UUID, bytes]:
        return {i: self.rows[i] for i in ids if i in self.rows}


def crm_mapper() -> tuple[CrmMapper, KeyTable]:
    master = MasterKey(generate_master_key())
    table = KeyTable(master)
    transcoder = JSONTranscoder()
    Application.register_transcodings(None, transcoder)  # type: ignore[arg-type]
    return CrmMapper(transcoder, KeyRing(master, table.fetch, ttl=5.0)), table


def test_touch_outcome_and_need_interest_are_sealed() -> None:
    mapper, table = crm_mapper()
    zelda = customer()
    table.add(zelda.id)
    zelda.record_touch(channel="EMAIL", outcome=f"write to {EMAIL}", at=AT)
    zelda.record_need(need_id="n1", description="d", product_interest=EMAIL, at=AT)
    for event in zelda.collect_events()[1:]:
        stored = mapper.to_stored_event(event)
        assert EMAIL.encode() not in stored.state
        expected = {"outcome"} if isinstance(event, ContactTouchRecorded) else {"product_interest"}
        assert set(mapper.transcoder.decode(stored.state)[SEALED]) >= expected
        assert mapper.to_domain_event(stored) == event
    assert ContactTouchRecorded.class_version == 3 and NeedRecorded.class_version == 2


def test_history_stored_in_clear_reads_as_none_once_the_key_is_gone() -> None:
    """A v2 touch (outcome in clear) reads back as v3 while the key exists, then None."""
    mapper, table = crm_mapper()
    cid = uuid4()
    table.add(cid)
    state = {
        "timestamp": AT,
        "channel": "PHONE",
        "direction": "INBOUND",
        "summary": None,
        "outcome": f"call back at {EMAIL}",
        "class_version": 2,
    }
    topic = "events.customer:ContactTouchRecorded"
    v2 = StoredEvent(cid, 2, topic, mapper.transcoder.encode(state))
    assert mapper.decode(v2).outcome == f"call back at {EMAIL}"
    assert mapper.decode(v2, redact=True).outcome is None
    mapper.keys.tombstone(cid)
    assert mapper.decode(v2).outcome is None


# -- needles ---------------------------------------------------------------------------


def test_contact_data_is_extracted_from_free_text() -> None:
    text = f"Mail {EMAIL} or call +86 139-1234-5678; order SO-2025-000123"
    assert emails_in(text) == [EMAIL]
    assert phones_in(text) == ["+86 139-1234-5678"]
    needles = Needles()
    needles.add("email", EMAIL)
    needles.add_contacts("outcome", text)
    needles.add_contacts("outcome", "and 13812345678")
    assert needles.by_label == {
        "email": EMAIL,
        "outcome:phone": "+86 139-1234-5678",
        "outcome:phone#2": "13812345678",
    }

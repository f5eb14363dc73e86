"""Touches, needs, owners, consents, surveys and referrals."""

from __future__ import annotations

from uuid import uuid4

import pytest

from events import (
    ConsentChanged,
    ContactTouchRecorded,
    NeedRecorded,
    OwnerAssigned,
    ReferralRecorded,
    SatisfactionSurveyAnswered,
)
from tests.unit.support.aggregates import later, new_customer, only_event, refused


def test_touch_defaults_to_outbound_and_counts_per_channel() -> None:
    customer = new_customer()
    customer.record_touch(channel="wechat", summary=" asked about price ", at=later())
    event = only_event(customer)
    assert isinstance(event, ContactTouchRecorded)
    assert (event.channel, event.direction, event.summary, event.outcome) == (
        "WECHAT",
        "OUTBOUND",
        "asked about price",
        None,
    )
    customer.record_touch(channel="WECHAT", direction="inbound", outcome="call back", at=later(2))
    assert only_event(customer).direction == "INBOUND"
    assert customer.touch_counts == {"WECHAT": 2}
    assert customer.last_touch_at == later(2)


@pytest.mark.parametrize(
    "channel", ["PHONE", "EMAIL", "MEETING", "VISIT", "WECHAT", "SOCIAL", "WEB", "OTHER"]
)
def test_every_channel_of_the_vocabulary_is_accepted(channel: str) -> None:
    customer = new_customer()
    customer.record_touch(channel=channel, at=later())
    assert only_event(customer).channel == channel


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channel": "FAX"}, "channel"),
        ({"channel": "PHONE", "direction": "SIDEWAYS"}, "direction"),
        ({"channel": "PHONE", "summary": "x" * 5001}, "summary"),
    ],
)
def test_touch_validation(kwargs: dict[str, str], field: str) -> None:
    customer = new_customer()
    with refused("VALIDATION", field, customer):
        customer.record_touch(at=later(), **kwargs)


def test_need_is_recorded_with_trimmed_text() -> None:
    customer = new_customer()
    customer.record_need(
        need_id="N-1", description=" bulk pricing ", product_interest=" Pro ", at=later()
    )
    event = only_event(customer)
    assert isinstance(event, NeedRecorded)
    assert (event.need_id, event.description, event.product_interest) == (
        "N-1",
        "bulk pricing",
        "Pro",
    )
    assert customer.need_count == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"need_id": "N", "description": "  "}, "description"),
        ({"need_id": "N", "description": "x" * 5001}, "description"),
        ({"need_id": "", "description": "d"}, "needId"),
    ],
)
def test_need_validation(kwargs: dict[str, str], field: str) -> None:
    customer = new_customer()
    with refused("VALIDATION", field, customer):
        customer.record_need(at=later(), **kwargs)


def test_a_need_id_is_recorded_once_per_customer() -> None:
    # openNeeds lists needs by id: a second need under the same id must not replace
    # the first one there (noteId has the same rule).
    customer = new_customer()
    customer.record_need(need_id="N-1", description="10 laptops", at=later())
    only_event(customer)
    with refused("RULE", "needId", customer):
        customer.record_need(need_id="N-1", description="something else", at=later(2))
    customer.record_need(need_id="N-2", description="something else", at=later(3))
    assert only_event(customer).need_id == "N-2"
    assert customer.need_count == 2


def test_assign_owner_records_previous_owner_and_skips_no_change() -> None:
    customer = new_customer(owner="alice")
    customer.assign_owner(owner=" bob ", at=later())
    event = only_event(customer)
    assert isinstance(event, OwnerAssigned)
    assert (event.owner, event.previous_owner) == ("bob", "alice")
    customer.assign_owner(owner="bob", at=later(2))
    assert customer.collect_events() == []
    with refused("VALIDATION", "owner", customer):
        customer.assign_owner(owner="", at=later(3))


def test_consent_per_purpose_and_per_channel() -> None:
    customer = new_customer()
    customer.change_consent(purpose="Marketing", granted=True, at=later())
    event = only_event(customer)
    assert isinstance(event, ConsentChanged)
    assert (event.purpose, event.channel, event.granted) == ("marketing", None, True)
    customer.change_consent(purpose="marketing", channel="email", granted=False, at=later(2))
    assert only_event(customer).channel == "EMAIL"
    assert customer.consents == {"marketing": True, "marketing:EMAIL": False}


def test_a_backdated_consent_or_answer_is_recorded_but_the_latest_stays_current() -> None:
    # An old paper form entered today is evidence; it does not undo a newer decision.
    customer = new_customer()
    customer.change_consent(purpose="marketing", granted=True, at=later(60))
    customer.change_consent(purpose="marketing", granted=False, at=later(10))
    assert [e.granted for e in customer.collect_events() if isinstance(e, ConsentChanged)] == [
        True,
        False,
    ]
    assert customer.consents == {"marketing": True}
    customer.change_consent(purpose="marketing", granted=False, at=later(61))
    assert customer.consents == {"marketing": False}
    customer.answer_survey(survey_id="S-1", score=2, at=later(60))
    customer.answer_survey(survey_id="S-1", score=5, at=later(5))
    assert (customer.survey_count, customer.last_survey_score) == (2, 2)


def test_consent_validation() -> None:
    customer = new_customer()
    with refused("VALIDATION", "granted", customer):
        customer.change_consent(purpose="marketing", granted="yes", at=later())  # type: ignore[arg-type]
    with refused("VALIDATION", "channel", customer):
        customer.change_consent(purpose="marketing", channel="FAX", granted=True, at=later())
    with refused("VALIDATION", "purpose", customer):
        customer.change_consent(purpose=" ", granted=True, at=later())


@pytest.mark.parametrize("score", [1, 3, 5])
def test_survey_score_from_1_to_5_is_recorded(score: int) -> None:
    customer = new_customer()
    customer.answer_survey(survey_id="S-1", score=score, comment=" ok ", at=later())
    event = only_event(customer)
    assert isinstance(event, SatisfactionSurveyAnswered)
    assert (event.survey_id, event.score, event.comment) == ("S-1", score, "ok")
    assert (customer.survey_count, customer.last_survey_score) == (1, score)


@pytest.mark.parametrize("score", [0, 6, -3])
def test_survey_score_outside_1_to_5_is_refused(score: int) -> None:
    customer = new_customer()
    with refused("VALIDATION", "score", customer):
        customer.answer_survey(survey_id="S-1", score=score, at=later())


def test_referral_is_recorded_once_and_never_to_oneself() -> None:
    customer = new_customer()
    friend = uuid4()
    customer.record_referral(referred_customer_id=friend, at=later())
    event = only_event(customer)
    assert isinstance(event, ReferralRecorded)
    assert event.referred_customer_id == friend
    customer.record_referral(referred_customer_id=friend, at=later(2))
    assert customer.collect_events() == []
    with refused("RULE", "referredCustomerId", customer):
        customer.record_referral(referred_customer_id=customer.id, at=later(3))
    assert customer.referrals == [friend]

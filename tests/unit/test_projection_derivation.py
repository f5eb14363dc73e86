"""The stored answer and its `valid_until`: the first moment time alone changes it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.derivation import TICK, answer_at, derive
from projections.derived import ComplaintFact, PurchaseFact
from tests.support.projection_cases import DAY, NOW


def bought(*ages: float, amount: str = "100") -> list[PurchaseFact]:
    return [PurchaseFact(NOW - age * DAY, Decimal(amount)) for age in ages]


def test_a_new_customer_is_at_risk_the_instant_after_day_90() -> None:
    derived = derive("WON", bought(0), [], NOW)
    assert (derived.lifecycle_stage, derived.tier) == ("NEW_CUSTOMER", "BRONZE")
    assert derived.valid_until == NOW + 90 * DAY + TICK
    assert derived.as_of == NOW


@pytest.mark.parametrize(
    ("age", "stage", "until"),
    [
        (90, "NEW_CUSTOMER", NOW + TICK),
        (91, "AT_RISK", NOW + 89 * DAY + TICK),
        (180, "AT_RISK", NOW + TICK),
        (181, "CHURNED", None),
    ],
)
def test_recency_boundaries(age: int, stage: str, until: object) -> None:
    derived = derive("LEAD", bought(age), [], NOW)
    assert (derived.lifecycle_stage, derived.valid_until) == (stage, until)


def test_a_churned_customer_still_expires_when_its_tier_falls() -> None:
    derived = derive("LEAD", bought(200, amount="50000"), [], NOW)
    assert (derived.lifecycle_stage, derived.tier) == ("CHURNED", "GOLD")
    assert derived.valid_until == NOW + 165 * DAY + TICK
    assert answer_at("LEAD", bought(200, amount="50000"), [], derived.valid_until)[1] == "BRONZE"


def test_loyal_ends_when_the_fifth_purchase_leaves_the_year() -> None:
    purchases = bought(1, 2, 3, 4, 300)
    derived = derive("LEAD", purchases, [], NOW)
    assert derived.lifecycle_stage == "LOYAL"
    # Day 65: the 300-day-old purchase leaves the year, before the newest turns 90 days old.
    assert derived.valid_until == NOW + 65 * DAY + TICK
    assert answer_at("LEAD", purchases, [], derived.valid_until)[0] == "REPEAT_CUSTOMER"


def test_vip_by_count_falls_when_the_twelfth_purchase_ages_out() -> None:
    purchases = bought(*range(1, 12), 364, amount="4200")
    derived = derive("LEAD", purchases, [], NOW)
    assert derived.tier == "VIP"
    assert derived.valid_until == NOW + 1 * DAY + TICK
    assert answer_at("LEAD", purchases, [], derived.valid_until)[1] == "GOLD"


def test_the_365th_day_still_counts() -> None:
    derived = derive("LEAD", bought(365, amount="100000"), [], NOW)
    assert derived.tier == "VIP"
    assert derived.valid_until == NOW + TICK


def test_a_future_purchase_comes_due() -> None:
    derived = derive("LEAD", bought(-2), [], NOW)
    assert derived.lifecycle_stage == "PROSPECT"
    assert derived.valid_until == NOW + 2 * DAY


def test_an_open_complaint_ends_at_its_resolution() -> None:
    complaint = ComplaintFact("HIGH", NOW - DAY, NOW + 3 * DAY)
    derived = derive("WON", bought(1), [complaint], NOW)
    assert derived.lifecycle_stage == "AT_RISK"
    assert derived.reason.startswith("open complaint")
    assert derived.valid_until == NOW + 3 * DAY


def test_a_prospect_never_expires() -> None:
    assert derive("QUALIFIED", [], [], NOW).valid_until is None


@settings(max_examples=60, deadline=None)
@given(
    ages=st.lists(st.integers(min_value=-30, max_value=400), max_size=8),
    amount=st.sampled_from(["100", "3000", "9000", "60000"]),
    probe=st.integers(min_value=0, max_value=10**6),
)
def test_the_answer_holds_until_valid_until_and_not_after(
    ages: list[int], amount: str, probe: int
) -> None:
    purchases = bought(*ages, amount=amount)
    derived = derive("CONTACTED", purchases, [], NOW)
    answer = (derived.lifecycle_stage, derived.tier)
    end = derived.valid_until or NOW + 1000 * DAY
    inside = NOW + (end - NOW - TICK) * (probe / 10**6)
    assert answer_at("CONTACTED", purchases, [], inside)[:2] == answer
    if derived.valid_until is not None:
        assert answer_at("CONTACTED", purchases, [], derived.valid_until)[:2] != answer
    else:
        assert answer_at("CONTACTED", purchases, [], NOW + timedelta(days=1000))[:2] == answer

"""Every row of RULES.md's lifecycle and tier tables, with their boundaries, in Python.

The same cases (tests/support/projection_cases.py) run through the SQL expressions
against PostgreSQL in tests/integration/test_projection_rules.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from projections.derived import (
    ComplaintFact,
    PurchaseFact,
    Thresholds,
    facts_as_of,
    lifecycle_stage,
    tier,
)
from tests.support.projection_cases import DAY, LIFECYCLE_CASES, NOW, TIER_CASES, Case, bought


@pytest.mark.parametrize("case", LIFECYCLE_CASES, ids=lambda c: c.name)
def test_lifecycle_stage(case: Case) -> None:
    assert lifecycle_stage(case.facts(), NOW) == case.expected


@pytest.mark.parametrize("case", TIER_CASES, ids=lambda c: c.name)
def test_tier(case: Case) -> None:
    assert tier(case.facts()) == case.expected


@pytest.mark.parametrize(
    ("days_later", "expected"),
    [
        (0, "NEW_CUSTOMER"),
        (90, "NEW_CUSTOMER"),
        (91, "AT_RISK"),
        (180, "AT_RISK"),
        (181, "CHURNED"),
    ],
)
def test_time_passing_changes_the_stage_without_any_event(days_later: int, expected: str) -> None:
    case = Case("one purchase, then nothing", "", purchases=bought(0))
    later = NOW + days_later * DAY
    assert lifecycle_stage(case.facts(later), later) == expected


def test_tier_falls_as_purchases_leave_the_window() -> None:
    case = Case("a big purchase", "", purchases=bought(0, amount="150000"))
    assert tier(case.facts(NOW + 365 * DAY)) == "VIP"
    assert tier(case.facts(NOW + 366 * DAY)) == "BRONZE"


def test_a_complaint_is_open_from_filing_until_resolution() -> None:
    complaint = ComplaintFact("HIGH", NOW, NOW + 10 * DAY)
    purchase = PurchaseFact(NOW - DAY, Decimal(1))

    def stage_at(at: datetime) -> str:
        facts = facts_as_of(stage="WON", purchases=[purchase], complaints=[complaint], now=at)
        return lifecycle_stage(facts, at)

    assert stage_at(NOW - timedelta(seconds=1)) == "NEW_CUSTOMER"
    assert stage_at(NOW + DAY) == "AT_RISK"
    assert stage_at(NOW + 10 * DAY) == "NEW_CUSTOMER"


def test_thresholds_are_configuration() -> None:
    strict = Thresholds(at_risk_after=timedelta(days=30), silver_total=Decimal(50))
    case = Case("bought 31 days ago", "", purchases=bought(31, amount="60"))
    assert lifecycle_stage(case.facts(), NOW, strict) == "AT_RISK"
    assert lifecycle_stage(case.facts(), NOW) == "NEW_CUSTOMER"
    assert tier(case.facts(), strict) == "SILVER"


def test_opportunity_stages_must_be_pipeline_stages() -> None:
    with pytest.raises(ValueError, match="not pipeline stages"):
        Thresholds(opportunity_stages=("QUALIFIED", "MAYBE"))

"""`advance_lifecycle`: the scheduler's command records what time alone changed, only that."""

from __future__ import annotations

from typing import Any

from events import LifecycleStageChanged, TierChanged
from tests.unit.support.aggregates import later, new_customer, only_event, refused

STAGE = {"from_stage": "NEW_CUSTOMER", "to_stage": "AT_RISK", "stage_reason": "day 91"}
TIER = {"from_tier": "GOLD", "to_tier": "GOLD", "tier_reason": "unchanged"}


def advance(customer: Any, **changes: str) -> None:
    customer.advance_lifecycle(**{**STAGE, **TIER, **changes}, at=later())


def test_a_stage_change_is_recorded_with_its_reason() -> None:
    customer = new_customer()
    advance(customer)
    event = only_event(customer)
    assert isinstance(event, LifecycleStageChanged)
    assert (event.from_stage, event.to_stage, event.reason) == ("NEW_CUSTOMER", "AT_RISK", "day 91")
    assert customer.lifecycle_stage == "AT_RISK"


def test_a_tier_change_alone_records_only_the_tier() -> None:
    customer = new_customer()
    advance(customer, to_stage="NEW_CUSTOMER", to_tier="BRONZE", tier_reason="left the window")
    event = only_event(customer)
    assert isinstance(event, TierChanged)
    assert (event.from_tier, event.to_tier) == ("GOLD", "BRONZE")


def test_equal_values_record_nothing() -> None:
    customer = new_customer()
    advance(customer, to_stage="NEW_CUSTOMER")
    assert customer.collect_events() == []


def test_unknown_values_are_validation_errors_naming_the_field() -> None:
    customer = new_customer()
    with refused("VALIDATION", "toStage", customer):
        advance(customer, to_stage="SLEEPY")
    with refused("VALIDATION", "fromTier", customer):
        advance(customer, from_tier="PLATINUM")


def test_a_merged_duplicate_takes_no_lifecycle_command() -> None:
    survivor, duplicate = new_customer(), new_customer()
    duplicate.merge_into(survivor, at=later())
    duplicate.collect_events()
    with refused("RULE", "customerId", duplicate):
        advance(duplicate)

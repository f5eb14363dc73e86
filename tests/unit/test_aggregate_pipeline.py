"""Pipeline stage moves (RULES.md "Pipeline stages")."""

from __future__ import annotations

import pytest

from aggregates import Policy
from events import StageMoved
from tests.unit.support.aggregates import (
    AT,
    customer_at,
    later,
    new_customer,
    only_event,
    refused,
)

OPEN_STAGES = ["LEAD", "CONTACTED", "QUALIFIED", "PROPOSAL", "QUOTE", "NEGOTIATION"]


def test_a_new_customer_starts_at_lead() -> None:
    assert new_customer().stage == "LEAD"


def test_moving_forward_one_stage() -> None:
    customer = new_customer()
    customer.move_stage(to="CONTACTED", at=later())
    event = only_event(customer)
    assert isinstance(event, StageMoved)
    assert (event.from_stage, event.to_stage, event.reason) == ("LEAD", "CONTACTED", None)
    assert customer.stage == "CONTACTED"
    assert customer.stage_history == [("LEAD", AT), ("CONTACTED", later())]


def test_moving_forward_may_skip_stages() -> None:
    customer = new_customer()
    customer.move_stage(to="QUOTE", at=later())
    assert (only_event(customer).from_stage, customer.stage) == ("LEAD", "QUOTE")


def test_stage_names_forgive_case() -> None:
    customer = new_customer()
    customer.move_stage(to=" proposal ", at=later())
    assert only_event(customer).to_stage == "PROPOSAL"


def test_moving_backward_without_reason_is_validation_on_reason() -> None:
    customer = customer_at("PROPOSAL")
    with refused("VALIDATION", "reason", customer):
        customer.move_stage(to="CONTACTED", at=later(2))
    with refused("VALIDATION", "reason", customer):
        customer.move_stage(to="CONTACTED", reason="   ", at=later(2))


def test_moving_backward_with_reason_is_recorded() -> None:
    customer = customer_at("PROPOSAL")
    customer.move_stage(to="CONTACTED", reason=" budget frozen ", at=later(2))
    event = only_event(customer)
    assert (event.from_stage, event.to_stage, event.reason) == (
        "PROPOSAL",
        "CONTACTED",
        "budget frozen",
    )


@pytest.mark.parametrize("stage", [*OPEN_STAGES, "LOST"])
def test_moving_to_the_current_stage_is_refused(stage: str) -> None:
    customer = customer_at(stage)
    with refused("RULE", "to", customer):
        customer.move_stage(to=stage, reason="again", at=later(2))


@pytest.mark.parametrize("target", [*OPEN_STAGES, "LOST"])
def test_won_is_final(target: str) -> None:
    customer = customer_at("WON")
    with refused("RULE", "to", customer):
        customer.move_stage(to=target, reason="please", at=later(2))


@pytest.mark.parametrize("stage", OPEN_STAGES)
def test_lost_is_reachable_from_any_open_stage(stage: str) -> None:
    customer = customer_at(stage)
    customer.move_stage(to="LOST", at=later(2))
    event = only_event(customer)
    assert (event.from_stage, event.to_stage) == (stage, "LOST")
    assert customer.stage == "LOST"


@pytest.mark.parametrize("target", ["CONTACTED", "QUALIFIED", "NEGOTIATION", "WON"])
def test_lost_goes_back_to_lead_only(target: str) -> None:
    customer = customer_at("LOST")
    with refused("RULE", "to", customer):
        customer.move_stage(to=target, reason="won back", at=later(2))


def test_lost_back_to_lead_needs_a_reason() -> None:
    customer = customer_at("LOST")
    with refused("VALIDATION", "reason", customer):
        customer.move_stage(to="LEAD", at=later(2))


def test_lost_back_to_lead_with_a_reason_wins_the_customer_back() -> None:
    customer = customer_at("LOST")
    customer.move_stage(to="LEAD", reason="won back", at=later(2))
    event = only_event(customer)
    assert (event.from_stage, event.to_stage, event.reason) == ("LOST", "LEAD", "won back")
    assert [stage for stage, _ in customer.stage_history] == ["LEAD", "LOST", "LEAD"]


@pytest.mark.parametrize("target", ["SIGNED", "", None, 3])
def test_unknown_stage_is_validation_on_to(target: object) -> None:
    customer = new_customer()
    with refused("VALIDATION", "to", customer):
        customer.move_stage(to=target, at=later())  # type: ignore[arg-type]


def test_stage_list_is_configuration() -> None:
    policy = Policy(stages=("LEAD", "DEMO", "WON"))
    customer = new_customer()
    customer.move_stage(to="DEMO", at=later(), policy=policy)
    assert customer.stage == "DEMO"
    customer.collect_events()
    with refused("VALIDATION", "to", customer):
        customer.move_stage(to="QUOTE", at=later(2), policy=policy)

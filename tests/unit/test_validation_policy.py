"""Policy defaults (RULES.md) and the error types' contract."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from aggregates import (
    DEFAULT_RATES_TO_CNY,
    Conflict,
    DomainError,
    NotFound,
    Policy,
    RuleViolated,
    ValidationFailed,
)


def test_default_policy_has_the_rules_md_defaults() -> None:
    policy = Policy.default()
    assert policy.base_currency == "CNY"
    assert policy.max_tags == 50
    assert policy.stages == (
        "LEAD",
        "CONTACTED",
        "QUALIFIED",
        "PROPOSAL",
        "QUOTE",
        "NEGOTIATION",
        "WON",
    )
    assert policy.all_stages[-1] == "LOST"
    assert not hasattr(policy, "churned_after_days"), "lifecycle thresholds: Thresholds only"
    assert policy.rates_to_cny == DEFAULT_RATES_TO_CNY


def test_rates_are_looked_up_and_unknown_currency_is_validation_on_currency() -> None:
    policy = Policy.default()
    assert policy.rate_to_cny("CNY") == Decimal(1)
    assert policy.rate_to_cny("USD") == Decimal("7.10")
    with pytest.raises(ValidationFailed) as error:
        policy.rate_to_cny("XYZ")
    assert error.value.field == "currency"


def test_policy_rate_table_is_frozen_and_upper_cased() -> None:
    policy = Policy(rates_to_cny={"cny": Decimal(1), "usd": Decimal("7.2")})
    assert dict(policy.rates_to_cny) == {"CNY": Decimal(1), "USD": Decimal("7.2")}
    with pytest.raises(TypeError):
        policy.rates_to_cny["EUR"] = Decimal(8)  # type: ignore[index]


@pytest.mark.parametrize(
    "rates",
    [
        {"CNY": 1.0},
        {"CNY": Decimal(1), "USD": Decimal(0)},
        {"USD": Decimal(7)},
        {"CNY": Decimal(2)},
    ],
)
def test_policy_refuses_float_zero_or_missing_base_rates(rates: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Policy(rates_to_cny=rates)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "stages", [("CONTACTED", "WON"), ("LEAD", "QUOTE"), ("LEAD", "LOST", "WON"), ("LEAD",)]
)
def test_policy_stage_list_must_run_from_lead_to_won(stages: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        Policy(stages=stages)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (ValidationFailed, "VALIDATION"),
        (RuleViolated, "RULE"),
        (Conflict, "CONFLICT"),
        (NotFound, "NOT_FOUND"),
    ],
)
def test_errors_carry_code_and_field_and_survive_pickling(
    cls: type[DomainError], code: str
) -> None:
    error = cls("bad input", field="lines[0].quantity")
    assert isinstance(error, DomainError)
    assert (error.code, error.field, str(error)) == (code, "lines[0].quantity", "bad input")
    assert error.as_dict() == {"code": code, "message": "bad input", "field": "lines[0].quantity"}
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.field, copy.message) == (cls, error.field, error.message)
    assert cls("no field").field is None


def test_policies_are_hashable_and_compare_by_value() -> None:
    first = Policy(rates_to_cny={"CNY": Decimal(1), "USD": Decimal("7.1")})
    second = Policy(rates_to_cny={"USD": Decimal("7.10"), "CNY": Decimal("1")})
    assert first == second
    assert hash(first) == hash(second)
    assert first != Policy.default()


def test_a_policy_travels_to_a_worker_process_intact() -> None:
    # `crm seed --processes 2` sends the deployment's policy to its workers by pickle;
    # the frozen rate table (a mappingproxy) could not be pickled.
    policy = Policy(rates_to_cny={"CNY": Decimal("1"), "usd": Decimal("7.2")}, max_tags=20)
    copy = pickle.loads(pickle.dumps(policy))
    assert copy == policy and hash(copy) == hash(policy)
    assert dict(copy.rates_to_cny) == {"CNY": Decimal("1"), "USD": Decimal("7.2")}
    with pytest.raises(TypeError):
        copy.rates_to_cny["USD"] = Decimal("1")  # type: ignore[index]

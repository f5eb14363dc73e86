"""Configurable business thresholds, with the defaults RULES.md gives.

RULES.md says thresholds and stage lists are configuration, not constants in code, so
commands take a `Policy`. The lifecycle and tier thresholds are the read side's alone
(no command depends on them): they are defined once, in `projections.derived.Thresholds`.
The ops layer builds one from settings (``Policy(rates_to_cny=settings.rates_to_cny)``);
everything else can use `Policy.default()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from aggregates.errors import ValidationFailed
from events.vocabulary import LEAD, LOST, PIPELINE_PATH, WON

# Same table as ops/config.py's DEFAULT_RATES_TO_CNY (aggregates may not import ops).
DEFAULT_RATES_TO_CNY: Mapping[str, Decimal] = MappingProxyType(
    {
        "CNY": Decimal("1"),
        "USD": Decimal("7.10"),
        "EUR": Decimal("7.70"),
        "GBP": Decimal("9.00"),
        "JPY": Decimal("0.048"),
        "HKD": Decimal("0.91"),
    }
)


@dataclass(frozen=True)
class Policy:
    """Everything a deployment may tune. Immutable so it can be shared freely."""

    rates_to_cny: Mapping[str, Decimal] = field(default_factory=lambda: DEFAULT_RATES_TO_CNY)
    base_currency: str = "CNY"
    max_tags: int = 50
    default_phone_region: str = "CN"
    # The ordered path; LEAD first and WON last (the rules name both).
    stages: tuple[str, ...] = PIPELINE_PATH
    lost_stage: str = LOST

    def __post_init__(self) -> None:
        rates = {str(code).strip().upper(): rate for code, rate in self.rates_to_cny.items()}
        for code, rate in rates.items():
            if isinstance(rate, float) or not isinstance(rate, Decimal):
                raise ValueError(f"rate for {code} must be a Decimal, not {type(rate).__name__}")
            if not rate.is_finite() or rate <= 0:
                raise ValueError(f"rate for {code} must be positive, got {rate}")
        base = self.base_currency.strip().upper()
        if rates.get(base) != Decimal(1):
            raise ValueError(f"the base currency {base} must have rate 1")
        if len(self.stages) < 2 or self.stages[0] != LEAD or self.stages[-1] != WON:
            raise ValueError("stages must start at LEAD and end at WON")
        if len(set(self.stages)) != len(self.stages) or self.lost_stage in self.stages:
            raise ValueError("stages must be distinct and must not contain the lost stage")
        if self.max_tags < 1:
            raise ValueError("max_tags must be at least 1")
        # Freeze the table: a shared policy must not change under anyone's feet.
        object.__setattr__(self, "rates_to_cny", MappingProxyType(rates))
        object.__setattr__(self, "base_currency", base)

    def __hash__(self) -> int:
        # The rate table is a mapping (unhashable); hash its items so policies can key caches.
        values = [getattr(self, f.name) for f in fields(self) if f.name != "rates_to_cny"]
        return hash((tuple(sorted(self.rates_to_cny.items())), *values))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Picklable for worker processes (`crm seed --processes`): the frozen rate table
        # (a mappingproxy) goes as a plain dict and is frozen again on arrival.
        values = [getattr(self, f.name) for f in fields(self)]
        return (type(self), (dict(self.rates_to_cny), *values[1:]))

    @classmethod
    def default(cls) -> Policy:
        """The RULES.md defaults."""
        return _DEFAULT

    @property
    def initial_stage(self) -> str:
        return self.stages[0]

    @property
    def won_stage(self) -> str:
        return self.stages[-1]

    @property
    def all_stages(self) -> tuple[str, ...]:
        """Every stage a customer can be in: the ordered path, then LOST."""
        return (*self.stages, self.lost_stage)

    def stage_rank(self, stage: str) -> int | None:
        """Position on the ordered path; None for LOST or an unknown stage."""
        try:
            return self.stages.index(stage)
        except ValueError:
            return None

    def is_open_stage(self, stage: str) -> bool:
        """Open stages are those LOST can be reached from: all but WON and LOST."""
        return stage in self.stages and stage != self.won_stage

    def rate_to_cny(self, currency: str) -> Decimal:
        """The configured rate; an unknown currency is the client's error, not ours."""
        try:
            return self.rates_to_cny[currency]
        except KeyError:
            known = ", ".join(sorted(self.rates_to_cny))
            raise ValidationFailed(
                f"unknown currency {currency!r}; known: {known}", field="currency"
            ) from None


_DEFAULT = Policy()

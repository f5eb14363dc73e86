"""Write-side domain model: aggregates, validation and policy (rules from RULES.md).

Pure code: no I/O and no clock. Commands take business time `at` from the caller.

May import `events` only (import-linter checks it; `make lint`).
"""

from __future__ import annotations

from aggregates.complaint import Complaint
from aggregates.customer import UNSET, Customer, Unset
from aggregates.errors import Conflict, DomainError, NotFound, RuleViolated, ValidationFailed
from aggregates.policy import DEFAULT_RATES_TO_CNY, Policy
from aggregates.purchase import PricedPurchase, PurchaseLine, price_purchase

__all__ = [
    "DEFAULT_RATES_TO_CNY",
    "UNSET",
    "Complaint",
    "Conflict",
    "Customer",
    "DomainError",
    "NotFound",
    "Policy",
    "PricedPurchase",
    "PurchaseLine",
    "RuleViolated",
    "Unset",
    "ValidationFailed",
    "price_purchase",
]

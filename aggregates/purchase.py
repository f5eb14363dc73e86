"""Pricing a purchase: lines, currency conversion to the base currency, rounding.

Kept apart from the aggregate so the arithmetic is one small, testable function.
Amounts are rounded half-up to cents per line; the total is the sum of the rounded line
amounts (what an invoice shows), and the base-currency total is that total times the
rate, rounded once more. Everything leaves as decimal strings, never floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aggregates.errors import ValidationFailed
from aggregates.labels import check_identifier
from aggregates.policy import Policy
from aggregates.validation import (
    ID_MAX,
    check_currency,
    parse_money,
    parse_quantity,
)

CENT = Decimal("0.01")
MAX_LINES = 1000


@dataclass(frozen=True)
class PurchaseLine:
    """One line of an order as the client sends it; validated by `price_purchase`."""

    sku: str
    quantity: int
    unit_price: Decimal | str


@dataclass(frozen=True)
class PricedPurchase:
    """The validated purchase, ready to be recorded (see `PurchaseRecorded`)."""

    lines: list[dict[str, Any]]
    currency: str
    rate_to_cny: Decimal
    total: Decimal
    total_cny: Decimal


def to_cents(amount: Decimal) -> Decimal:
    """Round half-up to two places, the way invoices are rounded."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def decimal_text(amount: Decimal) -> str:
    """Fixed-point text (never exponent notation), as the event schemas expect."""
    return format(amount, "f")


def price_purchase(
    lines: Sequence[PurchaseLine], *, currency: str, policy: Policy
) -> PricedPurchase:
    """Validate every line and compute the totals; errors name ``lines[i].field``."""
    code = check_currency(currency)
    rate = policy.rate_to_cny(code)
    if isinstance(lines, str | bytes) or not isinstance(lines, Sequence) or not lines:
        raise ValidationFailed("a purchase needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        raise ValidationFailed(f"a purchase has at most {MAX_LINES} lines", field="lines")
    priced: list[dict[str, Any]] = []
    total = Decimal("0.00")
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        if not isinstance(line, PurchaseLine):
            raise ValidationFailed("each line needs sku, quantity and unitPrice", field=where)
        sku = check_identifier(line.sku, field=f"{where}.sku", max_length=ID_MAX)
        quantity = parse_quantity(line.quantity, field=f"{where}.quantity")
        unit_price = parse_money(line.unit_price, field=f"{where}.unitPrice")
        amount = to_cents(unit_price * quantity)
        if unit_price > 0 and amount.is_zero():
            # A price below half a cent a line would be recorded as a free line.
            raise ValidationFailed(
                f"{quantity} × {unit_price} rounds to 0.00: a priced line costs at least a "
                "cent (give 0 for a free item)",
                field=f"{where}.unitPrice",
            )
        total += amount
        priced.append(
            {
                "sku": sku,
                "quantity": quantity,
                "unit_price": decimal_text(unit_price),
                "amount": decimal_text(amount),
            }
        )
    return PricedPurchase(
        lines=priced,
        currency=code,
        rate_to_cny=rate,
        total=total,
        total_cny=to_cents(total * rate),
    )

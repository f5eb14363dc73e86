"""Purchases and money (RULES.md "Customer data": Money)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from aggregates import Policy, PurchaseLine
from events import PurchaseRecorded
from tests.unit.support.aggregates import (
    AT,
    POLICY,
    later,
    line,
    new_customer,
    only_event,
    refused,
)


def test_purchase_in_cny_records_lines_and_totals_as_decimal_strings() -> None:
    customer = new_customer()
    customer.record_purchase(
        order_id=" SO-1 ",
        lines=[line("A", 2, "19.99"), line("B", 1, Decimal("0.5"))],
        policy=POLICY,
        at=later(),
    )
    event = only_event(customer)
    assert isinstance(event, PurchaseRecorded)
    assert event.order_id == "SO-1"
    assert event.lines == [
        {"sku": "A", "quantity": 2, "unit_price": "19.99", "amount": "39.98"},
        {"sku": "B", "quantity": 1, "unit_price": "0.5", "amount": "0.50"},
    ]
    assert (event.currency, event.rate_to_cny, event.total, event.total_cny) == (
        "CNY",
        "1",
        "40.48",
        "40.48",
    )
    assert customer.purchase_count == 1
    assert customer.purchase_total_cny == Decimal("40.48")
    assert customer.first_purchase_at == customer.last_purchase_at == later()


def test_purchase_in_another_currency_is_converted_with_the_rate_table() -> None:
    customer = new_customer()
    customer.record_purchase(
        order_id="SO-2", lines=[line("A", 3, "19.99")], currency="usd", policy=POLICY, at=later()
    )
    event = only_event(customer)
    # 3 x 19.99 = 59.97 USD; x 7.10 = 425.787 -> 425.79 CNY (half-up to cents).
    assert (event.currency, event.rate_to_cny, event.total, event.total_cny) == (
        "USD",
        "7.10",
        "59.97",
        "425.79",
    )
    assert customer.purchase_total_cny == Decimal("425.79")


def test_rates_come_from_the_policy_not_from_code() -> None:
    policy = Policy(rates_to_cny={"CNY": Decimal(1), "USD": Decimal("7.00")})
    customer = new_customer()
    customer.record_purchase(
        order_id="SO-3", lines=[line("A", 1, "10")], currency="USD", policy=policy, at=later()
    )
    assert only_event(customer).total_cny == "70.00"


def test_unknown_currency_is_validation_on_currency() -> None:
    customer = new_customer()
    for currency in ("XYZ", "dollars", ""):
        with refused("VALIDATION", "currency", customer):
            customer.record_purchase(
                order_id="SO-4", lines=[line()], currency=currency, policy=POLICY, at=later()
            )


def test_money_is_never_a_float() -> None:
    customer = new_customer()
    with refused("VALIDATION", "lines[1].unitPrice", customer):
        customer.record_purchase(
            order_id="SO-5", lines=[line(), line(unit_price=9.99)], policy=POLICY, at=later()
        )


@pytest.mark.parametrize(
    ("bad_line", "field"),
    [
        (PurchaseLine("A", 1, "-0.01"), "lines[0].unitPrice"),
        (PurchaseLine("A", 0, "1"), "lines[0].quantity"),
        (PurchaseLine("A", 2.0, "1"), "lines[0].quantity"),  # type: ignore[arg-type]
        (PurchaseLine("  ", 1, "1"), "lines[0].sku"),
        ({"sku": "A", "quantity": 1, "unit_price": "1"}, "lines[0]"),
        (PurchaseLine("A", 1, "0.0049"), "lines[0].unitPrice"),  # would be a free line
    ],
)
def test_each_line_is_validated_with_its_index(bad_line: Any, field: str) -> None:
    customer = new_customer()
    with refused("VALIDATION", field, customer):
        customer.record_purchase(order_id="SO-6", lines=[bad_line], policy=POLICY, at=later())


def test_zero_unit_price_is_allowed() -> None:
    customer = new_customer()
    customer.record_purchase(
        order_id="FREE", lines=[line(unit_price="0")], policy=POLICY, at=later()
    )
    assert only_event(customer).total_cny == "0.00"


def test_a_unit_price_finer_than_a_cent_is_kept_and_the_line_rounded() -> None:
    """B2B unit prices go below a cent; the line's amount is what the invoice shows."""
    customer = new_customer()
    customer.record_purchase(
        order_id="FINE", lines=[line(quantity=3, unit_price="0.335")], policy=POLICY, at=later()
    )
    event = only_event(customer)
    assert (event.lines[0]["unit_price"], event.lines[0]["amount"]) == ("0.335", "1.01")


def test_a_purchase_needs_at_least_one_line() -> None:
    customer = new_customer()
    with refused("VALIDATION", "lines", customer):
        customer.record_purchase(order_id="SO-7", lines=[], policy=POLICY, at=later())


def test_order_id_is_required() -> None:
    customer = new_customer()
    with refused("VALIDATION", "orderId", customer):
        customer.record_purchase(order_id=" ", lines=[line()], policy=POLICY, at=later())


def test_duplicate_order_id_on_the_same_customer_is_refused() -> None:
    customer = new_customer()
    customer.record_purchase(order_id="SO-8", lines=[line()], policy=POLICY, at=later())
    customer.collect_events()
    with refused("RULE", "orderId", customer):
        customer.record_purchase(order_id=" SO-8 ", lines=[line()], policy=POLICY, at=later(2))


def test_purchase_dates_track_first_and_last_even_when_back_dated() -> None:
    customer = new_customer()
    customer.record_purchase(order_id="late", lines=[line()], policy=POLICY, at=later(60))
    customer.record_purchase(order_id="early", lines=[line()], policy=POLICY, at=AT)
    assert (customer.first_purchase_at, customer.last_purchase_at) == (AT, later(60))
    assert (customer.purchase_count, customer.purchase_total_cny) == (2, Decimal("20.00"))

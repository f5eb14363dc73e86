"""Field normalisation rules from RULES.md "Customer data", tested on the functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from aggregates.errors import ValidationFailed
from aggregates.validation import (
    check_bool,
    check_choice,
    check_purpose,
    check_satisfaction,
    check_score,
    check_uuid,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_tag,
    normalize_tags,
    normalize_text,
    parse_money,
    parse_quantity,
    require_aware,
)


def field_of(error: pytest.ExceptionInfo[ValidationFailed]) -> str | None:
    return error.value.field


# --- name ---------------------------------------------------------------


def test_name_is_trimmed() -> None:
    assert normalize_name("  Li Lei \n") == "Li Lei"


@pytest.mark.parametrize("value", [None, "", "   ", 42])
def test_name_is_required(value: Any) -> None:
    with pytest.raises(ValidationFailed) as error:
        normalize_name(value)
    assert field_of(error) == "name"


def test_name_is_at_most_200_characters_after_trimming() -> None:
    assert normalize_name(" " + "x" * 200 + " ") == "x" * 200
    with pytest.raises(ValidationFailed) as error:
        normalize_name("x" * 201)
    assert field_of(error) == "name"


# --- email ---------------------------------------------------------------


def test_email_is_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Li.Lei@Example.COM ") == "li.lei@example.com"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_email_is_optional(value: str | None) -> None:
    assert normalize_email(value) is None


@pytest.mark.parametrize("value", ["not-an-email", "a@b", "a@@example.com", "a b@example.com"])
def test_invalid_email_is_a_validation_error_on_email(value: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        normalize_email(value)
    assert field_of(error) == "email"


# --- phone ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("(010) 6552-9988", "+861065529988"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_phone_is_normalised_to_e164_reading_bare_numbers_as_mainland_china(
    given: str, e164: str
) -> None:
    assert normalize_phone(given) == e164


@pytest.mark.parametrize("value", ["12345", "abc", "+86 1", "1" * 70])
def test_invalid_phone_is_a_validation_error_on_phone(value: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        normalize_phone(value)
    assert field_of(error) == "phone"


def test_phone_is_optional() -> None:
    assert normalize_phone(None) is None
    assert normalize_phone("  ") is None


def test_phone_region_is_configurable() -> None:
    assert normalize_phone("650 253 0000", region="US") == "+16502530000"


# --- tags ----------------------------------------------------------------


def test_tag_is_trimmed_and_lower_cased() -> None:
    assert normalize_tag("  Big Spender ") == "big spender"


@pytest.mark.parametrize("value", ["", "   ", "x" * 51, None])
def test_tag_must_be_1_to_50_characters(value: Any) -> None:
    with pytest.raises(ValidationFailed):
        normalize_tag(value)
    assert normalize_tag("x" * 50) == "x" * 50


def test_tags_errors_name_the_index_and_duplicates_collapse() -> None:
    assert normalize_tags(["VIP", " vip", "B2B"]) == ["vip", "b2b"]
    with pytest.raises(ValidationFailed) as error:
        normalize_tags(["ok", "fine", "  "])
    assert field_of(error) == "tags[2]"


def test_a_single_string_is_one_tag_not_its_characters() -> None:
    assert normalize_tags("VIP") == ["vip"]


# --- money ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [("12.50", Decimal("12.50")), (Decimal("0.1"), Decimal("0.1")), (3, Decimal(3)), ("-0", 0)],
)
def test_money_is_an_exact_decimal(given: Any, expected: Decimal) -> None:
    amount = parse_money(given, field="unitPrice")
    assert isinstance(amount, Decimal)
    assert amount == expected
    assert not amount.is_signed()


@pytest.mark.parametrize("value", [0.1, 1.0, True])
def test_money_never_accepts_floats(value: Any) -> None:
    with pytest.raises(ValidationFailed) as error:
        parse_money(value, field="lines[0].unitPrice")
    assert field_of(error) == "lines[0].unitPrice"


@pytest.mark.parametrize(
    "value", ["abc", "NaN", "Infinity", "1e5", "", Decimal("NaN"), "-1", "1e16", "0.000000001"]
)
def test_money_rejects_non_numbers_negatives_and_absurd_values(value: Any) -> None:
    with pytest.raises(ValidationFailed):
        parse_money(value, field="unitPrice")


def test_quantity_is_a_whole_number_of_at_least_one() -> None:
    assert parse_quantity(3, field="q") == 3
    for bad in (0, -1, 1.5, "2", True, 10**7):
        with pytest.raises(ValidationFailed):
            parse_quantity(bad, field="q")


# --- dates ---------------------------------------------------------------


def test_business_time_is_stored_in_utc() -> None:
    beijing = datetime(2025, 3, 1, 17, 0, tzinfo=timezone(timedelta(hours=8)))
    stored = require_aware(beijing)
    assert stored == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)


def test_naive_business_time_is_refused_on_occurred_at() -> None:
    with pytest.raises(ValidationFailed) as error:
        require_aware(datetime(2025, 3, 1, 9, 0))
    assert field_of(error) == "occurredAt"


# --- scores, choices and the rest -----------------------------------------


@pytest.mark.parametrize("value", [1, 5])
def test_satisfaction_accepts_1_to_5(value: int) -> None:
    assert check_satisfaction(value) == value


@pytest.mark.parametrize("value", [0, 6, -1, 2.5, "3", True])
def test_satisfaction_outside_1_to_5_is_refused(value: Any) -> None:
    with pytest.raises(ValidationFailed) as error:
        check_satisfaction(value)
    assert field_of(error) == "satisfaction"


def test_satisfaction_is_optional() -> None:
    assert check_satisfaction(None) is None


def test_score_is_required() -> None:
    with pytest.raises(ValidationFailed) as error:
        check_score(None)
    assert field_of(error) == "score"


def test_choice_forgives_case_and_spaces_only() -> None:
    assert check_choice(" phone ", ("PHONE", "EMAIL"), field="channel") == "PHONE"
    with pytest.raises(ValidationFailed) as error:
        check_choice("FAX", ("PHONE", "EMAIL"), field="channel")
    assert field_of(error) == "channel"


def test_text_caps_and_blank_means_absent() -> None:
    assert normalize_text("  ", field="summary", max_length=5) is None
    with pytest.raises(ValidationFailed) as error:
        normalize_text("toolong", field="summary", max_length=5)
    assert field_of(error) == "summary"


def test_purpose_booleans_and_uuids() -> None:
    assert check_purpose(" Marketing ") == "marketing"
    for bad in ("", "1st", "_type_", "a b"):
        with pytest.raises(ValidationFailed):
            check_purpose(bad)
    with pytest.raises(ValidationFailed):
        check_bool(1, field="granted")
    with pytest.raises(ValidationFailed):
        check_uuid("nope", field="customerId")
    uuid = check_uuid("12345678-1234-5678-1234-567812345678", field="customerId")
    assert uuid.hex == "12345678123456781234567812345678"

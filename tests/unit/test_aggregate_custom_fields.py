"""Custom fields: the catalog's rules for definitions and the customer's rule for values
(`aggregates.custom_fields.check_values`), one test per refusal."""

from __future__ import annotations

from typing import Any

import pytest

from aggregates.custom_fields import CATALOG_ID, CustomFieldCatalog
from aggregates.errors import DomainError
from commands.mapper import personal_fields
from events import CustomFieldDefined, CustomFieldRetired, CustomFieldsChanged
from tests.unit.support.aggregates import AT, later, new_customer, only_event, refused


def catalog(*fields: dict[str, Any]) -> CustomFieldCatalog:
    made = CustomFieldCatalog.start(at=AT)
    for given in fields:
        made.define(**{"choices": (), "required": False, "at": AT, **given})
    made.collect_events()
    return made


def standard() -> CustomFieldCatalog:
    return catalog(
        {"key": "segment", "label": "行业细分", "field_type": "SINGLE_CHOICE",
         "choices": ("制造", "零售")},
        {"key": "renewal", "label": "合同到期日", "field_type": "DATE"},
        {"key": "seats", "label": "Seats", "field_type": "NUMBER"},
        {"key": "channels", "label": "Channels", "field_type": "MULTI_CHOICE",
         "choices": ("wechat", "email", "phone")},
        {"key": "remark", "label": "Remark", "field_type": "TEXT"},
    )  # fmt: skip


def set_values(values: dict[str, object], cat: CustomFieldCatalog | None = None) -> Any:
    customer = new_customer()
    customer.set_custom_fields(values=values, definitions=(cat or standard()).fields, at=later())
    return customer


def code_and_field(error: pytest.ExceptionInfo[DomainError]) -> tuple[str, str | None]:
    return error.value.code, error.value.field


def test_a_definition_is_recorded_with_its_type_and_choices() -> None:
    made = CustomFieldCatalog.start(at=AT)
    made.define(
        key="segment",
        label=" 行业细分 ",
        field_type="single_choice",
        choices=("制造", "零售"),
        required=True,
        at=later(),
    )
    event = made.collect_events()[-1]
    assert isinstance(event, CustomFieldDefined)
    assert (event.key, event.label, event.field_type, event.choices, event.required) == (
        "segment",
        "行业细分",
        "SINGLE_CHOICE",
        ["制造", "零售"],
        True,
    )
    assert made.id == CATALOG_ID and made.fields["segment"].required


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"key": "Segment"}, "key"),
        ({"key": "1st"}, "key"),
        ({"label": " "}, "label"),
        ({"field_type": "COLOUR"}, "type"),
        ({"field_type": "SINGLE_CHOICE", "choices": ()}, "choices"),
        ({"field_type": "TEXT", "choices": ("a",)}, "choices"),
        ({"field_type": "MULTI_CHOICE", "choices": ("a", "a")}, "choices[1]"),
        ({"field_type": "SINGLE_CHOICE", "choices": ("ok", "call 13800138000")}, "choices[1]"),
    ],
)
def test_a_bad_definition_is_refused_naming_its_field(given: dict[str, Any], field: str) -> None:
    made = catalog()
    fields = {"key": "k", "label": "L", "field_type": "TEXT", "choices": (), "required": False}
    with pytest.raises(DomainError) as error:
        made.define(**{**fields, **given}, at=later())
    assert code_and_field(error) == ("VALIDATION", field)
    assert made.pending_events == []


def test_a_key_is_defined_once_even_after_it_is_retired() -> None:
    made = catalog({"key": "seats", "label": "Seats", "field_type": "NUMBER"})
    made.retire(key="seats", at=later())
    assert isinstance(made.collect_events()[-1], CustomFieldRetired)
    assert made.fields["seats"].retired
    for act in (
        lambda: made.define(key="seats", label="S", field_type="TEXT", choices=(),
                            required=False, at=later(2)),
        lambda: made.retire(key="seats", at=later(2)),
    ):  # fmt: skip
        with pytest.raises(DomainError) as error:
            act()
        assert code_and_field(error) == ("RULE", "key")
    with pytest.raises(DomainError) as unknown:  # as an unknown team or department is
        made.retire(key="nothing", at=later(2))
    assert code_and_field(unknown) == ("NOT_FOUND", "key")


def test_values_are_stored_canonically_with_before_and_after() -> None:
    customer = set_values(
        {
            "segment": " 零售 ",
            "renewal": "2026-06-30",
            "seats": "12.50",
            "channels": ["phone", "wechat", "phone"],
            "remark": "prefers mornings",
        }
    )
    event = only_event(customer)
    assert isinstance(event, CustomFieldsChanged)
    assert event.changed == ["channels", "remark", "renewal", "seats", "segment"]
    assert {c["key"]: c["after"] for c in event.changes} == {
        "channels": ["phone", "wechat"],
        "renewal": "2026-06-30",
        "seats": "12.5",
        "segment": "零售",
    }
    assert all(c["before"] is None for c in event.changes)
    assert event.texts == [
        {"key": "remark", "type": "TEXT", "before": None, "after": "prefers mornings"}
    ]
    assert customer.custom_values_now()["seats"] == "12.5"


def test_text_values_are_personal_and_the_others_are_not() -> None:
    assert personal_fields(CustomFieldsChanged) == ("texts",)


def test_clearing_and_unchanged_values() -> None:
    customer = set_values({"seats": "3", "segment": "制造"})
    customer.collect_events()
    cat = standard()
    customer.set_custom_fields(values={"seats": "3"}, definitions=cat.fields, at=later(2))
    assert customer.pending_events == []
    customer.set_custom_fields(values={"seats": None}, definitions=cat.fields, at=later(2))
    event = only_event(customer)
    assert isinstance(event, CustomFieldsChanged)
    assert event.changes == [{"key": "seats", "type": "NUMBER", "before": "3", "after": None}]
    assert event.texts is None
    assert customer.custom_values_now() == {"segment": "制造"}


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"colour": "red"}, "VALIDATION", "customFields.colour"),
        ({"seats": "many"}, "VALIDATION", "customFields.seats"),
        ({"seats": "1e20"}, "VALIDATION", "customFields.seats"),
        ({"seats": "13800138000"}, "VALIDATION", "customFields.seats"),
        ({"seats": "1.1234567"}, "VALIDATION", "customFields.seats"),
        ({"seats": True}, "VALIDATION", "customFields.seats"),
        ({"seats": ["1"]}, "VALIDATION", "customFields.seats"),
        ({"renewal": "30/06/2026"}, "VALIDATION", "customFields.renewal"),
        ({"renewal": "2026-02-30"}, "VALIDATION", "customFields.renewal"),
        ({"segment": "金融"}, "VALIDATION", "customFields.segment"),
        ({"channels": ["fax"]}, "VALIDATION", "customFields.channels"),
        ({"remark": "x" * 2001}, "VALIDATION", "customFields.remark"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field(
    values: dict[str, object], code: str, field: str
) -> None:
    customer = new_customer()
    with refused(code, field, customer):
        customer.set_custom_fields(values=values, definitions=standard().fields, at=later())


def test_a_retired_field_takes_no_new_value() -> None:
    cat = standard()
    cat.retire(key="seats", at=later())
    customer = new_customer()
    with refused("RULE", "customFields.seats", customer):
        customer.set_custom_fields(values={"seats": "1"}, definitions=cat.fields, at=later())


def test_a_required_field_must_hold_a_value() -> None:
    cat = catalog(
        {"key": "segment", "label": "行业细分", "field_type": "SINGLE_CHOICE",
         "choices": ("制造",), "required": True},
        {"key": "seats", "label": "Seats", "field_type": "NUMBER"},
    )  # fmt: skip
    customer = new_customer()
    with refused("VALIDATION", "customFields.segment", customer):
        customer.set_custom_fields(values={"seats": "2"}, definitions=cat.fields, at=later())
    customer.set_custom_fields(
        values={"seats": "2", "segment": "制造"}, definitions=cat.fields, at=later()
    )
    customer.collect_events()
    with refused("VALIDATION", "customFields.segment", customer):
        customer.set_custom_fields(values={"segment": None}, definitions=cat.fields, at=later())


def test_a_closed_customer_takes_no_values() -> None:
    customer = new_customer()
    customer.forget(reason="request", at=later())
    customer.collect_events()
    with refused("RULE", "customerId", customer):
        customer.set_custom_fields(values={"seats": "1"}, definitions=standard().fields, at=later())

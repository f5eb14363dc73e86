"""Partial masks and the role matrix of personal fields (gateway.masking)."""

from __future__ import annotations

import pytest

from gateway.masking import (
    FIELD_MATRIX,
    PERSONAL_FIELDS,
    Visibility,
    mask,
    partial_email,
    partial_phone,
    shown,
    visibility,
)
from gateway.roles import Permission, Role, allows


def test_partial_phone_hides_the_middle_of_a_mainland_number() -> None:
    assert partial_phone("+8613800138000") == "138****8000"
    assert partial_phone("+14155550123") == "+14****0123"
    assert partial_phone("+85212") == "****12"


def test_partial_email_keeps_the_first_letter_and_the_domain() -> None:
    assert partial_email("zhang.san@example.com") == "z***@example.com"
    assert partial_email("z@example.com") == "z***@example.com"


@pytest.mark.parametrize(
    ("role", "field", "expected"),
    [
        (Role.SALES, "phone", "+8613800138000"),
        (Role.SUPPORT, "phone", "138****8000"),
        (Role.SUPPORT, "email", "z***@example.com"),
        (Role.SUPPORT, "name", "张三"),
        (Role.SUPPORT, "address", "上海市浦东新***"),
        (Role.SUPPORT, "description", "parcel late"),
        (Role.ANALYST, "phone", None),
        (Role.ANALYST, "description", None),
        (Role.COMPLIANCE, "email", "zhang.san@example.com"),
    ],
)
def test_each_role_sees_each_field_as_the_matrix_says(
    role: Role, field: str, expected: str | None
) -> None:
    values = {
        "phone": "+8613800138000",
        "email": "zhang.san@example.com",
        "name": "张三",
        "address": "上海市浦东新区世纪大道1号",
        "description": "parcel late",
    }
    assert shown(role, field, values[field]) == expected


def test_the_matrix_covers_every_role_and_field_and_none_is_null() -> None:
    assert set(FIELD_MATRIX) == set(Role)
    for row in FIELD_MATRIX.values():
        assert set(row) == set(PERSONAL_FIELDS)
    assert visibility(Role.ANALYST, "email") is Visibility.NONE
    assert mask("phone", None, Visibility.FULL) is None
    assert shown(None, "phone", "+8613800138000") is None


def test_roles_that_may_export_a_subject_see_every_personal_field_in_full() -> None:
    # `subjectExport` returns the unmasked document of `crm audit export` to READ_AUDIT.
    exporters = [role for role in Role if allows(role, Permission.READ_AUDIT)]
    assert sorted(exporters) == [Role.ADMIN, Role.COMPLIANCE]
    for role in exporters:
        assert set(FIELD_MATRIX[role].values()) == {Visibility.FULL}, role

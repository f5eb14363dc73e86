"""What an event changed, before and after (compliance.changes): pure state diffs."""

from __future__ import annotations

from compliance.changes import FieldChange, field_changes, touched_fields


def test_a_later_event_lists_only_the_fields_that_differ() -> None:
    before = {"id": "c", "version": 1, "email": "a@x.cn", "stage": "LEAD", "tags": []}
    after = {"id": "c", "version": 2, "email": "b@x.cn", "stage": "LEAD", "tags": []}
    assert field_changes(before, after) == (FieldChange("email", "a@x.cn", "b@x.cn"),)


def test_the_first_event_lists_what_it_set_with_no_before() -> None:
    state = {"id": "c", "version": 1, "name": "Ann", "phone": None, "tags": [], "count": 0}
    state |= {"total": "0.00", "stage": "LEAD", "modified_on": "t"}
    assert field_changes(None, state) == (
        FieldChange("name", None, "Ann"),
        FieldChange("stage", None, "LEAD"),
    )


def test_fields_the_event_names_are_listed_even_when_both_sides_read_null() -> None:
    # A reader who may not open personal fields, or a forgotten customer: both sides None.
    before = {"email": None, "company": "Acme"}
    after = {"email": None, "company": "Acme"}
    data = {"changed": ["email"], "email": None}
    assert field_changes(before, after, touched=touched_fields(data)) == (
        FieldChange("email", None, None),
    )
    assert FieldChange("email", None, None).personal
    assert not FieldChange("stage", None, None).personal

"""`projections.bulk` composes a statement once per shape (table, columns, conflict
rule), and its values per call: binary arrays where the values are of the column type's
Python class, psycopg's lists otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.binary_arrays import (
    BinaryArray,
    bool_array,
    jsonb_array,
    text_array,
    timestamptz_array,
    uuid_array,
)
from projections.bulk import _array_values, dumps, upsert

COLUMNS = (("id", "uuid"), ("tags", "text[]"), ("data", "jsonb"), ("amount", "numeric"))


def record(**changes: object) -> dict[str, object]:
    return {"id": uuid4(), "tags": ["vip"], "data": {"k": 1}, "amount": "12.50", **changes}


def test_one_shape_is_composed_once_and_each_call_has_its_own_values() -> None:
    first, second = record(), record()
    statement, values = upsert("t", COLUMNS, [first], key=("id",))
    again, other_values = upsert("t", list(COLUMNS), [second], key=["id"])
    assert again is statement
    assert values[0] == uuid_array([first["id"]])  # type: ignore[list-item]
    assert other_values[0] == uuid_array([second["id"]])  # type: ignore[list-item]
    assert str(other_values[3][0]) == "12.50"  # numeric text became a Decimal


def test_the_conflict_rule_and_merges_are_part_of_the_shape() -> None:
    update, _ = upsert("t", COLUMNS, [record()], key=("id",))
    nothing, _ = upsert("t", COLUMNS, [record()], key=("id",), on_conflict="nothing")
    merged, _ = upsert(
        "t", COLUMNS, [record()], key=("id",), merge={"tags": "t.tags || EXCLUDED.tags"}
    )
    texts = [s.as_string() for s in (update, nothing, merged)]
    assert len(set(texts)) == 3
    assert '"tags" = EXCLUDED."tags"' in texts[0]
    assert texts[1].endswith("DO NOTHING")
    assert '"tags" = t.tags || EXCLUDED.tags' in texts[2]
    assert "%b::uuid[]" in texts[0] and "%b::jsonb[]" in texts[0]


AT = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sql_type", "values", "encoded"),
    [
        ("uuid", [ID := UUID(int=1), None], uuid_array([ID, None])),
        ("text", ["vip", None], text_array(["vip", None])),
        ("timestamptz", [AT, None], timestamptz_array([AT, None])),
        ("boolean", [True, None], bool_array([True, None])),
        ("jsonb", [{"k": 1}, None], jsonb_array([dumps({"k": 1}), None])),
        ("text[]", [("a", "b"), None], jsonb_array([dumps(["a", "b"]), None])),
    ],
)
def test_values_of_the_types_class_go_as_binary_arrays(
    sql_type: str, values: list[Any], encoded: BinaryArray
) -> None:
    assert _array_values(sql_type, values) == encoded
    assert type(_array_values(sql_type, values)) is type(encoded)


@pytest.mark.parametrize(
    ("sql_type", "values", "listed"),
    [
        ("uuid", [str(ID)], [str(ID)]),  # an id as text: PostgreSQL parses it
        ("text", [1], [1]),
        ("timestamptz", [datetime(2026, 12, 5)], [datetime(2026, 12, 5)]),  # no instant
        ("boolean", [1], [1]),  # not a bool: never guessed
        ("integer", [2**40], [2**40]),  # out of range: PostgreSQL says so
        ("numeric", ["12.50"], [Decimal("12.50")]),  # no binary encoder: Decimals
    ],
)
def test_values_of_another_class_go_as_psycopgs_lists(
    sql_type: str, values: list[Any], listed: list[Any]
) -> None:
    assert _array_values(sql_type, values) == listed

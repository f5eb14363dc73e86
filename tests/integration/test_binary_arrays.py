"""`commands.binary_arrays` read back by PostgreSQL as the typed arrays psycopg's own
list dumping sends: every element type the save and the projections use, NULLs, empty
arrays, non-ASCII, instants before 2000 and time zones."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import orjson
import psycopg
import pytest
from psycopg.types.json import Jsonb

from commands.binary_arrays import (
    bool_array,
    bytea_array,
    int4_array,
    int8_array,
    jsonb_array,
    text_array,
    timestamptz_array,
    uuid_array,
)

pytestmark = pytest.mark.integration

CASES: list[tuple[str, Any, list[Any]]] = [
    ("bigint", int8_array, [1, -1, 2**62, 0]),
    ("text", text_array, ["crm.customer.registered", "", "高价值 客户", None, "a'b\"c"]),
    ("bytea", bytea_array, [os.urandom(1000), b"", None, b"\x00\xff"]),
    ("uuid", uuid_array, [uuid4(), None, UUID(int=0), uuid4()]),
    ("bigint", int8_array, [None, 7]),
    ("integer", int4_array, [0, -(2**31), 2**31 - 1, None]),
    ("boolean", bool_array, [True, False, None]),
    (
        "timestamptz",
        timestamptz_array,
        [
            datetime(2026, 12, 5, 6, 1, 2, 345678, tzinfo=UTC),
            datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before the epoch
            datetime(2026, 3, 1, 9, tzinfo=timezone(timedelta(hours=8))),  # the same instant
            None,
        ],
    ),
]

JSON_VALUES: list[Any] = [{"a": [1, 2.5, None], "名": "客户"}, [], "text", None, {"n": {"m": True}}]


def test_a_jsonb_array_is_the_array_psycopg_would_send(conn: psycopg.Connection[Any]) -> None:
    encoded = jsonb_array([None if v is None else orjson.dumps(v) for v in JSON_VALUES])
    plain = [None if v is None else Jsonb(v) for v in JSON_VALUES]
    row = conn.execute(
        "SELECT %b::jsonb[], %b::jsonb[] IS NOT DISTINCT FROM %b::jsonb[]",
        (encoded, encoded, plain),
    ).fetchone()
    assert row == (JSON_VALUES, True)


@pytest.mark.parametrize(("sql_type", "encode", "values"), CASES)
def test_an_encoded_array_is_the_array_psycopg_would_send(
    conn: psycopg.Connection[Any], sql_type: str, encode: Any, values: list[Any]
) -> None:
    row = conn.execute(
        f"SELECT %b::{sql_type}[], %b::{sql_type}[] IS NOT DISTINCT FROM %b::{sql_type}[]",
        (encode(values), encode(values), values),
    ).fetchone()
    assert row is not None
    assert row[0] == values
    assert row[1] is True


@pytest.mark.parametrize(("sql_type", "encode", "values"), CASES)
def test_empty_arrays_unnest_to_no_rows(
    conn: psycopg.Connection[Any], sql_type: str, encode: Any, values: list[Any]
) -> None:
    row = conn.execute(f"SELECT count(*) FROM unnest(%b::{sql_type}[])", (encode([]),)).fetchone()
    assert row == (0,)


def test_columns_unnest_side_by_side_in_a_prepared_insert(
    conn: psycopg.Connection[Any],
) -> None:
    conn.execute("CREATE TEMP TABLE t (p bigint, id uuid, name text, body bytea)")
    ids = [uuid4(), uuid4(), uuid4()]
    for _ in range(3):  # prepared on the first run, then run as the prepared statement
        conn.execute("DELETE FROM t")
        conn.execute(
            "INSERT INTO t SELECT * FROM unnest(%b::bigint[], %b::uuid[], %b::text[], %b::bytea[])",
            (
                int8_array([1, 2, 3]),
                uuid_array(ids),
                text_array(["a", None, "c"]),
                bytea_array([b"x", b"y", None]),
            ),
            prepare=True,
        )
    rows = conn.execute("SELECT * FROM t ORDER BY p").fetchall()
    assert rows == [(1, ids[0], "a", b"x"), (2, ids[1], None, b"y"), (3, ids[2], "c", None)]


def test_copy_still_dumps_python_lists_by_their_array_types(
    conn: psycopg.Connection[Any],
) -> None:
    # COPY picks its dumpers by the OIDs of `set_types`: ours must not answer for them.
    conn.execute("CREATE TEMP TABLE c (tags text[], ids uuid[], n bigint[])")
    ids = [uuid4()]
    with conn.cursor() as cur, cur.copy("COPY c FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["text[]", "uuid[]", "int8[]"])
        copy.write_row((["vip", "高价值"], ids, [1, 2]))
    assert conn.execute("SELECT * FROM c").fetchall() == [(["vip", "高价值"], ids, [1, 2])]

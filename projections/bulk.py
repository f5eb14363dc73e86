"""Multi-row writes through binary typed arrays, one per column.

`executemany` costs a round trip per row; one ``INSERT … SELECT FROM unnest(%b::uuid[],
%b::timestamptz[], …)`` sends a whole batch at once, keeps column types in one place, and
sends UUIDs, timestamps and numbers in PostgreSQL's binary forms (a single JSON
parameter per batch, as before, spent most of its time turning them into text and
back). The arrays are written in that binary form here (`commands.binary_arrays`) when a
column's values are of its type's Python class: psycopg's list dumping (a type scan, a
dumper lookup and a call per element) was ~8% of a small batch in the worker. Callers
fold a batch per key first: one statement may not touch the same conflicting row twice.

Each statement's text depends only on its table, columns and conflict rule, so it is
composed once per shape and kept (`_upsert_statement`, `_select_statement`): composing
it per batch (psycopg's `sql.SQL.format` and rendering, ~120 calls a batch over the
handlers) was ~15% of a small batch's CPU in the projections worker.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson
from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb, set_json_dumps

from commands.binary_arrays import (
    bool_array,
    int4_array,
    int8_array,
    jsonb_array,
    text_array,
    timestamptz_array,
    uuid_array,
)

Columns = Sequence[tuple[str, str]]
"""(column name, SQL type) pairs, in the order of the table's insert list."""


def _plain(value: Any) -> Any:
    """What orjson does not write itself (it writes datetimes as `isoformat()`, UUIDs as
    `str()` and tuples as arrays)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """JSON for PostgreSQL: datetimes ISO 8601, UUIDs and Decimals as strings. orjson
    writes it (the standard library's encoder was a tenth of a rebuild, profiled)."""
    return orjson.dumps(value, default=_plain, option=orjson.OPT_NON_STR_KEYS)


def as_jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=dumps)


def _placeholder(sql_type: str) -> sql.Composable:
    """One column's placeholder: a binary typed array (`%b::type[]`).

    Binary arrays skip the JSON round trip (UUIDs, timestamps and numbers go in
    PostgreSQL's own binary forms). jsonb values go as a binary jsonb[] of the texts
    `dumps` writes (`_array_values`); a column whose type is itself an array
    (``text[]``) cannot be an element of a rectangular array, so its values travel as
    jsonb arrays and are unpacked in SQL.
    """
    if sql_type == "jsonb" or sql_type.endswith("[]"):
        return sql.SQL("%b::jsonb[]")
    return sql.SQL("%b::{}[]").format(sql.SQL(sql_type))


def _array_values(sql_type: str, values: list[Any]) -> Any:
    """One column's values as its placeholder (`_placeholder`) takes them: encoded in
    PostgreSQL's binary array format where the values are of the type's Python class,
    or a list that psycopg dumps element by element (numbers as text, dates, anything
    unexpected)."""
    if sql_type == "jsonb":
        return jsonb_array([None if v is None else dumps(v) for v in values])
    if sql_type.endswith("[]"):
        return jsonb_array([None if v is None else dumps(list(v)) for v in values])
    encode = _ENCODERS.get(sql_type)
    if encode is not None:
        try:
            return encode(values)
        except (TypeError, ValueError, AttributeError, struct.error):
            pass  # a value of another class: psycopg's own dumping decides
    return [_scalar(sql_type, v) for v in values]


def _booleans(values: list[Any]) -> Any:
    if any(v is not None and not isinstance(v, bool) for v in values):
        raise TypeError("not booleans")
    return bool_array(values)


_ENCODERS: dict[str, Any] = {
    "text": text_array,
    "uuid": uuid_array,
    "bigint": int8_array,
    "integer": int4_array,
    "int": int4_array,
    "timestamptz": timestamptz_array,
    "boolean": _booleans,
}
"""Column type -> its binary array encoder; each raises on a value of another class."""


def _scalar(sql_type: str, value: Any) -> Any:
    """Numbers given as text (amounts from event data) become Decimals for numeric[]."""
    if sql_type == "numeric" and isinstance(value, str | int | float):
        return Decimal(str(value))
    return value


def _select_list(columns: Columns) -> sql.Composable:
    """The unnested record's columns, array-typed ones unpacked from their jsonb."""
    items: list[sql.Composable] = []
    for name, sql_type in columns:
        column = sql.Identifier("r", name)
        item: sql.Composable = column
        if sql_type.endswith("[]"):
            item = sql.SQL(
                "CASE WHEN {c} IS NULL THEN NULL ELSE"
                " ARRAY(SELECT jsonb_array_elements_text({c}))::{t} END"
            ).format(c=column, t=sql.SQL(sql_type))
        items.append(item)
    return sql.SQL(", ").join(items)


def write_records(
    conn: Connection[Any],
    table: str,
    columns: Columns,
    records: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    on_conflict: str = "update",
    merge: Mapping[str, str] | None = None,
) -> None:
    """Insert `records`; on a key conflict update every non-key column, or do nothing.

    `merge` overrides the update expression of some columns (SQL text using ``EXCLUDED``
    and the table name), for columns two writers fill from different events.
    """
    if records:
        conn.execute(
            *upsert(table, columns, records, key=key, on_conflict=on_conflict, merge=merge)
        )


def upsert(
    table: str,
    columns: Columns,
    records: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    on_conflict: str = "update",
    merge: Mapping[str, str] | None = None,
) -> tuple[sql.SQL, list[Any]]:
    """`write_records`' statement and parameters, for a caller that wraps it (a
    ``RETURNING`` in a CTE)."""
    statement = _upsert_statement(
        table, tuple(columns), tuple(key), on_conflict, tuple(sorted((merge or {}).items()))
    )
    params = [
        _array_values(sql_type, [record.get(name) for record in records])
        for name, sql_type in columns
    ]
    return statement, params


@lru_cache(maxsize=256)
def _upsert_statement(
    table: str,
    columns: tuple[tuple[str, str], ...],
    key: tuple[str, ...],
    on_conflict: str,
    merge: tuple[tuple[str, str], ...],
) -> sql.SQL:
    names = [name for name, _ in columns]
    column_list = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    if on_conflict == "nothing":
        conflict: sql.Composable = sql.SQL("DO NOTHING")
    else:
        merged = dict(merge)
        assignments = [
            sql.SQL("{} = {}").format(
                sql.Identifier(n),
                sql.SQL(merged[n])
                if n in merged
                else sql.SQL("EXCLUDED.{}").format(sql.Identifier(n)),
            )
            for n in names
            if n not in key
        ]
        conflict = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(assignments))
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {select} FROM unnest({arrays}) AS r({columns})"
        " ON CONFLICT ({key}) {conflict}"
    ).format(
        table=sql.Identifier(table),
        columns=column_list,
        select=_select_list(columns),
        arrays=sql.SQL(", ").join(_placeholder(sql_type) for _, sql_type in columns),
        key=sql.SQL(", ").join(sql.Identifier(k) for k in key),
        conflict=conflict,
    )
    return sql.SQL(statement.as_string())


def load_rows(
    conn: Connection[Any], table: str, columns: Columns, key: str, ids: Sequence[Any]
) -> dict[Any, dict[str, Any]]:
    """Current rows of `table` whose `key` is in `ids`, as dicts keyed by that key."""
    if not ids:
        return {}
    statement = _select_statement(table, tuple(name for name, _ in columns), key)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(statement, [list(ids)])
        return {row[key]: row for row in cur.fetchall()}


@lru_cache(maxsize=256)
def _select_statement(table: str, names: tuple[str, ...], key: str) -> sql.SQL:
    statement = sql.SQL("SELECT {columns} FROM {table} WHERE {key} = ANY(%s)").format(
        columns=sql.SQL(", ").join(sql.Identifier(n) for n in names),
        table=sql.Identifier(table),
        key=sql.Identifier(key),
    )
    return sql.SQL(statement.as_string())


def copy_records(
    conn: Connection[Any], table: str, columns: Columns, records: Sequence[Mapping[str, Any]]
) -> None:
    """Append `records` (each with every column) by binary COPY: for rows known to be new
    (a rebuild's empty tables).

    COPY is PostgreSQL's cheapest way in (no per-row planning, no conflict checks), and
    its binary form skips formatting and parsing text: psycopg's C dumpers write UUIDs,
    timestamps and arrays as they are; jsonb values go through `dumps`. Numbers given as
    text (amounts from event data) become Decimals.
    """
    if not records:
        return
    names = [name for name, _ in columns]
    types = [sql_type for _, sql_type in columns]
    numeric = [i for i, sql_type in enumerate(types) if sql_type == "numeric"]
    values = itemgetter(*names)
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)").format(
        table=sql.Identifier(table), columns=sql.SQL(", ").join(sql.Identifier(n) for n in names)
    )
    with conn.cursor() as cur:
        set_json_dumps(dumps, cur)
        with cur.copy(statement) as copy:
            copy.set_types(types)
            for record in records:
                row = values(record)
                if numeric:
                    row = list(row)
                    for i in numeric:
                        row[i] = _scalar("numeric", row[i])
                copy.write_row(row)

"""Multi-row writes through one JSON parameter.

`executemany` costs a round trip per row; one ``INSERT … SELECT FROM jsonb_to_recordset``
sends a whole batch at once, keeps column types in one place and works for arrays and
jsonb columns alike. Callers fold a batch per key first: one statement may not touch the
same conflicting row twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Columns = Sequence[tuple[str, str]]
"""(column name, SQL type) pairs, in the order of the table's insert list."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    """JSON for PostgreSQL: datetimes ISO 8601, UUIDs and Decimals as strings."""
    return json.dumps(value, default=_plain, ensure_ascii=False, separators=(",", ":"))


def as_jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=dumps)


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
    if not records:
        return
    names = [name for name, _ in columns]
    column_list = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    record_type = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
    )
    if on_conflict == "nothing":
        conflict: sql.Composable = sql.SQL("DO NOTHING")
    else:
        merge = merge or {}
        assignments = [
            sql.SQL("{} = {}").format(
                sql.Identifier(n),
                sql.SQL(merge[n])
                if n in merge
                else sql.SQL("EXCLUDED.{}").format(sql.Identifier(n)),
            )
            for n in names
            if n not in key
        ]
        conflict = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(assignments))
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_to_recordset(%s) AS r({types})"
        " ON CONFLICT ({key}) {conflict}"
    ).format(
        table=sql.Identifier(table),
        columns=column_list,
        types=record_type,
        key=sql.SQL(", ").join(sql.Identifier(k) for k in key),
        conflict=conflict,
    )
    rows = [{name: record.get(name) for name in names} for record in records]
    conn.execute(statement, [as_jsonb(rows)])


def load_rows(
    conn: Connection[Any], table: str, columns: Columns, key: str, ids: Sequence[Any]
) -> dict[Any, dict[str, Any]]:
    """Current rows of `table` whose `key` is in `ids`, as dicts keyed by that key."""
    if not ids:
        return {}
    statement = sql.SQL("SELECT {columns} FROM {table} WHERE {key} = ANY(%s)").format(
        columns=sql.SQL(", ").join(sql.Identifier(n) for n, _ in columns),
        table=sql.Identifier(table),
        key=sql.Identifier(key),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(statement, [list(ids)])
        return {row[key]: row for row in cur.fetchall()}

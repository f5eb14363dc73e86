"""The filtered, keyset-paginated customer list.

Order is (created_at, id): stable under inserts elsewhere and cheap with the matching
index, and the cursor is exactly that pair. Lifecycle stage and tier are indexed
columns the projections maintain, so filtering on them is a plain lookup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql

from projections.cursors import read_customer_cursor
from projections.membership import is_duplicate
from projections.views import CustomerFilter


def like_pattern(text: str) -> str:
    """A substring ILIKE pattern that takes `%`, `_` and `\\` in `text` literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_conditions(where: CustomerFilter) -> tuple[list[sql.Composable], dict[str, Any]]:
    """SQL conditions over ``rm_customers AS c`` and their parameters."""
    conditions: list[sql.Composable] = [sql.SQL("NOT {}").format(is_duplicate(sql.SQL("c.id")))]
    params: dict[str, Any] = {}
    if where.text:
        params["text"] = like_pattern(where.text.strip())
        conditions.append(
            sql.SQL(
                "(c.name ILIKE %(text)s OR c.email ILIKE %(text)s"
                " OR c.phone ILIKE %(text)s OR c.company ILIKE %(text)s)"
            )
        )
    if where.tag:
        params["tag"] = where.tag.strip().lower()
        conditions.append(sql.SQL("c.tags @> ARRAY[%(tag)s]::text[]"))
    for name in ("stage", "region", "owner", "lifecycle_stage", "tier"):
        value = getattr(where, name)
        if value is not None:
            params[name] = value
            conditions.append(sql.SQL("c.{} = %({})s").format(sql.Identifier(name), sql.SQL(name)))
    return conditions, params


def filtered_cte(where: CustomerFilter) -> sql.Composed:
    """CTE ``filtered(id, created_at)``: the profiles the filter keeps."""
    conditions, _ = filter_conditions(where)
    return sql.SQL(
        "filtered AS (SELECT c.id, c.created_at FROM rm_customers AS c WHERE {cond})"
    ).format(cond=sql.SQL(" AND ").join(conditions))


def page_of_ids(
    conn: Connection[Any],
    where: CustomerFilter,
    first: int,
    after: str | None,
) -> tuple[list[tuple[Any, datetime]], int, bool]:
    """(id, created_at) of the page, the total matching the filter, and whether more follow."""
    _, params = filter_conditions(where)
    keyset = sql.SQL("")
    if after is not None:
        params["after_at"], params["after_id"] = read_customer_cursor(after)
        keyset = sql.SQL("WHERE (created_at, id) > (%(after_at)s, %(after_id)s)")
    params["limit"] = first + 1
    statement = sql.SQL(
        """WITH RECURSIVE {filtered},
counted AS (SELECT id, created_at, count(*) OVER () AS total FROM filtered)
SELECT id, created_at, total FROM counted {keyset} ORDER BY created_at, id LIMIT %(limit)s"""
    ).format(filtered=filtered_cte(where), keyset=keyset)
    rows = conn.execute(statement, params).fetchall()
    if rows:
        total = int(rows[0][2])
    else:
        count = sql.SQL("WITH RECURSIVE {} SELECT count(*) FROM filtered").format(
            filtered_cte(where)
        )
        total = int(conn.execute(count, params).fetchone()[0])  # type: ignore[index]
    return [(r[0], r[1]) for r in rows[:first]], total, len(rows) > first


# The first names of the two builders above; gateway code imports them.
_conditions = filter_conditions
_filtered_sql = filtered_cte

"""The filtered, keyset-paginated customer list.

Order is (created_at, id): stable under inserts elsewhere and cheap with the matching
index, and the cursor is exactly that pair. Lifecycle stage and tier filters need the
derived facts of every candidate, so those joins are only added when asked for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql

from projections.cursors import read_customer_cursor
from projections.derived import Thresholds, facts_ctes, lifecycle_sql, tier_sql
from projections.membership import ALL_ROOTS, is_duplicate, tree_ctes
from projections.views import CustomerFilter


def like_pattern(text: str) -> str:
    """A substring ILIKE pattern that takes `%`, `_` and `\\` in `text` literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_conditions(
    where: CustomerFilter, now: datetime, thresholds: Thresholds
) -> tuple[list[sql.Composable], dict[str, Any]]:
    """SQL conditions over ``rm_customers AS c`` (and ``facts AS f``) and their parameters."""
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
    for name in ("stage", "region", "owner"):
        value = getattr(where, name)
        if value is not None:
            params[name] = value
            conditions.append(sql.SQL("c.{} = %({})s").format(sql.Identifier(name), sql.SQL(name)))
    if where.lifecycle_stage:
        params["lifecycle_stage"] = where.lifecycle_stage
        lifecycle = lifecycle_sql(now, thresholds)
        conditions.append(sql.SQL("{} = %(lifecycle_stage)s").format(lifecycle))
    if where.tier:
        params["tier"] = where.tier
        conditions.append(sql.SQL("{} = %(tier)s").format(tier_sql(thresholds)))
    return conditions, params


def filtered_cte(where: CustomerFilter, now: datetime, thresholds: Thresholds) -> sql.Composed:
    """CTE ``filtered(id, created_at)``, preceded by the facts CTEs when needed."""
    conditions, _ = filter_conditions(where, now, thresholds)
    derived = where.tier is not None or where.lifecycle_stage is not None
    prefix = (
        sql.SQL("{}, {},").format(tree_ctes(ALL_ROOTS), facts_ctes(now, thresholds))
        if derived
        else sql.SQL("")
    )
    join = sql.SQL("JOIN facts AS f ON f.root_id = c.id") if derived else sql.SQL("")
    return sql.SQL(
        "{prefix} filtered AS ("
        "SELECT c.id, c.created_at FROM rm_customers AS c {join} WHERE {cond})"
    ).format(prefix=prefix, join=join, cond=sql.SQL(" AND ").join(conditions))


def page_of_ids(
    conn: Connection[Any],
    where: CustomerFilter,
    first: int,
    after: str | None,
    now: datetime,
    thresholds: Thresholds,
) -> tuple[list[tuple[Any, datetime]], int, bool]:
    """(id, created_at) of the page, the total matching the filter, and whether more follow."""
    _, params = filter_conditions(where, now, thresholds)
    keyset = sql.SQL("")
    if after is not None:
        params["after_at"], params["after_id"] = read_customer_cursor(after)
        keyset = sql.SQL("WHERE (created_at, id) > (%(after_at)s, %(after_id)s)")
    params["limit"] = first + 1
    statement = sql.SQL(
        """WITH RECURSIVE {filtered},
counted AS (SELECT id, created_at, count(*) OVER () AS total FROM filtered)
SELECT id, created_at, total FROM counted {keyset} ORDER BY created_at, id LIMIT %(limit)s"""
    ).format(filtered=filtered_cte(where, now, thresholds), keyset=keyset)
    rows = conn.execute(statement, params).fetchall()
    if rows:
        total = int(rows[0][2])
    else:
        count = sql.SQL("WITH RECURSIVE {} SELECT count(*) FROM filtered").format(
            filtered_cte(where, now, thresholds)
        )
        total = int(conn.execute(count, params).fetchone()[0])  # type: ignore[index]
    return [(r[0], r[1]) for r in rows[:first]], total, len(rows) > first


# The first names of the two builders above; gateway code imports them.
_conditions = filter_conditions
_filtered_sql = filtered_cte

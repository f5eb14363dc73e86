"""The customer list's filter: SQL conditions over rm_customers, shared by pages and counts.

Lifecycle stage and tier are indexed columns the projections maintain, so filtering on
them is a plain lookup; `projections.keyset` pages the filtered list and
`projections.counts` counts it.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

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

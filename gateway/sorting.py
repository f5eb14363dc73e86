"""Customer lists in another order than the read API's own (creation time, oldest first).

The filter is the read API's (`projections.customer_list`), so every order filters
alike; only the key and direction of the keyset differ. Cursors carry their order, so
a cursor of one order is refused by another (VALIDATION on `after`). Ties are broken
by id, which makes every order total and pages stable under concurrent inserts.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from psycopg import Connection, sql

from projections.customer_list import filter_conditions, filtered_cte
from projections.queries import get_customers
from projections.views import CustomerEdge, CustomerFilter, CustomerPage

KEYS: Final[dict[str, tuple[sql.Composable, str]]] = {
    "CREATED_AT": (sql.SQL("c.created_at"), "timestamptz"),
    "UPDATED_AT": (sql.SQL("c.updated_at"), "timestamptz"),
    "NAME": (sql.SQL("coalesce(lower(c.name), '')"), "text"),
}


class BadCursor(ValueError):
    """Not a cursor of this order."""


def _encode(value: list[Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sorted_cursor(field: str, direction: str, key: Any, customer_id: UUID) -> str:
    text = key.isoformat() if isinstance(key, datetime) else str(key)
    return _encode(["s", field, direction, text, str(customer_id)])


def read_sorted_cursor(cursor: str, field: str, direction: str) -> tuple[Any, UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, c_field, c_direction, key, customer_id = json.loads(
            base64.urlsafe_b64decode(padded.encode())
        )
        if (tag, c_field, c_direction) != ("s", field, direction):
            raise BadCursor("the cursor belongs to another order or list")
        parsed_key: Any = datetime.fromisoformat(key) if KEYS[field][1] != "text" else str(key)
        return parsed_key, UUID(str(customer_id))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
        raise BadCursor(f"invalid cursor {cursor!r}") from error


def sorted_page(
    conn: Connection[Any],
    where: CustomerFilter,
    *,
    field: str,
    direction: str,
    first: int,
    after: str | None,
) -> CustomerPage:
    """One page in (`field`, id) order, ascending or descending, and the filter's total."""
    key, key_type = KEYS[field]
    descending = direction == "DESC"
    _, params = filter_conditions(where)
    keyset: sql.Composable = sql.SQL("")
    if after is not None:
        params["after_key"], params["after_id"] = read_sorted_cursor(after, field, direction)
        keyset = sql.SQL("WHERE (k, id) {op} (%(after_key)s::{type}, %(after_id)s::uuid)").format(
            op=sql.SQL("<" if descending else ">"), type=sql.SQL(key_type)
        )
    params["limit"] = first + 1
    order = sql.SQL("DESC" if descending else "ASC")
    statement = sql.SQL(
        """WITH RECURSIVE {filtered},
counted AS (
    SELECT f.id, {key} AS k, count(*) OVER () AS total
    FROM filtered AS f JOIN rm_customers AS c ON c.id = f.id
)
SELECT id, k, total FROM counted {keyset} ORDER BY k {order}, id {order} LIMIT %(limit)s"""
    ).format(
        filtered=filtered_cte(where),
        key=key,
        keyset=keyset,
        order=order,
    )
    rows = conn.execute(statement, params).fetchall()
    if rows:
        total = int(rows[0][2])
    else:
        count = sql.SQL("WITH RECURSIVE {} SELECT count(*) FROM filtered").format(
            filtered_cte(where)
        )
        found = conn.execute(count, params).fetchone()
        total = int(found[0]) if found else 0
    page = rows[:first]
    views = get_customers(conn, [r[0] for r in page], follow_merges=False)
    edges = [
        CustomerEdge(sorted_cursor(field, direction, k, i), views[i])
        for i, k, _ in page
        if i in views
    ]
    return CustomerPage(edges, total, len(rows) > first, edges[-1].cursor if edges else None)

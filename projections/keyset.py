"""Keyset pages of the customer list, in every supported order, both ways.

A page is ``WHERE filter AND (key, id) > cursor ORDER BY key, id LIMIT n + 1`` over
rm_customers: no OFFSET, no count, so its cost is the index walk to the page, whatever
the list's size (`projections.counts` gives the total, only when asked). The key is the
sort column and the id breaks ties, which makes every order total and pages stable
under concurrent inserts. `last`/`before` walk the same index backwards and return the
page in list order.

Cursors are opaque and tamper-checked: a default-order cursor is the tagged
(created_at, id) of `projections.cursors`; another order's carries its field and
direction, so a cursor of one order is refused by another (`BadCursor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row

from projections.cursors import (
    InvalidCursor,
    customer_cursor,
    encode_cursor,
    read_customer_cursor,
    read_tagged,
)
from projections.customer_list import filter_conditions
from projections.profiles import PROFILE_COLUMNS, view_of_row
from projections.views import CustomerEdge, CustomerFilter

KEYS: Final[dict[str, tuple[sql.Composable, str]]] = {
    "CREATED_AT": (sql.SQL("c.created_at"), "timestamptz"),
    "UPDATED_AT": (sql.SQL("c.updated_at"), "timestamptz"),
    "NAME": (sql.SQL("coalesce(c.name_pinyin, '')"), "text"),
}
"""Sort field -> (SQL key over ``rm_customers AS c``, its type); each has an index. NAME
sorts by the name's pinyin (`projections.search_keys`): Chinese names among Latin ones
as a Chinese reader expects (张三 as "zhang san", between "Zara" and "Zhou")."""


class BadCursor(InvalidCursor):
    """Not a cursor of this order."""


@dataclass(frozen=True)
class Order:
    field: str = "CREATED_AT"
    direction: str = "ASC"

    @property
    def default(self) -> bool:
        return (self.field, self.direction) == ("CREATED_AT", "ASC")


@dataclass(frozen=True)
class KeysetPage:
    rows: list[CustomerEdge]
    has_next: bool
    has_previous: bool
    start_cursor: str | None
    end_cursor: str | None


def make_cursor(order: Order, key: Any, customer_id: UUID) -> str:
    if order.default:
        return customer_cursor(key, customer_id)
    text = key.isoformat() if isinstance(key, datetime) else str(key)
    return encode_cursor(["s", order.field, order.direction, text, str(customer_id)])


def read_cursor(cursor: str, order: Order) -> tuple[Any, UUID]:
    """(key, id) of a cursor this order handed out; `InvalidCursor`/`BadCursor` otherwise."""
    if order.default:
        return read_customer_cursor(cursor)
    return read_tagged(cursor, "s", lambda *fields: _sorted_key(cursor, order, *fields))


def _sorted_key(
    cursor: str, order: Order, field: object, direction: object, key: object, the_id: object
) -> tuple[Any, UUID]:
    if (field, direction) != (order.field, order.direction):
        raise BadCursor(
            f"cursor {cursor!r} pages the customer list in orderBy {field} {direction}, not "
            f"{order.field} {order.direction}: a cursor works only with the order that "
            "handed it out"
        )
    typed: Any = datetime.fromisoformat(str(key)) if KEYS[order.field][1] != "text" else str(key)
    return typed, UUID(str(the_id))


def page_statement(
    where: CustomerFilter,
    order: Order,
    ascending: bool,
    *,
    cursor: bool,
    limit: int,
    inclusive: bool = False,
) -> tuple[sql.Composed, dict[str, Any]]:
    """SELECT (id, k, rn) of listed customers in (key, id) order, from the cursor
    (``%(key)s``, ``%(id)s``) on, at most `limit`; and the filter's parameters.

    The limit is written into the statement, not bound: a generic plan does not know a
    bound LIMIT's value and costs the walk as if it read a tenth of the table, so
    PostgreSQL kept planning every page afresh (~0.46 ms of its CPU a page, as much as
    running it); with the limit in the text it keeps one plan per statement and page
    size (a screen has a few)."""
    key, key_type = KEYS[order.field]
    conditions, params = filter_conditions(where)
    if cursor:
        op = (">" if ascending else "<") + ("=" if inclusive else "")
        conditions.append(
            sql.SQL("({key}, c.id) {op} (%(key)s::{type}, %(id)s::uuid)").format(
                key=key, op=sql.SQL(op), type=sql.SQL(key_type)
            )
        )
    way = sql.SQL("ASC" if ascending else "DESC")
    statement = sql.SQL(
        "SELECT c.id, {key} AS k, row_number() OVER (ORDER BY {key} {way}, c.id {way}) AS rn"
        " FROM rm_customers AS c WHERE {cond} ORDER BY {key} {way}, c.id {way} LIMIT {limit}"
    ).format(key=key, cond=sql.SQL(" AND ").join(conditions), way=way, limit=sql.Literal(limit))
    return statement, params


def page_query(
    where: CustomerFilter, order: Order, forward: bool, *, cursor: bool, limit: int
) -> tuple[sql.Composed, dict[str, Any]]:
    """One statement: the page's (id, k, rn), at most `limit`, rn counting from the
    cursor, and `behind`, whether a listed customer lies at or behind the cursor (one
    index probe; false without one). A row with a null id only carries `behind` (an
    empty page). The caller orders by rn: no sort in the plan at all."""
    ascending = (order.direction == "ASC") == forward
    page, params = page_statement(where, order, ascending, cursor=cursor, limit=limit)
    if not cursor:
        first_page = sql.SQL("SELECT p.id, p.k, p.rn, false AS behind FROM ({}) AS p")
        return first_page.format(page), params
    probe, _ = page_statement(where, order, not ascending, cursor=True, inclusive=True, limit=1)
    statement = sql.SQL(
        "SELECT p.id, p.k, p.rn, b.behind FROM (SELECT EXISTS ({probe}) AS behind) AS b"
        " LEFT JOIN LATERAL ({page}) AS p ON true"
    ).format(probe=probe, page=page)
    return statement, params


PAGE_WITH_ROWS: Final = sql.SQL(
    "SELECT q.k AS page_key, q.rn AS page_rn, q.behind AS page_behind, "
    + ", ".join(f"c.{column}" for column in PROFILE_COLUMNS)
    + " FROM ({}) AS q LEFT JOIN rm_customers AS c ON c.id = q.id"
)
"""The page and its customers' rows in one statement (one round trip, one plan)."""


def keyset_page(
    conn: Connection[Any],
    where: CustomerFilter,
    order: Order,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> KeysetPage:
    """`first` after `after`, or `last` before `before` (Relay); rows in list order.

    One statement (`page_query`, joined to the rows): the side walked is measured with
    one extra row; the other side's flag is one index probe from the cursor.
    """
    forward = last is None
    size = first if forward else last
    assert size is not None and size >= 0
    given = after if forward else before
    cursor = read_cursor(given, order) if given is not None else None
    statement, params = page_query(where, order, forward, cursor=cursor is not None, limit=size + 1)
    if cursor is not None:
        params["key"], params["id"] = cursor
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(PAGE_WITH_ROWS.format(statement), params).fetchall()
    listed = sorted((r for r in rows if r["id"] is not None), key=lambda r: int(r["page_rn"]))
    page = listed[:size]
    beyond = len(listed) > size
    behind = bool(rows and rows[0]["page_behind"])
    if not forward:
        page.reverse()
    edges = [CustomerEdge(make_cursor(order, r["page_key"], r["id"]), view_of_row(r)) for r in page]
    return KeysetPage(
        rows=edges,
        has_next=beyond if forward else behind,
        has_previous=behind if forward else beyond,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )

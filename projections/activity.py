"""A profile's orders and touches as lists, newest first, paged by keyset on position.

rm_purchases and rm_touches hold one row per fact (the projections `purchases` and
`touches` write them). A survivor's lists include its merged duplicates', as its
summaries do: the merge tree is walked at read time (`projections.membership`). One
statement serves a whole DataLoader batch: a LATERAL page per asked profile,
``position < cursor ORDER BY position DESC LIMIT n + 1``; nothing counts the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row

from projections.by_ids import ByIds, by_ids
from projections.cursors import activity_cursor, read_activity_cursor
from projections.membership import given_roots, resolve, tree_ctes


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class OrderView:
    position: int
    customer_id: UUID
    order_id: str
    occurred_at: datetime
    currency: str
    rate_to_cny: Decimal
    total: Decimal
    total_cny: Decimal
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True)
class TouchView:
    position: int
    customer_id: UUID
    channel: str
    direction: str
    outcome: str | None
    summary: str | None
    occurred_at: datetime


class ActivityPage(NamedTuple):
    """`edges` are (cursor, OrderView or TouchView) pairs."""

    edges: list[tuple[str, Any]]
    has_next: bool


_PAGE: Final = """WITH RECURSIVE {tree}
SELECT r.root_id, x.* FROM (SELECT DISTINCT root_id FROM tree) AS r(root_id)
CROSS JOIN LATERAL (
    SELECT a.* FROM {table} AS a
    WHERE a.customer_id IN (SELECT member_id FROM tree WHERE tree.root_id = r.root_id)
      AND (%(after)s::bigint IS NULL OR a.position < %(after)s)
    ORDER BY a.position DESC LIMIT %(limit)s
) AS x
ORDER BY r.root_id, x.position DESC"""


def _page_of(table: str) -> ByIds:
    return by_ids(
        "roots",
        lambda ids: sql.SQL(_PAGE).format(
            tree=tree_ctes(given_roots(ids)), table=sql.Identifier(table)
        ),
    )


ORDERS: Final = _page_of("rm_purchases")
TOUCHES: Final = _page_of("rm_touches")


def _order(row: dict[str, Any]) -> OrderView:
    return OrderView(
        position=row["position"],
        customer_id=row["customer_id"],
        order_id=row["order_id"],
        occurred_at=row["occurred_at"],
        currency=row["currency"],
        rate_to_cny=Decimal(row["rate_to_cny"]),
        total=Decimal(row["total"]),
        total_cny=Decimal(row["total_cny"]),
        lines=tuple(
            OrderLine(
                sku=str(line["sku"]),
                quantity=int(line["quantity"]),
                unit_price=Decimal(str(line["unit_price"])),
                amount=Decimal(str(line["amount"])),
            )
            for line in row["lines"]
        ),
    )


def _touch(row: dict[str, Any]) -> TouchView:
    return TouchView(**{k: row[k] for k in TouchView.__dataclass_fields__})


def _pages(
    conn: Connection[Any],
    statement: ByIds,
    build: Any,
    customer_ids: Sequence[UUID],
    first: int,
    after: str | None,
) -> dict[UUID, ActivityPage]:
    bound = read_activity_cursor(after) if after is not None else None
    asked = resolve(conn, customer_ids)
    found: dict[UUID, list[Any]] = {root: [] for root in asked.values()}
    query = statement.bind(list(found), after=bound, limit=first + 1)
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(*query):
            found[row["root_id"]].append(build(row))
    pages = {}
    for asked_id, root in asked.items():
        items = found[root]
        edges = [(activity_cursor(i.position), i) for i in items[:first]]
        pages[asked_id] = ActivityPage(edges, has_next=len(items) > first)
    return pages


def order_pages(
    conn: Connection[Any], customer_ids: Sequence[UUID], *, first: int, after: str | None
) -> dict[UUID, ActivityPage]:
    """Orders per asked profile, newest first; a bad `after` raises `InvalidCursor`."""
    return _pages(conn, ORDERS, _order, customer_ids, first, after)


def touch_pages(
    conn: Connection[Any], customer_ids: Sequence[UUID], *, first: int, after: str | None
) -> dict[UUID, ActivityPage]:
    """Touches per asked profile, newest first; a bad `after` raises `InvalidCursor`."""
    return _pages(conn, TOUCHES, _touch, customer_ids, first, after)

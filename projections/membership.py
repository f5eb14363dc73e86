"""Which customer ids make up one profile once duplicates are merged.

A merged duplicate resolves to its survivor (and on, if that survivor was merged in
turn), and a survivor's profile counts the purchases, touches and complaints of every
customer merged into it. Both are worked out at read time from rm_merges, so it does
not matter on which partition, or in which order, the two sides of a merge arrived.
A link only counts once the survivor's own row exists, so a lagging partition never
makes a customer vanish from lists. Walks stop at `MAX_DEPTH` links.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final
from uuid import UUID

from psycopg import Connection, sql

from projections.by_ids import by_ids

MAX_DEPTH: Final = 16


def is_duplicate(customer_id: sql.Composable) -> sql.Composed:
    """True when the customer was merged into another customer the read model knows."""
    return sql.SQL(
        "EXISTS (SELECT 1 FROM rm_merges AS dm JOIN rm_customers AS ds ON ds.id = dm.survivor_id"
        " WHERE dm.duplicate_id = {})"
    ).format(customer_id)


ALL_ROOTS: Final = sql.SQL("SELECT c.id FROM rm_customers AS c WHERE NOT {}").format(
    is_duplicate(sql.SQL("c.id"))
)
"""Every profile a list shows: customers that were not merged into another one."""


def given_roots(ids: sql.Composable) -> sql.Composed:
    """A SELECT of the root ids in `ids` (a ``uuid[]``; already resolved), for `tree_ctes`."""
    return sql.SQL("SELECT unnest({})").format(ids)


GIVEN_ROOTS: Final = given_roots(sql.SQL("%(roots)s::uuid[]"))
"""The roots passed as the ``roots`` parameter (already resolved)."""


def tree_ctes(roots: sql.Composable) -> sql.Composed:
    """CTEs ``walk`` and ``tree(root_id, member_id)``: each root and its merged duplicates.

    Needs ``WITH RECURSIVE``; `roots` is a SELECT of one column of root ids.
    """
    return sql.SQL(
        """walk AS (
    SELECT r.id AS root_id, r.id AS member_id, 0 AS depth FROM ({roots}) AS r(id)
    UNION ALL
    SELECT w.root_id, m.duplicate_id, w.depth + 1
    FROM walk AS w JOIN rm_merges AS m ON m.survivor_id = w.member_id
    WHERE w.depth < {depth}
),
tree AS (SELECT DISTINCT root_id, member_id FROM walk)"""
    ).format(roots=roots, depth=sql.Literal(MAX_DEPTH))


RESOLVE: Final = by_ids(
    "ids",
    lambda ids: sql.SQL(
        """
WITH RECURSIVE up AS (
    SELECT a.id AS asked_id, a.id, 0 AS depth
    FROM unnest({ids}) AS a(id)
    WHERE EXISTS (SELECT 1 FROM rm_customers AS c WHERE c.id = a.id)
    UNION ALL
    SELECT up.asked_id, m.survivor_id, up.depth + 1
    FROM up JOIN rm_merges AS m ON m.duplicate_id = up.id
    WHERE up.depth < %(depth)s
      AND EXISTS (SELECT 1 FROM rm_customers AS s WHERE s.id = m.survivor_id)
)
SELECT DISTINCT ON (asked_id) asked_id, id FROM up ORDER BY asked_id, depth DESC
"""
    ).format(ids=ids),
)


def resolve(
    conn: Connection[Any], ids: Iterable[UUID], *, follow_merges: bool = True
) -> dict[UUID, UUID]:
    """Asked id -> the id of the profile that answers for it; unknown ids are left out."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    depth = MAX_DEPTH if follow_merges else 0
    rows = conn.execute(*RESOLVE.bind(wanted, depth=depth)).fetchall()
    return {asked: root for asked, root in rows}

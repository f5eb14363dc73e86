"""Keyset pages of the customer list: every listed customer exactly once, in order, both
ways, for every sort order and filter; flags right at both ends; index walks, no sort."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from projections.cursors import InvalidCursor
from projections.keyset import KEYS, BadCursor, Order, keyset_page, page_query
from projections.views import CustomerFilter
from projections.vocabulary import LIFECYCLE_STAGES, TIERS
from tests.integration.support.read_models import Conn

pytestmark = pytest.mark.integration

GENERATE_SQL = """
INSERT INTO rm_customers (id, name, name_pinyin, created_at, updated_at, version,
                          last_position, lifecycle_stage, tier, tags)
SELECT gen_random_uuid(),
       CASE WHEN g %% 11 = 0 THEN NULL ELSE 'n' || (g %% 29) END,
       CASE WHEN g %% 11 = 0 THEN NULL ELSE 'n' || (g %% 29) END,
       timestamptz '2026-01-01' + (g %% 53) * interval '1 hour',
       timestamptz '2026-01-01' + (g %% 17) * interval '1 minute',
       1, g,
       (%(stages)s::text[])[1 + g %% cardinality(%(stages)s::text[])],
       (%(tiers)s::text[])[1 + g %% cardinality(%(tiers)s::text[])],
       CASE WHEN g %% 3 = 0 THEN ARRAY['vip'] ELSE '{}' END
FROM generate_series(1, %(n)s) AS g
"""
# Some duplicates merged into a survivor that exists (left out), one whose survivor does
# not exist yet (still listed).
MERGES_SQL = """
INSERT INTO rm_merges (duplicate_id, survivor_id, merged_at)
SELECT id, (SELECT min(id::text)::uuid FROM rm_customers), now()
FROM rm_customers WHERE last_position % 13 = 5
UNION ALL
SELECT id, gen_random_uuid(), now() FROM rm_customers WHERE last_position = 7
"""
ORACLE_KEYS = {
    "CREATED_AT": "c.created_at",
    "UPDATED_AT": "c.updated_at",
    "NAME": "coalesce(c.name_pinyin, '')",
}
FILTERS: dict[str, tuple[CustomerFilter, str]] = {
    "none": (CustomerFilter(), "true"),
    "lifecycle": (CustomerFilter(lifecycle_stage=LIFECYCLE_STAGES[1]), "c.lifecycle_stage = %s"),
    "tier": (CustomerFilter(tier=TIERS[0]), "c.tier = %s"),
    "tag": (CustomerFilter(tag="vip"), "'vip' = ANY(c.tags)"),
}
ORDERS = [Order(field, direction) for field in KEYS for direction in ("ASC", "DESC")]


def generate(conn: Conn, n: int) -> None:
    conn.execute(GENERATE_SQL, {"stages": list(LIFECYCLE_STAGES), "tiers": list(TIERS), "n": n})
    conn.execute(MERGES_SQL)
    conn.commit()
    conn.execute("ANALYZE rm_customers")
    conn.execute("ANALYZE rm_merges")


def oracle(conn: Conn, name: str, order: Order) -> list[UUID]:
    """The listed customers in order, by a full sort (what keyset pages must add up to)."""
    where, condition = FILTERS[name]
    params: list[Any] = [v for v in (where.lifecycle_stage, where.tier) if v]
    key, way = ORACLE_KEYS[order.field], order.direction
    statement = (
        f"SELECT c.id FROM rm_customers AS c WHERE {condition} AND NOT EXISTS ("
        " SELECT 1 FROM rm_merges AS m JOIN rm_customers AS s ON s.id = m.survivor_id"
        f" WHERE m.duplicate_id = c.id) ORDER BY {key} {way}, c.id {way}"
    )
    return [row[0] for row in conn.execute(statement, params)]


def forwards(conn: Conn, where: CustomerFilter, order: Order, size: int) -> list[UUID]:
    seen: list[UUID] = []
    after: str | None = None
    while True:
        page = keyset_page(conn, where, order, first=size, after=after)
        assert page.has_previous == (after is not None)
        seen += [e.node.id for e in page.rows]
        if not page.has_next:
            return seen
        assert len(page.rows) == size and page.end_cursor
        after = page.end_cursor


def backwards(conn: Conn, where: CustomerFilter, order: Order, size: int) -> list[UUID]:
    seen: list[UUID] = []
    before: str | None = None
    while True:
        page = keyset_page(conn, where, order, last=size, before=before)
        assert page.has_next == (before is not None)
        seen = [e.node.id for e in page.rows] + seen
        if not page.has_previous:
            return seen
        assert len(page.rows) == size and page.start_cursor
        before = page.start_cursor


def test_pages_visit_every_customer_once_in_order_both_ways(conn: Conn) -> None:
    generate(conn, 240)
    for name, (where, _) in FILTERS.items():
        for order in ORDERS:
            expected = oracle(conn, name, order)
            assert len(expected) > 20, name
            assert forwards(conn, where, order, 9) == expected, (name, order)
            assert backwards(conn, where, order, 9) == expected, (name, order)


def test_the_ends_of_the_list(conn: Conn) -> None:
    generate(conn, 30)
    everyone = oracle(conn, "none", Order())
    whole = keyset_page(conn, CustomerFilter(), Order(), first=len(everyone))
    assert (whole.has_previous, whole.has_next) == (False, False)
    last = keyset_page(conn, CustomerFilter(), Order(), last=1)
    assert [e.node.id for e in last.rows] == everyone[-1:]
    assert (last.has_previous, last.has_next) == (True, False)
    past = keyset_page(conn, CustomerFilter(), Order(), first=5, after=last.end_cursor)
    assert (past.rows, past.has_previous, past.has_next) == ([], True, False)
    first = keyset_page(conn, CustomerFilter(), Order(), first=1)
    before = keyset_page(conn, CustomerFilter(), Order(), last=5, before=first.start_cursor)
    assert (before.rows, before.has_previous, before.has_next) == ([], False, True)


def test_a_tampered_or_foreign_cursor_is_refused(conn: Conn) -> None:
    generate(conn, 10)
    by_name = Order("NAME", "ASC")
    cursor = keyset_page(conn, CustomerFilter(), by_name, first=2).end_cursor
    assert cursor
    for bad, order in (
        (cursor, Order("NAME", "DESC")),
        (cursor, Order()),
        (cursor[:-3] + "zzz", by_name),
        ("garbage", by_name),
        ("garbage", Order()),
    ):
        with pytest.raises(InvalidCursor):
            keyset_page(conn, CustomerFilter(), order, first=2, after=bad)
    assert issubclass(BadCursor, InvalidCursor)


def test_a_page_is_an_index_walk_without_offset_or_sort(conn: Conn) -> None:
    generate(conn, 20_000)
    cases = [(FILTERS[name][0], Order()) for name in ("none", "lifecycle", "tier")]
    cases += [(CustomerFilter(), order) for order in ORDERS]
    for where, order in cases:
        for cursor, forward in ((False, True), (True, True), (True, False)):
            statement, params = page_query(where, order, forward, cursor=cursor, limit=21)
            params.update(key="2026-01-01T05:00:00+00:00", id=UUID(int=0))
            if order.field == "NAME":
                params["key"] = "n1"
            text = statement.as_string(conn)
            assert "OFFSET" not in text.upper()
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + text, params))
            assert "Index" in plan and "Sort" not in plan, (where, order, cursor, plan)


def _generic_plan(conn: Conn, statement: str, params: dict[str, Any]) -> str:
    """The plan PostgreSQL keeps for `statement` once it is prepared (its generic plan,
    which knows no parameter's value), as `EXPLAIN EXECUTE` shows it."""
    names: list[str] = []

    def numbered(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    text = re.sub(r"%\((\w+)\)s", numbered, statement)
    values = sql.SQL(", ").join(sql.Literal(params[name]) for name in names)
    conn.execute("SET plan_cache_mode = force_generic_plan")
    try:
        conn.execute(sql.SQL("PREPARE kept AS {}").format(sql.SQL(text)))
        execute = (
            sql.SQL("EXPLAIN EXECUTE kept ({})").format(values) if names else "EXPLAIN EXECUTE kept"
        )
        return "\n".join(r[0] for r in conn.execute(execute))
    finally:
        conn.execute("DEALLOCATE ALL")
        conn.execute("RESET plan_cache_mode")


def test_a_page_keeps_one_generic_plan_and_it_is_an_index_walk(
    conn: Conn, database_url: str
) -> None:
    """A screen asks for the same page shape again and again: after PostgreSQL's five
    custom plans it keeps the generic one (the page size is in the text, not bound), and
    that plan, made without the filter's value or the cursor, still walks an index and
    never sorts."""
    generate(conn, 20_000)
    cases = [FILTERS[name][0] for name in ("none", "lifecycle", "tier")]
    with psycopg.connect(database_url, autocommit=True) as screen:
        for where in cases:
            first = keyset_page(screen, where, Order(), first=20)
            for _ in range(12):  # psycopg prepares after 5 runs; then 5 custom plans
                keyset_page(screen, where, Order(), first=20)
                keyset_page(screen, where, Order(), first=20, after=first.end_cursor)
        kept = screen.execute(
            "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements"
        ).fetchall()
    assert len(kept) == 6, kept  # 3 filters, a first page and a next one each
    for generic, custom, statement in kept:
        assert generic >= 2 and custom <= 5, (generic, custom, statement)
    for where in cases:
        for cursor in (False, True):
            statement, params = page_query(where, Order(), True, cursor=cursor, limit=21)
            params.update(key="2026-01-01T05:00:00+00:00", id=UUID(int=0))
            plan = _generic_plan(conn, statement.as_string(conn), params)
            assert "Index" in plan and "Sort" not in plan, (where, cursor, plan)

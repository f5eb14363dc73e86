"""The read API the GraphQL gateway calls: plain functions over a psycopg connection.

All are synchronous and read-only; each takes the connection (the gateway owns pools
and transactions). Every answer is a lookup of rows the projections wrote: lifecycle
stage, tier and summaries are materialized (`projections.materialize`) and time-driven
changes are recorded by the scheduler, so no read derives them. A merged duplicate's
id answers with its survivor's profile, which counts both customers' purchases,
touches, complaints.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row

from events.vocabulary import COMPLAINT_STATUSES, PIPELINE_PATH
from projections.by_ids import by_ids
from projections.counts import count_customers
from projections.cursors import read_timeline_cursor, timeline_cursor
from projections.incoming import split_type
from projections.keyset import KeysetPage, Order, keyset_page
from projections.membership import given_roots, is_duplicate, resolve, tree_ctes
from projections.positions import applied_position
from projections.profiles import views_of_roots
from projections.views import (
    ComplaintView,
    CustomerFilter,
    CustomerPage,
    CustomerView,
    FunnelStep,
    LifecycleCount,
    TierCount,
    TimelineEdge,
    TimelineEntry,
    TimelinePage,
)
from projections.vocabulary import LIFECYCLE_STAGES, TIERS

__all__ = [
    "applied_position",
    "complaints_for",
    "funnel",
    "get_customers",
    "lifecycle_distribution",
    "list_customers",
    "tier_distribution",
    "timeline",
]

MAX_PAGE = 500


def _uuids(ids: Iterable[UUID | str]) -> list[UUID]:
    """Ids as UUIDs; strings that are not UUIDs cannot name a customer and are dropped."""
    found = []
    for value in ids:
        try:
            found.append(value if isinstance(value, UUID) else UUID(str(value)))
        except ValueError:
            continue
    return found


def _page_size(first: int) -> int:
    if first < 0:
        raise ValueError("`first` must not be negative")
    return min(first, MAX_PAGE)


def get_customers(
    conn: Connection[Any],
    ids: Iterable[UUID | str],
    *,
    follow_merges: bool = True,
) -> dict[UUID, CustomerView]:
    """Profiles by id, for DataLoaders; unknown ids are absent from the result.

    A duplicate's id maps to its survivor's view; `follow_merges=False` returns the
    duplicate's own view instead (with `merged_into` set), e.g. for compliance screens.
    """
    return _profiles_of(conn, resolve(conn, _uuids(ids), follow_merges=follow_merges))


def _profiles_of(conn: Connection[Any], asked: dict[UUID, UUID]) -> dict[UUID, CustomerView]:
    views = views_of_roots(conn, list(asked.values()))
    return {a: views[root] for a, root in asked.items() if root in views}


def list_customers(
    conn: Connection[Any],
    filter: CustomerFilter | None = None,  # the contract's argument name
    first: int = 20,
    after: str | None = None,
) -> CustomerPage:
    """One page of profiles (merged duplicates left out), oldest first, and the total.

    Returns (rows, total_count, has_next, end_cursor); rows are (cursor, view) edges.
    `after` is a cursor from an earlier page; a bad one raises `InvalidCursor`. The
    page is a keyset walk and the total a counter lookup (`projections.keyset`,
    `projections.counts`).
    """
    where = filter or CustomerFilter()
    page, total = page_and_count(conn, where, Order(), True, first=_page_size(first), after=after)
    return CustomerPage(page.rows, total or 0, page.has_next, page.end_cursor)


def page_and_count(
    conn: Connection[Any],
    where: CustomerFilter,
    order: Order,
    counted: bool,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> tuple[KeysetPage, int | None]:
    """A keyset page and, when `counted`, the filter's total (None otherwise), on one
    connection: a list screen's two reads in one trip to the pool."""
    page = keyset_page(conn, where, order, first=first, after=after, last=last, before=before)
    return page, count_customers(conn, where) if counted else None


COMPLAINTS = by_ids(
    "roots",
    lambda ids: sql.SQL(
        """WITH RECURSIVE {tree}
SELECT t.root_id, k.* FROM tree AS t JOIN rm_complaints AS k ON k.customer_id = t.member_id
WHERE %(status)s::text IS NULL OR k.status = %(status)s
ORDER BY k.filed_at, k.id"""
    ).format(tree=tree_ctes(given_roots(ids))),
)


def complaints_for(
    conn: Connection[Any], customer_ids: Iterable[UUID | str], status: str | None = None
) -> dict[UUID, list[ComplaintView]]:
    """Complaints per asked customer (a survivor's include its duplicates'), oldest first.

    Every known asked id is in the result, with an empty list when it has none.
    """
    if status is not None and status not in COMPLAINT_STATUSES:
        raise ValueError(f"unknown complaint status {status!r}")
    return _complaints_of(conn, resolve(conn, _uuids(customer_ids)), status)


def _complaints_of(
    conn: Connection[Any], asked: dict[UUID, UUID], status: str | None
) -> dict[UUID, list[ComplaintView]]:
    by_root: dict[UUID, list[ComplaintView]] = {root: [] for root in asked.values()}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(*COMPLAINTS.bind(list(by_root), status=status))
        for row in cur:
            by_root[row["root_id"]].append(
                ComplaintView(
                    **{k: row[k] for k in ComplaintView.__dataclass_fields__},
                )
            )
    return {a: list(by_root[root]) for a, root in asked.items()}


def customers_with_complaints(
    conn: Connection[Any], ids: Iterable[UUID | str]
) -> tuple[dict[UUID, CustomerView], dict[UUID, list[ComplaintView]]]:
    """`get_customers(ids)` and `complaints_for(ids)` (every status) on one connection,
    the ids resolved through merges once: a 360° profile with its complaints in one
    trip to the pool."""
    asked = resolve(conn, _uuids(ids))
    return _profiles_of(conn, asked), _complaints_of(conn, asked, None)


def funnel(
    conn: Connection[Any],
    from_: datetime | None = None,
    to: datetime | None = None,
    source: str | None = None,
) -> list[FunnelStep]:
    """RULES.md "Funnel" for customers registered in [from_, to) (business time).

    reached(stage) counts customers whose furthest stage on LEAD..WON is that stage or
    beyond; conversion is reached / reached(previous), None for LEAD or when that is 0.
    Merged duplicates are left out (their survivor stands for them); forgotten
    customers stay in (the funnel holds no personal data).
    """
    counts = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE f.furthest_rank >= {})").format(sql.Literal(rank))
        for rank in range(len(PIPELINE_PATH))
    )
    statement = sql.SQL(
        """SELECT {counts} FROM rm_funnel AS f
WHERE NOT {duplicate}
  AND (%(from)s::timestamptz IS NULL OR f.registered_at >= %(from)s)
  AND (%(to)s::timestamptz IS NULL OR f.registered_at < %(to)s)
  AND (%(source)s::text IS NULL OR f.source = %(source)s)"""
    ).format(counts=counts, duplicate=is_duplicate(sql.SQL("f.customer_id")))
    row = conn.execute(statement, {"from": from_, "to": to, "source": source}).fetchone()
    reached = [int(n) for n in row] if row else [0] * len(PIPELINE_PATH)
    steps = []
    for rank, stage in enumerate(PIPELINE_PATH):
        previous = reached[rank - 1] if rank else 0
        conversion = reached[rank] / previous if rank and previous else None
        steps.append(FunnelStep(stage, reached[rank], conversion))
    return steps


def _distribution(conn: Connection[Any], column: str) -> dict[str, int]:
    """Profiles (merged duplicates left out) per value of a materialized column."""
    statement = sql.SQL(
        "SELECT c.{col}, count(*) FROM rm_customers AS c WHERE NOT {duplicate} GROUP BY 1"
    ).format(col=sql.Identifier(column), duplicate=is_duplicate(sql.SQL("c.id")))
    return {value: int(n) for value, n in conn.execute(statement)}


def lifecycle_distribution(conn: Connection[Any]) -> list[LifecycleCount]:
    """How many profiles are in each lifecycle stage; every stage listed."""
    counts = _distribution(conn, "lifecycle_stage")
    return [LifecycleCount(stage, counts.get(stage, 0)) for stage in LIFECYCLE_STAGES]


def tier_distribution(conn: Connection[Any]) -> list[TierCount]:
    """How many profiles are in each tier; every tier listed."""
    counts = _distribution(conn, "tier")
    return [TierCount(tier, counts.get(tier, 0)) for tier in TIERS]


TIMELINE_SQL = """
SELECT position, type, stream_id, stream_version, occurred_at, recorded_at, actor, summary
FROM rm_timeline
WHERE customer_id = %(id)s AND position > %(after)s
ORDER BY position
LIMIT %(limit)s
"""


def timeline(
    conn: Connection[Any], customer_id: UUID | str, first: int = 100, after: str | None = None
) -> TimelinePage:
    """One customer's events (its complaints' included), oldest first, from the read model.

    Each id has its own timeline: merging does not join histories. Personal fields of a
    forgotten customer's events read as null.
    """
    size = _page_size(first)
    start = read_timeline_cursor(after) if after is not None else 0
    params = {"id": UUID(str(customer_id)), "after": start, "limit": size + 1}
    rows = conn.execute(TIMELINE_SQL, params).fetchall()
    edges = []
    for position, type_name, stream, version, occurred, recorded, actor, data in rows[:size]:
        entry = TimelineEntry(
            position=position,
            type=type_name,
            schema_version=split_type(type_name)[1],
            stream_id=stream,
            stream_version=version,
            occurred_at=occurred,
            recorded_at=recorded,
            actor=actor,
            data=data,
        )
        edges.append(TimelineEdge(timeline_cursor(position), entry))
    return TimelinePage(edges, len(rows) > size, edges[-1].cursor if edges else None)

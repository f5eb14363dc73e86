"""The complaint queue across customers: what support works on, longest waiting first.

A keyset walk over rm_complaints by (filed_at, id): the complaint filed earliest has
waited longest (its SLA age is the largest), so "oldest SLA age first" is filed_at
ascending. Filters are plain column tests served by the (status, filed_at, id) and
(assignee, filed_at, id) indexes; `older_than` is a bound on filed_at the gateway
computes from its one "now". No OFFSET, no count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from psycopg import Connection
from psycopg.rows import dict_row

from events.vocabulary import COMPLAINT_STATUSES, ESCALATED, OPEN, SEVERITIES
from projections.cursors import queue_cursor, read_queue_cursor
from projections.views import ComplaintView

UNRESOLVED = (OPEN, ESCALATED)


@dataclass(frozen=True)
class QueueFilter:
    """Every field optional. No status means the unresolved ones (OPEN and ESCALATED);
    `filed_before` keeps complaints filed at or before that moment (older than N hours);
    `unassigned` keeps those nobody was assigned to."""

    status: str | None = None
    severity: str | None = None
    assignee: str | None = None
    unassigned: bool = False
    filed_before: datetime | None = None
    owners: frozenset[str] | None = None
    """The caller's scope: complaints of customers one of these owns; None: all."""

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in COMPLAINT_STATUSES:
            raise ValueError(f"unknown complaint status {self.status!r}")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")


class QueueEdge(NamedTuple):
    cursor: str
    node: ComplaintView


class QueuePage(NamedTuple):
    edges: list[QueueEdge]
    has_next: bool
    has_previous: bool


_WHERE = """k.status = ANY(%(statuses)s::text[])
  AND (%(severity)s::text IS NULL OR k.severity = %(severity)s)
  AND (%(assignee)s::text IS NULL OR k.assignee = %(assignee)s)
  AND (NOT %(unassigned)s OR k.assignee IS NULL)
  AND (%(before)s::timestamptz IS NULL OR k.filed_at <= %(before)s)
  AND (%(owners)s::text[] IS NULL OR EXISTS (
       SELECT 1 FROM rm_customers AS c WHERE c.id = k.customer_id
       AND c.owner = ANY(%(owners)s::text[])))"""

QUEUE_SQL = f"""
SELECT k.* FROM rm_complaints AS k
WHERE {_WHERE}
  AND (%(after_at)s::timestamptz IS NULL
       OR (k.filed_at, k.id) > (%(after_at)s, %(after_id)s::uuid))
ORDER BY k.filed_at, k.id
LIMIT %(limit)s
"""

EARLIER_SQL = f"""
SELECT EXISTS (
    SELECT 1 FROM rm_complaints AS k
    WHERE {_WHERE} AND (k.filed_at, k.id) <= (%(after_at)s, %(after_id)s::uuid)
)
"""
"""Whether the filter matches anything before the page (one index probe)."""

_FIELDS = tuple(ComplaintView.__dataclass_fields__)


def complaint_queue(
    conn: Connection[Any], where: QueueFilter, *, first: int = 20, after: str | None = None
) -> QueuePage:
    """One page of the queue; a bad `after` raises `InvalidCursor`."""
    after_at, after_id = read_queue_cursor(after) if after is not None else (None, None)
    params = {
        "statuses": [where.status] if where.status else list(UNRESOLVED),
        "severity": where.severity,
        "assignee": where.assignee,
        "unassigned": where.unassigned,
        "before": where.filed_before,
        "owners": None if where.owners is None else sorted(where.owners),
        "after_at": after_at,
        "after_id": after_id,
        "limit": first + 1,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUEUE_SQL, params).fetchall()
    earlier = False
    if after is not None:
        found = conn.execute(EARLIER_SQL, params).fetchone()
        earlier = bool(found and found[0])
    views = [ComplaintView(**{k: row[k] for k in _FIELDS}) for row in rows[:first]]
    edges = [QueueEdge(queue_cursor(v.filed_at, v.id), v) for v in views]
    return QueuePage(edges, has_next=len(rows) > first, has_previous=earlier)

"""Pages of customers' timelines, newest first, by keyset on the global position.

rm_timeline holds one row per event of a customer (its complaints' included) in the
order the store recorded them, so "newest first" is position descending. A page is
``WHERE customer_id = c AND position < cursor ORDER BY position DESC LIMIT n + 1`` per
asked customer (one LATERAL statement for a whole DataLoader batch), forwards
(`first`/`after`: older entries) or backwards (`last`/`before`: newer entries, read
ascending and turned round). The other side's flag is one EXISTS probe per customer;
nothing counts the whole timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from psycopg import Connection

from projections.cursors import read_timeline_cursor, timeline_cursor
from projections.incoming import split_type
from projections.timeline_kinds import TimelineKind, stored_types
from projections.views import TimelineEdge, TimelineEntry


@dataclass(frozen=True)
class TimelineWindow:
    """Which slice of a timeline: Relay's arguments, already checked for sizes.

    `first`/`after` walk towards older entries, `last`/`before` towards newer ones; the
    gateway passes exactly one of `first` and `last`. `kinds` None means every kind.
    """

    first: int | None = 20
    after: str | None = None
    last: int | None = None
    before: str | None = None
    kinds: tuple[TimelineKind, ...] | None = None


class TimelinePageOf(NamedTuple):
    edges: list[TimelineEdge]
    has_next: bool
    has_previous: bool


_ROW = (
    "t.position, t.event_id, t.type, t.stream_id, t.stream_version, t.occurred_at,"
    " t.recorded_at, t.actor, t.summary"
)
_KINDS = "(%(types)s::text[] IS NULL OR t.type = ANY(%(types)s::text[]))"

OLDER_SQL = f"""
SELECT c.id, {_ROW}
FROM unnest(%(ids)s::uuid[]) AS c(id)
CROSS JOIN LATERAL (
    SELECT * FROM rm_timeline AS t
    WHERE t.customer_id = c.id AND {_KINDS}
      AND (%(bound)s::bigint IS NULL OR t.position < %(bound)s)
    ORDER BY t.position DESC LIMIT %(limit)s
) AS t
ORDER BY c.id, t.position DESC
"""

NEWER_SQL = f"""
SELECT c.id, {_ROW}
FROM unnest(%(ids)s::uuid[]) AS c(id)
CROSS JOIN LATERAL (
    SELECT * FROM rm_timeline AS t
    WHERE t.customer_id = c.id AND {_KINDS}
      AND (%(bound)s::bigint IS NULL OR t.position > %(bound)s)
    ORDER BY t.position ASC LIMIT %(limit)s
) AS t
ORDER BY c.id, t.position ASC
"""

PROBE_SQL = f"""
SELECT c.id, EXISTS (
    SELECT 1 FROM rm_timeline AS t
    WHERE t.customer_id = c.id AND {_KINDS}
      AND CASE WHEN %(newer)s THEN t.position >= %(bound)s ELSE t.position <= %(bound)s END
)
FROM unnest(%(ids)s::uuid[]) AS c(id)
"""


def _entry(customer_id: UUID, row: Sequence[Any]) -> TimelineEntry:
    position, event_id, type_name, stream, version, occurred, recorded, actor, data = row
    return TimelineEntry(
        position=position,
        type=type_name,
        schema_version=split_type(type_name)[1],
        stream_id=stream,
        stream_version=version,
        occurred_at=occurred,
        recorded_at=recorded,
        actor=actor,
        data=data,
        event_id=event_id,
        customer_id=customer_id,
    )


def timeline_pages(
    conn: Connection[Any], customer_ids: Sequence[UUID], window: TimelineWindow
) -> dict[UUID, TimelinePageOf]:
    """One page per asked customer (each id its own timeline: merges do not join them).

    A bad cursor raises `InvalidCursor`. Personal fields of a forgotten customer's
    entries are already null in the rows (the projection scrubs them).
    """
    ids = sorted(set(customer_ids))
    backwards = window.first is None
    cursor = window.before if backwards else window.after
    bound = read_timeline_cursor(cursor) if cursor is not None else None
    size = (window.last if backwards else window.first) or 0
    types = None if window.kinds is None else stored_types(window.kinds)
    params = {"ids": ids, "types": types, "bound": bound, "limit": size + 1}
    rows: dict[UUID, list[TimelineEntry]] = {i: [] for i in ids}
    for row in conn.execute(NEWER_SQL if backwards else OLDER_SQL, params):
        rows[row[0]].append(_entry(row[0], row[1:]))
    beyond: dict[UUID, bool] = dict.fromkeys(ids, False)
    if bound is not None:
        probe = {"ids": ids, "types": types, "bound": bound, "newer": not backwards}
        beyond = {i: bool(found) for i, found in conn.execute(PROBE_SQL, probe)}
    pages = {}
    for customer_id, entries in rows.items():
        more = len(entries) > size
        kept = entries[:size]
        if backwards:
            kept.reverse()
        edges = [TimelineEdge(timeline_cursor(e.position), e) for e in kept]
        pages[customer_id] = TimelinePageOf(
            edges=edges,
            has_next=beyond[customer_id] if backwards else more,
            has_previous=more if backwards else beyond[customer_id],
        )
    return pages

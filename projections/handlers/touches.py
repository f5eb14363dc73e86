"""rm_touches: one row per contact touch; rm_touch_counts: per customer and channel, how
many and the latest.

Each touch is kept (the profile's activity list pages them), and its primary key makes
redelivery harmless: the counters move only by the rows an insert added (``RETURNING``
of ``ON CONFLICT DO NOTHING``), in the same statement. Counters are per customer, not per
merge tree, so a merged survivor adds its duplicates' counters when it is materialized.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final
from uuid import UUID

from psycopg import Connection, sql

from events import ContactTouchRecorded, CustomerForgotten
from projections.bulk import upsert
from projections.handlers.base import Projection, of_kind
from projections.incoming import IncomingEvent
from projections.schema import COUNT_TOUCHES_INTO

COLUMNS = (
    ("position", "bigint"),
    ("customer_id", "uuid"),
    ("channel", "text"),
    ("direction", "text"),
    ("outcome", "text"),
    ("summary", "text"),
    ("occurred_at", "timestamptz"),
)


def record(event: IncomingEvent) -> dict[str, Any]:
    data = event.data
    return {
        "position": event.position,
        "customer_id": event.subject_id,
        "channel": data.get("channel") or "OTHER",
        "direction": data.get("direction") or "OUTBOUND",
        "outcome": data.get("outcome"),
        "summary": data.get("summary"),
        "occurred_at": event.occurred_at,
    }


COUNT_ADDED: Final = sql.SQL(
    "WITH added AS ({insert} RETURNING customer_id, channel, occurred_at) "
    + COUNT_TOUCHES_INTO.format(rows="added")
    + " ORDER BY 1, 2 ON CONFLICT (customer_id, channel) DO UPDATE"
    " SET touches = c.touches + EXCLUDED.touches, last_at = greatest(c.last_at, EXCLUDED.last_at)"
)
"""The batch's new touches, and the counters moved by exactly those (in key order)."""

RECOUNT: Final = COUNT_TOUCHES_INTO.format(
    rows="(SELECT * FROM rm_touches WHERE customer_id = ANY(%s)) AS r"
)


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    rows = [record(e) for e in of_kind(events, ContactTouchRecorded.TYPE)]
    if rows:
        insert, params = upsert(
            "rm_touches", COLUMNS, rows, key=("position",), on_conflict="nothing"
        )
        conn.execute(COUNT_ADDED.format(insert=insert), params)
    forget(conn, {e.subject_id for e in of_kind(events, CustomerForgotten.TYPE)})


def count_all(conn: Connection[Any], customers: Iterable[UUID]) -> None:
    """Counters for these customers' touches, from none (a rebuild's partition)."""
    conn.execute(RECOUNT, [list(customers)])  # any order: one statement, no row locks


def forget(conn: Connection[Any], customers: Iterable[UUID]) -> None:
    """Null the free text of these customers' touches."""
    forgotten = sorted(customers)
    if forgotten:
        conn.execute(
            "UPDATE rm_touches SET summary = NULL, outcome = NULL WHERE customer_id = ANY(%s)"
            " AND (summary IS NOT NULL OR outcome IS NOT NULL)",
            [forgotten],
        )


PROJECTION = Projection("touches", apply)

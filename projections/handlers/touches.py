"""rm_touches: one row per contact touch; counts per channel are grouped at read time.

Keeping each touch (not running counters) makes redelivery harmless through the
primary key and lets a merged survivor add its duplicates' touches when read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from psycopg import Connection

from events import ContactTouchRecorded, CustomerForgotten
from projections.bulk import write_records
from projections.handlers.base import Projection, of_kind
from projections.incoming import IncomingEvent

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


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    rows = [record(e) for e in of_kind(events, ContactTouchRecorded.TYPE)]
    write_records(conn, "rm_touches", COLUMNS, rows, key=("position",), on_conflict="nothing")
    forget(conn, {e.subject_id for e in of_kind(events, CustomerForgotten.TYPE)})


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

"""rm_timeline: one row per event of a customer (its complaints' events included).

The row keeps the event's data as delivered (upcast to the current shape) together
with the names of its personal fields, so forgetting can null exactly those and leave
the facts: type, time, position and actor stay readable for the audit trail.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from psycopg import Connection

from events import ALL_EVENTS, CustomerForgotten
from projections.bulk import write_records
from projections.handlers.base import Projection, of_kind
from projections.incoming import IncomingEvent

COLUMNS = (
    ("position", "bigint"),
    ("customer_id", "uuid"),
    ("stream_id", "uuid"),
    ("stream_version", "integer"),
    ("event_id", "text"),
    ("type", "text"),
    ("occurred_at", "timestamptz"),
    ("recorded_at", "timestamptz"),
    ("actor", "text"),
    ("summary", "jsonb"),
    ("personal_fields", "text[]"),
)

# A row's own `personal_fields` are what its event class said when it was written; the
# current classes' (%(personal)s, by type without version) are added, so rows written
# before a field was sealed (a v2 touch's `outcome`) are scrubbed of it too.
SCRUB_SQL = r"""
UPDATE rm_timeline AS t
SET summary = (
    SELECT coalesce(jsonb_object_agg(
        e.key,
        CASE WHEN e.key = ANY(t.personal_fields)
                  OR (%(personal)s::jsonb -> regexp_replace(t.type, '\.v[0-9]+$', '')) ? e.key
             THEN 'null'::jsonb ELSE e.value END
    ), '{}'::jsonb)
    FROM jsonb_each(t.summary) AS e
)
WHERE t.customer_id = ANY(%(forgotten)s)
"""
PERSONAL_BY_TYPE = json.dumps({cls.TYPE: list(cls.PERSONAL) for cls in ALL_EVENTS if cls.PERSONAL})


def record(event: IncomingEvent) -> dict[str, Any]:
    return {
        "position": event.position,
        "customer_id": event.subject_id,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "event_id": event.event_id,
        "type": event.type_name,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "actor": event.actor,
        "summary": dict(event.data),
        "personal_fields": list(event.personal_fields),
    }


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    # Configuration facts and the organisation's events belong to no customer's timeline.
    rows = [record(e) for e in events if e.known and e.about_customer]
    write_records(conn, "rm_timeline", COLUMNS, rows, key=("position",), on_conflict="nothing")
    forget(conn, {e.subject_id for e in of_kind(events, CustomerForgotten.TYPE)})


def forget(conn: Connection[Any], customers: Iterable[UUID]) -> None:
    """Null the personal fields of these customers' rows (the facts stay)."""
    forgotten = sorted(customers)
    if forgotten:
        conn.execute(SCRUB_SQL, {"forgotten": forgotten, "personal": PERSONAL_BY_TYPE})


PROJECTION = Projection("timeline", apply)

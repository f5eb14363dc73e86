"""rm_complaints: one row per complaint, folded from the complaint's own stream.

Complaint events travel under their customer (subject = customer id) so they stay in
order with the customer's other events; the complaint id is the envelope's stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import Connection

from events import (
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintFiled,
    ComplaintResolved,
    CustomerForgotten,
)
from events.vocabulary import ESCALATED, OPEN, RESOLVED
from projections.bulk import load_rows, write_records
from projections.handlers.base import Projection, of_kind
from projections.incoming import IncomingEvent

COLUMNS = (
    ("id", "uuid"),
    ("customer_id", "uuid"),
    ("category", "text"),
    ("severity", "text"),
    ("status", "text"),
    ("description", "text"),
    ("escalation_reason", "text"),
    ("escalated_automatically", "boolean"),
    ("resolution", "text"),
    ("satisfaction", "integer"),
    ("filed_at", "timestamptz"),
    ("escalated_at", "timestamptz"),
    ("resolved_at", "timestamptz"),
    ("version", "integer"),
    ("last_position", "bigint"),
    ("assignee", "text"),
    ("assigned_at", "timestamptz"),
    ("assigned_by", "text"),
)
PERSONAL_COLUMNS = ("description", "escalation_reason", "resolution")
KINDS = (
    ComplaintFiled.TYPE,
    ComplaintEscalated.TYPE,
    ComplaintAssigned.TYPE,
    ComplaintResolved.TYPE,
)

Row = dict[str, Any]


def _new_row(event: IncomingEvent) -> Row:
    row: Row = {name: None for name, _ in COLUMNS}
    row.update(
        id=event.stream_id,
        customer_id=event.subject_id,
        status=OPEN,
        filed_at=event.occurred_at,
        version=0,
        last_position=0,
    )
    return row


def fold(row: Row, event: IncomingEvent) -> None:
    data = event.data
    if event.kind == ComplaintFiled.TYPE:
        row.update(
            category=data.get("category"),
            severity=data.get("severity"),
            description=data.get("description"),
            filed_at=event.occurred_at,
        )
    elif event.kind == ComplaintEscalated.TYPE:
        if row["status"] != RESOLVED:
            row["status"] = ESCALATED
        row.update(
            escalated_at=event.occurred_at,
            escalation_reason=data.get("reason"),
            escalated_automatically=bool(data.get("automatic")),
        )
    elif event.kind == ComplaintAssigned.TYPE:
        row.update(
            assignee=data.get("assignee"), assigned_at=event.occurred_at, assigned_by=event.actor
        )
    elif event.kind == ComplaintResolved.TYPE:
        row.update(
            status=RESOLVED,
            resolution=data.get("resolution"),
            satisfaction=data.get("satisfaction"),
            resolved_at=event.occurred_at,
        )
    row["version"] = max(row["version"], event.stream_version)
    row["last_position"] = max(row["last_position"], event.position)


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    relevant = of_kind(events, *KINDS)
    if relevant:
        rows = load_rows(
            conn, "rm_complaints", COLUMNS, "id", sorted({e.stream_id for e in relevant})
        )
        for event in relevant:
            row = rows.get(event.stream_id)
            if row is None:
                row = rows[event.stream_id] = _new_row(event)
            fold(row, event)
        write_records(conn, "rm_complaints", COLUMNS, list(rows.values()), key=("id",))
    forgotten = sorted({e.subject_id for e in of_kind(events, CustomerForgotten.TYPE)})
    if forgotten:
        conn.execute(
            "UPDATE rm_complaints SET description = NULL, escalation_reason = NULL,"
            " resolution = NULL WHERE customer_id = ANY(%s)",
            [forgotten],
        )


PROJECTION = Projection("complaints", apply)

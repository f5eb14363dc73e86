"""rm_tasks: one row per follow-up task, folded from the task's own stream.

Task events travel under their customer (subject = customer id), like complaints; the
task id is the envelope's stream. Forgetting the customer nulls the free texts.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from events import (
    CustomerForgotten,
    TaskCancelled,
    TaskCompleted,
    TaskFellDue,
    TaskRescheduled,
    TaskScheduled,
)
from events.vocabulary import TaskStatus
from projections.bulk import load_rows, write_records
from projections.handlers.base import Projection, of_kind
from projections.incoming import IncomingEvent

COLUMNS = (
    ("id", "uuid"),
    ("customer_id", "uuid"),
    ("kind", "text"),
    ("title", "text"),
    ("assignee", "text"),
    ("status", "text"),
    ("due_at", "timestamptz"),
    ("scheduled_at", "timestamptz"),
    ("scheduled_by", "text"),
    ("fell_due_at", "timestamptz"),
    ("closed_at", "timestamptz"),
    ("outcome", "text"),
    ("reason", "text"),
    ("version", "integer"),
    ("last_position", "bigint"),
)
KINDS = (
    TaskScheduled.TYPE,
    TaskRescheduled.TYPE,
    TaskFellDue.TYPE,
    TaskCompleted.TYPE,
    TaskCancelled.TYPE,
)

Row = dict[str, Any]


def _moment(value: Any) -> datetime | None:
    """The envelope's ISO text as a datetime (the rebuild's binary COPY needs one)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def new_row(event: IncomingEvent) -> Row:
    row: Row = {name: None for name, _ in COLUMNS}
    row.update(id=event.stream_id, customer_id=event.subject_id, version=0, last_position=0)
    return row


def fold(row: Row, event: IncomingEvent) -> None:
    data = event.data
    if event.kind == TaskScheduled.TYPE:
        row.update(
            kind=data.get("kind"),
            title=data.get("title"),
            assignee=data.get("assignee"),
            status=TaskStatus.OPEN.value,
            due_at=_moment(data.get("due_at")),
            scheduled_at=event.occurred_at,
            scheduled_by=event.actor,
        )
    elif event.kind == TaskRescheduled.TYPE:
        row.update(
            status=TaskStatus.OPEN.value, due_at=_moment(data.get("due_at")), fell_due_at=None
        )
    elif event.kind == TaskFellDue.TYPE:
        row.update(status=TaskStatus.OVERDUE.value, fell_due_at=event.occurred_at)
    elif event.kind == TaskCompleted.TYPE:
        row.update(
            status=TaskStatus.DONE.value, closed_at=event.occurred_at, outcome=data.get("outcome")
        )
    elif event.kind == TaskCancelled.TYPE:
        row.update(
            status=TaskStatus.CANCELLED.value,
            closed_at=event.occurred_at,
            reason=data.get("reason"),
        )
    row["version"] = max(row["version"], event.stream_version)
    row["last_position"] = max(row["last_position"], event.position)


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    relevant = of_kind(events, *KINDS)
    if relevant:
        ids = sorted({e.stream_id for e in relevant})
        rows = load_rows(conn, "rm_tasks", COLUMNS, "id", ids)
        for event in relevant:
            row = rows.get(event.stream_id)
            if row is None:
                row = rows[event.stream_id] = new_row(event)
            fold(row, event)
        write_records(conn, "rm_tasks", COLUMNS, list(rows.values()), key=("id",))
    forget(conn, {e.subject_id for e in of_kind(events, CustomerForgotten.TYPE)})


def forget(conn: Connection[Any], customers: Collection[UUID]) -> None:
    """Null the free texts of the forgotten customers' tasks."""
    if customers:
        conn.execute(
            "UPDATE rm_tasks SET title = NULL, outcome = NULL, reason = NULL"
            " WHERE customer_id = ANY(%s)",
            [sorted(customers)],
        )


PROJECTION = Projection("tasks", apply)

"""A person's follow-up tasks (`myTasks`), soonest due first.

A keyset walk over rm_tasks by (due_at, id) on the (assignee, due_at, id) index: the
task due first is the one to do first. `status` and `due_before` are plain column tests.
No OFFSET, no count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from psycopg import Connection
from psycopg.rows import dict_row

from events.vocabulary import TASK_STATUSES
from projections.cursors import read_task_cursor, task_cursor


@dataclass(frozen=True)
class TaskView:
    id: UUID
    customer_id: UUID
    kind: str
    title: str | None
    assignee: str
    status: str
    due_at: datetime
    scheduled_at: datetime
    scheduled_by: str | None
    fell_due_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    reason: str | None
    version: int


@dataclass(frozen=True)
class TaskFilter:
    """`assignee` is required (tasks are listed per person); no status means all;
    `owners`: only tasks of customers these people own (a scoped caller's scope)."""

    assignee: str
    status: str | None = None
    due_before: datetime | None = None
    owners: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in TASK_STATUSES:
            raise ValueError(f"unknown task status {self.status!r}")


class TaskEdge(NamedTuple):
    cursor: str
    node: TaskView


class TaskPage(NamedTuple):
    edges: list[TaskEdge]
    has_next: bool


_FIELDS = tuple(TaskView.__dataclass_fields__)

TASKS_SQL = f"""
SELECT {", ".join(_FIELDS)} FROM rm_tasks
WHERE assignee = %(assignee)s
  AND NOT EXISTS (
       SELECT 1 FROM rm_customers AS f WHERE f.id = rm_tasks.customer_id AND f.forgotten)
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(before)s::timestamptz IS NULL OR due_at < %(before)s)
  AND (%(owners)s::text[] IS NULL OR EXISTS (
       SELECT 1 FROM rm_customers AS c WHERE c.id = rm_tasks.customer_id
       AND c.owner = ANY(%(owners)s::text[])))
  AND (%(after_at)s::timestamptz IS NULL OR (due_at, id) > (%(after_at)s, %(after_id)s::uuid))
ORDER BY due_at, id
LIMIT %(limit)s
"""


def task_list(
    conn: Connection[Any], where: TaskFilter, *, first: int = 20, after: str | None = None
) -> TaskPage:
    """One page of the person's tasks; a bad `after` raises `InvalidCursor`."""
    after_at, after_id = read_task_cursor(after) if after is not None else (None, None)
    params = {
        "assignee": where.assignee,
        "status": where.status,
        "before": where.due_before,
        "owners": None if where.owners is None else sorted(where.owners),
        "after_at": after_at,
        "after_id": after_id,
        "limit": first + 1,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(TASKS_SQL, params).fetchall()
    views = [TaskView(**row) for row in rows[:first]]
    return TaskPage([TaskEdge(task_cursor(v.due_at, v.id), v) for v in views], len(rows) > first)


def task_by_id(conn: Connection[Any], task_id: UUID) -> TaskView | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {', '.join(_FIELDS)} FROM rm_tasks WHERE id = %s", [task_id]
        ).fetchone()
    return None if row is None else TaskView(**row)

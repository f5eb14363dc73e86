"""Tasks falling due: the lifecycle scheduler's second job (`crm worker lifecycle`).

Every tick picks the OPEN tasks whose due time has passed (rm_tasks' partial index on
OPEN tasks, the most overdue first, in batches until none is left:
`streams.due_batches`) and issues `MarkTaskDue` for each through the command layer by
actor ``system:scheduler``. The aggregate records `TaskFellDue` only for a task that is
still open and due, so a task rescheduled or closed meanwhile records nothing. Each
command carries the key ``task-due:<task>:<due time>`` and no `occurredAt`, so a tick
repeated before the projection caught up records nothing new; a rescheduled task that
falls due again has another due time, hence another key. `TaskFellDue` reaches Kafka
like every event; `taskReminders` pushes it to the assignee.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

import psycopg

from aggregates.errors import DomainError
from commands.idempotency import IdempotencyMismatch
from commands.messages import CommandContext, CommandResult, MarkTaskDue
from streams.due_batches import DueRows, Key, after_key, drain

ACTOR: Final = "system:scheduler"
BATCH: Final = 500

DUE: Final = DueRows.of(
    "SELECT id, due_at FROM rm_tasks AS t",
    "due_at",
    "AND status = 'OPEN' AND NOT EXISTS ("
    "SELECT 1 FROM rm_customers AS f WHERE f.id = t.customer_id AND f.forgotten)",
)
"""Open tasks fallen due; a forgotten customer's task takes no command (it would be
refused on every tick)."""

log = logging.getLogger(__name__)


class Handler(Protocol):
    def handle(self, command: Any, context: CommandContext) -> CommandResult: ...


@dataclass(frozen=True)
class DueTick:
    """What one tick did: open tasks past their due time, and how many it marked."""

    due: int
    marked: int
    refused: int = 0
    last: Key | None = None


def mark_due_tasks(
    conn: psycopg.Connection[Any],
    service: Handler,
    now: datetime,
    *,
    limit: int = BATCH,
    stopping: Callable[[], bool] = lambda: False,
) -> DueTick:
    """One tick as of `now` (tests pass a later `now`, and a service whose clock agrees):
    batches of `limit` until every task due is marked (`streams.due_batches`)."""
    return drain(lambda after: _mark_batch(conn, service, now, limit, after), limit, stopping)


def _mark_batch(
    conn: psycopg.Connection[Any], service: Handler, now: datetime, limit: int, after: Key | None
) -> DueTick:
    rows = DUE.pick(conn, now, limit, after)
    marked = refused = 0
    for task_id, due_at in rows:
        command = MarkTaskDue(task_id=task_id, idempotency_key=f"task-due:{task_id}:{due_at}")
        try:
            service.handle(command, CommandContext(actor=ACTOR))
            marked += 1
        except IdempotencyMismatch:
            marked += 1  # recorded by an earlier tick
        except DomainError as error:  # e.g. the customer was forgotten
            log.warning("task %s not marked due: %s", task_id, error)
            refused += 1
    return DueTick(len(rows), marked, refused, after_key(rows))

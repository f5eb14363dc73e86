"""Follow-up tasks in the contract: the `Task` type, its connection (`myTasks`), the
inputs of the four task mutations, and what they answer.

A task's title, outcome and cancel reason are personal free text: null for a role
without personal data access, noted in the access log when returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from anyio import to_thread
from strawberry.types import Info

from commands import messages as m
from gateway.access import note_returned
from gateway.consistency import wait_for_position
from gateway.context import GatewayContext
from gateway.errors import NOT_FOUND, GatewayError
from gateway.schema.enums import TaskKind, TaskStatus
from gateway.schema.execution import answers_directly
from gateway.schema.inputs import EXPECTED, IDEMPOTENCY
from gateway.schema.scalars import parse_id
from gateway.schema.types import PageInfo
from gateway.write_view import task_view_from_store
from projections.task_list import TaskView, task_by_id

GInfo = Info[GatewayContext, None]


@strawberry.type(description="A follow-up task for one person about one customer.")
class Task:
    view: strawberry.Private[TaskView]
    personal: strawberry.Private[bool]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.view.id))

    @strawberry.field
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.view.customer_id))

    @strawberry.field
    def kind(self) -> TaskKind:
        return TaskKind(self.view.kind)

    @strawberry.field(description="OVERDUE once the due time passed with the task open.")
    def status(self) -> TaskStatus:
        return TaskStatus(self.view.status)

    @strawberry.field
    def assignee(self) -> str:
        return self.view.assignee

    @strawberry.field
    def due_at(self) -> datetime:
        return self.view.due_at

    @strawberry.field
    def scheduled_at(self) -> datetime:
        return self.view.scheduled_at

    @strawberry.field(description="Who scheduled it (the token's subject).")
    def scheduled_by(self) -> str | None:
        return self.view.scheduled_by

    @strawberry.field(description="When the scheduler found it overdue.")
    def fell_due_at(self) -> datetime | None:
        return self.view.fell_due_at

    @strawberry.field(description="When it was done or cancelled.")
    def closed_at(self) -> datetime | None:
        return self.view.closed_at

    @strawberry.field(description="Personal: null without access, and once forgotten.")
    def title(self, info: GInfo) -> str | None:
        return self._private(info, "title", self.view.title)

    @strawberry.field(description="How it went (personal).")
    def outcome(self, info: GInfo) -> str | None:
        return self._private(info, "outcome", self.view.outcome)

    @strawberry.field(description="Why it was cancelled (personal).")
    def reason(self, info: GInfo) -> str | None:
        return self._private(info, "reason", self.view.reason)

    def _private(self, info: GInfo, field: str, value: str | None) -> str | None:
        returned = value if self.personal else None
        note_returned(info, self.view.customer_id, field, returned)
        return returned


@strawberry.type
class TaskEdge:
    cursor: str
    node: Task


@strawberry.type(description="Tasks, soonest due first.")
class TaskConnection:
    edges: list[TaskEdge]
    page_info: PageInfo = strawberry.field(
        description="As every list's: pages forwards only, so `hasPreviousPage` is false."
    )
    has_next_page: bool = strawberry.field(deprecation_reason="Use `pageInfo.hasNextPage`.")
    end_cursor: str | None = strawberry.field(deprecation_reason="Use `pageInfo.endCursor`.")


async def task_after_write(ctx: GatewayContext, task_id: UUID, customer_id: UUID, at: int) -> Task:
    """The task as `myTasks` shows it once the read models include the write; if they lag,
    folded from its events in the store."""
    deps = ctx.deps
    reached, _ = await wait_for_position(deps, customer_id, at, deps.limits.payload_wait_seconds)
    view = await deps.reads.run(task_by_id, task_id) if reached else None
    if view is None:
        view = await to_thread.run_sync(task_view_from_store, deps.app, task_id)
    if view is None:
        raise GatewayError(f"task {task_id} not found", NOT_FOUND)
    return Task(view=view, personal=ctx.sees_personal)


def _common(given: Any) -> dict[str, Any]:
    return {
        "occurred_at": given.occurred_at,
        "expected_version": given.expected_version,
        "idempotency_key": given.idempotency_key,
    }


@strawberry.type
class TaskPayload:
    written: strawberry.Private[Any]

    @strawberry.field(description="The task as `myTasks` now shows it (read-your-writes).")
    async def task(self, info: GInfo) -> Task:
        result = self.written.result
        return await task_after_write(
            info.context, result.aggregate_id, result.customer_id, self.written.position
        )

    @strawberry.field(description="Global position of the command's last event.")
    @answers_directly
    def position(self) -> int:
        return int(self.written.position)

    @strawberry.field(description="Version of the task's stream.")
    @answers_directly
    def version(self) -> int:
        return int(self.written.result.version)


@strawberry.input(description="A follow-up task for a person, due in the future.")
class ScheduleTaskInput:
    customer_id: strawberry.ID
    kind: TaskKind
    title: str = strawberry.field(description="What to do (personal: sealed, erased by forget).")
    assignee: str = strawberry.field(description="Who does it (a user name: the token subject).")
    due_at: datetime = strawberry.field(description="After occurredAt (or now).")
    task_id: strawberry.ID | None = strawberry.field(
        default=None, description="Choose the task's id; generated if absent."
    )
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.ScheduleTask:
        return m.ScheduleTask(
            customer_id=parse_id(self.customer_id, "customerId"),
            kind=self.kind.value,
            title=self.title,
            assignee=self.assignee,
            due_at=self.due_at,
            task_id=None if self.task_id is None else parse_id(self.task_id, "taskId"),
            **_common(self),
        )


@strawberry.input(description="A new due time for an open or overdue task.")
class RescheduleTaskInput:
    task_id: strawberry.ID
    due_at: datetime
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.RescheduleTask:
        return m.RescheduleTask(
            task_id=parse_id(self.task_id, "taskId"), due_at=self.due_at, **_common(self)
        )


@strawberry.input(description="Mark an open or overdue task done.")
class CompleteTaskInput:
    task_id: strawberry.ID
    outcome: str | None = None
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.CompleteTask:
        return m.CompleteTask(
            task_id=parse_id(self.task_id, "taskId"), outcome=self.outcome, **_common(self)
        )


@strawberry.input(description="Cancel an open or overdue task.")
class CancelTaskInput:
    task_id: strawberry.ID
    reason: str | None = None
    occurred_at: datetime | None = None
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)

    def command(self) -> m.CancelTask:
        return m.CancelTask(
            task_id=parse_id(self.task_id, "taskId"), reason=self.reason, **_common(self)
        )

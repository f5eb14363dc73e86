"""Follow-up tasks: the rules of `aggregates.task.Task` (no servers)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from aggregates.task import Task
from events import TaskCancelled, TaskCompleted, TaskFellDue, TaskRescheduled, TaskScheduled
from tests.unit.support.aggregates import AT, new_customer, only_event, recorded, refused

DUE = AT + timedelta(days=2)


def new_task(**overrides: object) -> Task:
    fields: dict[str, object] = {
        "task_id": uuid4(),
        "customer": new_customer(),
        "kind": "call_back",
        "title": "Call about the quote",
        "assignee": "amy",
        "due_at": DUE,
        "at": AT,
    }
    fields.update(overrides)
    task = Task.schedule(**fields)  # type: ignore[arg-type]
    return task


def test_scheduling_records_kind_assignee_and_due_time() -> None:
    task = new_task()
    (event,) = recorded(task)
    assert isinstance(event, TaskScheduled)
    assert (event.kind, event.assignee, event.due_at, event.title) == (
        "CALL_BACK",
        "amy",
        DUE,
        "Call about the quote",
    )
    assert task.status == "OPEN" and event.customer_id == task.customer_id


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"due_at": AT}, "RULE", "dueAt"),
        ({"due_at": AT - timedelta(minutes=1)}, "RULE", "dueAt"),
        ({"due_at": AT + timedelta(days=2000)}, "RULE", "dueAt"),
        ({"due_at": DUE.replace(tzinfo=None)}, "VALIDATION", "dueAt"),
        ({"kind": "LUNCH"}, "VALIDATION", "kind"),
        ({"title": " "}, "VALIDATION", "title"),
        ({"assignee": "amy\nbob"}, "VALIDATION", "assignee"),
    ],
)
def test_bad_schedules_are_refused(overrides: dict[str, object], code: str, field: str) -> None:
    with refused(code, field):
        new_task(**overrides)


def test_a_forgotten_customer_gets_no_task() -> None:
    customer = new_customer()
    customer.forget(reason="request", at=AT)
    with refused("RULE", "customerId"):
        new_task(customer=customer)


def test_falling_due_only_when_open_and_past_due() -> None:
    task = new_task()
    recorded(task)
    task.fall_due(at=DUE - timedelta(seconds=1))
    assert recorded(task) == []
    task.fall_due(at=DUE)
    event = only_event(task)
    assert isinstance(event, TaskFellDue) and event.assignee == "amy"
    assert task.status == "OVERDUE"
    task.fall_due(at=DUE + timedelta(hours=1))
    assert recorded(task) == [], "an overdue task falls due once"


def test_rescheduling_reopens_an_overdue_task_and_must_be_in_the_future() -> None:
    task = new_task()
    task.fall_due(at=DUE)
    recorded(task)
    with refused("RULE", "dueAt", task):
        task.reschedule(due_at=DUE, at=DUE + timedelta(hours=1))
    later = DUE + timedelta(days=1)
    task.reschedule(due_at=later, at=DUE + timedelta(hours=1))
    event = only_event(task)
    assert isinstance(event, TaskRescheduled) and event.previous_due_at == DUE
    assert (task.status, task.due_at) == ("OPEN", later)
    task.reschedule(due_at=later, at=DUE + timedelta(hours=2))
    assert recorded(task) == [], "the same due time records nothing"


def test_done_and_cancelled_are_final() -> None:
    done = new_task()
    done.complete(outcome="agreed on a demo", at=AT + timedelta(hours=1))
    assert isinstance(recorded(done)[-1], TaskCompleted) and done.status == "DONE"
    for action in (
        lambda: done.complete(at=AT + timedelta(hours=2)),
        lambda: done.cancel(at=AT + timedelta(hours=2)),
        lambda: done.reschedule(due_at=DUE, at=AT + timedelta(hours=2)),
    ):
        with refused("RULE", "taskId", done):
            action()
    cancelled = new_task()
    cancelled.cancel(reason="customer on holiday", at=AT + timedelta(hours=1))
    assert isinstance(recorded(cancelled)[-1], TaskCancelled)
    with refused("RULE", "taskId", cancelled):
        cancelled.complete(at=AT + timedelta(hours=2))
    cancelled.fall_due(at=DUE)
    assert recorded(cancelled) == [], "a cancelled task never falls due"


def test_free_texts_are_sealed() -> None:
    assert TaskScheduled.PERSONAL == ("title",)
    assert TaskCompleted.PERSONAL == ("outcome",)
    assert TaskCancelled.PERSONAL == ("reason",)
    assert TaskFellDue.PERSONAL == () and TaskRescheduled.PERSONAL == ()


@pytest.mark.parametrize("step", ["complete", "cancel", "reschedule"])
def test_no_step_is_dated_before_the_task_was_scheduled(step: str) -> None:
    task = new_task()
    task.collect_events()
    earlier = AT - timedelta(hours=1)
    steps = {
        "complete": lambda: task.complete(at=earlier),
        "cancel": lambda: task.cancel(at=earlier),
        "reschedule": lambda: task.reschedule(due_at=DUE + timedelta(days=1), at=earlier),
    }
    with refused("VALIDATION", "occurredAt", task):
        steps[step]()

"""Follow-up tasks over HTTP on the real servers: schedule, complete, reschedule, cancel
with their rules; `myTasks` lists the caller's own tasks; the scheduler's tick records
an open task whose due time passed as OVERDUE (`TaskFellDue`, once)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from anyio import to_thread

from gateway.deps import Limits
from streams.task_scheduler import mark_due_tasks
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import done, mutate, new_customer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

TASK = "task { id kind status assignee dueAt title outcome reason scheduledBy fellDueAt }"
MY_TASKS = (
    "query($status: TaskStatus, $before: DateTime, $first: Int, $after: String) { "
    "myTasks(status: $status, dueBefore: $before, first: $first, after: $after) { "
    "edges { cursor node { id kind status title dueAt customerId } } hasNextPage endCursor "
    "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"
)


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def max_position(gw: GatewayHarness) -> int:
    return await to_thread.run_sync(lambda: gw.deps.app.recorder.max_notification_id() or 0)


async def schedule(gw: GatewayHarness, cid: str, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    given = {
        "customerId": cid,
        "kind": "CALL_BACK",
        "title": "call about the quote",
        "assignee": "amy",
        "dueAt": iso(now + timedelta(days=1)),
        **fields,
    }
    payload = await done(gw, "scheduleTask", given, TASK, role="sales", subject="amy")
    task: dict[str, Any] = payload["task"]
    return task


async def schedule_overdue(gw: GatewayHarness, cid: str, **fields: Any) -> dict[str, Any]:
    """A task scheduled two hours ago, due an hour ago: the scheduler's next pick."""
    now = datetime.now(UTC)
    past = {"occurredAt": iso(now - timedelta(hours=2)), "dueAt": iso(now - timedelta(hours=1))}
    return await schedule(gw, cid, **past, **fields)


async def my_tasks(gw: GatewayHarness, subject: str, **args: Any) -> Any:
    data = await gw.data(MY_TASKS, args, role="sales", subject=subject)
    return data["myTasks"]


async def test_a_task_is_listed_for_its_assignee_only(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Task Case")
    now = datetime.now(UTC)
    later = await schedule(gw, cid, kind="VISIT", dueAt=iso(now + timedelta(days=3)))
    sooner = await schedule(gw, cid, kind="CARE_CALL", dueAt=iso(now + timedelta(hours=2)))
    assert (sooner["status"], sooner["assignee"], sooner["scheduledBy"]) == ("OPEN", "amy", "amy")
    assert sooner["title"] == "call about the quote"
    first = await my_tasks(gw, "amy", first=1)
    assert [e["node"]["id"] for e in first["edges"]] == [sooner["id"]] and first["hasNextPage"]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["endCursor"],
    }
    rest = await my_tasks(gw, "amy", first=5, after=first["endCursor"])
    assert [e["node"]["id"] for e in rest["edges"]] == [later["id"]]
    soon = await my_tasks(gw, "amy", before=iso(now + timedelta(days=1)))
    assert [e["node"]["kind"] for e in soon["edges"]] == ["CARE_CALL"]
    assert (await my_tasks(gw, "bob"))["edges"] == []


async def test_complete_cancel_and_reschedule_follow_the_rules(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Rules Case")
    now = datetime.now(UTC)
    task = await schedule(gw, cid)
    tid = task["id"]
    moved = await done(
        gw, "rescheduleTask", {"taskId": tid, "dueAt": iso(now + timedelta(days=5))}, TASK
    )
    assert datetime.fromisoformat(moved["task"]["dueAt"]) == now + timedelta(days=5)
    past = await mutate(gw, "rescheduleTask", {"taskId": tid, "dueAt": iso(now - timedelta(1))})
    assert first_error(past)["extensions"] == {"code": "RULE", "field": "dueAt"}
    finished = await done(gw, "completeTask", {"taskId": tid, "outcome": "demo booked"}, TASK)
    assert (finished["task"]["status"], finished["task"]["outcome"]) == ("DONE", "demo booked")
    before = await max_position(gw)
    for name, extra in (
        ("completeTask", {}),
        ("cancelTask", {}),
        ("rescheduleTask", {"dueAt": iso(now + timedelta(days=9))}),
    ):
        again = await mutate(gw, name, {"taskId": tid, **extra})
        assert first_error(again)["extensions"] == {"code": "RULE", "field": "taskId"}, name
    assert await max_position(gw) == before
    other = await schedule(gw, cid)
    cancelled = await done(gw, "cancelTask", {"taskId": other["id"], "reason": "on holiday"}, TASK)
    assert (cancelled["task"]["status"], cancelled["task"]["reason"]) == ("CANCELLED", "on holiday")
    assert [
        e["node"]["status"] for e in (await my_tasks(gw, "amy", status="CANCELLED"))["edges"]
    ] == ["CANCELLED"]


async def test_bad_schedules_and_roles_record_nothing(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Bad Task")
    now = datetime.now(UTC)
    base = {"customerId": cid, "kind": "VISIT", "title": "t", "assignee": "amy"}
    before = await max_position(gw)
    past = await mutate(gw, "scheduleTask", {**base, "dueAt": iso(now - timedelta(hours=1))})
    assert first_error(past)["extensions"] == {"code": "RULE", "field": "dueAt"}
    blank = await mutate(
        gw, "scheduleTask", {**base, "title": " ", "dueAt": iso(now + timedelta(1))}
    )
    assert first_error(blank)["extensions"] == {"code": "VALIDATION", "field": "title"}
    unknown = await mutate(
        gw,
        "scheduleTask",
        {
            **base,
            "dueAt": iso(now + timedelta(1)),
            "customerId": "00000000-0000-0000-0000-000000000001",
        },
    )
    assert first_error(unknown)["extensions"]["code"] == "NOT_FOUND"
    for role in ("analyst", "compliance"):
        refused = await mutate(
            gw, "scheduleTask", {**base, "dueAt": iso(now + timedelta(1))}, role=role
        )
        assert error_codes(refused) == ["FORBIDDEN"], role
        listed = await gw.gql(MY_TASKS, {}, role=role)
        assert error_codes(listed) == ["FORBIDDEN"], role
    assert await max_position(gw) == before


async def test_the_scheduler_marks_a_task_overdue_once(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Due Case")
    due = await schedule_overdue(gw, cid, assignee="amy")
    await schedule(gw, cid, dueAt=iso(datetime.now(UTC) + timedelta(days=1)))

    def tick() -> Any:
        with psycopg.connect(gw.database_url, autocommit=True) as conn:
            found = mark_due_tasks(conn, gw.deps.service, datetime.now(UTC))
        gw.sync()
        return found

    first = await to_thread.run_sync(tick)
    assert (first.due, first.marked, first.refused) == (1, 1, 0)
    position = await max_position(gw)
    second = await to_thread.run_sync(tick)
    assert second.due == 0 and await max_position(gw) == position, "recorded once"
    overdue = await my_tasks(gw, "amy", status="OVERDUE")
    assert [e["node"]["id"] for e in overdue["edges"]] == [due["id"]]
    entries = await gw.data(
        "query($id: ID!) { customer(id: $id) { timeline(types: [TASK]) { edges { node { "
        "actor ... on TaskEntry { taskId status assignedTo title } } } } } }",
        {"id": cid},
    )
    steps = [e["node"] for e in entries["customer"]["timeline"]["edges"]]
    assert steps[0] == {
        "actor": "system:scheduler",
        "taskId": due["id"],
        "status": "OVERDUE",
        "assignedTo": "amy",
        "title": None,
    }
    assert {s["status"] for s in steps[1:]} == {"OPEN"}


async def test_tasks_falling_due_together_are_all_marked_in_one_tick(
    gw: GatewayHarness,
) -> None:
    """A tick marks every task due, batch after batch, not one batch per interval."""
    cid = await new_customer(gw, "Many Due")
    tasks = [(await schedule_overdue(gw, cid))["id"] for _ in range(5)]

    def tick() -> Any:
        with psycopg.connect(gw.database_url, autocommit=True) as conn:
            found = mark_due_tasks(conn, gw.deps.service, datetime.now(UTC), limit=2)
        gw.sync()
        return found

    first = await to_thread.run_sync(tick)
    assert (first.due, first.marked, first.refused) == (5, 5, 0)
    assert (await to_thread.run_sync(tick)).due == 0
    overdue = await my_tasks(gw, "amy", status="OVERDUE", first=50)
    assert set(tasks) <= {e["node"]["id"] for e in overdue["edges"]}


async def test_forgetting_erases_the_task_texts_and_retires_the_tasks(gw: GatewayHarness) -> None:
    """A forgotten customer's task takes no command: it leaves the assignee's list, and
    the scheduler stops picking it (it was refused on every tick, for good)."""
    cid = await new_customer(gw, "Forget Task")
    task = await schedule_overdue(gw, cid, title="ring Mr Secret on 13912345678")
    await done(gw, "forgetCustomer", {"customerId": cid, "reason": "request"})

    def stored_title() -> Any:
        with psycopg.connect(gw.database_url) as conn:
            row = conn.execute("SELECT title FROM rm_tasks WHERE id = %s", [task["id"]])
            return row.fetchone()

    assert await to_thread.run_sync(stored_title) == (None,), "the text is erased"
    listed = await my_tasks(gw, "amy", first=100)
    assert task["id"] not in {e["node"]["id"] for e in listed["edges"]}
    late = await mutate(gw, "completeTask", {"taskId": task["id"]})
    assert first_error(late)["extensions"] == {"code": "RULE", "field": "taskId"}

    def tick() -> Any:
        with psycopg.connect(gw.database_url, autocommit=True) as conn:
            return mark_due_tasks(conn, gw.deps.service, datetime.now(UTC))

    assert (await to_thread.run_sync(tick)).refused == 0, "not picked, not refused"

"""Replay and as-of read the event store itself: a customer's full history with its
complaints, the state after each event, and the state at any past moment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import (
    ChangeContactDetails,
    CommandContext,
    FileComplaint,
    ForgetCustomer,
    MoveStage,
    RecordContactTouch,
    RegisterCustomer,
    ResolveComplaint,
    ScheduleTask,
)
from commands.service import CommandService
from compliance.audit import UnknownCustomer, replay, state_as_of

pytestmark = pytest.mark.integration

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


MASTER_KEY = generate_master_key()


@pytest.fixture
def app(database_url: str) -> Iterator[CrmApplication]:
    application = CrmApplication(
        database_url, master_key=MASTER_KEY, snapshot_interval=3, pool_size=2
    )
    yield application
    application.close()


@pytest.fixture
def service(app: CrmApplication) -> CommandService:
    return CommandService(app)


def story(service: CommandService) -> tuple[UUID, UUID, CommandContext]:
    ctx = CommandContext(actor="alice", causation_id=uuid4())
    cid = service.handle(
        RegisterCustomer(name="Ann Lee", email="ann@example.com", occurred_at=day(0)), ctx
    ).customer_id
    other = CommandContext(actor="bob")
    service.handle(
        RecordContactTouch(customer_id=cid, channel="PHONE", summary="asked", occurred_at=day(1)),
        other,
    )
    complaint = service.handle(
        FileComplaint(
            customer_id=cid,
            category="billing",
            severity="LOW",
            description="charged twice",
            occurred_at=day(2),
        ),
        other,
    ).aggregate_id
    service.handle(MoveStage(customer_id=cid, to="QUALIFIED", occurred_at=day(3)), ctx)
    service.handle(
        ChangeContactDetails(customer_id=cid, email="ann.lee@example.com", occurred_at=day(4)),
        ctx,
    )
    service.handle(
        ResolveComplaint(complaint_id=complaint, resolution="refunded", occurred_at=day(5)), other
    )
    # Someone else's history must not show up.
    service.handle(RegisterCustomer(name="Bo", email="bo@example.com", occurred_at=day(1)), ctx)
    return cid, complaint, ctx


def test_replay_lists_every_event_with_its_context_and_state(
    app: CrmApplication, service: CommandService
) -> None:
    cid, complaint, ctx = story(service)
    steps = replay(app, cid)
    assert [s.type for s in steps] == [
        "crm.customer.registered.v1",
        "crm.customer.contact_touch_recorded.v3",
        "crm.complaint.filed.v1",
        "crm.customer.stage_moved.v1",
        "crm.customer.contact_details_changed.v1",
        "crm.complaint.resolved.v1",
    ]
    assert [s.position for s in steps] == sorted(s.position for s in steps)
    assert [s.stream_kind for s in steps].count("complaint") == 2
    assert {s.stream_id for s in steps} == {cid, complaint}
    first = steps[0]
    assert (first.actor, first.causation_id, first.command) == (
        "alice",
        ctx.causation_id,
        "RegisterCustomer",
    )
    assert first.correlation_id == ctx.correlation_id
    assert first.occurred_at == day(0) and first.recorded_at is not None
    assert first.recorded_at > first.occurred_at  # recorded now, dated in the past
    assert steps[1].actor == "bob"
    assert first.data["name"] == "Ann Lee" and first.state["email"] == "ann@example.com"
    assert steps[3].state["stage"] == "QUALIFIED" and steps[3].state["version"] == 3
    assert steps[4].state["email"] == "ann.lee@example.com"
    assert steps[2].state["status"] == "OPEN" and steps[5].state["status"] == "RESOLVED"
    assert steps[5].data["resolution"] == "refunded"


def test_until_stops_each_stream_and_matches_as_of(
    app: CrmApplication, service: CommandService
) -> None:
    cid, complaint, _ = story(service)
    moment = day(3.5)
    steps = replay(app, cid, until=moment)
    assert [s.type.split(".")[2] for s in steps] == [
        "registered",
        "contact_touch_recorded",
        "filed",
        "stage_moved",
    ]
    found = state_as_of(app, cid, moment)
    assert found is not None
    last_customer = [s for s in steps if s.stream_kind == "customer"][-1]
    assert found.customer.state == last_customer.state
    assert found.customer.version == 3 and found.customer.position == last_customer.position
    assert [(c.stream_id, c.state["status"]) for c in found.complaints] == [(complaint, "OPEN")]
    assert state_as_of(app, cid, day(-1)) is None
    latest = state_as_of(app, cid, day(30))
    assert latest is not None and latest.customer.state["email"] == "ann.lee@example.com"


def test_recorded_time_basis(app: CrmApplication, service: CommandService) -> None:
    cid, _, _ = story(service)
    # Every event was recorded just now although dated in 2025.
    assert state_as_of(app, cid, day(30), basis="recorded") is None
    now = datetime.now(UTC)
    found = state_as_of(app, cid, now, basis="recorded")
    assert found is not None and found.customer.version == 4
    assert len(replay(app, cid, until=now, basis="recorded")) == 6
    assert replay(app, cid, until=day(30), basis="recorded") == []


def test_as_of_reads_the_store_not_the_cache_and_uses_snapshots(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    cid, _, _ = story(service)
    for n in range(10):
        service.handle(
            RecordContactTouch(customer_id=cid, channel="EMAIL", occurred_at=day(10 + n)),
            CommandContext(actor="x"),
        )
    with psycopg.connect(database_url) as conn:
        snapshots = conn.execute(
            "SELECT count(*) FROM stored_snapshots WHERE originator_id = %s", (cid,)
        ).fetchone()
    assert snapshots and snapshots[0] > 0
    found = state_as_of(app, cid, day(14.5))
    assert found is not None
    assert found.customer.version == 9 and found.customer.state["touch_counts"] == {
        "PHONE": 1,
        "EMAIL": 5,
    }


def test_a_forgotten_customer_keeps_its_trail_without_personal_data(
    app: CrmApplication, service: CommandService
) -> None:
    cid, _, _ = story(service)
    before = replay(app, cid)
    service.handle(ForgetCustomer(customer_id=cid, reason="GDPR art. 17"), CommandContext("dpo"))
    after = replay(app, cid)
    assert [(s.position, s.type, s.occurred_at, s.actor) for s in after[:-1]] == [
        (s.position, s.type, s.occurred_at, s.actor) for s in before
    ]
    assert after[-1].type == "crm.customer.forgotten.v1" and after[-1].actor == "dpo"
    assert after[-1].data["reason"] == "GDPR art. 17"
    personal = [s.data[f] for s in after for f in s.personal_fields if f in s.data]
    assert personal and all(v is None for v in personal)
    # The changes still name the personal fields the events set, with null values.
    for was, now in zip(before, after, strict=False):
        named_before = {c.field for c in was.changes}
        named_after = {c.field: (c.before, c.after) for c in now.changes}
        assert named_before <= set(named_after), (was.type, named_before - set(named_after))
        for field in set(now.personal_fields) & named_before:
            assert named_after[field] == (None, None), (now.type, field)
    found = state_as_of(app, cid, day(3.5))
    assert found is not None and found.customer.state["name"] is None


def test_a_forget_in_another_process_is_not_undone_by_this_ones_cached_key(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    # This process has the key cached (for 5 s) when another process forgets the
    # customer: its next audit read must already show no personal data.
    cid, _, _ = story(service)
    assert replay(app, cid)[0].data["name"] is not None
    other = CrmApplication(database_url, master_key=MASTER_KEY, pool_size=1)
    try:
        forget = ForgetCustomer(customer_id=cid, reason="GDPR art. 17")
        CommandService(other).handle(forget, CommandContext("dpo"))
    finally:
        other.close()
    trail = replay(app, cid)
    assert trail[-1].type == "crm.customer.forgotten.v1"
    personal = [s.data[f] for s in trail for f in s.personal_fields if f in s.data]
    assert personal and all(v is None for v in personal)
    found = state_as_of(app, cid, day(3.5))
    assert found is not None and found.customer.state["name"] is None


def test_unknown_ids_are_refused(app: CrmApplication, service: CommandService) -> None:
    _, complaint, _ = story(service)
    for unknown in (uuid4(), complaint):
        with pytest.raises(UnknownCustomer):
            replay(app, unknown)
        with pytest.raises(UnknownCustomer):
            state_as_of(app, unknown, day(3))
    with pytest.raises(ValueError, match="time zone"):
        state_as_of(app, complaint, datetime(2025, 1, 1))


def test_a_tasks_events_are_labelled_as_a_task_not_a_complaint(
    app: CrmApplication, service: CommandService
) -> None:
    cid, complaint, ctx = story(service)
    task = service.handle(
        ScheduleTask(
            customer_id=cid,
            kind="CALL_BACK",
            title="call back",
            assignee="amy",
            due_at=datetime.now(UTC) + timedelta(days=2),
        ),
        ctx,
    ).aggregate_id
    kinds = {(s.stream_id, s.stream_kind) for s in replay(app, cid)}
    assert {(task, "task"), (complaint, "complaint"), (cid, "customer")} == kinds
    found = state_as_of(app, cid, datetime.now(UTC) + timedelta(seconds=1), basis="recorded")
    assert found is not None
    assert {(s.stream_id, s.kind) for s in found.complaints} == {
        (complaint, "complaint"),
        (task, "task"),
    }

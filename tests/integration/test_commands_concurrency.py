"""Concurrent writers on the real PostgreSQL: retries lose nothing, pins conflict, keys and
emails are claimed exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from uuid import UUID, uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.errors import Conflict
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import (
    AssignOwner,
    Command,
    CommandContext,
    CommandResult,
    RecordContactTouch,
    RegisterCustomer,
)
from commands.service import CommandService

pytestmark = pytest.mark.integration

T = TypeVar("T")
CTX = CommandContext(actor="load")


@pytest.fixture
def app(database_url: str) -> Iterator[CrmApplication]:
    application = CrmApplication(
        database_url, master_key=generate_master_key(), pool_size=4, max_overflow=16
    )
    yield application
    application.close()


@pytest.fixture
def service(app: CrmApplication) -> CommandService:
    return CommandService(app, max_attempts=60)


def all_at_once(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run the calls in threads released together; results or exceptions, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | BaseException:
        barrier.wait()
        try:
            return call()
        except BaseException as error:  # the test inspects it
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def sending(service: CommandService, command: Command) -> Callable[[], CommandResult]:
    return lambda: service.handle(command, CTX)


def summaries(url: str, app: CrmApplication, customer_id: UUID) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT notification_id FROM stored_events WHERE originator_id=%s ORDER BY 1",
            (customer_id,),
        ).fetchall()
    found = []
    for (position,) in rows:
        [notification] = app.recorder.select_notifications(start=position, limit=1)
        summary = app.notification_state(notification).get("summary")
        if summary:
            found.append(summary)
    return found


def test_unpinned_concurrent_writers_are_retried_and_lose_nothing(
    service: CommandService, app: CrmApplication, database_url: str
) -> None:
    cid = service.handle(RegisterCustomer(name="Busy"), CTX).customer_id
    writers, each = 6, 4

    def writer(n: int) -> Callable[[], list[CommandResult]]:
        def run() -> list[CommandResult]:
            return [
                service.handle(
                    RecordContactTouch(customer_id=cid, channel="PHONE", summary=f"w{n}-{i}"),
                    CommandContext(actor=f"writer-{n}"),
                )
                for i in range(each)
            ]

        return run

    outcomes = all_at_once([writer(n) for n in range(writers)])
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    versions = sorted(r.version for o in outcomes for r in o)  # type: ignore[union-attr]
    assert versions == list(range(2, 2 + writers * each))
    assert app.repository.get(cid).version == 1 + writers * each
    assert sorted(summaries(database_url, app, cid)) == sorted(
        f"w{n}-{i}" for n in range(writers) for i in range(each)
    )
    with psycopg.connect(database_url) as conn:
        actors = Counter(r[0] for r in conn.execute("SELECT actor FROM crm_event_meta"))
    assert actors == {"load": 1, **{f"writer-{n}": each for n in range(writers)}}


def test_pinned_concurrent_writers_exactly_one_wins(
    service: CommandService, database_url: str
) -> None:
    cid = service.handle(RegisterCustomer(name="Pinned"), CTX).customer_id
    outcomes = all_at_once(
        [
            sending(service, AssignOwner(customer_id=cid, owner=f"o{n}", expected_version=1))
            for n in range(5)
        ]
    )
    wins = [o for o in outcomes if isinstance(o, CommandResult)]
    losses = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(wins) == 1 and len(losses) == 4
    assert wins[0].version == 2
    assert {e.field for e in losses} == {"expectedVersion"}


def test_racing_registrations_of_one_email_exactly_one_wins(
    service: CommandService, database_url: str
) -> None:
    for round_ in range(3):
        email = f"race{round_}@example.com"
        outcomes = all_at_once(
            [
                sending(service, RegisterCustomer(name=f"Racer {n}", email=email.upper()))
                for n in range(2)
            ]
        )
        wins = [o for o in outcomes if isinstance(o, CommandResult)]
        losses = [o for o in outcomes if isinstance(o, Conflict)]
        assert len(wins) == 1 and len(losses) == 1, outcomes
        assert (losses[0].code, losses[0].field) == ("CONFLICT", "email")
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM crm_email_reservations").fetchone()
    assert row == (3,)


def test_racing_retries_with_one_idempotency_key_record_once(
    service: CommandService, database_url: str
) -> None:
    cid = service.handle(RegisterCustomer(name="Keyed"), CTX).customer_id
    touch = RecordContactTouch(customer_id=cid, channel="EMAIL", idempotency_key="retry-me")
    outcomes = all_at_once([sending(service, touch) for _ in range(4)])
    assert all(isinstance(o, CommandResult) for o in outcomes), outcomes
    assert len(set(outcomes)) == 1
    register = RegisterCustomer(name="Once", idempotency_key="register-once")
    outcomes = all_at_once([sending(service, register) for _ in range(3)])
    assert len(set(outcomes)) == 1, outcomes
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM stored_events").fetchone()
    assert row == (3,)  # two registrations and one touch


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.lists(
        st.tuples(st.integers(min_value=1, max_value=3), st.booleans()),
        min_size=2,
        max_size=8,
    ),
    threads=st.integers(min_value=2, max_value=4),
)
def test_property_concurrent_writers_never_lose_or_duplicate(
    service: CommandService,
    app: CrmApplication,
    database_url: str,
    plan: list[tuple[int, bool]],
    threads: int,
) -> None:
    """Each planned command is sent `copies` times (only when it has a key, else once),
    spread over threads; the stream ends with each command's event exactly once."""
    cid = service.handle(RegisterCustomer(name="Prop"), CTX).customer_id
    tag = uuid4().hex[:8]
    sends: list[RecordContactTouch] = []
    for i, (copies, keyed) in enumerate(plan):
        command = RecordContactTouch(
            customer_id=cid,
            channel="PHONE",
            summary=f"{tag}-{i}",
            idempotency_key=f"{tag}-{i}" if keyed else None,
        )
        sends.extend([command] * (copies if keyed else 1))
    lanes: list[list[RecordContactTouch]] = [sends[n::threads] for n in range(threads)]

    def lane(commands: list[RecordContactTouch]) -> Callable[[], list[CommandResult]]:
        return lambda: [service.handle(c, CTX) for c in commands]

    outcomes = all_at_once([lane(commands) for commands in lanes if commands])
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    results: dict[str, set[CommandResult]] = {}
    for commands, lane_results in zip([c for c in lanes if c], outcomes, strict=True):
        for command, result in zip(commands, lane_results, strict=True):  # type: ignore[arg-type]
            results.setdefault(command.summary or "", set()).add(result)
    assert all(len(r) == 1 for r in results.values()), "a retried key returned another result"
    recorded = summaries(database_url, app, cid)
    assert sorted(recorded) == sorted(f"{tag}-{i}" for i in range(len(plan)))
    assert app.repository.get(cid).version == 1 + len(plan)

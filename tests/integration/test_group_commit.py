"""Group commit on the real PostgreSQL: each caller gets its own result or error, nothing is
lost or duplicated, a bad command does not fail its neighbours, contexts are kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from aggregates.errors import Conflict, NotFound, ValidationFailed
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.group_commit import CommitterClosed, GroupCommitter
from commands.idempotency import IdempotencyMismatch
from commands.messages import (
    AssignOwner,
    Command,
    CommandContext,
    CommandResult,
    RecordContactTouch,
    RegisterCustomer,
    TagCustomer,
)
from commands.service import CommandService

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="tester")


class GatedService(CommandService):
    """Holds the first `handle_many` until the test opens the gate, so the test can
    line up exactly which commands share the next round."""

    def __init__(self, app: CrmApplication) -> None:
        super().__init__(app, max_attempts=60)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.batches: list[int] = []

    def handle_many(
        self,
        commands: Sequence[Command],
        context: CommandContext,
        *,
        contexts: Sequence[CommandContext] | None = None,
        retry_conflicts: bool = True,
    ) -> list[CommandResult]:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        self.batches.append(len(commands))
        return super().handle_many(
            commands, context, contexts=contexts, retry_conflicts=retry_conflicts
        )


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


@pytest.fixture
def gated(app: CrmApplication) -> GatedService:
    return GatedService(app)


def register(service: CommandService, count: int) -> list[UUID]:
    return [
        service.handle(RegisterCustomer(name=f"客户{n}"), CTX).customer_id for n in range(count)
    ]


def one_round(
    gated: GatedService, calls: Sequence[tuple[Command, CommandContext]]
) -> tuple[GroupCommitter, list[Future[CommandResult]]]:
    """A warm-up call holds the committer at the gate while `calls` queue up behind it;
    opening the gate then records all of `calls` as the next round."""
    committer = GroupCommitter(gated, window=0.0)
    warm_up = committer.submit(RegisterCustomer(name="warm-up"), CTX)
    assert gated.entered.wait(10)
    futures = [committer.submit(command, context) for command, context in calls]
    gated.gate.set()
    warm_up.result(30)
    for future in futures:
        future.exception(30)  # wait for all, raising nothing here
    return committer, futures


def outcome(future: Future[CommandResult]) -> CommandResult | BaseException:
    error = future.exception(30)
    return error if error is not None else future.result()


def scalar(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def summary_at(app: CrmApplication, position: int) -> tuple[UUID, str | None]:
    [notification] = app.recorder.select_notifications(start=position, limit=1)
    assert notification.id == position
    summary = app.notification_state(notification).get("summary")
    return UUID(str(notification.originator_id)), summary


def test_many_threads_get_their_own_results_and_nothing_is_lost(
    service: CommandService, app: CrmApplication, database_url: str
) -> None:
    customers = register(service, 8)
    before = scalar(database_url, "SELECT count(*) FROM stored_events")
    threads, each = 24, 8
    results: dict[tuple[int, int], CommandResult] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)
    with GroupCommitter(service, window=0.005) as committer:

        def client(n: int) -> None:
            barrier.wait()
            for i in range(each):
                command = RecordContactTouch(
                    customer_id=customers[(n + i) % len(customers)],
                    channel="PHONE",
                    summary=f"t{n}-{i}",
                )
                try:
                    results[(n, i)] = committer.handle(command, CTX)
                except BaseException as error:
                    errors.append(error)

        workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert errors == []
    assert len(results) == threads * each
    positions = [r.position for r in results.values()]
    assert None not in positions and len(set(positions)) == len(positions)
    after = scalar(database_url, "SELECT count(*) FROM stored_events")
    assert after - before == threads * each
    for (n, i), result in results.items():
        assert result.customer_id == customers[(n + i) % len(customers)]
        assert result.position is not None
        assert summary_at(app, result.position) == (result.customer_id, f"t{n}-{i}")
    assert committer.stats.commands == threads * each
    assert committer.stats.rounds <= threads * each


def test_a_refused_command_fails_alone_and_its_neighbours_are_recorded(
    gated: GatedService, database_url: str
) -> None:
    alice, bob = register(gated, 2)
    gated.entered.clear()
    calls: list[tuple[Command, CommandContext]] = [
        (RecordContactTouch(customer_id=alice, channel="PHONE", summary="ok 1"), CTX),
        (RecordContactTouch(customer_id=alice, channel="PIGEON"), CTX),
        (RecordContactTouch(customer_id=uuid4(), channel="EMAIL"), CTX),
        (RecordContactTouch(customer_id=bob, channel="WECHAT", summary="ok 2"), CTX),
        (TagCustomer(customer_id=bob, add=("vip",)), CTX),
    ]
    committer, futures = one_round(gated, calls)
    committer.close()
    results = [outcome(f) for f in futures]
    assert isinstance(results[0], CommandResult) and results[0].customer_id == alice
    assert isinstance(results[1], ValidationFailed) and results[1].field == "channel"
    assert isinstance(results[2], NotFound)
    assert isinstance(results[3], CommandResult) and results[3].customer_id == bob
    assert isinstance(results[4], CommandResult) and results[4].version == 3
    assert results[1].command_index == 0  # type: ignore[attr-defined]
    assert committer.stats.refused == 2
    # Round: warm-up, then the 5 commands, refused twice, then the 3 good ones.
    assert gated.batches[1:] == [5, 4, 3]
    good = [r.position for r in results if isinstance(r, CommandResult)]
    with psycopg.connect(database_url) as conn:
        transactions = conn.execute(
            "SELECT count(DISTINCT xmin::text) FROM stored_events WHERE notification_id = ANY(%s)",
            (good,),
        ).fetchone()
    assert transactions == (1,)


def test_a_caller_that_cancelled_its_future_spoils_nothing_for_its_round(
    gated: GatedService,
) -> None:
    """The command of a caller who left is recorded anyway; the rest of its round, a
    refused neighbour included, get their own answers."""
    alice, bob = register(gated, 2)
    gated.entered.clear()
    committer = GroupCommitter(gated, window=0.0)
    warm_up = committer.submit(RegisterCustomer(name="warm-up"), CTX)
    assert gated.entered.wait(10)
    left = committer.submit(RecordContactTouch(customer_id=alice, channel="PHONE"), CTX)
    refused = committer.submit(RecordContactTouch(customer_id=bob, channel="PIGEON"), CTX)
    stayed = committer.submit(RecordContactTouch(customer_id=bob, channel="EMAIL"), CTX)
    assert left.cancel()
    gated.gate.set()
    warm_up.result(30)
    assert isinstance(outcome(refused), ValidationFailed)
    assert stayed.result(30).version == 2
    again = committer.submit(RecordContactTouch(customer_id=alice, channel="PHONE"), CTX)
    assert again.result(30).version == 3  # the cancelled touch was recorded
    committer.close()


def test_a_failure_no_command_is_named_for_is_split_until_the_culprit_is_alone(
    gated: GatedService,
) -> None:
    (carol,) = register(gated, 1)
    gated.entered.clear()
    calls: list[tuple[Command, CommandContext]] = [
        (RegisterCustomer(name="甲", email="same@example.cn"), CTX),
        (RecordContactTouch(customer_id=carol, channel="PHONE"), CTX),
        (RegisterCustomer(name="乙", email="SAME@example.cn"), CTX),
        (AssignOwner(customer_id=carol, owner="王磊"), CTX),
    ]
    committer, futures = one_round(gated, calls)
    committer.close()
    results = [outcome(f) for f in futures]
    registered = [r for r in (results[0], results[2]) if isinstance(r, CommandResult)]
    refused = [r for r in (results[0], results[2]) if isinstance(r, Conflict)]
    assert len(registered) == 1 and len(refused) == 1
    assert refused[0].field == "email"
    assert isinstance(results[1], CommandResult) and isinstance(results[3], CommandResult)
    assert committer.stats.splits >= 1


def test_each_callers_context_is_recorded_with_its_events(
    gated: GatedService, app: CrmApplication
) -> None:
    customers = register(gated, 3)
    gated.entered.clear()
    contexts = [
        CommandContext(actor="alice"),
        CommandContext(actor="bob", causation_id=uuid4()),
        CommandContext(actor="carol"),
    ]
    calls: list[tuple[Command, CommandContext]] = [
        (RecordContactTouch(customer_id=customers[n % 3], channel="EMAIL"), contexts[n % 3])
        for n in range(9)
    ]
    committer, futures = one_round(gated, calls)
    committer.close()
    assert gated.batches[-1] == 9  # three contexts, one transaction
    results = [f.result() for f in futures]
    positions = [r.position for r in results]
    assert None not in positions
    meta = app.crm_recorder.select_event_meta([p for p in positions if p is not None])
    for n, result in enumerate(results):
        assert result.position is not None
        recorded = meta[result.position]
        expected = contexts[n % 3]
        assert (recorded.actor, recorded.correlation_id, recorded.causation_id) == (
            expected.actor,
            expected.correlation_id,
            expected.causation_id,
        )
        assert recorded.command == "RecordContactTouch"


def test_idempotency_keys_keep_their_meaning_within_and_across_rounds(
    gated: GatedService, database_url: str
) -> None:
    (dora,) = register(gated, 1)
    gated.entered.clear()
    touch = RecordContactTouch(customer_id=dora, channel="PHONE", idempotency_key="call-1")
    calls: list[tuple[Command, CommandContext]] = [
        (touch, CTX),
        (touch, CTX),
        (AssignOwner(customer_id=dora, owner="李娜", idempotency_key="call-1"), CTX),
    ]
    committer, futures = one_round(gated, calls)
    results = [outcome(f) for f in futures]
    assert isinstance(results[0], CommandResult)
    assert results[1] == results[0]
    assert isinstance(results[2], IdempotencyMismatch) and results[2].field == "idempotencyKey"
    assert committer.handle(touch, CTX) == results[0]  # a later round replays it
    committer.close()
    recorded = f"SELECT count(*) FROM stored_events WHERE originator_id = '{dora}'"
    assert scalar(database_url, recorded) == 2  # registered, touched once


def test_pinned_versions_in_one_round_exactly_one_wins(gated: GatedService) -> None:
    (erin,) = register(gated, 1)
    gated.entered.clear()
    calls: list[tuple[Command, CommandContext]] = [
        (AssignOwner(customer_id=erin, owner=f"owner-{n}", expected_version=1), CTX)
        for n in range(4)
    ]
    committer, futures = one_round(gated, calls)
    committer.close()
    results = [outcome(f) for f in futures]
    wins = [r for r in results if isinstance(r, CommandResult)]
    losses = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and wins[0].version == 2
    assert len(losses) == 3 and {e.field for e in losses} == {"expectedVersion"}


def test_a_lone_caller_is_never_kept_waiting_for_company(service: CommandService) -> None:
    (fay,) = register(service, 1)
    with GroupCommitter(service, window=5.0) as committer:
        results = [
            committer.handle(RecordContactTouch(customer_id=fay, channel="VISIT"), CTX)
            for _ in range(4)
        ]
    assert [r.version for r in results] == [2, 3, 4, 5]
    assert committer.stats.rounds == 4 and committer.stats.largest_round == 1


def test_close_records_what_is_queued_and_refuses_more(service: CommandService) -> None:
    (gus,) = register(service, 1)
    committer = GroupCommitter(service)
    futures = [
        committer.submit(RecordContactTouch(customer_id=gus, channel="PHONE"), CTX)
        for _ in range(10)
    ]
    committer.close()
    assert sorted(f.result(0).version for f in futures) == list(range(2, 12))
    with pytest.raises(CommitterClosed):
        committer.handle(RecordContactTouch(customer_id=gus, channel="PHONE"), CTX)


def test_an_unreachable_database_fails_the_round_at_once(app: CrmApplication) -> None:
    class Down(CommandService):
        attempts = 0

        def handle_many(
            self,
            commands: Sequence[Command],
            context: CommandContext,
            *,
            contexts: Sequence[CommandContext] | None = None,
            retry_conflicts: bool = True,
        ) -> list[CommandResult]:
            Down.attempts += 1
            raise OperationalError("connection refused")

    committer = GroupCommitter(Down(app), window=0.0)
    futures = [
        committer.submit(RecordContactTouch(customer_id=uuid4(), channel="PHONE"), CTX)
        for _ in range(6)
    ]
    committer.close()
    assert all(isinstance(f.exception(5), OperationalError) for f in futures)
    assert Down.attempts == committer.stats.rounds  # no splitting, one try per round


def test_a_lost_race_retries_only_the_commands_on_the_clashed_stream(database_url: str) -> None:
    """Another process writes to X between the round's load and its save, three times:
    the command on Y is recorded with the first retry, only X's goes round again."""
    key = generate_master_key()
    app = CrmApplication(database_url, master_key=key, pool_size=4)
    other = CrmApplication(database_url, master_key=key, pool_size=2)
    gated = GatedService(app)
    x, y = register(CommandService(app), 2)
    interfere = [3]
    runs: dict[UUID, int] = {x: 0, y: 0}
    touch = gated.handlers[RecordContactTouch]

    def racing_touch(uow: Any, command: RecordContactTouch, at: Any) -> Any:
        runs[command.customer_id] += 1
        if command.customer_id == x and interfere[0] > 0:
            interfere[0] -= 1
            CommandService(other).handle(RecordContactTouch(customer_id=x, channel="EMAIL"), CTX)
        return touch(uow, command, at)

    gated.handlers[RecordContactTouch] = racing_touch
    try:
        committer, futures = one_round(
            gated,
            [
                (RecordContactTouch(customer_id=x, channel="PHONE", summary="x"), CTX),
                (RecordContactTouch(customer_id=y, channel="PHONE", summary="y"), CTX),
            ],
        )
        committer.close()
    finally:
        other.close()
        app.close()
    on_x, on_y = (outcome(f) for f in futures)
    assert isinstance(on_x, CommandResult) and isinstance(on_y, CommandResult)
    assert on_x.version == 1 + 3 + 1 and on_y.version == 2
    assert committer.stats.partial_retries == 1
    assert runs == {x: 1 + 3, y: 2}  # y: its round, then the round of the rest
    assert on_y.position is not None and on_x.position is not None
    assert on_y.position < on_x.position

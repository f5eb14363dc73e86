"""Idempotency keys on the real PostgreSQL: scoped to the subject, bound to the command's
fingerprint, on the single, bulk and group-commit paths, and migrated from the old table."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

import psycopg
import pytest

from commands.application import CrmApplication
from commands.group_commit import GroupCommitter
from commands.idempotency import IdempotencyMismatch
from commands.messages import (
    AssignOwner,
    CommandContext,
    CommandResult,
    MoveStage,
    RegisterCustomer,
    TagCustomer,
)
from commands.service import CommandService

pytestmark = pytest.mark.integration

ANN = CommandContext(actor="ann")
BOB = CommandContext(actor="bob")
T = TypeVar("T")


@pytest.fixture
def app(database_url: str, master_key: str) -> Iterator[CrmApplication]:
    application = CrmApplication(database_url, master_key=master_key, pool_size=4)
    yield application
    application.close()


@pytest.fixture
def service(app: CrmApplication) -> CommandService:
    return CommandService(app, max_attempts=60)


def scalar(url: str, sql: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def counts(url: str) -> tuple[object, object]:
    """(events, idempotency rows): what "nothing recorded" compares."""
    return (
        scalar(url, "SELECT count(*) FROM stored_events"),
        scalar(url, "SELECT count(*) FROM crm_idempotency"),
    )


def customers(service: CommandService, *names: str) -> list[UUID]:
    return [service.handle(RegisterCustomer(name=n), ANN).customer_id for n in names]


def all_at_once(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | BaseException:
        barrier.wait()
        try:
            return call()
        except BaseException as error:  # the test inspects it
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# -- single commands -------------------------------------------------------------------------


def test_same_key_with_another_payload_is_refused_and_records_nothing(
    service: CommandService, database_url: str
) -> None:
    first, other = customers(service, "First", "Other")
    service.handle(MoveStage(customer_id=first, to="CONTACTED", idempotency_key="k"), ANN)
    before = counts(database_url)
    for changed in (
        MoveStage(customer_id=first, to="QUALIFIED", idempotency_key="k"),
        MoveStage(customer_id=other, to="CONTACTED", idempotency_key="k"),
        TagCustomer(customer_id=first, add=("CONTACTED",), idempotency_key="k"),
    ):
        with pytest.raises(IdempotencyMismatch) as caught:
            service.handle(changed, ANN)
        assert (caught.value.code, caught.value.field) == ("CONFLICT", "idempotencyKey")
        assert str(other) not in caught.value.message and str(first) not in caught.value.message
    assert counts(database_url) == before


def test_the_same_key_of_another_subject_is_another_key(
    service: CommandService, database_url: str
) -> None:
    mine = RegisterCustomer(name="Ann's", idempotency_key="import-1")
    theirs = RegisterCustomer(name="Bob's", idempotency_key="import-1")
    ann = service.handle(mine, ANN)
    bob = service.handle(theirs, BOB)
    assert ann.customer_id != bob.customer_id
    assert service.handle(mine, ANN) == ann and service.handle(theirs, BOB) == bob
    assert counts(database_url) == (2, 2)


def test_a_retry_without_occurred_at_replays_and_one_with_it_is_refused(
    service: CommandService, database_url: str
) -> None:
    (cid,) = customers(service, "Retry")
    command = MoveStage(customer_id=cid, to="CONTACTED", idempotency_key="once")
    first = service.handle(command, ANN)  # stamped "now" by the service
    before = counts(database_url)
    assert service.handle(command, ANN) == first
    with pytest.raises(IdempotencyMismatch):
        service.handle(replace(command, occurred_at=datetime(2024, 1, 1, tzinfo=UTC)), ANN)
    assert counts(database_url) == before


def test_racing_requests_with_one_key_record_once_and_refuse_the_changed_ones(
    service: CommandService, database_url: str
) -> None:
    (cid,) = customers(service, "Race")
    same = AssignOwner(customer_id=cid, owner="li", idempotency_key="race")
    changed = AssignOwner(customer_id=cid, owner="wang", idempotency_key="race")
    outcomes = all_at_once([lambda c=c: service.handle(c, ANN) for c in (same, same, changed)])  # type: ignore[misc]
    results = [o for o in outcomes if isinstance(o, CommandResult)]
    refused = [o for o in outcomes if isinstance(o, IdempotencyMismatch)]
    assert len(results) + len(refused) == 3, outcomes
    assert len(set(results)) == 1 and len(refused) >= 1
    assert scalar(database_url, "SELECT count(*) FROM stored_events") == 2  # register + assign


# -- batches and group commit ------------------------------------------------------------------


def test_a_batch_scopes_each_key_to_its_own_context(
    service: CommandService, database_url: str
) -> None:
    (cid,) = customers(service, "Batch")
    ann = TagCustomer(customer_id=cid, add=("a",), idempotency_key="t")
    bob = TagCustomer(customer_id=cid, add=("b",), idempotency_key="t")
    results = service.handle_many([ann, bob, ann], ANN, contexts=[ANN, BOB, ANN])
    assert results[0] == results[2] and results[1] != results[0]
    with pytest.raises(IdempotencyMismatch) as caught:
        service.handle_many([bob, bob], ANN, contexts=[BOB, ANN])  # ann's key, bob's payload
    assert getattr(caught.value, "command_index", None) == 1
    before = counts(database_url)
    with pytest.raises(IdempotencyMismatch) as caught:
        good = AssignOwner(customer_id=cid, owner="li", idempotency_key="n")
        service.handle_many([good, bob], ANN)  # bob's payload under ann's key
    assert counts(database_url) == before  # all or nothing: the good command is not recorded


def test_group_commit_refuses_only_the_mismatched_caller(
    service: CommandService, database_url: str
) -> None:
    (cid,) = customers(service, "Group")
    touch = TagCustomer(customer_id=cid, add=("g",), idempotency_key="g")
    other = TagCustomer(customer_id=cid, add=("h",), idempotency_key="g")
    with GroupCommitter(service, window=0.05) as committer:
        futures = [
            committer.submit(touch, ANN),
            committer.submit(other, ANN),
            committer.submit(other, BOB),
            committer.submit(touch, ANN),
        ]
        outcomes = [f.exception(30) or f.result() for f in futures]
    assert isinstance(outcomes[1], IdempotencyMismatch), outcomes
    assert outcomes[0] == outcomes[3] and isinstance(outcomes[0], CommandResult)
    assert isinstance(outcomes[2], CommandResult) and outcomes[2] != outcomes[0]
    tags = f"SELECT count(*) FROM stored_events WHERE originator_id = '{cid}'"
    assert scalar(database_url, tags) == 3  # registered, tagged g, tagged h


# -- migration of the table of before ---------------------------------------------------------


OLD_SHAPE = (
    "ALTER TABLE crm_idempotency DROP CONSTRAINT crm_idempotency_pkey, "
    "DROP COLUMN subject, DROP COLUMN fingerprint, ADD PRIMARY KEY (key)"
)


def test_rows_of_the_old_table_get_their_subject_and_keep_working(
    database_url: str, master_key: str
) -> None:
    old = CrmApplication(database_url, master_key=master_key, pool_size=2)
    service = CommandService(old)
    cid, other = customers(service, "Legacy", "Else")
    tag = TagCustomer(customer_id=cid, add=("x",), idempotency_key="legacy")
    first = service.handle(tag, ANN)
    service.handle(TagCustomer(customer_id=cid, add=("x",), idempotency_key="noop"), ANN)
    old.close()
    with psycopg.connect(database_url) as conn:
        conn.execute(OLD_SHAPE)  # as the table was before subjects and fingerprints

    for _ in range(2):  # the migration runs at every start, and changes nothing the second time
        app = CrmApplication(database_url, master_key=master_key, pool_size=2)
        service = CommandService(app)
        subjects = "SELECT string_agg(key || '=' || subject, ',' ORDER BY key) FROM crm_idempotency"
        assert scalar(database_url, subjects) == "legacy=ann,noop="
        before = counts(database_url)
        assert service.handle(tag, ANN) == first
        with pytest.raises(IdempotencyMismatch):
            service.handle(
                TagCustomer(customer_id=other, add=("x",), idempotency_key="legacy"), ANN
            )
        with pytest.raises(IdempotencyMismatch):
            service.handle(MoveStage(customer_id=cid, to="WON", idempotency_key="legacy"), ANN)
        assert counts(database_url) == before
        app.close()
    app = CrmApplication(database_url, master_key=master_key, pool_size=2)
    try:
        # bob never used the key: his command runs (a leak would replay ann's result)
        bob = TagCustomer(customer_id=cid, add=("y",), idempotency_key="legacy")
        assert CommandService(app).handle(bob, BOB).version == first.version + 1
    finally:
        app.close()

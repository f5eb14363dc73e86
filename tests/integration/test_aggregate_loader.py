"""The round loader on the real PostgreSQL: one query for a batch's aggregates, handed out
without copies, never two holders at once; cached copies used without a query, and no
decision made on one that another process has moved past."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from aggregates.customer import Customer
from aggregates.errors import RuleViolated
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.group_commit import GroupCommitter
from commands.messages import (
    CommandContext,
    FileComplaint,
    MergeCustomers,
    RecordContactTouch,
    RegisterCustomer,
    TagCustomer,
)
from commands.service import CommandService

CTX = CommandContext(actor="loader-test")


@pytest.fixture
def master_key() -> str:
    return generate_master_key()


def open_app(database_url: str, master_key: str, interval: int = 50) -> CrmApplication:
    return CrmApplication(
        database_url, master_key=master_key, pool_size=2, snapshotting={Customer: interval}
    )


@pytest.fixture
def app(database_url: str, master_key: str) -> Iterator[CrmApplication]:
    application = open_app(database_url, master_key, interval=3)
    yield application
    application.close()


def customer_with_touches(service: CommandService, touches: int) -> UUID:
    cid = service.handle(RegisterCustomer(name="Loaded", email="l@example.com"), CTX).customer_id
    for n in range(touches):
        service.handle(RecordContactTouch(customer_id=cid, channel="PHONE", summary=str(n)), CTX)
    return cid


def test_a_fresh_process_rebuilds_from_snapshot_and_later_events(
    app: CrmApplication, database_url: str, master_key: str
) -> None:
    cid = customer_with_touches(CommandService(app), touches=7)  # snapshots at 3 and 6
    fresh = open_app(database_url, master_key, interval=3)
    try:
        loaded = fresh.loader.take([cid])[cid]
        expected = fresh.repository.get(cid)
    finally:
        fresh.close()
    assert isinstance(loaded, Customer) and loaded.version == 8
    assert vars(loaded) == vars(expected)
    assert loaded.email == "l@example.com"  # sealed fields opened


def test_absent_streams_load_as_none_in_the_same_call(app: CrmApplication) -> None:
    cid = customer_with_touches(CommandService(app), touches=1)
    missing = uuid4()
    found = app.loader.take([cid, missing, cid])
    assert set(found) == {cid, missing}
    assert found[missing] is None and found[cid] is not None and found[cid].version == 2


def test_an_aggregate_is_held_by_one_taker_and_comes_back_without_a_copy(
    app: CrmApplication,
) -> None:
    cid = customer_with_touches(CommandService(app), touches=2)
    first = app.loader.take([cid])[cid]
    second = app.loader.take([cid])[cid]  # while `first` is out: a load of its own
    assert first is not None and second is not None and first is not second
    assert first.version == second.version == 3
    app.loader.give_back([first])
    again = app.loader.take([cid])[cid]
    assert again is first


def test_a_changed_aggregate_is_dropped_not_given_back(app: CrmApplication) -> None:
    cid = customer_with_touches(CommandService(app), touches=1)
    taken = app.loader.take([cid])[cid]
    assert isinstance(taken, Customer)
    taken.tag(["unsaved"], at=datetime.now(UTC))  # a failed attempt's change
    app.loader.give_back([taken])
    reloaded = app.loader.take([cid])[cid]
    assert isinstance(reloaded, Customer) and reloaded is not taken
    assert reloaded.version == 2 and "unsaved" not in reloaded.tags


@pytest.mark.parametrize(
    "pinned", [3, None], ids=["refused-on-the-stale-copy", "clashing-on-the-version-key"]
)
def test_writes_of_another_process_are_seen_by_the_cached_copy(
    app: CrmApplication, database_url: str, master_key: str, pinned: int | None
) -> None:
    """Pinned to the store's version, the stale copy first refuses (and is checked, then
    retried); unpinned, its save clashes on the version key (and is retried)."""
    service = CommandService(app)
    cid = customer_with_touches(service, touches=1)  # cached here at version 2
    other = open_app(database_url, master_key)
    try:
        CommandService(other).handle(TagCustomer(customer_id=cid, add=("elsewhere",)), CTX)
    finally:
        other.close()
    result = service.handle(
        TagCustomer(customer_id=cid, add=("here",), expected_version=pinned), CTX
    )
    assert result.version == 4
    current = app.loader.take([cid])[cid]
    assert isinstance(current, Customer) and {"elsewhere", "here"} <= set(current.tags)


def test_a_refused_command_leaves_the_cache_usable(app: CrmApplication) -> None:
    service = CommandService(app)
    cid = customer_with_touches(service, touches=1)
    with pytest.raises(Exception, match="expected version"):
        service.handle(TagCustomer(customer_id=cid, add=("x",), expected_version=1), CTX)
    taken = app.loader.take([cid])[cid]
    assert taken is not None and taken.version == 2 and not taken.pending_events


def test_a_cached_copy_is_handed_out_without_a_query_and_named_as_unchecked(
    app: CrmApplication,
) -> None:
    cid = customer_with_touches(CommandService(app), touches=1)  # cached at version 2
    missing = uuid4()
    queries: list[object] = []
    query = app.loader._query

    def counted(*args: object) -> list[object]:
        queries.append(args)
        return query(*args)  # type: ignore[arg-type]

    app.loader._query = counted  # type: ignore[method-assign]
    try:
        found, cached = app.loader.take_cached([cid])
        assert queries == [] and cached == {cid}
        assert isinstance(found[cid], Customer) and found[cid].version == 2
        app.loader.give_back([found[cid]])
        found, cached = app.loader.take_cached([cid, missing])
        assert len(queries) == 1 and cached == {cid}  # only the uncached id was asked for
        assert found[missing] is None
    finally:
        app.loader._query = query  # type: ignore[method-assign]
    assert app.loader.stale({cid: 2}) == frozenset()
    assert app.loader.stale({cid: 1, missing: 0}) == {cid}


def merged_elsewhere(database_url: str, master_key: str, duplicate: UUID) -> None:
    """Another process merges `duplicate` away: this process's copy says it is open."""
    other = open_app(database_url, master_key)
    try:
        survivor = CommandService(other).handle(RegisterCustomer(name="Survivor"), CTX)
        CommandService(other).handle(
            MergeCustomers(survivor_id=survivor.customer_id, duplicate_id=duplicate), CTX
        )
    finally:
        other.close()


def complaint_on(cid: UUID) -> FileComplaint:
    return FileComplaint(customer_id=cid, category="billing", severity="LOW", description="x")


def test_a_rule_read_off_a_stale_copy_is_checked_before_the_save(
    app: CrmApplication, database_url: str, master_key: str
) -> None:
    """Filing a complaint only reads its customer (no version key guards that read): the
    customer merged away by another process must refuse it, as the store says."""
    service = CommandService(app)
    cid = customer_with_touches(service, touches=1)
    merged_elsewhere(database_url, master_key, cid)
    with pytest.raises(RuleViolated, match="merged into"):
        service.handle(complaint_on(cid), CTX)
    current = app.loader.take([cid])[cid]
    assert isinstance(current, Customer) and current.merged_into is not None


def test_a_stale_copy_in_a_group_commit_round_refuses_only_its_command(
    app: CrmApplication, database_url: str, master_key: str
) -> None:
    service = CommandService(app)
    stale = customer_with_touches(service, touches=1)
    fresh = service.handle(RegisterCustomer(name="Fresh"), CTX).customer_id
    merged_elsewhere(database_url, master_key, stale)
    committer = GroupCommitter(service, window=0.5)
    try:
        outcomes: dict[str, object] = {}

        def send(name: str, command: object) -> None:
            try:
                outcomes[name] = committer.handle(command, CTX)  # type: ignore[arg-type]
            except RuleViolated as error:
                outcomes[name] = error

        threads = [
            threading.Thread(target=send, args=("stale", complaint_on(stale))),
            threading.Thread(
                target=send,
                args=("fresh", RecordContactTouch(customer_id=fresh, channel="EMAIL")),
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        committer.close()
    assert isinstance(outcomes["stale"], RuleViolated)
    assert getattr(outcomes["fresh"], "version", None) == 2

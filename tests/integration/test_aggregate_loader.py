"""The round loader on the real PostgreSQL: one query for a batch's aggregates, handed out
without copies, never two holders at once, and never stale against another process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from aggregates.customer import Customer
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RecordContactTouch, RegisterCustomer, TagCustomer
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


def test_writes_of_another_process_are_seen_by_the_cached_copy(
    app: CrmApplication, database_url: str, master_key: str
) -> None:
    service = CommandService(app)
    cid = customer_with_touches(service, touches=1)  # cached here at version 2
    other = open_app(database_url, master_key)
    try:
        CommandService(other).handle(TagCustomer(customer_id=cid, add=("elsewhere",)), CTX)
    finally:
        other.close()
    result = service.handle(TagCustomer(customer_id=cid, add=("here",), expected_version=3), CTX)
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

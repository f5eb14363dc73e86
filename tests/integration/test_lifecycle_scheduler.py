"""Materialized lifecycle and tier on real PostgreSQL, and the scheduler moving them.

Commands go through the real event store; the read models are brought up to date by
`ReadModelSync` (the processors' code, in this thread). The scheduler takes `now` as a
parameter, so "91 days later" is a later `now`, not a wait.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from commands.application import CrmApplication
from commands.messages import (
    CommandContext,
    MergeCustomers,
    PurchaseLineInput,
    RecordContactTouch,
    RecordPurchase,
    RegisterCustomer,
)
from commands.service import CommandService
from ops.quality.frames import derived_state_frame
from projections.derivation import TICK
from projections.queries import get_customers, lifecycle_distribution, list_customers
from projections.views import CustomerFilter
from streams import sink
from streams.envelope import validate
from streams.lifecycle_scheduler import ACTOR, SOONEST, advance, seconds_to_next
from streams.rebuild import rebuild
from streams.source import EventSource
from tests.integration.support.gateway import ReadModelSync

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[Any]
CTX = CommandContext(actor="sales:ann")
DAY = timedelta(days=1)
CHANGED = "crm.customer.lifecycle_stage_changed.v1"


@pytest.fixture
def real_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def sync(app: CrmApplication, database_url: str) -> Iterator[ReadModelSync]:
    syncer = ReadModelSync(app, database_url)
    yield syncer
    syncer.close()


@pytest.fixture
def conn(database_url: str, sync: ReadModelSync) -> Iterator[Conn]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def customer(service: CommandService, name: str, *bought_at: datetime) -> UUID:
    cid = service.handle(RegisterCustomer(name=name), CTX).customer_id
    for at in bought_at:
        line = PurchaseLineInput(sku="X", quantity=1, unit_price=Decimal("500"))
        service.handle(RecordPurchase(customer_id=cid, lines=(line,), occurred_at=at), CTX)
    return cid


def row(conn: Conn, cid: UUID) -> tuple[Any, ...]:
    found = conn.execute(
        "SELECT lifecycle_stage, tier, valid_until FROM rm_customers WHERE id = %s", [cid]
    ).fetchone()
    assert found is not None
    return tuple(found)


def changes(conn: Conn, cid: UUID) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT actor, summary->>'to_stage' FROM rm_timeline WHERE customer_id = %s AND type = %s",
        [cid, CHANGED],
    )
    return [(a, s) for a, s in rows]


def test_day_91_is_recorded_by_the_scheduler_as_an_event(
    app: CrmApplication, conn: Conn, sync: ReadModelSync, real_now: datetime
) -> None:
    bought = real_now - 89 * DAY
    cid = customer(CommandService(app), "Quiet Buyer", bought)
    sync()
    assert row(conn, cid) == ("NEW_CUSTOMER", "BRONZE", bought + 90 * DAY + TICK)

    later = real_now + 2 * DAY  # day 91 after the purchase
    scheduler = CommandService(app, clock=lambda: later)
    assert advance(conn, scheduler, real_now).due == 0, "nothing is due yet"
    tick = advance(conn, scheduler, later)
    assert (tick.due, tick.recorded) == (1, 1)
    # The next tick, before the projection caught up: the same change, not a second one.
    next_tick = later + timedelta(seconds=15)
    again = advance(conn, CommandService(app, clock=lambda: next_tick), next_tick)
    assert (again.due, again.refused) == (1, 0)
    sync()

    assert row(conn, cid) == ("AT_RISK", "BRONZE", bought + 180 * DAY + TICK)
    assert changes(conn, cid) == [(ACTOR, "AT_RISK")], "recorded once, by the scheduler"
    published = EventSource(app).read_after(0, 100).envelopes
    assert [e["type"] for e in published][-1] == CHANGED
    for envelope in published:
        validate(envelope)  # what the relay checks before it publishes to Kafka
    assert advance(conn, scheduler, later).due == 0
    view = get_customers(conn, [cid])[cid]
    assert view.lifecycle_stage == "AT_RISK"
    assert {c.stage: c.count for c in lifecycle_distribution(conn)}["AT_RISK"] == 1


def test_an_event_after_the_moment_leaves_the_change_to_the_scheduler_to_record(
    app: CrmApplication, conn: Conn, sync: ReadModelSync, database_url: str, real_now: datetime
) -> None:
    # A touch lands after day 90 but before the scheduler's tick: the projection must
    # not take AT_RISK silently, or the scheduler finds nothing left to record.
    bought = real_now - 89 * DAY
    service = CommandService(app)
    cid = customer(service, "Touched Late", bought)
    sync()  # applied as it happened, before day 90
    later = real_now + 2 * DAY
    late_sync = ReadModelSync(app, database_url, clock=lambda: later)
    try:
        service.handle(RecordContactTouch(customer_id=cid, channel="PHONE"), CTX)
        late_sync()
        stage, _, due = row(conn, cid)
        assert (stage, due) == ("NEW_CUSTOMER", bought + 90 * DAY + TICK), "held for the tick"
        view = get_customers(conn, [cid])[cid]
        assert view.touches.count == 1, "the touch itself is applied"
        tick = advance(conn, CommandService(app, clock=lambda: later), later)
        assert (tick.due, tick.recorded) == (1, 1)
        late_sync()
    finally:
        late_sync.close()
    assert row(conn, cid)[0] == "AT_RISK"
    assert changes(conn, cid) == [(ACTOR, "AT_RISK")], "recorded as an event, by the scheduler"


def test_the_survivor_is_recomputed_over_the_merge_tree(
    app: CrmApplication, conn: Conn, sync: ReadModelSync, real_now: datetime
) -> None:
    service = CommandService(app)
    survivor = customer(service, "Sam")
    duplicate = customer(service, "Sam S.", real_now - 89 * DAY, real_now - 100 * DAY)
    sync()
    assert row(conn, survivor)[0] == "PROSPECT"
    service.handle(MergeCustomers(survivor_id=survivor, duplicate_id=duplicate), CTX)
    sync()
    assert row(conn, survivor) == ("REPEAT_CUSTOMER", "BRONZE", real_now + DAY + TICK)
    view = get_customers(conn, [survivor])[survivor]
    assert (view.purchases.count, view.merged_ids) == (2, (duplicate,))

    later = real_now + 2 * DAY
    tick = advance(conn, CommandService(app, clock=lambda: later), later)
    assert (tick.recorded, tick.refreshed) == (1, 1), "the duplicate takes no commands"
    sync()
    assert row(conn, survivor)[0] == "AT_RISK"
    assert changes(conn, survivor) == [(ACTOR, "AT_RISK")]
    assert changes(conn, duplicate) == []


def test_a_filtered_list_reads_the_stored_stage_not_the_facts(
    app: CrmApplication, conn: Conn, sync: ReadModelSync, real_now: datetime
) -> None:
    cid = customer(CommandService(app), "Stored", real_now - DAY)
    sync()
    conn.execute("DELETE FROM rm_purchases WHERE customer_id = %s", [cid])
    page = list_customers(conn, CustomerFilter(lifecycle_stage="NEW_CUSTOMER"))
    assert [e.node.id for e in page.rows] == [cid]
    assert page.rows[0].node.purchases.count == 1


def test_the_check_frame_flags_a_stored_stage_the_rule_disagrees_with(
    app: CrmApplication, conn: Conn, sync: ReadModelSync, real_now: datetime
) -> None:
    good = customer(CommandService(app), "Good", real_now - DAY)
    bad = customer(CommandService(app), "Bad", real_now - DAY)
    sync()
    conn.execute("UPDATE rm_customers SET lifecycle_stage = 'LOYAL' WHERE id = %s", [bad])
    frame = derived_state_frame(conn).set_index("id")
    assert (frame.loc[str(good), "stored_lifecycle_stage"]) == "NEW_CUSTOMER"
    assert (frame.loc[str(good), "rule_lifecycle_stage"]) == "NEW_CUSTOMER"
    assert (frame.loc[str(bad), "stored_lifecycle_stage"]) == "LOYAL"
    assert (frame.loc[str(bad), "rule_lifecycle_stage"]) == "NEW_CUSTOMER"


def test_a_batch_rolled_back_by_a_deadlock_is_applied_again(
    app: CrmApplication, conn: Conn, sync: ReadModelSync, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers recomputing survivors of cross merges can deadlock; PostgreSQL rolls
    one batch back whole, and the sink runs it again instead of restarting the worker."""
    real, calls = sink.apply_batch, []

    def deadlocked_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise psycopg.errors.DeadlockDetected("deadlock detected (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(sink, "apply_batch", deadlocked_once)
    cid = customer(CommandService(app), "Twice")
    sync()
    assert len(calls) == 2
    assert row(conn, cid)[0] == "PROSPECT"


def test_customers_sharing_one_moment_all_change_in_one_tick_each_once(
    app: CrmApplication, conn: Conn, sync: ReadModelSync, real_now: datetime
) -> None:
    """An import stamped at one moment makes many customers due at once: a tick takes
    batch after batch (each after the last one's key), so none waits for a later tick,
    and none is picked twice while its change is not projected yet."""
    bought = real_now - 89 * DAY
    service = CommandService(app)
    ids = [customer(service, f"Imported {n}", bought) for n in range(7)]
    sync()
    later = real_now + 2 * DAY
    scheduler = CommandService(app, clock=lambda: later)
    tick = advance(conn, scheduler, later, limit=3)
    assert (tick.due, tick.recorded, tick.refused) == (7, 7, 0)
    again = advance(conn, scheduler, later, limit=3)  # before the projection caught up
    assert (again.due, again.recorded) == (7, 7), "idempotent: the same changes"
    sync()
    for cid in ids:
        assert row(conn, cid)[0] == "AT_RISK"
        assert changes(conn, cid) == [(ACTOR, "AT_RISK")], "recorded once"
    assert advance(conn, scheduler, later, limit=3).due == 0


@pytest.mark.parametrize("names", [None, ["customers"]], ids=["full", "in-place"])
def test_a_rebuild_leaves_a_change_time_made_to_the_scheduler_to_record(
    app: CrmApplication,
    conn: Conn,
    sync: ReadModelSync,
    database_url: str,
    names: list[str] | None,
) -> None:
    """A moment that passed before the scheduler's tick is still due after a rebuild
    (computed as of the customer's latest event, not as of the day it runs), so the
    change reaches the audit trail as an event instead of the rebuild making it."""
    start = datetime.now(UTC)
    bought = start - 90 * DAY + timedelta(seconds=4)
    cid = customer(CommandService(app), "Due Soon", bought)
    sync()
    moment = bought + 90 * DAY + TICK
    assert row(conn, cid) == ("NEW_CUSTOMER", "BRONZE", moment), "the moment is ahead"
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.05)

    rebuild(app, database_url, names)
    assert row(conn, cid) == ("NEW_CUSTOMER", "BRONZE", moment), "still due, not moved"
    tick = advance(conn, CommandService(app), datetime.now(UTC))
    assert (tick.due, tick.recorded) == (1, 1)
    sync()
    assert row(conn, cid)[0] == "AT_RISK"
    assert changes(conn, cid) == [(ACTOR, "AT_RISK")], "on the audit trail, by the scheduler"


def test_the_next_tick_waits_until_the_next_moment_not_a_whole_interval(
    app: CrmApplication, conn: Conn, sync: ReadModelSync, real_now: datetime
) -> None:
    """Woken at a customer's moment, the scheduler records the change before a new event
    could have the projection compute past it (and the change go unrecorded)."""
    assert seconds_to_next(conn, real_now, 15.0) == 15.0, "nothing ahead: the interval"
    customer(CommandService(app), "Soon", real_now - 90 * DAY + timedelta(seconds=30))
    sync()
    assert seconds_to_next(conn, real_now, 60.0) == pytest.approx(30.0, abs=0.01)
    assert seconds_to_next(conn, real_now, 15.0) == 15.0, "never longer than the interval"
    later = real_now + timedelta(seconds=29.9)
    assert seconds_to_next(conn, later, 15.0) == SOONEST, "not a busy loop"

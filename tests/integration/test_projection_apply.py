"""Applying envelopes: every event type lands, and each event counts at most once.

Runs against the real PostgreSQL of the test session, one fresh database per test.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from projections.apply import apply_batch, apply_envelopes
from projections.handlers import PROJECTIONS
from projections.queries import get_customers, timeline
from projections.schema import create_all, drop_all, reset_projection
from tests.integration.support.read_models import Conn, dump
from tests.integration.support.read_models import apply as apply_at
from tests.support.projection_events import T0, Envelope, Events, days

pytestmark = pytest.mark.integration

NOW = T0 + days(10)


def apply(conn: Conn, envelopes: Sequence[Envelope], now: datetime = NOW) -> int:
    return apply_at(conn, envelopes, now)


def story(events: Events) -> tuple[Any, list[Envelope]]:
    cid, registered = events.register(
        "Ann Lee",
        at=T0,
        email="ann@example.com",
        phone="+8613800000000",
        company="Acme",
        region="east",
        source="web",
        industry="retail",
        owner="bob",
    )
    other, _ = events.register("Referred", at=T0)
    batch = [
        registered,
        events.change_contact(cid, T0 + days(1), address="1 Road", email="ann@acme.com"),
        events.tag(cid, "vip", "b2b", at=T0 + days(1)),
        events.untag(cid, "b2b", at=T0 + days(2)),
        events.owner(cid, "carol", at=T0 + days(2)),
        events.consent(cid, "marketing", True, "EMAIL", at=T0 + days(2)),
        events.consent(cid, "marketing", False, "EMAIL", at=T0 + days(3)),
        events.consent(cid, "marketing", True, "EMAIL", at=T0 + days(1)),  # backdated
        events.need(cid, "wants a bigger plan", at=T0 + days(3)),
        events.survey(cid, 5, "great", at=T0 + days(3), survey_id="csat"),
        events.survey(cid, 1, "old form", at=T0 + days(2), survey_id="csat"),  # backdated
        events.referral(cid, other, at=T0 + days(3)),
        events.move(cid, "LEAD", "QUALIFIED", at=T0 + days(4)),
        events.touch(cid, "EMAIL", "sent offer", at=T0 + days(4)),
        events.touch(cid, "PHONE", "called", at=T0 + days(5)),
        events.touch(cid, "EMAIL", "follow-up", at=T0 + days(6)),
        events.purchase(cid, "1500.00", at=T0 + days(7), currency="USD", rate="7.5"),
        events.move(cid, "QUALIFIED", "WON", at=T0 + days(7)),
    ]
    return cid, batch


def test_a_customers_story_builds_its_profile(conn: Conn) -> None:
    events = Events()
    cid, batch = story(events)
    assert apply(conn, batch) == len(batch)

    view = get_customers(conn, [cid])[cid]
    assert (view.name, view.email, view.phone, view.address) == (
        "Ann Lee",
        "ann@acme.com",
        "+8613800000000",
        "1 Road",
    )
    assert (view.company, view.region, view.source, view.industry) == (
        "Acme",
        "east",
        "web",
        "retail",
    )
    assert view.owner == "carol"
    assert view.tags == ("vip",)
    assert [(c.purpose, c.channel, c.granted) for c in view.consents] == [
        ("marketing", "EMAIL", False)
    ]
    assert [n.description for n in view.needs] == ["wants a bigger plan"]
    assert [(s.score, s.comment) for s in view.surveys] == [(5, "great")]
    assert view.stage == "WON"
    kept = conn.execute(
        "SELECT referrals, stage_history FROM rm_customers WHERE id = %s", [cid]
    ).fetchone()
    assert kept is not None
    referrals, history = kept
    assert len(referrals) == 1
    assert [s["stage"] for s in history] == ["LEAD", "QUALIFIED", "WON"]
    assert view.purchases.count == 1 and str(view.purchases.total) == "1500.00"
    assert view.purchases.first_at == view.purchases.last_at == T0 + days(7)
    assert view.touches.count == 3 and view.touches.last_at == T0 + days(6)
    assert [(c.channel, c.count) for c in view.touches.by_channel] == [("PHONE", 1), ("EMAIL", 2)]
    assert view.lifecycle_stage == "NEW_CUSTOMER" and view.tier == "BRONZE"
    assert view.version == len(batch)
    assert view.created_at == T0 and view.updated_at == T0 + days(7)
    assert view.last_position == batch[-1]["position"]
    entries = timeline(conn, cid).rows
    assert [e.node.position for e in entries] == [e["position"] for e in batch]


def test_redelivering_a_batch_changes_nothing(conn: Conn) -> None:
    _, batch = story(Events())
    apply(conn, batch)
    before = dump(conn)
    result = apply_batch(conn, batch, now=T0 + days(10))
    conn.commit()
    assert (result.applied, result.duplicates, result.unknown) == (0, len(batch), 0)
    assert dump(conn) == before


def test_repeats_inside_one_batch_apply_once(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    purchase = events.purchase(cid, 100, at=T0 + days(1))
    result = apply_batch(conn, [registered, purchase, purchase, registered], now=T0 + days(10))
    conn.commit()
    assert (result.applied, result.duplicates) == (2, 2)
    assert get_customers(conn, [cid])[cid].purchases.count == 1


UPDATED_SQL = "SELECT pg_stat_get_xact_tuples_updated('rm_customers'::regclass)"
MOVED_SQL = "SELECT version, updated_at, last_position, touch_count FROM rm_customers WHERE id = %s"


def _two_customers_touched(conn: Conn, events: Events) -> tuple[Any, Any, list[Envelope]]:
    cid, registered = events.register("Ann Lee", at=T0)
    other, other_registered = events.register("Bo Chen", at=T0)
    apply(conn, [registered, other_registered])
    touches = [
        events.touch(cid, "PHONE", at=T0 + days(1)),
        events.touch(other, "EMAIL", at=T0 + days(2)),
        events.touch(cid, "EMAIL", at=T0 + days(3)),
    ]
    return cid, other, touches


def test_a_touch_moves_its_profile_in_one_row_write_per_customer(conn: Conn) -> None:
    # Version, updated_at and last_position travel with the materialized columns: one
    # new row version per customer and batch, not a bump and then a refresh.
    cid, other, touches = _two_customers_touched(conn, Events())
    # Counts not yet flushed to the statistics; a backend flushes only between transactions.
    before = conn.execute(UPDATED_SQL).fetchone()[0]
    assert apply_batch(conn, touches, now=NOW).applied == 3
    after = conn.execute(UPDATED_SQL).fetchone()[0]
    conn.commit()
    assert after - before == 2
    assert conn.execute(MOVED_SQL, [cid]).fetchone() == (3, T0 + days(3), 5, 2)
    assert conn.execute(MOVED_SQL, [other]).fetchone() == (2, T0 + days(2), 4, 1)


def test_without_materializing_a_touch_still_moves_its_profile(conn: Conn) -> None:
    # A replay refreshes the materialized columns at its end; the moves land per batch.
    cid, other, touches = _two_customers_touched(conn, Events())
    assert apply_batch(conn, touches, now=NOW, materialize=False).applied == 3
    conn.commit()
    assert conn.execute(MOVED_SQL, [cid]).fetchone()[:3] == (3, T0 + days(3), 5)
    assert conn.execute(MOVED_SQL, [other]).fetchone()[:3] == (2, T0 + days(2), 4)


def test_a_rebuilt_customers_projection_moves_its_profiles_again(conn: Conn) -> None:
    cid, _, touches = _two_customers_touched(conn, Events())
    apply(conn, touches)
    before = dump(conn)
    reset_projection(conn, "customers")
    conn.commit()
    apply(conn, touches)  # the registrations come back through the rebuild of others
    assert conn.execute(MOVED_SQL, [cid]).fetchone()[:3] == (3, T0 + days(3), 5)
    assert dump(conn)["rm_timeline"] == before["rm_timeline"]


READ_SQL = (
    "SELECT pg_stat_get_xact_tuples_returned('rm_touches'::regclass)"
    " + pg_stat_get_xact_tuples_fetched('rm_touches'::regclass)"
)
COUNTERS_SQL = (
    "SELECT channel, touches, last_at FROM rm_touch_counts WHERE customer_id = %s ORDER BY 1"
)


def test_a_touch_refreshes_its_profile_from_counters_not_from_its_history(conn: Conn) -> None:
    # A long-standing customer's next touch costs its channels, not its past touches.
    events = Events()
    cid, registered = events.register("Ann Lee", at=T0)
    history = [events.touch(cid, "PHONE", at=T0 + timedelta(minutes=i)) for i in range(60)]
    apply(conn, [registered, *history])
    conn.commit()
    before = conn.execute(READ_SQL).fetchone()[0]
    apply_batch(conn, [events.touch(cid, "EMAIL", at=T0 + days(2))], now=NOW)
    read = conn.execute(READ_SQL).fetchone()[0] - before
    conn.commit()
    assert read < 10, f"the refresh read {read} touch rows"
    assert conn.execute(MOVED_SQL, [cid]).fetchone()[3] == 61
    assert conn.execute(COUNTERS_SQL, [cid]).fetchall() == [
        ("EMAIL", 1, T0 + days(2)),
        ("PHONE", 60, T0 + timedelta(minutes=59)),
    ]


def test_redelivered_touches_do_not_move_the_counters(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register("Ann Lee", at=T0)
    touches = [events.touch(cid, "WEB", at=T0 + days(i)) for i in (1, 2, 3)]
    apply(conn, [registered, *touches])
    conn.commit()
    # Redelivered past the checkpoint's guard (a rebuilt checkpoint, a second worker).
    conn.execute("DELETE FROM rm_applied WHERE projection = 'touches'")
    apply(conn, [touches[2], touches[0], events.touch(cid, "WEB", at=T0 + days(4))])
    conn.commit()
    assert conn.execute(COUNTERS_SQL, [cid]).fetchall() == [("WEB", 4, T0 + days(4))]
    assert conn.execute(MOVED_SQL, [cid]).fetchone()[3] == 4


def test_interleaved_and_redelivered_customers_equal_one_clean_delivery(
    conn: Conn, database_url: str
) -> None:
    events = Events()
    a, reg_a = events.register("A", at=T0)
    b, reg_b = events.register("B", at=T0)
    stream_a = [reg_a] + [events.purchase(a, 10 * i, at=T0 + days(i)) for i in range(1, 6)]
    stream_b = [reg_b] + [
        events.touch(b, "WEB", f"visit {i}", at=T0 + days(i)) for i in range(1, 6)
    ]
    apply(conn, stream_a + stream_b)
    clean = dump(conn)
    drop_all(conn)
    create_all(conn)
    conn.commit()
    # B's partition runs ahead; A crashes and re-sends from its last committed offset.
    apply(conn, stream_b[:4])
    apply(conn, stream_a[:3])
    apply(conn, stream_a[1:5] + stream_b[2:])
    apply(conn, stream_a[3:] + stream_b)
    assert dump(conn) == clean


def test_a_crash_mid_batch_rolls_back_and_redelivery_applies_once(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    batch = [registered, *(events.purchase(cid, 5, at=T0 + days(i)) for i in range(1, 4))]
    apply(conn, batch[:2])
    apply_envelopes(conn, batch)
    conn.rollback()  # the processor died before committing
    assert apply(conn, batch) == 2
    assert get_customers(conn, [cid])[cid].purchases.count == 3


def test_unknown_types_are_counted_once_and_skipped(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    strange = events.envelope(
        type(None),  # type: ignore[arg-type]
        cid,
        {"anything": 1},
        T0,
        type_name="crm.customer.teleported.v1",
    )
    future = events.purchase(cid, 5, at=T0)
    future["type"] = "crm.customer.purchase_recorded.v9"
    result = apply_batch(conn, [registered, strange, future], now=T0 + days(10))
    apply_batch(conn, [strange, future], now=T0 + days(10))
    conn.commit()
    assert (result.applied, result.unknown) == (1, 2)
    seen = conn.execute("SELECT type, seen FROM rm_unknown_events ORDER BY type").fetchall()
    assert seen == [("crm.customer.purchase_recorded.v9", 1), ("crm.customer.teleported.v1", 1)]
    view = get_customers(conn, [cid])[cid]
    assert view.purchases.count == 0 and view.version == 3


def test_one_projection_can_be_rebuilt_alone(conn: Conn) -> None:
    _, batch = story(Events())
    apply(conn, batch)
    before = dump(conn)
    reset_projection(conn, "purchases")
    conn.commit()
    assert conn.execute("SELECT count(*) FROM rm_purchases").fetchone() == (0,)
    result = apply_batch(conn, batch, now=T0 + days(10))
    conn.commit()
    assert result.applied == len(batch)  # new to the purchases projection only
    assert dump(conn) == before


def test_drop_all_and_replay_rebuilds_the_same_read_models(conn: Conn) -> None:
    _, batch = story(Events())
    apply(conn, batch)
    before = dump(conn)
    drop_all(conn)
    create_all(conn)
    apply(conn, batch)
    assert dump(conn) == before


def second_consumer(conn: Conn, database_url: str, batch: list[Envelope]) -> list[int]:
    """What a second consumer applies of `batch` while `conn`'s batch is uncommitted: it
    must wait on the checkpoint rows until `conn` commits (done here)."""
    results: list[int] = []

    def zombie() -> None:
        with psycopg.connect(database_url) as other:
            results.append(apply_envelopes(other, batch))
            other.commit()

    thread = threading.Thread(target=zombie)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive(), "the second consumer waits on the checkpoint rows"
    conn.commit()
    thread.join(timeout=10)
    return results


def test_two_consumers_of_one_partition_apply_each_event_once(
    conn: Conn, database_url: str
) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    batch = [registered, events.purchase(cid, 7, at=T0 + timedelta(hours=1))]
    assert apply_envelopes(conn, batch) == 2  # first consumer: applied, not yet committed
    assert second_consumer(conn, database_url, batch) == [0]
    assert get_customers(conn, [cid])[cid].purchases.count == 1


def test_two_consumers_of_a_known_customers_batch_apply_each_event_once(
    conn: Conn, database_url: str
) -> None:
    # The claim moves a known customer's checkpoints in its first statement; the second
    # consumer's move waits on those rows, then finds them past its batch and skips it.
    events = Events()
    cid, registered = events.register(at=T0)
    apply(conn, [registered])
    conn.commit()
    batch = [events.purchase(cid, 7, at=T0 + timedelta(hours=1)), events.touch(cid, "WEB")]
    assert apply_envelopes(conn, batch) == 2
    assert second_consumer(conn, database_url, [registered, *batch]) == [0]
    profile = get_customers(conn, [cid])[cid]
    assert (profile.purchases.count, profile.touches.count) == (1, 1)


def test_every_projection_has_tables_and_a_checkpoint(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    apply(conn, [registered])
    names = {p.name for p in PROJECTIONS}
    rows = conn.execute("SELECT projection, position FROM rm_applied WHERE subject_id = %s", [cid])
    assert {name: position for name, position in rows} == dict.fromkeys(names, 1)


def test_an_autocommit_connection_needs_a_transaction_block(database_url: str) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    with psycopg.connect(database_url, autocommit=True) as auto:
        create_all(auto)
        with pytest.raises(ValueError, match="transaction"):
            apply_envelopes(auto, [registered])
        with auto.transaction():
            assert apply_envelopes(auto, [registered]) == 1
        assert get_customers(auto, [cid])[cid].name == "Ann Lee"

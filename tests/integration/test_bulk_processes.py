"""The bulk path in several processes (`demo.parallel`) on the real PostgreSQL: the same
history records the same streams as one process does, and the chain verifies."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from bench.ours import run_bulk
from commands.chain import ChainTables
from commands.crypto import generate_master_key
from commands.recorder import EVENT_META, STORED_EVENTS
from compliance.verify import verify_chain
from demo.command import seed_database
from demo.history import DemoHistory
from demo.parallel import load_in_processes
from ops.errors import SettingError
from tests.integration.support.servers import ServerSet

UNTIL = datetime(2026, 6, 1, tzinfo=UTC)


def streams(url: str) -> list[tuple[int, int]]:
    """Events per stream, as a sorted multiset (ids differ between runs, shapes don't)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT count(*), max(originator_version) FROM stored_events GROUP BY originator_id"
        ).fetchall()
    return sorted((int(a), int(b)) for a, b in rows)


def test_two_processes_record_what_one_does_and_the_chain_verifies(servers: ServerSet) -> None:
    key = generate_master_key()
    batches = list(DemoHistory(customers=60, seed=3, until=UNTIL).batches(25))
    one, two = servers.new_database(), servers.new_database()
    try:
        single = load_in_processes(one, key, batches, customers=60, processes=1)
        double = load_in_processes(two, key, batches, customers=60, processes=2)
        assert double.events == single.events > 60
        assert double.commands == single.commands
        assert streams(two) == streams(one)
        tables = ChainTables("public", STORED_EVENTS, EVENT_META)
        report = verify_chain(two, tables)
        assert report.ok and report.checked == double.events
    finally:
        servers.drop_database(one)
        servers.drop_database(two)


def test_slices_of_one_cohort_are_never_dealt_to_two_processes(database_url: str) -> None:
    with pytest.raises(ValueError, match="whole cohorts"):
        run_bulk(database_url, generate_master_key(), customers=30, batch=10, seed=1, processes=2)


def test_crm_seed_in_two_processes_records_what_one_does(servers: ServerSet) -> None:
    key = generate_master_key()
    one, two = servers.new_database(), servers.new_database()
    try:
        single = seed_database(one, key=key, customers=75, seed=3, batch=25, until=UNTIL)
        double = seed_database(
            two, key=key, customers=75, seed=3, batch=25, until=UNTIL, processes=2
        )
        assert (double.events, double.commands) == (single.events, single.commands)
        assert streams(two) == streams(one)
        report = verify_chain(two, ChainTables("public", STORED_EVENTS, EVENT_META))
        assert report.ok and report.checked == double.events
        with pytest.raises(SettingError, match="--batch"):
            seed_database(two, key=key, customers=30, seed=4, batch=10, until=UNTIL, processes=2)
    finally:
        servers.drop_database(one)
        servers.drop_database(two)


def test_the_processes_report_each_batch_as_it_is_done(database_url: str) -> None:
    heard: list[tuple[float, int]] = []
    batches = list(DemoHistory(customers=75, seed=5, until=UNTIL).batches(25))
    report = load_in_processes(
        database_url,
        generate_master_key(),
        batches,
        customers=75,
        processes=2,
        on_batch=lambda done, events: heard.append((done, events)),
    )
    assert [done for done, _ in heard] == [25, 25, 25]
    events = [n for _, n in heard]
    assert events == sorted(events) and events[0] > 0 and events[-1] == report.events

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
from demo.history import DemoHistory
from demo.parallel import load_in_processes
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

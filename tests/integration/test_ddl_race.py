"""Processes started together on an empty database create the read side's tables at
once (two `crm worker` replicas, no `crm up` to create them first): one at a time
(`projections.schema.serialize_ddl`), or PostgreSQL answers the losers of `CREATE TABLE
IF NOT EXISTS` with a duplicate key on its catalog and they die at their first start."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from projections.schema import ALL_TABLES, ensure_all, missing_tables
from streams.parking import create_parking

pytestmark = pytest.mark.integration

STARTS = 6


def test_starts_on_an_empty_database_create_the_read_side_once_without_an_error(
    database_url: str,
) -> None:
    together = threading.Barrier(STARTS)

    def start(_: int) -> bool:
        with psycopg.connect(database_url, autocommit=True) as conn:
            together.wait(timeout=30)
            create_parking(conn)  # the intake's first step
            with conn.transaction():
                return ensure_all(conn)  # the sink's

    with ThreadPoolExecutor(STARTS) as pool:
        ran = list(pool.map(start, range(STARTS)))
    assert ran.count(True) == 1  # the others waited and found it done
    with psycopg.connect(database_url) as conn:
        assert missing_tables(conn) == []
        assert conn.execute("SELECT to_regclass('crm_parked')").fetchone() == ("crm_parked",)


def test_a_start_that_waited_sees_the_table_another_created_meanwhile(
    database_url: str,
) -> None:
    """The re-check after the wait reads the catalog as of now. A backend that looked for
    a table before it existed kept "not found" in its catalog cache (`to_regclass`), ran
    the DDL again and took the tables' ACCESS EXCLUSIVE locks for nothing."""
    with psycopg.connect(database_url, autocommit=True) as setup:
        with setup.transaction():
            ensure_all(setup)
        setup.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(ALL_TABLES[-1])))
        with psycopg.connect(database_url, autocommit=True) as late, late.transaction():
            assert missing_tables(late) == [ALL_TABLES[-1]]  # looked before
            with setup.transaction():
                assert ensure_all(setup)  # another process restores it meanwhile
            assert missing_tables(late) == []
            assert not ensure_all(late)

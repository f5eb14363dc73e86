"""Processes started together on an empty database create the read side's tables at
once (two `crm worker` replicas, no `crm up` to create them first): one at a time
(`projections.schema.serialize_ddl`), or PostgreSQL answers the losers of `CREATE TABLE
IF NOT EXISTS` with a duplicate key on its catalog and they die at their first start."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from projections.schema import ensure_all, missing_tables
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

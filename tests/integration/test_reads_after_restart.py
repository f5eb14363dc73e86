"""Reads survive a PostgreSQL restart, and `/healthz` says whether reads work.

A restart ends every server process, so each idle pooled connection is dead; we do the
same, for real, with `pg_terminate_backend` from a superuser connection.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_asyncio
from psycopg.conninfo import conninfo_to_dict

from gateway.db import ReadPool
from gateway.health import check_database
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

READ = "{ tierDistribution { tier count } }"  # served from the read pool


@pytest_asyncio.fixture(loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url)
    yield harness
    await harness.aclose()
    servers.drop_database(url)


def terminate_backends(servers: ServerSet, database_url: str) -> int:
    """What a restart does to the pool: every other connection to the database ends."""
    name = conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


async def read_errors(gw: GatewayHarness, count: int) -> list[object]:
    """Errors of `count` reads, 20 at a time (so every pooled connection is used)."""
    errors: list[object] = []
    for _ in range(count // 20):
        results = await asyncio.gather(*(gw.gql(READ) for _ in range(20)))
        errors.extend(r["errors"] for r in results if "errors" in r)
    return errors


async def test_every_read_succeeds_after_the_server_drops_all_connections(
    gw: GatewayHarness, servers: ServerSet
) -> None:
    assert await read_errors(gw, 40) == []  # the pool now holds several open connections
    assert terminate_backends(servers, gw.database_url) >= 2
    assert await read_errors(gw, 200) == []
    assert (await check_database(gw.database_url, gw.deps.reads))["status"] == "ok"


def fill(reads: ReadPool, size: int) -> None:
    """Make the pool open `size` connections (all borrowed at once), then idle them."""
    together = threading.Barrier(size)

    def borrow() -> None:
        with reads.pool.connection(timeout=10):
            together.wait(10)

    threads = [threading.Thread(target=borrow) for _ in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


async def test_a_full_pool_of_dead_connections_is_replaced_at_once(servers: ServerSet) -> None:
    """Found one checkout at a time, 8 dead connections cost 1+2+4 s of backoff: the
    health check (2 s) would say down although the server is back."""
    url = servers.new_database()
    reads = ReadPool(url, max_size=8)
    try:
        fill(reads, 8)
        assert terminate_backends(servers, url) == 8
        health = await check_database(url, reads)
        assert health["status"] == "ok", health
    finally:
        reads.close()
        servers.drop_database(url)


async def test_health_is_down_when_reads_cannot_get_a_connection(servers: ServerSet) -> None:
    """New connections work, but reads would wait for the pool: reads fail, so health says so."""
    url = servers.new_database()
    reads = ReadPool(url, max_size=1)
    taken, release = threading.Event(), threading.Event()

    def hold_the_only_connection() -> None:
        with reads.pool.connection():
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_only_connection)
    holder.start()
    try:
        assert taken.wait(10)
        health = await check_database(url, reads)
        assert health["status"] == "down"
        assert "reads fail" in health["detail"]
    finally:
        release.set()
        holder.join()
        reads.close()
        servers.drop_database(url)


async def test_health_is_down_when_the_server_is_gone() -> None:
    reads = ReadPool("postgresql://nobody:x@127.0.0.1:1/none", min_size=0, max_size=1)
    try:
        assert (await check_database(None, reads))["status"] == "down"
    finally:
        reads.close()

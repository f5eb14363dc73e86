"""External PostgreSQL as it is run for real: the full URL (options, application_name,
target_session_attrs, sslmode…) reaches the event store's pool, and the platform runs
through a real PgBouncer in transaction pooling: writes, the relay, a worker and the
gateway's reads, with prepared statements off (`CRM_DATABASE_POOLER=transaction`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from commands.application import CrmApplication
from commands.pooling import prepared_statements, set_prepared_statements
from commands.service import CommandService
from gateway.db import ReadPool
from streams import kafka_clients
from streams.rebuild import rebuild
from streams.rebuild_shadow import ADVISORY_LOCK
from streams.topic import ensure_topic
from tests.integration.support.pgbouncer import running_pgbouncer
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import one_customer, start_worker, stop

pytestmark = pytest.mark.integration

CUSTOMERS = 12  # x 4 commands: every statement runs far more than psycopg's threshold of 5


def with_params(url: str, **params: str) -> str:
    return psycopg.conninfo.make_conninfo(url, **params)


@pytest.fixture
def no_prepared_statements() -> Iterator[None]:
    set_prepared_statements(False)
    try:
        yield
    finally:
        set_prepared_statements(True)


def test_the_event_store_connects_with_every_parameter_of_the_url(
    database_url: str, master_key: str
) -> None:
    url = with_params(
        database_url,
        application_name="crm-store-test",
        options="-c statement_timeout=12345",
        target_session_attrs="read-write",
        sslmode="prefer",
    )
    app = CrmApplication(url, master_key=master_key, pool_size=1)
    try:
        with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            shown = [
                conn.execute(f"SHOW {name}").fetchone()[name]
                for name in ("application_name", "statement_timeout")
            ]
            assert conn.info.get_parameters()["target_session_attrs"] == "read-write"
    finally:
        app.close()
    assert shown == ["crm-store-test", "12345ms"]


def test_the_event_store_can_be_told_not_to_prepare(database_url: str, master_key: str) -> None:
    app = CrmApplication(
        database_url, master_key=master_key, pool_size=1, prepared_statements=False
    )
    try:
        with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            assert conn.prepare_threshold is None
    finally:
        app.close()


def applied(reads: ReadPool) -> tuple[Any, ...]:
    def query(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM rm_customers), "
            "(SELECT coalesce(sum(total_cny), 0) FROM rm_purchases)"
        ).fetchone()
        return tuple(row or ())

    try:
        return reads.call(query)
    except psycopg.errors.UndefinedTable:
        return (0, Decimal(0))


def test_the_platform_runs_through_pgbouncer_in_transaction_pooling(
    servers: ServerSet,
    database_url: str,
    kafka_topic: str,
    master_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_prepared_statements: None,
) -> None:
    with running_pgbouncer(database_url) as bouncer:
        url = bouncer.url(database_url, application_name="crm-via-pgbouncer")
        monkeypatch.setenv("CRM_DATABASE_POOLER", "transaction")  # the processes' setting
        monkeypatch.setenv("CRM_DATABASE_DIRECT_URL", database_url)  # the relay's session
        ensure_topic(servers.kafka_bootstrap, kafka_topic, 2)
        app = CrmApplication(url, master_key=master_key, pool_size=2)
        reads = ReadPool(url, max_size=2)
        processes = [
            start_worker(servers, url, kafka_topic, master_key, tmp_path / name, verb)
            for name, verb in (("relay", ("relay",)), ("worker", ("worker", "projections")))
        ]
        try:
            assert not prepared_statements()
            service = CommandService(app)
            for i in range(CUSTOMERS):
                one_customer(service, i)  # writes through the bouncer
            assert app.recorder.max_notification_id() == CUSTOMERS * 4  # a read of the store
            expected = (CUSTOMERS, Decimal("120.00") * CUSTOMERS)
            deadline = time.monotonic() + 120
            while applied(reads) != expected:  # the gateway's reads, through the bouncer
                assert time.monotonic() < deadline, f"applied only {applied(reads)}"
                assert all(p.poll() is None for p in processes), bouncer.log()[-2000:]
                time.sleep(0.3)
        finally:
            for process in processes:
                stop(process)
            reads.close()
            app.close()
        log = bouncer.log()
    assert "prepared statement" not in log and "ERROR" not in log, log[-2000:]
    consumer = kafka_clients.consumer(
        servers.kafka_bootstrap,
        kafka_topic,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
        enable_auto_commit=False,
    )
    try:
        published = sum(1 for _ in consumer)
    finally:
        consumer.close()
    assert published >= CUSTOMERS * 4  # the relay published every event (at least once)


def rebuild_locks_held(server_url: str) -> int:
    """Sessions on the server holding the full rebuild's advisory lock (one bigint key:
    its high half in `classid`, its low half in `objid`)."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
            (ADVISORY_LOCK >> 32, ADVISORY_LOCK & 0xFFFFFFFF),
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_full_rebuild_through_pgbouncer_leaves_no_lock_behind(
    database_url: str, master_key: str, no_prepared_statements: None
) -> None:
    """The rebuild's one-at-a-time lock is a session lock: through a transaction pooler it
    stayed on a pooled server connection after the run (found by an audit of session state
    for issue 18), so the next rebuild could be refused as "busy" for as long as that
    connection lived. It goes to the direct URL now, and is gone when the rebuild is."""
    with running_pgbouncer(database_url) as bouncer:
        url = bouncer.url(database_url, application_name="crm-rebuild-via-pgbouncer")
        app = CrmApplication(url, master_key=master_key, pool_size=2)
        try:
            service = CommandService(app)
            for i in range(3):
                one_customer(service, i)
            for _ in range(2):  # twice: the second is not refused as busy
                assert rebuild(app, url, session_url=database_url) == 3 * 4
                # asked while the bouncer still holds its server connections open
                assert rebuild_locks_held(database_url) == 0
        finally:
            app.close()

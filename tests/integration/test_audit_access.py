"""The access log: who read which customer's personal data, when, in which role."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from compliance.access_log import (
    PROFILE_PERSONAL_FIELDS,
    AccessEntry,
    AccessLog,
    access_history,
    append_access,
    entries_for,
    returned_fields,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def app(database_url: str) -> Iterator[CrmApplication]:
    application = CrmApplication(database_url, master_key=generate_master_key(), pool_size=4)
    yield application
    application.close()


def test_append_and_query_by_customer_and_time(app: CrmApplication) -> None:
    ann, bo = uuid4(), uuid4()
    t0 = datetime(2025, 5, 1, tzinfo=UTC)
    written = append_access(
        app,
        [
            AccessEntry("u1", "sales", ann, ("name", "email"), "graphql:customer", t0),
            AccessEntry("u2", "support", bo, ("phone",), "graphql:customers", t0),
            AccessEntry(
                "u3", "compliance", ann, ("name",), "graphql:auditTrail", t0 + timedelta(1)
            ),
        ],
    )
    assert written == 3
    reads = access_history(app, ann)
    assert [(r.actor, r.role, r.fields, r.operation) for r in reads] == [
        ("u1", "sales", ("name", "email"), "graphql:customer"),
        ("u3", "compliance", ("name",), "graphql:auditTrail"),
    ]
    assert [r.at for r in reads] == [t0, t0 + timedelta(1)]
    assert [r.actor for r in access_history(app, ann, since=t0 + timedelta(hours=1))] == ["u3"]
    assert [r.actor for r in access_history(app, ann, until=t0)] == ["u1"]
    assert append_access(app, []) == 0
    with pytest.raises(ValueError, match="commas"):
        append_access(app, [AccessEntry("u", "sales", ann, ("a,b",), "x")])


def test_entries_for_leaves_out_reads_without_personal_fields() -> None:
    ann, bo = uuid4(), uuid4()
    entries = entries_for("u", "analyst", "graphql:customers", [(ann, ("name",)), (bo, ())])
    assert [e.customer_id for e in entries] == [ann]
    row = {"name": "Ann", "email": None, "phone": "+86 139", "stage": "LEAD"}
    assert returned_fields(row, PROFILE_PERSONAL_FIELDS) == ("name", "phone")


def test_what_a_gateway_resolver_calls(app: CrmApplication) -> None:
    ann, bo = uuid4(), uuid4()
    log = AccessLog(app, flush_interval=3600)
    rows = {ann: {"name": "Ann", "email": "a@example.com"}, bo: {"name": None, "email": None}}
    log.record(
        "sales-sam",
        "sales",
        "graphql:customers",
        [(cid, returned_fields(row, PROFILE_PERSONAL_FIELDS)) for cid, row in rows.items()],
    )
    log.close()
    assert [(r.actor, r.fields) for r in access_history(app, ann)] == [
        ("sales-sam", ("name", "email"))
    ]
    assert access_history(app, bo) == []


def test_buffered_log_batches_in_the_background_and_flushes_on_close(
    app: CrmApplication, database_url: str
) -> None:
    customers = [uuid4() for _ in range(50)]
    log = AccessLog(app, flush_interval=0.05, max_batch=40)
    threads = [
        threading.Thread(
            target=lambda n=n: log.add(
                AccessEntry(f"user{n}", "sales", c, ("name",), "graphql:customers")
                for c in customers
            )
        )
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    assert log.pending == 0
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT actor) FROM crm_access_log").fetchone()
    assert row == (200, 4)
    reads = access_history(app, customers[0])
    assert len(reads) == 4 and all(r.at is not None for r in reads)


def test_a_failed_write_keeps_the_entries_for_the_next_try(
    app: CrmApplication, database_url: str
) -> None:
    log = AccessLog(app, flush_interval=3600)
    cid = uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE crm_access_log RENAME TO crm_access_log_away")
        log.add([AccessEntry("u", "sales", cid, ("email",), "graphql:customer")])
        with pytest.raises(Exception, match="crm_access_log"):
            log.flush()
        assert log.pending == 1
        conn.execute("ALTER TABLE crm_access_log_away RENAME TO crm_access_log")
    log.close()
    assert [r.fields for r in access_history(app, cid)] == [("email",)]

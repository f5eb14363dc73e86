"""The hash chain on the real PostgreSQL: written in the events' transaction, verified
in Python, and every kind of tampering by hand is named at its position."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from aggregates.customer import Customer
from aggregates.errors import Conflict
from commands.application import CrmApplication
from commands.chain import CHAIN_TABLE, GENESIS, MetaFields, link_body, link_hash
from commands.crypto import generate_master_key
from commands.messages import (
    CommandContext,
    FileComplaint,
    RecordContactTouch,
    RegisterCustomer,
    TagCustomer,
)
from commands.service import CommandService
from compliance.verify import _rows_sql, verify_chain

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="chain-test")


@pytest.fixture
def master_key() -> str:
    return generate_master_key()


@pytest.fixture
def app(database_url: str, master_key: str) -> Iterator[CrmApplication]:
    application = CrmApplication(database_url, master_key=master_key, pool_size=4)
    yield application
    application.close()


@pytest.fixture
def service(app: CrmApplication) -> CommandService:
    return CommandService(app)


def execute(url: str, statement: str, *params: Any) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def rows(url: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(statement, params).fetchall())


def history(service: CommandService, customers: int = 3) -> list[UUID]:
    ids = []
    for i in range(customers):
        cid = service.handle(
            RegisterCustomer(name=f"Chain {i}", email=f"chain{i}.{uuid4().hex[:8]}@example.com"),
            CTX,
        ).customer_id
        service.handle(RecordContactTouch(customer_id=cid, channel="PHONE", summary="hi"), CTX)
        service.handle(TagCustomer(customer_id=cid, add=("vip",)), CTX)
        ids.append(cid)
    service.handle(
        FileComplaint(customer_id=ids[0], category="c", severity="LOW", description="d"), CTX
    )
    return ids


def save_without_meta(app: CrmApplication) -> None:
    """A plain library save: no side effects, so no metadata row (chained all the same)."""
    customer = Customer.register(customer_id=uuid4(), name="Plain", at=datetime.now(UTC))
    cipher, _ = app.keys.new_key(customer.id)
    with app.keys.writing({customer.id: cipher}):
        app.save(customer)


def verify(app: CrmApplication, url: str, start: int = 0) -> Any:
    return verify_chain(url, app.crm_recorder.chain_tables, start=start, batch_size=4)


def test_every_event_is_chained_in_position_order(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    history(service)
    # A save without side effects (no metadata) is chained too.
    save_without_meta(app)
    chain = rows(database_url, f"SELECT position, hash, prev_hash FROM {CHAIN_TABLE} ORDER BY 1")
    positions = [r[0] for r in rows(database_url, "SELECT notification_id FROM stored_events")]
    assert sorted(positions) == [r[0] for r in chain]
    assert bytes(chain[0][2]) == GENESIS
    assert all(bytes(b[2]) == bytes(a[1]) for a, b in pairwise(chain))
    report = verify(app, database_url)
    assert report.ok and report.checked == len(positions) and report.unchained == 0
    assert report.head_hash == bytes(chain[-1][1])


def test_database_body_equals_the_python_reference(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    """The SQL encoding (writer and verifier) is the documented one, field by field."""
    history(service, customers=2)
    save_without_meta(app)
    tables = app.crm_recorder.chain_tables
    with psycopg.connect(database_url) as conn:
        from_sql = {r[0]: bytes(r[1]) for r in conn.execute(_rows_sql(tables), (0,)).fetchall()}
        raw = conn.execute(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,"
            " m.position, m.actor, m.correlation_id, m.causation_id, m.command,"
            " (extract(epoch FROM m.recorded_at) * 1000000)::bigint, c.hash, c.prev_hash"
            " FROM stored_events e LEFT JOIN crm_event_meta m ON m.position = e.notification_id"
            " JOIN crm_event_chain c ON c.position = e.notification_id ORDER BY 1"
        ).fetchall()
    assert any(r[5] is None for r in raw) and any(r[5] is not None for r in raw)
    for row in raw:
        meta = (
            None
            if row[5] is None
            else MetaFields(
                row[6],
                row[7].bytes if row[7] else None,
                row[8].bytes if row[8] else None,
                row[9],
                row[10],
            )
        )
        body = link_body(row[0], row[1].bytes, row[2], row[3], bytes(row[4]), meta)
        assert body == from_sql[row[0]]
        assert link_hash(bytes(row[12]), body) == bytes(row[11])


def test_an_edited_event_is_found_at_its_position(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    history(service)
    execute(
        database_url,
        "UPDATE stored_events SET state = replace(convert_from(state, 'UTF8'), "
        "'\"vip\"', '\"vvip\"')::bytea WHERE topic LIKE %s",
        "%CustomerTagged",
    )
    target = rows(
        database_url,
        "SELECT min(notification_id) FROM stored_events WHERE topic LIKE %s",
        "%CustomerTagged",
    )[0][0]
    report = verify(app, database_url)
    assert report.broken is not None
    assert (report.broken.position, report.broken.kind) == (target, "altered")
    assert report.last_position == target - 1


def test_edited_metadata_is_found_too(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    history(service)
    execute(database_url, "UPDATE crm_event_meta SET actor = 'someone-else' WHERE position = 4")
    report = verify(app, database_url)
    assert report.broken is not None and (report.broken.position, report.broken.kind) == (
        4,
        "altered",
    )


def test_a_deleted_row_is_found_by_the_broken_link(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    history(service)
    execute(database_url, "DELETE FROM stored_events WHERE notification_id = 5")
    execute(database_url, "DELETE FROM crm_event_meta WHERE position = 5")
    execute(database_url, f"DELETE FROM {CHAIN_TABLE} WHERE position = 5")
    report = verify(app, database_url)
    assert report.broken is not None
    assert (report.broken.position, report.broken.kind) == (6, "link")
    assert report.last_position == 4


def test_a_deleted_event_whose_link_remains_is_named_exactly(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    history(service)
    execute(database_url, "DELETE FROM stored_events WHERE notification_id = 5")
    report = verify(app, database_url)
    assert report.broken is not None
    assert (report.broken.position, report.broken.kind) == (5, "missing")


def test_reordering_and_hand_inserted_events_are_found(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    history(service)
    # Swap two positions (the notification ids): both links now hash other content.
    execute(
        database_url,
        "UPDATE stored_events SET notification_id = CASE notification_id WHEN 2 THEN -2 "
        "ELSE notification_id END WHERE notification_id = 2",
    )
    execute(database_url, "UPDATE stored_events SET notification_id = 2 WHERE notification_id = 3")
    execute(database_url, "UPDATE stored_events SET notification_id = 3 WHERE notification_id = -2")
    report = verify(app, database_url)
    assert report.broken is not None and report.broken.position == 2
    assert report.broken.kind == "altered"

    execute(database_url, "UPDATE stored_events SET notification_id = -3 WHERE notification_id = 3")
    execute(database_url, "UPDATE stored_events SET notification_id = 3 WHERE notification_id = 2")
    execute(database_url, "UPDATE stored_events SET notification_id = 2 WHERE notification_id = -3")
    assert verify(app, database_url).ok
    last = rows(database_url, "SELECT max(notification_id) FROM stored_events")[0][0]
    execute(
        database_url,
        "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
        "SELECT originator_id, 99, topic, state FROM stored_events WHERE notification_id = 1",
    )
    report = verify(app, database_url)
    assert report.broken is not None
    assert report.broken.kind == "unchained" and report.broken.position > last


def test_rolled_back_saves_leave_gaps_that_are_not_breaks(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    service.handle(RegisterCustomer(name="A", email="taken@example.com"), CTX)
    for _ in range(3):
        with pytest.raises(Conflict):
            service.handle(RegisterCustomer(name="B", email="taken@example.com"), CTX)
    service.handle(RegisterCustomer(name="C", email="free@example.com"), CTX)
    positions = [r[0] for r in rows(database_url, "SELECT position FROM crm_event_chain")]
    assert positions[-1] - positions[0] > len(positions) - 1  # the sequence has gaps
    assert verify(app, database_url).ok


def test_a_store_older_than_the_chain_reports_its_unchained_prefix(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    history(service, customers=2)
    before = rows(database_url, "SELECT count(*), max(notification_id) FROM stored_events")[0]
    execute(database_url, f"DELETE FROM {CHAIN_TABLE}")  # as if recorded before the chain
    history(service, customers=1)
    report = verify(app, database_url)
    assert report.ok
    assert (report.unchained, report.unchained_last) == before
    assert report.first_chained is not None and report.first_chained > before[1]

    # Links deleted from the start of the chain do not pass for an older store.
    execute(database_url, f"DELETE FROM {CHAIN_TABLE} WHERE position = %s", report.first_chained)
    broken = verify(app, database_url).broken
    assert broken is not None and broken.kind == "genesis"


def test_verify_from_a_position_checks_only_what_follows(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    history(service)
    execute(database_url, "UPDATE crm_event_meta SET actor = 'x' WHERE position = 2")
    assert not verify(app, database_url).ok
    later = verify(app, database_url, start=5)
    assert later.ok and later.first_chained == 5


def test_concurrent_writers_keep_one_linear_chain(
    app: CrmApplication, service: CommandService, database_url: str
) -> None:
    ids = history(service, customers=4)
    errors: list[BaseException] = []

    def write(cid: UUID) -> None:
        try:
            for n in range(15):
                service.handle(
                    RecordContactTouch(customer_id=cid, channel="EMAIL", summary=str(n)), CTX
                )
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(cid,)) for cid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = verify(app, database_url)
    assert report.ok and report.checked == 13 + 60


def test_complaint_streams_are_indexed_by_customer_and_backfilled(
    app: CrmApplication, service: CommandService, database_url: str, master_key: str
) -> None:
    ids = history(service, customers=2)
    indexed = rows(database_url, "SELECT customer_id FROM crm_stream_subjects")
    assert indexed == [(ids[0],)]
    execute(database_url, "DROP TABLE crm_stream_subjects")
    again = CrmApplication(database_url, master_key=master_key, pool_size=1)
    again.close()
    assert rows(database_url, "SELECT customer_id FROM crm_stream_subjects") == indexed

"""Round trips of the write path, counted in libpq's own protocol trace.

A round trip is a Sync the client sends and waits for. A save is two: BEGIN, lock,
insert and chain head in one; side rows, links and COMMIT in the other. psycopg's
``transaction()`` inside a pipeline made it four (a wait for the BEGIN, a sync before
the COMMIT), which these tests would see; so would a load of a customer the process
holds a copy of.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import psycopg
import pytest

from aggregates.errors import Conflict
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RecordContactTouch, RegisterCustomer
from commands.service import CommandService
from streams.wire import EnvelopesAtCommit

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="alice")


@pytest.fixture
def app(database_url: str) -> Iterator[CrmApplication]:
    # One connection: whatever a failed save leaves behind, the next command meets.
    application = CrmApplication(database_url, master_key=generate_master_key(), pool_size=1)
    yield application
    application.close()


@contextlib.contextmanager
def traced(app: CrmApplication) -> Iterator[list[str]]:
    """The protocol messages of every connection the store lends inside the block."""
    datastore = app.crm_recorder.datastore
    lend = datastore.get_connection
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace"
        with path.open("w") as sink:

            @contextlib.contextmanager
            def traced_connection() -> Iterator[Any]:
                with lend() as conn:
                    conn.pgconn.trace(sink.fileno())
                    try:
                        yield conn
                    finally:
                        conn.pgconn.untrace()

            datastore.get_connection = traced_connection  # type: ignore[method-assign]
            try:
                yield lines
            finally:
                datastore.get_connection = lend  # type: ignore[method-assign]
        lines.extend(path.read_text().splitlines())


def client_syncs(lines: list[str]) -> int:
    return sum(1 for line in lines if line.split("\t")[1:2] == ["F"] and "\tSync" in line)


def register(service: CommandService, email: str | None = None) -> Any:
    return service.handle(RegisterCustomer(name="Ada", email=email, customer_id=uuid4()), CTX)


def test_a_save_is_two_round_trips(app: CrmApplication) -> None:
    service = CommandService(app)
    customer = register(service).aggregate_id
    recorder = app.crm_recorder
    saves: list[int] = []
    insert = recorder.insert_events

    def counted(*args: Any, **kwargs: Any) -> Any:
        with traced(app) as lines:
            result = insert(*args, **kwargs)
        saves.append(client_syncs(lines))
        return result

    recorder.insert_events = counted  # type: ignore[method-assign]
    try:
        for _ in range(3):
            service.handle(
                RecordContactTouch(customer_id=customer, channel="EMAIL", direction="INBOUND"),
                CTX,
            )
    finally:
        recorder.insert_events = insert  # type: ignore[method-assign]
    assert saves == [2, 2, 2]


def test_a_command_on_a_customer_this_process_wrote_is_its_save_alone(
    app: CrmApplication,
) -> None:
    """The cached copy is used without a load; a new customer's first command loads it."""
    service = CommandService(app)
    customer = register(service).aggregate_id
    touch = RecordContactTouch(customer_id=customer, channel="EMAIL", direction="INBOUND")
    with traced(app) as cached:
        service.handle(touch, CTX)
    app.loader.forget([customer])
    with traced(app) as uncached:
        service.handle(touch, CTX)
    assert client_syncs(cached) == 2
    assert client_syncs(uncached) == 3


def test_a_save_refused_in_its_second_trip_leaves_nothing_and_an_idle_connection(
    app: CrmApplication, database_url: str
) -> None:
    """The email reservation fails with the side rows, after the events were inserted:
    the events go too, and the one pooled connection serves the next command."""
    service = CommandService(app)
    register(service, "ada@example.com")
    with psycopg.connect(database_url) as conn:
        before = conn.execute("SELECT count(*) FROM stored_events").fetchone()
    with pytest.raises(Conflict) as refused:
        register(service, "ada@example.com")
    assert refused.value.field == "email"
    with psycopg.connect(database_url) as conn:
        after = conn.execute("SELECT count(*) FROM stored_events").fetchone()
    assert after == before
    with app.crm_recorder.datastore.get_connection() as conn:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert register(service, "grace@example.com").version == 1


def test_a_save_composes_no_statement(app: CrmApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every statement of a save is text rendered when the recorder was made: composing
    one per execute cost ~40 µs, ~8 times a save. Key writes, email reservations and an
    idempotency result ride along (the side statements are rendered on first use)."""
    service = CommandService(app)
    first = RegisterCustomer(
        name="Eve", email="eve@example.com", customer_id=uuid4(), idempotency_key="k-0"
    )
    service.handle(first, CTX)  # the side statements' first use
    composed: list[str] = []
    as_bytes = psycopg.sql.Composed.as_bytes

    def counted(self: psycopg.sql.Composed, context: Any = None) -> bytes:
        composed.append(repr(self)[:80])
        return as_bytes(self, context)

    monkeypatch.setattr(psycopg.sql.Composed, "as_bytes", counted)
    customer = service.handle(
        RegisterCustomer(
            name="Ada", email="ada@example.com", customer_id=uuid4(), idempotency_key="k-1"
        ),
        CTX,
    ).aggregate_id
    service.handle(
        RecordContactTouch(customer_id=customer, channel="EMAIL", direction="INBOUND"), CTX
    )
    assert composed == [], "\n".join(composed)


def test_the_rendered_statements_are_what_the_server_would_quote(
    app: CrmApplication, database_url: str
) -> None:
    recorder = app.crm_recorder
    table = psycopg.sql.SQL("{}.{}").format(
        psycopg.sql.Identifier(recorder.datastore.schema),
        psycopg.sql.Identifier(recorder.events_table_name),
    )
    with psycopg.connect(database_url) as conn:
        quoted = table.as_bytes(conn)
    assert quoted in recorder._insert_binary
    assert recorder._sql("SELECT 1 FROM {}", recorder.events_table_name) == (
        b"SELECT 1 FROM " + quoted
    )


def test_envelopes_are_drafted_before_the_save_locks_the_events_table(
    app: CrmApplication, database_url: str
) -> None:
    """Saves are serialised by the events table's lock: whatever Python a save runs while
    holding it, every other writer waits for. The envelopes (JSON, ids, signatures'
    inputs) are drafted before the transaction begins; only their positions are filled
    in under the lock. Each draft is then completed into the stored message."""
    drafting = EnvelopesAtCommit(app.stream_signing_key)
    locks_seen: list[int] = []

    def watched(*args: Any) -> Any:
        with psycopg.connect(database_url, autocommit=True) as other:
            row = other.execute(
                "SELECT count(*) FROM pg_locks WHERE mode = 'ExclusiveLock' "
                "AND relation = 'stored_events'::regclass"
            ).fetchone()
        locks_seen.append(row[0] if row else -1)
        return drafting(*args)

    app.crm_recorder.envelopes = watched
    service = CommandService(app)
    customer = register(service, "ada@example.com").aggregate_id
    service.handle(
        RecordContactTouch(customer_id=customer, channel="EMAIL", direction="INBOUND"), CTX
    )
    assert locks_seen == [0, 0]
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT e.position, e.value FROM crm_event_envelopes e ORDER BY e.position"
        ).fetchall()
    assert len(rows) == 2
    for position, value in rows:
        assert orjson.loads(value)["position"] == position

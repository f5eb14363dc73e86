"""The event store on the real PostgreSQL: side tables, encryption at rest, snapshots.

These tests drive `CrmApplication` directly (aggregates and hand-built effects), so they
check the store's guarantees independently of the command service.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from aggregates.customer import Customer
from commands.application import CrmApplication, postgres_env
from commands.crypto import UnreadableCiphertext, generate_master_key
from commands.effects import derive_effects
from commands.recorder import EMAIL_PKEY, IdempotencyRecord, WriteEffects
from commands.service import constraint_of

pytestmark = pytest.mark.integration

AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def master_key() -> str:
    return generate_master_key()


@pytest.fixture
def app(database_url: str, master_key: str) -> Iterator[CrmApplication]:
    application = CrmApplication(
        database_url, master_key=master_key, snapshot_interval=4, pool_size=2
    )
    yield application
    application.close()


def save(app: CrmApplication, *aggregates: Customer, actor: str = "tester") -> WriteEffects:
    """Save like the service does: effects derived from the pending events."""
    effects = WriteEffects(actor=actor, correlation_id=uuid4(), default_command="Test")
    events = [e for agg in aggregates for e in agg.pending_events]
    ciphers = derive_effects(app, events, effects)
    app.record(events, aggregates=aggregates, effects=effects, new_ciphers=ciphers)
    return effects


def new_customer(name: str = "Ann Lee", email: str | None = "ann@example.com") -> Customer:
    return Customer.register(
        customer_id=uuid4(), name=name, email=email, phone="13800138000", at=AT
    )


def rows(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())


def test_url_and_conninfo_both_map_to_library_settings() -> None:
    from_url = postgres_env("postgresql://crm:s3cret@db.local:6543/crm_prod")
    assert from_url == {
        "POSTGRES_DBNAME": "crm_prod",
        "POSTGRES_HOST": "db.local",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "crm",
        "POSTGRES_PASSWORD": "s3cret",
    }
    from_conninfo = postgres_env("host=127.0.0.1 port=5433 dbname=t_1 user=postgres")
    assert from_conninfo["POSTGRES_DBNAME"] == "t_1"
    assert from_conninfo["POSTGRES_PASSWORD"] == ""


def test_creates_event_and_side_tables(app: CrmApplication, database_url: str) -> None:
    tables = {
        r[0]
        for r in rows(database_url, "SELECT tablename FROM pg_tables WHERE schemaname='public'")
    }
    assert {
        "stored_events",
        "stored_snapshots",
        "crm_event_meta",
        "crm_idempotency",
        "crm_email_reservations",
        "crm_customer_keys",
    } <= tables


def test_meta_rows_name_actor_correlation_and_command_per_position(
    app: CrmApplication, database_url: str
) -> None:
    customer = new_customer()
    correlation, causation = uuid4(), uuid4()
    effects = WriteEffects(
        actor="alice", correlation_id=correlation, causation_id=causation, default_command="X"
    )
    ciphers = derive_effects(app, customer.pending_events, effects)
    customer.tag(["vip"], at=AT)
    effects.commands[(customer.id, 2)] = "TagCustomer"
    recordings = app.record(
        customer.pending_events, aggregates=[customer], effects=effects, new_ciphers=ciphers
    )
    positions = [r.notification.id for r in recordings]
    meta = app.crm_recorder.select_event_meta(positions)
    assert [meta[p].command for p in positions] == ["X", "TagCustomer"]
    assert {(m.actor, m.correlation_id, m.causation_id) for m in meta.values()} == {
        ("alice", correlation, causation)
    }
    assert all(m.recorded_at.tzinfo is not None for m in meta.values())


def test_idempotency_row_stores_result_and_last_position(app: CrmApplication) -> None:
    customer = new_customer()
    customer.tag(["a"], at=AT)
    effects = WriteEffects(actor="a")
    ciphers = derive_effects(app, customer.pending_events, effects)
    effects.idempotency.append(
        IdempotencyRecord(
            subject="a",
            key="key-1",
            command="RegisterCustomer",
            fingerprint="f",
            result={"x": 1},
            events=[(customer.id, 1), (customer.id, 2)],
        )
    )
    recordings = app.record(
        customer.pending_events, aggregates=[customer], effects=effects, new_ciphers=ciphers
    )
    stored = app.crm_recorder.select_results([("a", "key-1"), ("b", "key-1"), ("a", "other")])
    assert list(stored) == [("a", "key-1")]
    assert stored["a", "key-1"].result == {"x": 1}
    assert stored["a", "key-1"].fingerprint == "f"
    assert stored["a", "key-1"].position == recordings[-1].notification.id


def test_personal_data_is_not_in_the_database_in_clear(
    app: CrmApplication, database_url: str
) -> None:
    customer = Customer.register(
        customer_id=uuid4(),
        name="Zhang Wei",
        email="zhang.wei@example.cn",
        phone="13912345678",
        at=AT,
    )
    customer.record_touch(channel="PHONE", summary="wants the blue model", at=AT)
    customer.change_contact_details(address="88 Nanjing Road", at=AT)
    save(app, customer)
    everything = b"".join(
        bytes(r[0])
        for r in rows(database_url, "SELECT state FROM stored_events")
        + rows(database_url, "SELECT email_hash FROM crm_email_reservations")
        + rows(database_url, "SELECT wrapped_key FROM crm_customer_keys")
    )
    for secret in (b"Zhang Wei", b"zhang.wei", b"13912345678", b"blue model", b"Nanjing"):
        assert secret not in everything
    loaded: Customer = app.repository.get(customer.id)
    assert (loaded.name, loaded.email, loaded.phone, loaded.address) == (
        "Zhang Wei",
        "zhang.wei@example.cn",
        "+8613912345678",
        "88 Nanjing Road",
    )


def test_another_process_with_the_master_key_reads_it_back(
    app: CrmApplication, database_url: str, master_key: str
) -> None:
    customer = new_customer()
    save(app, customer)
    other = CrmApplication(database_url, master_key=master_key, pool_size=1)
    try:
        assert other.repository.get(customer.id).name == "Ann Lee"
    finally:
        other.close()
    wrong = CrmApplication(database_url, master_key=generate_master_key(), pool_size=1)
    try:
        with pytest.raises(UnreadableCiphertext):
            wrong.repository.get(customer.id)
    finally:
        wrong.close()


def test_snapshots_are_sealed_and_rebuild_the_same_state(
    app: CrmApplication, database_url: str, master_key: str
) -> None:
    customer = new_customer(name="Li Na")
    for i in range(9):
        customer.record_touch(channel="EMAIL", summary=f"note {i}", at=AT)
        save(app, customer)
    snapshots = rows(
        database_url, "SELECT originator_version, state FROM stored_snapshots ORDER BY 1"
    )
    assert [v for v, _ in snapshots] == [4, 8]
    assert all(b"Li Na" not in bytes(s) for _, s in snapshots)
    replaying = CrmApplication(database_url, master_key=master_key, snapshotting={}, pool_size=1)
    snapshotting = CrmApplication(database_url, master_key=master_key, pool_size=1)
    try:
        from_events: Customer = replaying.repository.get(customer.id)
        from_snapshot: Customer = snapshotting.repository.get(customer.id)
        assert vars(from_snapshot) == vars(from_events)
        assert from_snapshot.name == "Li Na" and from_snapshot.version == 10
    finally:
        replaying.close()
        snapshotting.close()


def test_email_reservation_conflict_names_its_constraint(app: CrmApplication) -> None:
    save(app, new_customer(email="same@example.com"))
    with pytest.raises(IntegrityError) as caught:
        save(app, new_customer(name="Other", email="SAME@example.com "))
    assert constraint_of(caught.value) == EMAIL_PKEY


def test_failed_side_write_rolls_back_the_events(app: CrmApplication, database_url: str) -> None:
    save(app, new_customer(email="taken@example.com"))
    loser = new_customer(name="Loser", email="taken@example.com")
    with pytest.raises(IntegrityError):
        save(app, loser)
    assert rows(
        database_url, "SELECT count(*) FROM stored_events WHERE originator_id=%s", loser.id
    ) == [(0,)]
    assert rows(
        database_url, "SELECT count(*) FROM crm_customer_keys WHERE customer_id=%s", loser.id
    ) == [(0,)]
    assert rows(database_url, "SELECT count(*) FROM crm_event_meta") == [(1,)]


def test_forgetting_destroys_key_snapshots_and_reservation(
    app: CrmApplication, database_url: str, master_key: str
) -> None:
    customer = new_customer(email="gone@example.com")
    for i in range(4):
        customer.record_touch(channel="VISIT", summary=f"visit {i}", at=AT)
    save(app, customer)
    assert rows(database_url, "SELECT count(*) FROM stored_snapshots") == [(1,)]
    customer.forget(reason="erasure request", at=AT)
    save(app, customer)

    def count(table: str, column: str) -> object:
        return rows(database_url, f"SELECT count(*) FROM {table} WHERE {column}=%s", customer.id)[
            0
        ][0]

    assert count("crm_customer_keys", "customer_id") == 0
    assert count("stored_snapshots", "originator_id") == 0
    assert count("crm_email_reservations", "customer_id") == 0
    assert app.keys.is_forgotten(customer.id)
    for reader in (app, CrmApplication(database_url, master_key=master_key, pool_size=1)):
        states = [
            reader.notification_state(n)
            for n in reader.recorder.select_notifications(start=None, limit=100)
        ]
        assert [s.get("name") for s in states if "name" in s] == [None]
        assert {s.get("summary") for s in states if "summary" in s} == {None}
        loaded: Customer = reader.repository.get(customer.id)
        assert loaded.forgotten and loaded.name is None and loaded.email is None
    save(app, new_customer(name="New owner", email="gone@example.com"))


def test_decode_notification_and_redaction(app: CrmApplication) -> None:
    customer = new_customer()
    save(app, customer)
    [notification] = app.recorder.select_notifications(start=None, limit=10)
    app.prefetch_keys([notification])
    event = app.decode_notification(notification)
    assert event.name == "Ann Lee" and isinstance(event.originator_id, UUID)
    state = app.notification_state(notification, redact=True)
    assert state["name"] is None and state["email"] is None and state["phone"] is None
    assert state["originator_id"] == customer.id and state["originator_version"] == 1

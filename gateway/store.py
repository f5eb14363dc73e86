"""Reads from the event store itself (never a read model): audit trail, past states,
positions, and the write side's own view of a customer or complaint.

All functions are synchronous (run them in a worker thread) and go through the
application's own datastore, so they see exactly what the write side committed.
Audit reads go past damaged values (`commands.corruption`) and return them alongside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from psycopg.sql import SQL, Identifier

from aggregates.customer import Customer
from commands.application import CrmApplication
from commands.corruption import Corruption, corruption_of, load, stream_rows
from commands.mapper import CorruptedValue, personal_fields
from events import ComplaintFiled, CrmEvent, CustomerRegistered, CustomerScoped, PurchaseRecorded
from streams.envelope import event_data


@dataclass(frozen=True)
class AuditRecord:
    """One recorded event as the audit trail shows it."""

    position: int
    type: str
    stream_id: UUID
    customer_id: UUID
    version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str | None
    correlation_id: UUID | None
    causation_id: UUID | None
    command: str | None
    data: dict[str, Any]
    corrupted: tuple[Corruption, ...] = ()
    """Values of this event that could not be read (null in `data`)."""
    personal_fields: tuple[str, ...] = ()
    """The names in `data` that are personal (opened or nulled per the caller's role)."""


def _table(app: CrmApplication) -> Any:
    recorder = app.crm_recorder
    return SQL("{}.{}").format(
        Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
    )


def complaint_ids_of(app: CrmApplication, customer_id: UUID) -> list[UUID]:
    """Ids of the complaints filed for a customer, found in the stored ComplaintFiled facts.

    A scan of the ComplaintFiled events: fine for audit screens; an index table kept
    by the write side (complaint -> customer) would make it a look-up.
    """
    statement = SQL(
        "SELECT originator_id FROM {} WHERE topic = %s AND originator_version = 1 "
        "AND convert_from(state, 'UTF8')::jsonb -> 'customer_id' ->> '_data_' = %s "
        "ORDER BY notification_id"
    ).format(_table(app))
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (get_topic(ComplaintFiled), customer_id.hex))
        return [UUID(str(row["originator_id"])) for row in curs.fetchall()]


def events_with_positions(
    app: CrmApplication, stream_ids: Sequence[UUID], after: int, limit: int
) -> list[tuple[int, StoredEvent]]:
    """Stored events of these streams after a global position, oldest first."""
    statement = SQL(
        "SELECT originator_id, originator_version, topic, state, notification_id FROM {} "
        "WHERE originator_id = ANY(%s) AND notification_id > %s "
        "ORDER BY notification_id LIMIT %s"
    ).format(_table(app))
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (list(stream_ids), after, limit))
        return [
            (
                int(row["notification_id"]),
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                ),
            )
            for row in curs.fetchall()
        ]


def last_position_of(app: CrmApplication, stream_id: UUID) -> int:
    """The global position of a stream's latest event (0 for an unknown stream)."""
    statement = SQL("SELECT max(notification_id) AS p FROM {} WHERE originator_id = %s").format(
        _table(app)
    )
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (stream_id,))
        row = curs.fetchone()
        return int(row["p"]) if row and row["p"] is not None else 0


def audit_page(
    app: CrmApplication, customer_id: UUID, *, after: int, first: int, personal: bool
) -> tuple[list[AuditRecord], bool, list[Corruption]]:
    """Every event of the customer's stream and its complaints' streams after `after`.

    Personal fields come back opened when `personal` and the customer's key still
    exists; otherwise (forgotten, or a role that may not see them) they are null. A
    damaged sealed value is null and listed in the record's `corrupted`; an event whose
    whole state is unreadable comes as a record with no data, dated when it was recorded
    (or, with no record of that either, only in the third item: every damaged value).
    """
    streams = [customer_id, *complaint_ids_of(app, customer_id)]
    rows = events_with_positions(app, streams, after, first + 1)
    page = rows[:first]
    if personal:
        app.keys.prefetch({customer_id})
    metas = app.crm_recorder.select_event_meta([p for p, _ in page]) if page else {}
    records = []
    corrupted: list[Corruption] = []
    for position, stored in page:
        cls: type[CrmEvent] = resolve_topic(stored.topic)
        damaged: list[str] = []
        try:
            state = app.crm_mapper.decode_state(
                stored, cls=cls, redact=not personal, damaged=damaged
            )
        except CorruptedValue as error:
            state = {}
            damaged = [error.field]
        meta = metas.get(position)
        reason = "the stored value does not authenticate or decode (altered bytes)"
        damage = tuple(corruption_of(position, stored, f, reason) for f in damaged)
        corrupted.extend(damage)
        subject = state.get("customer_id") if issubclass(cls, CustomerScoped) else None
        occurred_at: datetime | None = state.get("timestamp") or (
            meta.recorded_at if meta else None
        )
        if occurred_at is None:
            continue
        records.append(
            AuditRecord(
                position=position,
                type=cls.cloudevents_type(),
                stream_id=UUID(str(stored.originator_id)),
                customer_id=subject or customer_id,
                version=stored.originator_version,
                occurred_at=occurred_at,
                recorded_at=meta.recorded_at if meta else occurred_at,
                actor=meta.actor if meta else None,
                correlation_id=meta.correlation_id if meta else None,
                causation_id=meta.causation_id if meta else None,
                command=meta.command if meta else None,
                data=event_data(cls, state) if state else {},
                corrupted=damage,
                personal_fields=personal_fields(cls),
            )
        )
    return records, len(rows) > first, corrupted


def customer_as_of(
    app: CrmApplication, customer_id: UUID, at: datetime
) -> tuple[Customer | None, list[Corruption]]:
    """The customer as it was at `at` (business time): the latest version whose event
    is dated at or before `at`, rebuilt from the store. None before it was registered,
    or when the id is not a customer's. Damaged values met on the way come alongside
    (they are None in the state); an event whose time is unreadable is passed over."""
    rows = stream_rows(app, customer_id)
    if not rows or resolve_topic(rows[0][1].topic) is not CustomerRegistered:
        return None, []
    version = None
    found: dict[tuple[int, str], Corruption] = {}
    for position, event in rows:
        try:
            state = app.crm_mapper.decode_state(event, redact=True)
        except CorruptedValue as error:
            found[(position, error.field)] = corruption_of(
                position, event, error.field, error.reason
            )
            continue
        if state["timestamp"] <= at:
            version = event.originator_version
    if version is None:
        return None, list(found.values())
    aggregate, damaged = load(app, customer_id, version)
    found.update({(c.position, c.field): c for c in damaged})
    customer = aggregate if isinstance(aggregate, Customer) else None
    return customer, sorted(found.values(), key=lambda c: c.position)


def purchase_facts(app: CrmApplication, customer_id: UUID) -> list[tuple[datetime, str]]:
    """(business time, total in CNY) of each purchase in a customer's own stream."""
    topic = get_topic(PurchaseRecorded)
    facts = []
    for event in app.recorder.select_events(customer_id):
        if event.topic == topic:
            state = app.crm_mapper.decode_state(event, redact=True)
            facts.append((state["timestamp"], str(state["total_cny"])))
    return facts

"""A page of a customer's audit trail, as GraphQL ``auditTrail`` shows it.

The same streams as `compliance.audit.replay` (the customer's own and its complaints',
from the ``crm_stream_subjects`` index), paged by global position; each event's data
opened or nulled per the caller's role, without the aggregate states a replay adds.
Damaged values are read past and named (`compliance.corruption`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic
from psycopg.sql import SQL, Composable, Identifier

from commands.application import CrmApplication
from commands.mapper import CorruptedValue, personal_fields
from compliance.audit import customer_streams
from compliance.corruption import Corruption, corruption_of
from compliance.stored import positioned
from events import CrmEvent, CustomerScoped
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


def _events_table(app: CrmApplication) -> Composable:
    recorder = app.crm_recorder
    return SQL("{}.{}").format(
        Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
    )


def events_with_positions(
    app: CrmApplication, stream_ids: Sequence[UUID], after: int, limit: int
) -> list[tuple[int, StoredEvent]]:
    """Stored events of these streams after a global position, oldest first."""
    statement = SQL(
        "SELECT originator_id, originator_version, topic, state, notification_id FROM {} "
        "WHERE originator_id = ANY(%s) AND notification_id > %s "
        "ORDER BY notification_id LIMIT %s"
    ).format(_events_table(app))
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (list(stream_ids), after, limit))
        return [positioned(row) for row in curs.fetchall()]


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
    streams = customer_streams(app, customer_id)
    rows = events_with_positions(app, streams, after, first + 1)
    page = rows[:first]
    if personal:
        app.keys.refresh({customer_id})
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

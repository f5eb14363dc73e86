"""Reads from the event store itself (never a read model): positions and the write
side's own view of a customer's purchases.

All functions are synchronous (run them in a worker thread) and go through the
application's own datastore, so they see exactly what the write side committed. The
audit reads (``auditTrail``, ``customerAsOf``) are the compliance package's
(`compliance.trail.audit_page`, `compliance.audit.customer_at`): one implementation,
using the ``crm_stream_subjects`` index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier

from commands.application import CrmApplication
from commands.recorder import EVENT_META
from events import PurchaseRecorded


def _table(app: CrmApplication) -> Any:
    recorder = app.crm_recorder
    return SQL("{}.{}").format(
        Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
    )


def last_position_of(app: CrmApplication, stream_id: UUID) -> int:
    """The global position of a stream's latest event (0 for an unknown stream)."""
    statement = SQL("SELECT max(notification_id) AS p FROM {} WHERE originator_id = %s").format(
        _table(app)
    )
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (stream_id,))
        row = curs.fetchone()
        return int(row["p"]) if row and row["p"] is not None else 0


def first_actor_of(app: CrmApplication, stream_id: UUID) -> str | None:
    """Who recorded a stream's first event (a task's scheduler), from the events' meta."""
    statement = SQL(
        "SELECT m.actor FROM {} AS e JOIN {} AS m ON m.position = e.notification_id"
        " WHERE e.originator_id = %s AND e.originator_version = 1"
    ).format(_table(app), Identifier(app.crm_recorder.datastore.schema, EVENT_META))
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (stream_id,))
        row = curs.fetchone()
        return str(row["actor"]) if row and row["actor"] is not None else None


def purchase_facts(app: CrmApplication, customer_id: UUID) -> list[tuple[datetime, str]]:
    """(business time, total in CNY) of each purchase in a customer's own stream."""
    topic = get_topic(PurchaseRecorded)
    facts = []
    for event in app.recorder.select_events(customer_id):
        if event.topic == topic:
            state = app.crm_mapper.decode_state(event, redact=True)
            facts.append((state["timestamp"], str(state["total_cny"])))
    return facts

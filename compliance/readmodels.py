"""A customer's rows in the PostgreSQL read models: find them, and scrub them now.

Which column names the customer in each table: ``rm_customers.id``, both sides of a
merge in ``rm_merges``, otherwise ``customer_id`` or ``subject_id`` (so a read model
added later is covered when it follows that naming). Columns such as ``referred_by``
are deliberately not followed: those rows are other people's.

`scrub_read_models` applies the customer's own events, redacted, straight from the
event store to the read models, through the same idempotent `apply_batch` the
processors use. Events a processor already applied are skipped; the rest (the forget
included) are applied now and skipped by the processor later. So an erasure reaches the
read models at once, even with the workers stopped, and cannot be undone by a processor
that was behind.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic
from psycopg import sql

from commands.application import CrmApplication
from compliance.audit import customer_streams, plain
from events import CrmEvent
from projections.apply import apply_batch
from projections.schema import ALL_TABLES
from streams.envelope import RecordedMeta, to_envelope

SUBJECT_OVERRIDES: dict[str, tuple[str, ...]] = {
    "rm_customers": ("id",),
    "rm_merges": ("duplicate_id", "survivor_id"),
}
DEFAULT_SUBJECT_COLUMNS = ("customer_id", "subject_id")


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def subject_columns(table: str, columns: list[str]) -> tuple[str, ...]:
    wanted = SUBJECT_OVERRIDES.get(table, DEFAULT_SUBJECT_COLUMNS)
    return tuple(c for c in wanted if c in columns)


def read_model_rows(conninfo: str, customer_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """Every read-model row about the customer, by table (JSON-safe values)."""
    found: dict[str, list[dict[str, Any]]] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table in ALL_TABLES:
            columns = _columns(conn, table)
            keys = subject_columns(table, columns)
            if not keys:
                continue
            condition = sql.SQL(" OR ").join(
                sql.SQL("{} = %s").format(sql.Identifier(k)) for k in keys
            )
            cursor = conn.execute(
                sql.SQL("SELECT * FROM {} WHERE {}").format(sql.Identifier(table), condition),
                [customer_id] * len(keys),
            )
            names = [d.name for d in cursor.description or []]
            rows = [
                {n: plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()
            ]
            if rows:
                found[table] = rows
    return found


def customer_envelopes(app: CrmApplication, customer_id: UUID) -> list[dict[str, Any]]:
    """The customer's events (complaints included) as envelopes, personal fields None."""
    streams = customer_streams(app, customer_id)
    statement = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
        "WHERE originator_id = ANY(%s) ORDER BY notification_id"
    ).format(
        sql.Identifier(app.crm_recorder.datastore.schema),
        sql.Identifier(app.crm_recorder.events_table_name),
    )
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (streams,))
        rows = curs.fetchall()
    metas = app.crm_recorder.select_event_meta([r["notification_id"] for r in rows])
    envelopes = []
    for row in rows:
        stored = StoredEvent(
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        )
        cls: type[CrmEvent] = resolve_topic(stored.topic)
        state = app.crm_mapper.decode_state(stored, cls=cls, redact=True)
        meta = metas.get(row["notification_id"])
        recorded = RecordedMeta(
            position=row["notification_id"],
            recorded_at=meta.recorded_at if meta else state["timestamp"],
            actor=meta.actor if meta else None,
            correlation_id=meta.correlation_id if meta else None,
            causation_id=meta.causation_id if meta else None,
        )
        envelopes.append(to_envelope(cls, state, recorded))
    return envelopes


def read_models_exist(conninfo: str) -> bool:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('rm_applied') IS NOT NULL").fetchone()
        return bool(row and row[0])


def scrub_read_models(app: CrmApplication, conninfo: str, customer_id: UUID) -> int:
    """Bring the read models up to the customer's last event, redacted; returns how many
    events were newly applied (0 when the processors were already there).

    Only for a forgotten customer (its key destroyed): for anyone else the redacted
    events would blank personal fields a processor would then skip filling in.
    """
    if app.crm_recorder.select_wrapped_keys([customer_id]):
        raise ValueError(f"customer {customer_id} is not forgotten; nothing to scrub")
    if not read_models_exist(conninfo):
        return 0
    envelopes = customer_envelopes(app, customer_id)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        return apply_batch(conn, envelopes).applied

"""Tamper evidence for the event store: a hash chain over every recorded event.

Each event gets a row in ``crm_event_chain``: ``hash = SHA-256(prev_hash || body)``,
where ``prev_hash`` is the hash of the previous *existing* chained event (position order)
and ``body`` encodes what the audit trail relies on: the position, stream id, version,
topic and stored state bytes of the event, and its ``crm_event_meta`` row (actor,
correlation, causation, command, recorded time) when it has one.

Writing: the recorder reads the chain's head inside the events' transaction, after the
library's EXCLUSIVE lock on the events table (see `commands.recorder`), in the same round
trip as the events' insert; it links the round's events in Python (`link_rows`: it holds
every byte a link covers, including the metadata it writes itself) and inserts the links
set-based, one statement per round. Inserts are serialised by that lock, so the head read
is the true previous link: no race. Positions skipped by rolled-back saves are not gaps in
the chain: it links consecutive existing positions. The PL/pgSQL function
(`append_statement`) stays as the same encoding in SQL: the tests use it to rewrite a
chain the way someone with database access would.

Verifying lives with the compliance staff's tools (`compliance.verify`); it shares this
module's encoding: `BODY_SQL` (the writer's expression, also what the verifier streams)
and its Python reference `link_body`, held equal by the tests. This module keeps only
what the write transaction needs.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eventsourcing.utils import get_topic
from psycopg import sql

CHAIN_TABLE = "crm_event_chain"
CHAIN_FUNCTION = "crm_chain_append_v1"
STREAM_SUBJECTS = "crm_stream_subjects"
GENESIS = bytes(32)
DDL_LOCK_KEY = 7_236_182_011
"""Advisory lock serialising the chain's DDL when several processes start at once."""

_POSITION = struct.Struct(">q")
_FIXED = struct.Struct(">16sqi")  # after the position: stream id, version, topic length
_LEN = struct.Struct(">i")
_MICROS = struct.Struct(">q")
_NO_META = b"\x00"
_META = b"\x01"
_NULL = b"\x00"
_SOME = b"\x01"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

# -- the encoding, shared by the writer (SQL) and the verifier (Python) -------------------


@dataclass(frozen=True)
class MetaFields:
    """The ``crm_event_meta`` row as chained; uuids as their 16 bytes."""

    actor: str | None
    correlation_id: bytes | None
    causation_id: bytes | None
    command: str | None
    recorded_micros: int


def _text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    raw = value.encode("utf-8")
    return _SOME + _LEN.pack(len(raw)) + raw


def _uuid(value: bytes | None) -> bytes:
    return _NULL if value is None else _SOME + bytes(value)


def link_body(
    position: int,
    stream_id: bytes,
    version: int,
    topic: str | None,
    state: bytes | None,
    meta: MetaFields | None,
) -> bytes:
    """The bytes a link hashes after the previous hash (must match `BODY_SQL`)."""
    return position_bytes(position) + link_tail(stream_id, version, topic, state, meta)


def position_bytes(position: int) -> bytes:
    """The start of a link's body: its position (known once the events table is locked)."""
    return _POSITION.pack(position)


def link_tail(
    stream_id: bytes,
    version: int,
    topic: str | None,
    state: bytes | None,
    meta: MetaFields | None,
) -> bytes:
    """A link's body after its position: the writer builds it before taking the lock."""
    topic_bytes = (topic or "").encode("utf-8")
    state_bytes = bytes(state or b"")
    head = _FIXED.pack(bytes(stream_id), version, len(topic_bytes))
    parts = [head, topic_bytes, _LEN.pack(len(state_bytes)), state_bytes]
    if meta is None:
        parts.append(_NO_META)
    else:
        parts += [
            _META,
            _text(meta.actor),
            _uuid(meta.correlation_id),
            _uuid(meta.causation_id),
            _text(meta.command),
            _MICROS.pack(meta.recorded_micros),
        ]
    return b"".join(parts)


def link_hash(prev_hash: bytes, body: bytes) -> bytes:
    return hashlib.sha256(prev_hash + body).digest()


def link_rows(head: bytes, bodies: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Hashes and previous hashes of consecutive links after `head` (the writer's side)."""
    hashes: list[bytes] = []
    prevs: list[bytes] = []
    for body in bodies:
        prevs.append(head)
        head = hashlib.sha256(head + body).digest()
        hashes.append(head)
    return hashes, prevs


def micros_of(moment: datetime) -> int:
    """Whole microseconds since the epoch, exactly as `MICROS_SQL` reads a timestamptz."""
    return (moment - _EPOCH) // _MICRO


def _opt_text(column: str) -> str:
    return (
        f"CASE WHEN {column} IS NULL THEN '\\x00'::bytea ELSE '\\x01'::bytea"
        f" || int4send(octet_length(convert_to({column}, 'UTF8')))"
        f" || convert_to({column}, 'UTF8') END"
    )


def _opt_uuid(column: str) -> str:
    return (
        f"CASE WHEN {column} IS NULL THEN '\\x00'::bytea"
        f" ELSE '\\x01'::bytea || uuid_send({column}) END"
    )


MICROS_SQL = "(extract(epoch FROM m.recorded_at) * 1000000)::bigint"
"""Recorded time as whole microseconds since the epoch (exact: numeric in PostgreSQL 14+)."""

BODY_SQL = (
    "int8send(e.notification_id) || uuid_send(e.originator_id)"
    " || int8send(e.originator_version)"
    " || int4send(octet_length(convert_to(coalesce(e.topic, ''), 'UTF8')))"
    " || convert_to(coalesce(e.topic, ''), 'UTF8')"
    " || int4send(octet_length(coalesce(e.state, ''::bytea))) || coalesce(e.state, ''::bytea)"
    " || CASE WHEN m.position IS NULL THEN '\\x00'::bytea ELSE '\\x01'::bytea"
    f" || {_opt_text('m.actor')} || {_opt_uuid('m.correlation_id')}"
    f" || {_opt_uuid('m.causation_id')} || {_opt_text('m.command')}"
    f" || int8send({MICROS_SQL}) END"
)


# -- DDL --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainTables:
    """Where the chain lives and what it covers (schema-qualified identifiers)."""

    schema: str
    events: str
    meta: str

    def t(self, name: str) -> sql.Composable:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(name))


def chain_statements(tables: ChainTables, scoped_topics: Sequence[str]) -> list[sql.Composed]:
    """Create the chain table, its append function and the stream-subject index.

    Serialised by an advisory lock (concurrent start-ups would otherwise race on
    ``CREATE OR REPLACE FUNCTION``). The stream-subject index (which customer a complaint
    stream belongs to) is back-filled once, when its table is first created.
    """
    chain, events, meta = tables.t(CHAIN_TABLE), tables.t(tables.events), tables.t(tables.meta)
    subjects = tables.t(STREAM_SUBJECTS)
    function = tables.t(CHAIN_FUNCTION)
    topics = sql.Literal(list(scoped_topics))
    return [
        sql.SQL("SELECT pg_advisory_xact_lock({})").format(sql.Literal(DDL_LOCK_KEY)),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            "position bigint PRIMARY KEY, hash bytea NOT NULL, prev_hash bytea NOT NULL)"
        ).format(chain),
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {function}(positions bigint[]) RETURNS void "
            "LANGUAGE plpgsql AS $chain$\n"
            "DECLARE head bytea; r record; h bytea;\n"
            "BEGIN\n"
            "  SELECT c.hash INTO head FROM {chain} c ORDER BY c.position DESC LIMIT 1;\n"
            "  head := coalesce(head, {genesis});\n"
            "  FOR r IN SELECT e.notification_id AS position, " + BODY_SQL + " AS body\n"
            "    FROM {events} e LEFT JOIN {meta} m ON m.position = e.notification_id\n"
            "    WHERE e.notification_id = ANY(positions) ORDER BY e.notification_id\n"
            "  LOOP\n"
            "    h := sha256(head || r.body);\n"
            "    INSERT INTO {chain} (position, hash, prev_hash) VALUES (r.position, h, head);\n"
            "    head := h;\n"
            "  END LOOP;\n"
            "END $chain$"
        ).format(
            function=function,
            chain=chain,
            events=events,
            meta=meta,
            genesis=sql.Literal(GENESIS),
        ),
        sql.SQL(
            "DO $subjects$ BEGIN\n"
            "IF to_regclass({name}) IS NULL THEN\n"
            "  CREATE TABLE {subjects} (stream_id uuid PRIMARY KEY, customer_id uuid NOT NULL,"
            " first_position bigint NOT NULL);\n"
            "  CREATE INDEX ON {subjects} (customer_id, first_position);\n"
            "  INSERT INTO {subjects} "
            + _SUBJECTS_SELECT
            + " AND e.topic = ANY({topics}::text[])\n"
            "  ON CONFLICT DO NOTHING;\n"
            "END IF;\n"
            "END $subjects$"
        ).format(
            name=sql.Literal(f"{tables.schema}.{STREAM_SUBJECTS}"),
            subjects=subjects,
            events=events,
            topics=topics,
        ),
    ]


_SUBJECTS_SELECT = (
    "SELECT e.originator_id, "
    "(convert_from(e.state, 'UTF8')::jsonb -> 'customer_id' ->> '_data_')::uuid, "
    "e.notification_id FROM {events} e WHERE e.originator_version = 1"
)


def head_statement(tables: ChainTables) -> sql.Composed:
    """The chain's last hash (read after the events table's lock: the true head)."""
    return sql.SQL("SELECT hash FROM {} ORDER BY position DESC LIMIT 1").format(
        tables.t(CHAIN_TABLE)
    )


def insert_links_statement(tables: ChainTables) -> sql.Composed:
    """Links computed in Python (`link_rows`), one statement for a round, binary arrays."""
    return sql.SQL(
        "INSERT INTO {} (position, hash, prev_hash) "
        "SELECT * FROM unnest(%b::bigint[], %b::bytea[], %b::bytea[])"
    ).format(tables.t(CHAIN_TABLE))


def append_statement(tables: ChainTables) -> sql.Composed:
    """Chain the given positions (called in the events' transaction, after the lock)."""
    return sql.SQL("SELECT {}(%s::bigint[])").format(tables.t(CHAIN_FUNCTION))


def subjects_statement(tables: ChainTables) -> sql.Composed:
    """Index the new streams of customer-scoped aggregates (complaints) by customer."""
    return sql.SQL(
        "INSERT INTO {subjects} " + _SUBJECTS_SELECT + " AND e.notification_id = ANY(%s)"
        " ON CONFLICT DO NOTHING"
    ).format(subjects=tables.t(STREAM_SUBJECTS), events=tables.t(tables.events))


def scoped_creation_topics() -> list[str]:
    """Topics of events that open a stream belonging to another customer (complaints,
    tasks): every first event that names its customer."""
    from events import ALL_EVENTS, CrmCreated, CustomerScoped

    return [
        get_topic(cls)
        for cls in ALL_EVENTS
        if issubclass(cls, CrmCreated) and issubclass(cls, CustomerScoped)
    ]

"""Tamper evidence for the event store: a hash chain over every recorded event.

Each event gets a row in ``crm_event_chain``: ``hash = SHA-256(prev_hash || body)``,
where ``prev_hash`` is the hash of the previous *existing* chained event (position order)
and ``body`` encodes what the audit trail relies on: the position, stream id, version,
topic and stored state bytes of the event, and its ``crm_event_meta`` row (actor,
correlation, causation, command, recorded time) when it has one.

Writing: `chain_statements` creates a PL/pgSQL function that the recorder calls inside
the events' transaction, after the library's EXCLUSIVE lock on the events table (see
`commands.recorder`). Inserts are serialised by that lock, so the head read by the
function is the true previous link: no race, and no extra round trip (the call rides on
the COMMIT like the other side statements). Positions skipped by rolled-back saves are
not gaps in the chain: it links consecutive existing positions.

Verifying: `verify_chain` streams each event's body (encoded by the database with the
writer's expression, which the tests hold equal to the Python reference `link_body`)
and its link through a server-side cursor, and recomputes every hash *in Python* (the
database is what is under suspicion, so it is not trusted to hash). It names the first
broken position:

- ``altered``: an event (or its meta row) differs from what was chained: edited by hand;
- ``link``: a link does not follow from the previous existing event: a row before it
  was deleted (together with its link), or links were rewritten;
- ``missing``: a link whose event is gone (the event row was deleted);
- ``unchained``: an event after the start of the chain without a link (inserted by
  hand, or written around the recorder);
- ``genesis``: the first link does not start from the genesis hash (links deleted from
  the start of the chain).

What the chain cannot show on its own: a full rewrite of events and links (recompute
every hash), or deleting the newest events with their links. Both are caught only by
comparing with a head anchored outside the database (``ops.compliance.checkpoint``).
Events recorded before the chain existed form an unchained prefix, reported as such.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.utils import get_topic
from psycopg import Connection, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

CHAIN_TABLE = "crm_event_chain"
CHAIN_FUNCTION = "crm_chain_append_v1"
STREAM_SUBJECTS = "crm_stream_subjects"
GENESIS = bytes(32)
DDL_LOCK_KEY = 7_236_182_011
"""Advisory lock serialising the chain's DDL when several processes start at once."""

_FIXED = struct.Struct(">q16sqi")  # position, stream id, version, topic length
_LEN = struct.Struct(">i")
_MICROS = struct.Struct(">q")
_NO_META = b"\x00"
_META = b"\x01"
_NULL = b"\x00"
_SOME = b"\x01"

Progress = Callable[[int, int], None]
"""progress(positions covered so far, positions to cover)."""


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
    """The bytes a link hashes after the previous hash (must match `_BODY_SQL`)."""
    topic_bytes = (topic or "").encode("utf-8")
    state_bytes = bytes(state or b"")
    head = _FIXED.pack(position, bytes(stream_id), version, len(topic_bytes))
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

_BODY_SQL = (
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
            "  FOR r IN SELECT e.notification_id AS position, " + _BODY_SQL + " AS body\n"
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
    """Topics of events that open a stream belonging to another customer (complaints)."""
    from events import ComplaintFiled

    return [get_topic(ComplaintFiled)]


# -- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    """The first place where the store no longer matches its chain."""

    position: int
    kind: str
    detail: str


@dataclass
class ChainReport:
    """What `verify_chain` found. `ok` when nothing is broken."""

    start: int
    checked: int = 0
    first_chained: int | None = None
    last_position: int | None = None
    head_hash: bytes | None = None
    unchained: int = 0
    unchained_last: int | None = None
    broken: ChainBreak | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def rate(self) -> float:
        return self.checked / self.seconds if self.seconds > 0 else 0.0


def _rows_sql(tables: ChainTables) -> sql.Composed:
    """Position, chained body, link: the body encoded by the database with the writer's
    own expression (checked against `link_body` by the tests), hashed here in Python."""
    return sql.SQL(
        "SELECT e.notification_id, " + _BODY_SQL + ", c.hash, c.prev_hash"
        " FROM {events} e"
        " LEFT JOIN {meta} m ON m.position = e.notification_id"
        " LEFT JOIN {chain} c ON c.position = e.notification_id"
        " WHERE e.notification_id >= %s ORDER BY e.notification_id"
    ).format(
        events=tables.t(tables.events), meta=tables.t(tables.meta), chain=tables.t(CHAIN_TABLE)
    )


def _first_missing(conn: Connection[Any], tables: ChainTables, start: int) -> int | None:
    """The lowest chained position whose event row is gone."""
    row = conn.execute(
        sql.SQL(
            "SELECT min(c.position) FROM {chain} c WHERE c.position >= %s AND NOT EXISTS "
            "(SELECT 1 FROM {events} e WHERE e.notification_id = c.position)"
        ).format(chain=tables.t(CHAIN_TABLE), events=tables.t(tables.events)),
        (start,),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _bounds(conn: Connection[Any], tables: ChainTables, start: int) -> tuple[int, int]:
    row = conn.execute(
        sql.SQL(
            "SELECT coalesce(min(notification_id), 0), coalesce(max(notification_id), 0) "
            "FROM {} WHERE notification_id >= %s"
        ).format(tables.t(tables.events)),
        (start,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class _Walker:
    """The per-row check, kept apart from the cursor plumbing (one hash per row)."""

    def __init__(self, report: ChainReport, full: bool) -> None:
        self.report = report
        self.full = full
        self.running: bytes | None = None

    def rows(self, rows: Sequence[tuple[Any, ...]]) -> bool:
        """Check a batch; False once broken (the report names where)."""
        report = self.report
        sha256 = hashlib.sha256
        running = self.running
        checked = 0
        last = report.last_position
        try:
            for position, body, stored_hash, prev_hash in rows:
                if stored_hash is None:
                    if running is None:
                        report.unchained += 1
                        report.unchained_last = position
                        continue
                    return self._break(position, "unchained", "event has no chain link")
                if running is None:
                    report.first_chained = position
                    if self.full and prev_hash != GENESIS:
                        return self._break(
                            position, "genesis", "the first link does not start the chain"
                        )
                    running = prev_hash
                if prev_hash != running:
                    return self._break(
                        position,
                        "link",
                        "link does not follow the previous event: an earlier event was "
                        "deleted or the chain rewritten",
                    )
                if sha256(running + body).digest() != stored_hash:
                    return self._break(
                        position, "altered", "event or its metadata changed after it was recorded"
                    )
                running = stored_hash
                checked += 1
                last = position
            return True
        finally:
            self.running = running
            report.checked += checked
            report.last_position = last
            if report.broken is None:
                report.head_hash = running

    def _break(self, position: int, kind: str, detail: str) -> bool:
        self.report.broken = ChainBreak(position, kind, detail)
        return False


_DONE = object()


def _fetch_ahead(
    cursor: Any, batch_size: int, out: queue.Queue[Any], stop: threading.Event
) -> None:
    """Producer thread: keep the next batch coming while the previous one is hashed."""
    try:
        while not stop.is_set():
            rows = cursor.fetchmany(batch_size)
            if not rows:
                break
            out.put(rows)
    except BaseException as error:  # handed to the consumer, re-raised there
        out.put(error)
    finally:
        out.put(_DONE)


def verify_chain(
    target: Connection[Any] | str,
    tables: ChainTables,
    *,
    start: int = 0,
    batch_size: int = 20_000,
    progress: Progress | None = None,
) -> ChainReport:
    """Check every link from `start` (0: the whole store) in one consistent snapshot.

    `target`: a connection string, or an idle connection (the check runs in a read-only
    repeatable-read transaction of its own). From a later `start` the first link's
    previous hash is taken on trust (only what follows is proven); from 0 the chain must
    begin at the genesis hash. Rows are fetched by a helper thread through a server-side
    cursor while this thread hashes, so database and Python work overlap.
    """
    if isinstance(target, str):
        with psycopg.connect(target, autocommit=True) as conn:
            return verify_chain(conn, tables, start=start, batch_size=batch_size, progress=progress)
    conn = target
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError("verify_chain needs an idle connection (it opens its own transaction)")
    began = time.perf_counter()
    report = ChainReport(start=start)
    walker = _Walker(report, full=start <= 0)
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        low, high = _bounds(conn, tables, start)
        span = max(high - low + 1, 0) if high else 0
        with conn.cursor(name="crm_chain_verify", binary=True, row_factory=tuple_row) as cursor:
            cursor.itersize = batch_size
            cursor.execute(_rows_sql(tables), (start,))
            batches: queue.Queue[Any] = queue.Queue(maxsize=4)
            stop = threading.Event()
            fetcher = threading.Thread(
                target=_fetch_ahead, args=(cursor, batch_size, batches, stop), daemon=True
            )
            fetcher.start()
            try:
                while (rows := batches.get()) is not _DONE:
                    if isinstance(rows, BaseException):
                        raise rows
                    if not walker.rows(rows):
                        break
                    if progress is not None:
                        progress(int(rows[-1][0]) - low + 1, span)
            finally:
                stop.set()
                while fetcher.is_alive():  # unblock a producer waiting on a full queue
                    with contextlib.suppress(queue.Empty):
                        batches.get(timeout=0.05)
                fetcher.join()
        missing = _first_missing(conn, tables, start)
    if missing is not None and (report.broken is None or missing <= report.broken.position):
        report.broken = ChainBreak(
            missing, "missing", "the event row was deleted; its chain link remains"
        )
    if report.broken is None and progress is not None:
        progress(span, span)
    report.seconds = time.perf_counter() - began
    return report


def chain_head(conn: Connection[Any], tables: ChainTables) -> tuple[int, bytes] | None:
    """The newest link: (position, hash), or None before the first chained event."""
    row = conn.execute(
        sql.SQL("SELECT position, hash FROM {} ORDER BY position DESC LIMIT 1").format(
            tables.t(CHAIN_TABLE)
        )
    ).fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]))


def link_at(conn: Connection[Any], tables: ChainTables, position: int) -> bytes | None:
    """The stored hash of one position's link, if it exists."""
    row = conn.execute(
        sql.SQL("SELECT hash FROM {} WHERE position = %s").format(tables.t(CHAIN_TABLE)),
        (position,),
    ).fetchone()
    return None if row is None else bytes(row[0])

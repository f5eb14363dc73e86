"""Verifying the hash chain (`commands.chain` writes it in the events' transaction).

`verify_chain` streams each event's body (encoded by the database with the writer's own
expression, `commands.chain.BODY_SQL`, which the tests hold equal to the Python reference
`link_body`) and its link through a server-side cursor, and recomputes every hash *in
Python* (the database is what is under suspicion, so it is not trusted to hash). It
names the first broken position:

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
comparing with a head anchored outside the database (`compliance.checkpoint`), which
reads the head with `chain_head` and checks it later with `link_at`. Events recorded
before the chain existed form an unchained prefix, reported as such.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import Connection, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from commands.chain import BODY_SQL, CHAIN_TABLE, GENESIS, ChainTables

Progress = Callable[[int, int], None]
"""progress(positions covered so far, positions to cover)."""


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
        "SELECT e.notification_id, " + BODY_SQL + ", c.hash, c.prev_hash"
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

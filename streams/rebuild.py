"""Rebuild read models from the event store while the platform keeps serving.

A full rebuild (every projection, what `crm projections rebuild` does by default) fills
shadow tables in parallel and swaps them in (`rebuild_full`): see
`streams.rebuild_shadow` for the swap and crash safety, `streams.rebuild_workers` for
the partitions, `streams.rebuild_source` for reading the store without envelopes
round-tripping through JSON and the key ring twice.

Rebuilding some projections only (`rebuild_in_place`) is ONE transaction: delete those
projections' rows and checkpoints, replay every event from the store, commit. Until the
commit, readers keep seeing the old rows (MVCC; DELETE, not TRUNCATE, so no exclusive
lock blocks them), and a live processor's batch waits on the checkpoint rows, then skips
what the rebuild applied and adds what came after. It is not split across processes:
the other projections' tables must stay in service, and materializing reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from commands.application import CrmApplication
from projections.apply import apply_events
from projections.handlers import PROJECTIONS, Projection
from projections.incoming import parse_envelope
from projections.materialize import note_moment, refresh_all
from projections.schema import PROJECTION_TABLES, ensure_all
from streams.rebuild_full import rebuild_full
from streams.source import EnvelopeOpener, EventSource

Progress = Callable[[int, int], None]
"""progress(events replayed so far, events in the store)."""


def select_projections(names: Sequence[str] | None) -> tuple[Projection, ...]:
    if not names:
        return PROJECTIONS
    known = {p.name: p for p in PROJECTIONS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(known[n] for n in names)


def rebuild(
    app: CrmApplication,
    database_url: str,
    names: Sequence[str] | None = None,
    *,
    batch_size: int = 2000,
    progress: Progress | None = None,
    now: datetime | None = None,
    workers: int | None = None,
    master_key: str | bytes | None = None,
    session_url: str | None = None,
) -> int:
    """Rebuild the chosen projections (all by default); returns the events replayed.

    All of them: `rebuild_full` (parallel when `master_key` is given; its lock on
    `session_url` when given, see there). Some: `rebuild_in_place`.
    """
    projections = select_projections(names)
    if len(projections) < len(PROJECTIONS):
        return rebuild_in_place(
            app,
            database_url,
            [p.name for p in projections],
            batch_size=batch_size,
            progress=progress,
            now=now,
        )
    return rebuild_full(
        app,
        database_url,
        batch_size=batch_size,
        progress=progress,
        now=now,
        workers=workers,
        master_key=master_key,
        session_url=session_url,
    )


def rebuild_in_place(
    app: CrmApplication,
    database_url: str,
    names: Sequence[str] | None = None,
    *,
    batch_size: int = 2000,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> int:
    """Replay the event store into the chosen projections in one transaction.

    Lifecycle, tier and summaries are computed once per customer at the end, rather than
    after every batch: as of `now`, by default as of each customer's latest event, as a
    full rebuild does (`rebuild_full`).
    """
    projections = select_projections(names)
    source = EventSource(app)
    opener = EnvelopeOpener(app)
    total = source.max_position()
    replayed = 0
    moments: dict[UUID, datetime] = {}
    with psycopg.connect(database_url) as conn:
        with conn.transaction():
            # Not create_all: its ALTER TABLEs take ACCESS EXCLUSIVE locks on the serving
            # tables even when nothing is missing, and deadlock with a live batch.
            ensure_all(conn)
        with conn.transaction():
            _clear(conn, projections)
            position = 0
            while True:
                batch = source.read_after(position, batch_size)
                if not batch.envelopes:
                    break
                events = [parse_envelope(e) for e in opener.open_all(batch.envelopes)]
                apply_events(conn, events, projections, materialize=False)
                for event in events:
                    note_moment(moments, event)
                position = batch.last_position
                replayed += len(batch.envelopes)
                if progress:
                    progress(replayed, max(total, position))
            refresh_all(conn, now, moments=moments)
    return replayed


def _clear(conn: psycopg.Connection[Any], projections: Sequence[Projection]) -> None:
    # First, and for the whole rebuild: processors wait for it at their checkpoint lock
    # instead of holding read-model rows this transaction must delete (no deadlock);
    # plain readers (EXCLUSIVE allows ACCESS SHARE) keep reading the old rows.
    conn.execute("LOCK TABLE rm_applied IN EXCLUSIVE MODE")
    for projection in projections:
        for table in PROJECTION_TABLES[projection.name]:
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
    conn.execute(
        "DELETE FROM rm_applied WHERE projection = ANY(%s)", ([p.name for p in projections],)
    )

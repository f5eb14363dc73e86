"""Rebuild read models from the event store while the platform keeps serving.

The whole rebuild is ONE transaction: delete the projections' rows and checkpoints,
replay every event from the store, commit. Until the commit, readers keep seeing the
old rows (MVCC; DELETE, not TRUNCATE, so no exclusive lock blocks them), and a live
processor's batch waits on the checkpoint rows, then skips what the rebuild applied and
adds what came after. So the switch is atomic and nothing is lost or counted twice.
Processors wait for the rebuild (they lock checkpoints first), so their lag grows by
the rebuild's duration and then drains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from commands.application import CrmApplication
from projections.apply import apply_batch
from projections.handlers import PROJECTIONS, Projection
from projections.materialize import refresh_all
from projections.schema import PROJECTION_TABLES, create_all
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
) -> int:
    """Replay the event store into the chosen projections (all by default); returns events.

    Lifecycle, tier and summaries are computed once per customer at the end, as of
    `now` (default: the clock), rather than after every batch.
    """
    projections = select_projections(names)
    source = EventSource(app)
    opener = EnvelopeOpener(app)
    total = source.max_position()
    replayed = 0
    with psycopg.connect(database_url) as conn:
        with conn.transaction():
            create_all(conn)
        with conn.transaction():
            _clear(conn, projections)
            position = 0
            while True:
                batch = source.read_after(position, batch_size)
                if not batch.envelopes:
                    break
                opened = opener.open_all(batch.envelopes)
                apply_batch(conn, opened, projections, materialize=False)
                position = batch.last_position
                replayed += len(batch.envelopes)
                if progress:
                    progress(replayed, max(total, position))
            refresh_all(conn, now or datetime.now(UTC))
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

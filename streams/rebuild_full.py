"""A full rebuild: shadow tables filled in parallel up to a fixed position, caught up, swapped.

1. Take the rebuild lock, drop any shadow a crashed run left, create an empty one.
2. Fix P = the store's newest position; N processes replay partitions up to P, then
   materialize (`streams.rebuild_workers`). The live processors keep serving meanwhile.
3. Catch the shadow up with what was recorded since P, batch by batch (no lock), then
   swap in one short transaction that applies the last few events first
   (`streams.rebuild_shadow.swap`). A lock not had in time: catch up again, try again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, Final

import psycopg

from commands.application import CrmApplication
from projections.apply import apply_events
from streams.rebuild_shadow import (
    prepare_shadow,
    serving_schema,
    swap,
    take_rebuild_lock,
    use_shadow,
)
from streams.rebuild_source import StoreDecoder
from streams.rebuild_workers import Plan, run_in_process, run_parallel, start_workers_server

Progress = Callable[[int, int], None]
SWAP_ATTEMPTS: Final = 5


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def _catch_up(
    conn: psycopg.Connection[Any],
    decoder: StoreDecoder,
    after: int,
    batch_size: int,
    now: datetime | None,
    counted: Callable[[int], None],
    *,
    own_transactions: bool,
) -> int:
    """Apply to the shadow every event recorded after `after`; returns the last position."""
    while (newest := decoder.newest(conn)) > after:
        batch = decoder.read(conn, after, newest, batch_size)
        after = batch.last_position
        if not batch.events:
            continue
        if own_transactions:
            with conn.transaction():
                use_shadow(conn)
                apply_events(conn, batch.events, now=now)
        else:
            apply_events(conn, batch.events, now=now)
        counted(len(batch.events))
    return after


def rebuild_full(
    app: CrmApplication,
    database_url: str,
    *,
    batch_size: int = 2000,
    progress: Progress | None = None,
    now: datetime | None = None,
    workers: int | None = None,
    master_key: str | bytes | None = None,
    session_url: str | None = None,
) -> int:
    """Rebuild every projection without downtime; returns the events replayed.

    With `master_key`, `workers` processes (default: the cores) replay one customer-hash
    partition each; without it (a child process cannot borrow `app`'s key ring) the
    partitions run here, one after the other. Materialized columns are computed as of
    `now`; by default, each customer as of its latest event replayed
    (`projections.materialize.event_moment`), then for events caught up later, when
    they are applied, like a live processor does. So a rebuild never makes a change
    that time made but the scheduler has not recorded yet: it stays due, and the
    scheduler records it. `session_url` (the server past a
    transaction pooler, `CRM_DATABASE_DIRECT_URL`) holds the one-rebuild-at-a-time lock;
    None: `database_url` keeps sessions. Raises `RebuildBusy` if another
    full rebuild runs, `RebuildFailed` if a worker fails (serving tables unchanged).
    """
    done = 0
    with contextlib.ExitStack() as held, psycopg.connect(database_url, autocommit=True) as control:
        # The rebuild lock is session state: through a transaction pooler it would stay on
        # a pooled server connection after the run (the next rebuild "busy" for as long as
        # that connection lives), so it goes on `session_url`, the server itself, if given.
        locker = control
        if session_url is not None:
            locker = held.enter_context(psycopg.connect(session_url, autocommit=True))
        take_rebuild_lock(locker)
        parts = (workers or default_workers()) if master_key is not None else 1
        if parts > 1:
            start_workers_server()
        prepare_shadow(control)
        schema = serving_schema(control)
        decoder = StoreDecoder(app, schema)
        upto = app.recorder.max_notification_id() or 0
        total = decoder.count(control, upto)

        def report(replayed: int) -> None:
            nonlocal done, total
            done = replayed
            total = max(total, done)
            if progress:
                progress(done, total)

        # After P is fixed: every event replayed in the workers happened before it.
        plan = Plan(database_url, schema, upto, parts, batch_size, now)
        if master_key is not None and parts > 1:  # (the key check narrows the type)
            report(run_parallel(plan, master_key, report))
        else:
            report(run_in_process(app, plan, report))

        def counted(n: int) -> None:
            report(done + n)

        position = _catch_up(
            control, decoder, upto, batch_size, now, counted, own_transactions=True
        )
        for attempt in range(SWAP_ATTEMPTS):
            last_few: list[int] = []  # counted once the swap commits
            try:
                in_swap = partial(
                    _catch_up,
                    decoder=decoder,
                    after=position,
                    batch_size=batch_size,
                    now=now,
                    counted=last_few.append,
                    own_transactions=False,
                )
                swap(control, in_swap)
                counted(sum(last_few))
                return done
            except psycopg.errors.LockNotAvailable:
                if attempt == SWAP_ATTEMPTS - 1:
                    raise
                position = _catch_up(
                    control, decoder, position, batch_size, now, counted, own_transactions=True
                )
    return done

"""The parallel part of a full rebuild: one process per customer-hash partition.

Round one replays partition k (every event whose subject hashes to k, up to the
position the rebuild fixed at its start) into the empty shadow tables, set-based
(`projections.replay`: folded rows kept in memory, appends and the final rows by COPY).
Partitions share no customer, so their checkpoints never meet; a merge touches two
customers, and each side's event lands with its own customer, as Kafka delivers them to
the live processor (rm_merges is an upsert filled from both). Round one also writes
each profile's materialized lifecycle/tier/summary columns, from the customer's own
facts. Once every partition is in, the processes ANALYZE the shadow's
tables, a share each, and meet again; round two then recomputes the columns of the merge
survivors (merge trees span partitions), each process for those of its hash.

Processes come from a fork server (no fork of a process with pool threads) that has
imported this code and the project's modules the caller had loaded, once: a spawned
worker spent ~0.6 s importing before its first event, a third of a 50k-event rebuild,
and the server stays for the caller's next rebuild. A worker still runs the caller's
main module again (as a spawned one would; callers' main modules need the
`if __name__ == "__main__":` guard), with its imports already cached. Each worker gets
the caller's environment as of the rebuild, opens its own application from the
database URL and master key, and runs both rounds, meeting the others at a rendezvous
between them. Counts go to the parent through shared memory, for the progress bar; a
worker whose caller died stops at its next batch or at the rendezvous.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import multiprocessing.forkserver
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from multiprocessing.process import BaseProcess
from typing import Any, Final

import psycopg

from commands.application import CrmApplication
from projections.materialize import compute, load_facts, tree_moments, write
from projections.replay import (
    PartitionReplay,
    check_covers,
    write_folded,
    write_profiles,
    write_window,
)
from projections.schema import ALL_TABLES
from streams.heap import collector_paused
from streams.rebuild_shadow import analyze_shadow, analyze_shares, use_shadow
from streams.rebuild_source import Partition, StoreDecoder, partition_sql

Counter = Callable[[int], None]
POLL_S: Final = 0.2


class RebuildFailed(RuntimeError):
    """A rebuild worker failed; the serving tables are untouched (re-run to retry)."""


@dataclass(frozen=True)
class Plan:
    """What every worker needs to know: where, up to which position, how split."""

    database_url: str
    schema: str
    upto: int
    parts: int
    batch_size: int
    now: datetime | None
    """What lifecycle and tier are computed as of; None: each customer as of its latest
    event (`projections.materialize.event_moment`), the rebuild's default."""


ATTEMPTS: Final = 3


@dataclass(frozen=True)
class Rendezvous:
    """Where the workers wait for each other: after the replay (merge trees span
    partitions), and after their ANALYZE shares. A worker whose caller died stops
    waiting: a `Barrier` without a timeout kept it, its server connection with it, for
    good; one with a timeout breaks for all."""

    arrived: Any  # a shared int, guarded by `turn`
    turn: Any  # a multiprocessing Condition
    parts: int

    @classmethod
    def make(cls, ctx: Any, parts: int) -> Rendezvous:
        return cls(ctx.RawValue("i", 0), ctx.Condition(), parts)

    def wait(self, alive: Callable[[], bool]) -> None:
        """Wait for every worker (`arrived` counts on: a second meeting waits for 2 × parts)."""
        with self.turn:
            self.arrived.value += 1
            goal = -(-self.arrived.value // self.parts) * self.parts
            self.turn.notify_all()
            while self.arrived.value < goal:
                if not alive():
                    raise RebuildFailed("the rebuild's parent process is gone")
                self.turn.wait(POLL_S)


def in_shadow(conn: psycopg.Connection[Any], write: Callable[[], None]) -> None:
    """Run `write` in one shadow transaction, again if PostgreSQL rolled it back for a
    deadlock: partitions share a few rows (a merge's rm_merges row is filled from both
    customers' sides, rm_unknown_events counts per type, the list counters)."""
    for attempt in range(ATTEMPTS):
        try:
            with conn.transaction():
                use_shadow(conn)
                # Not waiting for the WAL flush per batch: a crash loses the shadow anyway.
                conn.execute("SET LOCAL synchronous_commit = off")
                write()
            return
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
            if attempt == ATTEMPTS - 1:
                raise


def replay_partition(
    app: CrmApplication, plan: Plan, part: int, counted: Counter, alive: Callable[[], bool]
) -> int:
    """Replay partition `part`'s events up to `plan.upto` into the shadow; returns how many."""
    with collector_paused():
        return _replay(app, plan, part, counted, alive)


def _replay(
    app: CrmApplication, plan: Plan, part: int, counted: Counter, alive: Callable[[], bool]
) -> int:
    check_covers()
    decoder = StoreDecoder(app, plan.schema)
    partition = Partition(part, plan.parts)
    replay = PartitionReplay()
    done = position = 0
    with (
        psycopg.connect(plan.database_url, autocommit=True) as reader,
        psycopg.connect(plan.database_url, autocommit=True) as writer,
    ):
        while position < plan.upto:
            if not alive():
                raise RebuildFailed("the rebuild's parent process is gone")
            batch = decoder.read(reader, position, plan.upto, plan.batch_size, partition)
            position = batch.last_position
            if batch.events:
                window = replay.fold(batch.events)
                in_shadow(writer, partial(write_window, writer, window))
                done += len(batch.events)
                counted(len(batch.events))
        in_shadow(writer, partial(write_profiles, writer, replay, plan.now))
        in_shadow(writer, partial(write_folded, writer, replay))
    return done


_CUSTOMER_PART: Final = partition_sql("replace(c.id::text, '-', '')")
SURVIVORS_SQL: Final = (
    "SELECT c.id FROM rm_customers AS c WHERE"
    " EXISTS (SELECT FROM rm_merges AS m WHERE m.survivor_id = c.id)"
    f" AND {_CUSTOMER_PART} = %(part)s ORDER BY c.id"
)
"""The profiles whose materialized columns count other customers' facts (their merge
tree's); every other profile got its columns with its row, in round one."""


def refresh_partition(plan: Plan, part: int, chunk: int = 2000) -> int:
    """Materialize the merge survivors of partition `part` in the shadow, as of `plan.now`
    or (None) of the latest moment any customer of the tree was computed for."""
    with psycopg.connect(plan.database_url, autocommit=True) as conn:
        with conn.transaction():
            use_shadow(conn)
            params = {"parts": plan.parts, "part": part}
            ids = [row[0] for row in conn.execute(SURVIVORS_SQL, params)]
        for start in range(0, len(ids), chunk):
            with conn.transaction():
                use_shadow(conn)
                some = ids[start : start + chunk]
                moments = tree_moments(conn, some) if plan.now is None else None
                write(conn, compute(load_facts(conn, some), plan.now, hints=moments))
    return len(ids)


def _child(
    plan: Plan,
    master_key: str | bytes,
    part: int,
    counts: Any,
    rendezvous: Rendezvous,
    environment: dict[str, str],
) -> None:
    os.environ.clear()
    os.environ.update(environment)
    # The caller, not the fork server that forked us: its end of our pipe closes with it.
    parent = multiprocessing.parent_process()

    def alive() -> bool:
        return parent is None or parent.is_alive()

    def counted(n: int) -> None:
        with counts.get_lock():
            counts[part] += n

    from bootstrap import open_store  # the composition root; only the process body

    # The store's tables exist; N processes creating them at once would collide.
    app = open_store(plan.database_url, master_key, kind="rebuild", create_tables=False)
    try:
        replay_partition(app, plan, part, counted, alive)
    finally:
        app.close()
    # Statistics once every partition is in, round two once every table has them; a
    # failed sibling makes the parent end us.
    rendezvous.wait(alive)
    with psycopg.connect(plan.database_url, autocommit=True) as conn:
        analyze_shadow(conn, analyze_shares(conn, plan.parts)[part])
    rendezvous.wait(alive)
    refresh_partition(plan, part)


def _run_all(processes: Sequence[BaseProcess], on_tick: Callable[[], None] = lambda: None) -> None:
    """Start, watch and join the processes; the first failure stops the others."""
    for process in processes:
        process.start()
    try:
        while running := [p for p in processes if p.is_alive()]:
            failed = [p for p in processes if p.exitcode not in (None, 0)]
            if failed:
                raise RebuildFailed(f"rebuild worker {failed[0].name} exited {failed[0].exitcode}")
            on_tick()
            # Woken by an exit at once: sleeping here cost a rebuild up to POLL_S at its end.
            multiprocessing.connection.wait([p.sentinel for p in running], POLL_S)
        failed = [p for p in processes if p.exitcode != 0]
        if failed:
            raise RebuildFailed(f"rebuild worker {failed[0].name} exited {failed[0].exitcode}")
        on_tick()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def start_workers_server() -> multiprocessing.context.ForkServerContext:
    """The fork server the workers come from, started now if it is not running: its
    imports then overlap the caller's preparation (the shadow's DDL) rather than
    delaying the first worker."""
    ctx = multiprocessing.get_context("forkserver")
    # Only before the server's first start; a server already running keeps its imports.
    ctx.set_forkserver_preload([__name__, "bootstrap", *_callers_modules()])
    multiprocessing.forkserver.ensure_running()
    return ctx


PROJECT_PACKAGES: Final = frozenset(
    {
        *("aggregates", "bench", "bootstrap", "chaos", "commands", "compliance", "demo"),
        *("events", "gateway", "ops", "projections", "schemas", "streams"),
    }
)
"""This project's top-level packages (pyproject.toml's; a unit test holds them equal)."""


def _callers_modules() -> list[str]:
    """The project's modules the caller has imported. Every worker runs the caller's
    main module again (`__main__` in the preload list is dropped by Python 3.11's fork
    server), and that cost ~0.2 s a worker of imports (`crm`'s CLI) until they are
    cached in the server. Tests and third-party modules stay out."""
    return sorted(m for m in list(sys.modules) if m.split(".")[0] in PROJECT_PACKAGES)


def run_parallel(plan: Plan, master_key: str | bytes, progress: Counter) -> int:
    """Both rounds in `plan.parts` processes; `progress(total replayed)` as they go."""
    ctx = start_workers_server()
    environment = dict(os.environ)
    counts = ctx.Array("q", plan.parts)
    rendezvous = Rendezvous.make(ctx, plan.parts)
    workers = [
        ctx.Process(
            target=_child,
            args=(plan, master_key, k, counts, rendezvous, environment),
            name=f"rebuild-{k}",
        )
        for k in range(plan.parts)
    ]
    _run_all(workers, lambda: progress(sum(counts[:])))
    return int(sum(counts[:]))


def run_in_process(app: CrmApplication, plan: Plan, progress: Counter) -> int:
    """Both rounds here, partition after partition (no master key at hand, or one core)."""
    total = 0

    def counted(n: int) -> None:
        nonlocal total
        total += n
        progress(total)

    for part in range(plan.parts):
        replay_partition(app, plan, part, counted, lambda: True)
    with psycopg.connect(plan.database_url, autocommit=True) as conn:
        analyze_shadow(conn, ALL_TABLES)
    for part in range(plan.parts):
        refresh_partition(plan, part)
    return total

"""The bulk path in several processes: batches dealt out to workers, one store each.

Why: one Python process records ~8,000 events/s through the full command layer
(handlers, rules, sealing, idempotency, the hash chain): the cost is Python per event,
not PostgreSQL. Batches of whole cohorts are independent of each other (customers meet
only inside their cohort, see `demo.history`), so several processes can record them at
once; the events table's lock still orders the commits and the chain, so positions
and links stay gap-free and linear. Nothing is skipped: each worker runs the same
`CommandService.handle_many` as a single process would.

Timing: workers start (imports, opening the store) before a barrier; the clock runs from
the barrier to the last worker's end. Events are counted by global position, which only
this load advances (as `demo.runner.load` assumes too).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aggregates.policy import Policy
from commands.application import DEFAULT_SNAPSHOT_INTERVAL
from demo.history import Batch
from demo.runner import SEED_ACTOR, OnBatch, SeedFailed, SeedReport

JOIN_TIMEOUT = 60.0
START_TIMEOUT = 300.0


def _collect(
    results: Any, workers: list[Any], on_batch: Callable[[float], None] | None
) -> list[tuple[str, Any]]:
    """Each worker's outcome, passing on its progress (customers done per batch); a
    worker that died without an outcome fails the load."""
    outcomes: list[tuple[str, Any]] = []
    while len(outcomes) < len(workers):
        try:
            status, detail = results.get(timeout=1.0)
        except queue.Empty:
            if sum(not w.is_alive() for w in workers) > len(outcomes):
                _stop(workers)
                raise SeedFailed("a worker process died without a result") from None
            continue
        if status == "batch":
            if on_batch is not None:
                on_batch(detail)
        else:
            outcomes.append((status, detail))
    return outcomes


def _stop(workers: list[Any]) -> None:
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
        worker.join(JOIN_TIMEOUT)


@dataclass(frozen=True)
class _Share:
    database_url: str
    master_key: str
    batches: list[Batch]
    actor: str
    policy: Policy | None
    snapshot_interval: int


def _worker(share: _Share, barrier: Any, results: Any) -> None:
    """One process: open a store, wait for the others, record its batches."""
    from bootstrap import command_service, open_store
    from commands.messages import CommandContext
    from demo.runner import load
    from streams.heap import settle

    app = open_store(
        share.database_url,
        share.master_key,
        kind="seed",
        pool_size=2,
        snapshot_interval=share.snapshot_interval,
    )
    try:
        service = command_service(app, share.policy)
        settle()  # the start-up heap out of the collector's way before the clock (`load`)
        barrier.wait()
        customers = sum(int(b.customers) for b in share.batches)

        def progress(done: float, _events: int) -> None:
            results.put(("batch", done))

        try:
            report = load(
                service,
                share.batches,
                customers=customers,
                context=CommandContext(actor=share.actor),
                on_batch=progress,
            )
        except SeedFailed as error:
            results.put(("failed", str(error)))
            return
        results.put(("ok", report.commands))
    except BaseException as error:  # reported by the parent
        results.put(("failed", repr(error)))
        raise
    finally:
        app.close()


def load_in_processes(
    database_url: str,
    master_key: str,
    batches: Sequence[Batch],
    *,
    customers: int,
    processes: int,
    actor: str = SEED_ACTOR,
    policy: Policy | None = None,
    interval: int = DEFAULT_SNAPSHOT_INTERVAL,
    on_batch: OnBatch | None = None,
) -> SeedReport:
    """Record `batches` over `processes` workers, dealt out round-robin; `on_batch` hears
    of each batch done (its customers, and the events the whole load has recorded);
    `policy` and `interval` (snapshots) are the store's, as for one process.

    The batches must be independent of each other: whole cohorts each (a history cut
    with ``per_batch >= COHORT_SIZE``); slices of one cohort must stay in order.
    """
    if processes < 1:
        raise ValueError("processes must be at least 1")
    from bootstrap import open_store

    shares = [
        _Share(database_url, master_key, list(batches[n::processes]), actor, policy, interval)
        for n in range(processes)
    ]
    probe = open_store(database_url, master_key, kind="probe", pool_size=1)
    try:
        before = probe.max_position()

        def progress(done: float) -> None:
            if on_batch is not None:
                on_batch(done, probe.max_position() - before)

        commands, seconds = _run(shares, progress)
        return SeedReport(customers, commands, probe.max_position() - before, seconds)
    finally:
        probe.close()


def _run(shares: list[_Share], progress: Callable[[float], None]) -> tuple[int, float]:
    """Start a worker per share, time them from the barrier; (commands, seconds)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(shares) + 1)
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(s, barrier, results)) for s in shares]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=START_TIMEOUT)
    except threading.BrokenBarrierError:
        _stop(workers)
        raise SeedFailed("a worker process did not start (see its error above)") from None
    began = time.perf_counter()
    outcomes = _collect(results, workers, progress)
    seconds = time.perf_counter() - began
    for worker in workers:
        worker.join(JOIN_TIMEOUT)
    failed = [detail for status, detail in outcomes if status != "ok"]
    if failed:
        raise SeedFailed(failed[0])
    return sum(int(detail) for _, detail in outcomes), seconds

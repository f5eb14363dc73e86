"""Our write side under the benchmark: the single path, group commit, the bulk path.

- single: `CommandService.handle` per command, one caller, a new context (correlation
  id) per command as the gateway gives each request;
- group: `clients` threads calling `GroupCommitter.handle` at once, either all with one
  shared context (an import or integration account) or a context per request;
- bulk: a demo history (see `demo`) through `handle_many` in batches; timed
  around the store only, the generator's own time is left out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

from bench.stats import Run
from bench.workload import Op, as_command, partition
from bootstrap import command_service, open_store
from commands.application import CrmApplication
from commands.group_commit import GroupCommitter, GroupStats
from commands.messages import CommandContext
from demo.history import COHORT_SIZE, DemoHistory
from demo.parallel import load_in_processes
from demo.runner import load

ACTOR = "bench"


def crm_application(database_url: str, key: str, *, pool_size: int = 8) -> CrmApplication:
    return open_store(database_url, key, kind="bench", pool_size=pool_size)


def run_single(database_url: str, key: str, ops: list[Op]) -> Run:
    """Sequential `handle`, one latency per command."""
    app = crm_application(database_url, key)
    service = command_service(app)
    ids: dict[int, UUID] = {}
    latencies: list[float] = []
    try:
        began = time.perf_counter()
        for op in ops:
            command = as_command(op, ids.setdefault(op.customer, uuid4()))
            start = time.perf_counter()
            service.handle(command, CommandContext(actor=ACTOR))
            latencies.append(time.perf_counter() - start)
        seconds = time.perf_counter() - began
    finally:
        app.close()
    return Run(len(ops), seconds, tuple(latencies))


def run_group(
    database_url: str,
    key: str,
    ops: list[Op],
    *,
    clients: int,
    shared_context: bool,
    window: float,
    workers: int = 1,
) -> tuple[Run, GroupStats]:
    """`clients` threads through one `GroupCommitter`, released together."""
    app = crm_application(database_url, key)
    service = command_service(app)
    committer = GroupCommitter(service, window=window, workers=workers)
    shared = CommandContext(actor=ACTOR)
    parts = partition(ops, clients)
    ids = {op.customer: uuid4() for op in ops}
    latencies: list[list[float]] = [[] for _ in parts]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(parts) + 1)

    def client(number: int) -> None:
        actor = f"{ACTOR}-client-{number}"
        barrier.wait()
        try:
            for op in parts[number]:
                context = shared if shared_context else CommandContext(actor=actor)
                command = as_command(op, ids[op.customer])
                start = time.perf_counter()
                committer.handle(command, context)
                latencies[number].append(time.perf_counter() - start)
        except BaseException as error:  # reported after the run
            errors.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(parts))]
    try:
        for thread in threads:
            thread.start()
        barrier.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
    finally:
        committer.close()
        app.close()
    if errors:
        raise errors[0]
    flat = tuple(value for values in latencies for value in values)
    return Run(len(ops), seconds, flat), committer.stats


def run_bulk(
    database_url: str,
    key: str,
    *,
    customers: int,
    batch: int,
    seed: int,
    on_batch: Callable[[float, int], None] | None = None,
    processes: int = 1,
) -> Run:
    """A demo history through `handle_many`; units are events recorded. `processes` > 1
    deals the (independent) batches out to that many worker processes (`demo.parallel`)."""
    history = DemoHistory(customers=customers, seed=seed, until=datetime.now(UTC))
    batches = list(history.batches(batch))  # generated before the clock starts
    if processes > 1:
        if batch < COHORT_SIZE:
            raise ValueError(f"several processes need whole cohorts: batch >= {COHORT_SIZE}")
        report = load_in_processes(
            database_url, key, batches, customers=customers, processes=processes
        )
        return Run(report.events, report.seconds)
    app = crm_application(database_url, key, pool_size=2)
    try:
        report = load(command_service(app), batches, customers=customers, on_batch=on_batch)
    finally:
        app.close()
    return Run(report.events, report.seconds)

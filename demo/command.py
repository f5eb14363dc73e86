"""`crm seed`: the verb's body (the verb itself is registered in `ops/verbs/seed.py`).

Kept apart from the generator so tests can call `seed_database` on a fresh database
without a command line, and the verb stays a thin shell of options.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import chain

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from aggregates.policy import Policy
from bootstrap import command_service, open_store
from commands.messages import CommandContext
from demo.custom_fields import OpenCustomers, record_values
from demo.history import COHORT_SIZE, Batch, DemoHistory
from demo.organisation import organisation_commands
from demo.parallel import load_in_processes
from demo.runner import SEED_ACTOR, OnBatch, SeedReport, last_position, load
from demo.target import event_store_url
from ops.config import Settings
from ops.errors import SettingError
from ops.keys import master_key
from ops.progress import progress_lines

DEFAULT_CUSTOMERS = 10_000
DEFAULT_SEED = 42
DEFAULT_BATCH = 100
"""Customers' worth of commands per transaction when seeding: four cohorts (~1,200 events).
Each transaction has a fixed cost (its round trips, the events table's lock passed between
the worker processes); in 2 processes 50 recorded ~12% more events/s than 25, and 100 ~5%
more than 50 (18.9 / 19.7 / 21.3k against 18.3 / 18.7 / 19.4k events/s, alternating). A
writer beside a seed waits for a batch's lock: ~10 ms at 100."""

Log = Callable[[str], None]


def parse_until(text: str | None) -> datetime:
    """`--until`: an ISO date or time (UTC when no zone given); default now."""
    if text is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SettingError("--until", f"expected an ISO date or time, got {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def seed_database(
    database_url: str,
    *,
    key: str,
    customers: int,
    seed: int,
    batch: int,
    until: datetime,
    policy: Policy | None = None,
    snapshot_interval: int = 50,
    console: Console | None = None,
    processes: int = 1,
) -> SeedReport:
    """Generate and record the history; a rich progress bar when a console is given.

    `processes` > 1 records the customers' batches (whole cohorts, independent of each
    other) in that many worker processes (`demo.parallel`), through the same commands
    and rules; the organisation before them and the custom-field values after them are
    recorded here. The report's seconds are the wall clock of all of it.
    """
    if processes > 1 and batch < COHORT_SIZE:
        raise SettingError("--batch", f"must be at least {COHORT_SIZE} with --processes above 1")
    app = open_store(database_url, key, kind="seed", snapshot_interval=snapshot_interval)
    try:
        service = command_service(app, policy)
        history = DemoHistory(customers=customers, seed=seed, until=until)
        watched = OpenCustomers()
        # Teams and rules first (the customers' owners are the teams' reps), counted in
        # the report like every other recorded command.
        organisation = Batch(0, organisation_commands(history.writer.people.owners))
        cohorts = watched.watch(history.batches(batch))
        start, began = last_position(service), time.perf_counter()

        def record(on_batch: OnBatch | None) -> int:
            if processes == 1:
                batches = chain([organisation], cohorts)
                return load(service, batches, customers=customers, on_batch=on_batch).commands
            first = load(service, [organisation], customers=0).commands
            return (
                first
                + load_in_processes(
                    database_url,
                    key,
                    list(cohorts),
                    customers=customers,
                    processes=processes,
                    policy=policy,
                    interval=snapshot_interval,
                    on_batch=on_batch,
                ).commands
            )

        if console is None:
            commands = record(None)
        elif not console.is_terminal:  # `crm demo`'s seed.log: a line every 5 s, not at the end
            commands = record(_progress_lines(customers))
        else:
            with _progress(console) as progress:
                task = progress.add_task("seeding", total=customers, events=0)

                def advance(done: float, events: int) -> None:
                    progress.update(task, advance=done, events=events)

                commands = record(advance)
                progress.update(task, completed=customers)
        context = CommandContext(actor=SEED_ACTOR)
        more = record_values(service, context, watched.open(), until) if customers else 0
        return SeedReport(
            customers,
            commands + more,
            last_position(service) - start,
            time.perf_counter() - began,
        )
    finally:
        app.close()


def _progress_lines(customers: int) -> OnBatch:
    """What rich's bar draws, as a line every few seconds (rich draws a bar off a terminal
    only once, when it ends)."""
    lines = progress_lines("seeding", "customers", lambda line: print(line, flush=True))
    done = 0.0

    def advance(step: float, events: int) -> None:
        nonlocal done
        done += step
        lines(min(int(done), customers), customers)

    return advance


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("customers"),
        TaskProgressColumn(),
        TextColumn("{task.fields[events]:,} events"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def existing_events(database_url: str, key: str) -> int:
    """How many events the store already holds (0 for a new database)."""
    app = open_store(database_url, key, kind="probe")
    try:
        return last_position(command_service(app))
    finally:
        app.close()


def run_seed_verb(
    settings: Settings,
    *,
    customers: int,
    seed: int,
    batch: int | None,
    until: str | None,
    force: bool,
    console: Console,
    log: Log,
    processes: int = 1,
) -> SeedReport | None:
    """What `crm seed` does; returns None when it skipped a store that has data."""
    if customers < 0:
        raise SettingError("--customers", "must not be negative")
    if processes < 1:
        raise SettingError("--processes", "must be at least 1")
    batch = DEFAULT_BATCH if batch is None else batch
    if batch < 1:
        raise SettingError("--batch", "must be at least 1")
    end = parse_until(until)
    key = master_key(settings)
    with event_store_url(settings, log) as url:
        present = existing_events(url, key)
        if present and not force:
            log(f"the event store already holds {present:,} events; not seeding (use --force)")
            return None
        report = seed_database(
            url,
            key=key,
            customers=customers,
            seed=seed,
            batch=batch,
            until=end,
            policy=Policy(rates_to_cny=settings.rates_to_cny, base_currency=settings.base_currency),
            snapshot_interval=settings.snapshot_interval,
            console=console,
            processes=processes,
        )
    console.print(
        f"[bold green]seeded {report.customers:,} customers, {report.events:,} events "
        f"({report.commands:,} commands) in {report.seconds:.1f}s: "
        f"{report.events_per_second:,.0f} events/s[/bold green]"
    )
    return report

"""The lifecycle scheduler (`crm worker lifecycle`): time moves stages without a command.

A customer becomes AT_RISK on day 91 with no new fact. The projections store, per
customer, `valid_until`: the first moment its lifecycle stage or tier changes by time
alone (`projections.derivation`). At the next such moment (`seconds_to_next`; every
`INTERVAL` seconds at the latest) this process picks the customers whose moment has
passed (an index range scan, in batches until none is left: `streams.due_batches`),
applies the rules as of `now`, and records the change through the command layer as
`AdvanceLifecycle` by actor ``system:scheduler``: `LifecycleStageChanged` /
`TierChanged` events, which reach the audit trail, Kafka, subscriptions and analytics
like every other change, and whose projection stores the new answer. A change is visible
within about a second plus the projection's lag of its moment (INTERVAL plus the lag at
worst, well under 60 s).

Idempotent: each command carries the key ``lifecycle:<customer>:<valid_until>`` and no
`occurredAt` (the command service stamps its clock, and an omitted time is not part of
the key's fingerprint), so a tick that runs again before the projection caught up
records nothing new; the aggregate records nothing when the values are equal. Each tick
then marks follow-up tasks whose due time passed (`streams.task_scheduler`). Customers
that take no commands (merged duplicates, forgotten customers), rows whose answer did
not change (a read model from before these columns) and customers whose command is
refused (no such stream) are refreshed in place instead: there is no change to record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import psycopg

from aggregates.errors import DomainError
from commands.idempotency import IdempotencyMismatch
from commands.messages import AdvanceLifecycle, CommandContext, CommandResult
from projections.derived import DEFAULT_THRESHOLDS, Thresholds
from projections.materialize import Materialized, compute, load_facts, refresh
from streams.due_batches import DueRows, Key, after_key, drain
from streams.relay_main import Report, StopFlag, StreamConfig
from streams.task_scheduler import mark_due_tasks

ACTOR: Final = "system:scheduler"
INTERVAL: Final = 15.0
"""Seconds between ticks: with the projection's lag, a change shows well within 60 s."""
RETRY_S: Final = 0.5  # between attempts to reach PostgreSQL again
BATCH: Final = 500
"""Customers per batch (the most overdue first); a tick takes batches until none is left."""

NEXT_SQL: Final = """
SELECT least(
    (SELECT min(valid_until) FROM rm_customers WHERE valid_until > %(now)s),
    (SELECT min(due_at) FROM rm_tasks WHERE status = 'OPEN' AND due_at > %(now)s))
"""
"""The next moment a customer's stage or tier changes by time, or a task falls due: two
index lookups (the partial indexes on `valid_until` and on open tasks' `due_at`)."""
SOONEST: Final = 0.5
"""Seconds a tick waits at least: moments closer together are taken together."""
DUE: Final = DueRows.of("SELECT id, valid_until FROM rm_customers", "valid_until")

log = logging.getLogger(__name__)


class Handler(Protocol):
    def handle(self, command: Any, context: CommandContext) -> CommandResult: ...


@dataclass(frozen=True)
class Tick:
    """What one tick did: customers due, changes recorded as events, rows refreshed."""

    due: int
    recorded: int
    refreshed: int
    refused: int = 0
    last: Key | None = None


def _command(m: Materialized) -> AdvanceLifecycle:
    d, f = m.derived, m.facts
    due = f.valid_until.isoformat() if f.valid_until else "none"
    return AdvanceLifecycle(
        customer_id=m.id,
        from_stage=f.stored[0],
        to_stage=d.lifecycle_stage,
        stage_reason=d.reason,
        from_tier=f.stored[1],
        to_tier=d.tier,
        tier_reason=d.tier_reason,
        idempotency_key=f"lifecycle:{m.id}:{due}",
    )


def _records_event(m: Materialized) -> bool:
    changed = (m.derived.lifecycle_stage, m.derived.tier) != m.facts.stored
    return changed and m.facts.merged_into is None and not m.facts.forgotten


def _record(service: Handler, commands: Sequence[AdvanceLifecycle]) -> tuple[int, list[Any]]:
    """Issue each command on its own (one refusal must not hold back the others); returns
    how many were recorded (or had been, by an earlier tick) and the refused customers."""
    recorded, refused = 0, []
    for command in commands:
        try:
            service.handle(command, CommandContext(actor=ACTOR))
            recorded += 1
        except IdempotencyMismatch:
            # This moment's change is recorded already (with values of an earlier tick);
            # its projection recomputes the row as of its own clock.
            recorded += 1
        except DomainError as error:
            log.warning("lifecycle change of %s refused: %s", command.customer_id, error)
            refused.append(command.customer_id)
    return recorded, refused


def advance(
    conn: psycopg.Connection[Any],
    service: Handler,
    now: datetime,
    *,
    limit: int = BATCH,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    stopping: Callable[[], bool] = lambda: False,
) -> Tick:
    """One tick as of `now` (tests pass a later `now`, and a service whose clock says
    the same, instead of waiting 91 days): batches of `limit` customers until every one
    due is handled (`streams.due_batches`)."""
    return drain(
        lambda after: _advance_batch(conn, service, now, limit, thresholds, after),
        limit,
        stopping,
    )


def _advance_batch(
    conn: psycopg.Connection[Any],
    service: Handler,
    now: datetime,
    limit: int,
    thresholds: Thresholds,
    after: Key | None,
) -> Tick:
    with conn.transaction():
        picked = DUE.pick(conn, now, limit, after)
        due = [row[0] for row in picked]
        rows = compute(load_facts(conn, due), now, thresholds) if due else []
    changes = [m for m in rows if _records_event(m)]
    recorded, refused = _record(service, [_command(m) for m in changes])
    in_place = [m.id for m in rows if not _records_event(m)] + refused
    if in_place:
        with conn.transaction():
            refresh(conn, in_place, now, thresholds)
    return Tick(len(due), recorded, len(in_place), len(refused), after_key(picked))


def seconds_to_next(conn: psycopg.Connection[Any], now: datetime, interval: float) -> float:
    """How long the next tick waits: until the next moment (`NEXT_SQL`), between `SOONEST`
    and `interval`. Waking at the moment, not up to an interval after it, records a
    change a fraction of a second after it happens. A new event in between would
    otherwise have its projection compute the customer past the moment (its clock is
    later), and the change, made by time alone, would never be recorded as an event."""
    row = conn.execute(NEXT_SQL, {"now": now}).fetchone()
    upcoming = row[0] if row else None
    if upcoming is None:
        return interval
    return min(interval, max(SOONEST, (upcoming - now).total_seconds()))


def run(
    config: StreamConfig,
    report: Report,
    stop: StopFlag,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    interval: float = INTERVAL,
) -> None:
    """Body of `crm worker lifecycle`: a tick every `interval` seconds until stopped."""
    from bootstrap import command_service, open_store  # the composition root; process body

    report("starting", "connecting to the database")
    app = open_store(config.database_url, config.master_key, kind="worker")
    conn: psycopg.Connection[Any] | None = None
    try:
        service = command_service(app)
        while not stop.is_set():
            wait = interval
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(config.database_url, autocommit=True, connect_timeout=3)
                now = clock()
                tick = advance(conn, service, now, stopping=stop.is_set)
                tasks = mark_due_tasks(conn, service, now, stopping=stop.is_set)
                wait = seconds_to_next(conn, clock(), interval)
            except psycopg.errors.UndefinedTable:
                # The projections worker creates the read models; it may start later.
                report("starting", "waiting for the read-model tables")
            except psycopg.OperationalError as error:
                # PostgreSQL restarting: reconnect in place instead of ending the process
                # (a restart costs seconds of the recovery after a kill -9 of PostgreSQL).
                first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                report("starting", f"database unreachable, retrying: {first}")
                if conn is not None:
                    conn.close()
                conn = None
                stop.wait(RETRY_S)
                continue
            else:
                report(
                    "ok",
                    f"next tick in {wait:.1f}s (at most {interval:g}s); last tick: {tick.due}"
                    f" due, {tick.recorded}"
                    f" recorded, {tick.refreshed} refreshed, {tick.refused} refused;"
                    f" tasks: {tasks.due} due, {tasks.marked} marked overdue",
                )
            stop.wait(wait)
    finally:
        if conn is not None:
            conn.close()
        app.close()

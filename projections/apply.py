"""Apply a batch of delivered envelopes to every read model, at most once per event.

Called by the stream processors inside their own transaction (this module never
commits): the read-model writes and the checkpoints that make them idempotent commit or
roll back together, so a crash mid-batch followed by redelivery applies each event once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.pq import TransactionStatus

from events import LifecycleStageChanged, TierChanged
from projections.checkpoints import Checkpoints, advance_checkpoints, claim_checkpoints
from projections.handlers import PROJECTIONS, Projection, customers
from projections.incoming import IncomingEvent, parse_envelope
from projections.materialize import refresh


@dataclass(frozen=True)
class ApplyResult:
    """What one batch did: `applied` new known events, the rest skipped and why."""

    applied: int
    duplicates: int
    unknown: int


def _in_order(events: Iterable[IncomingEvent]) -> tuple[list[IncomingEvent], int]:
    """Events by position, each once; also how many repeats the batch itself held.

    Sorting by global position keeps every customer's own order (its events' positions
    increase) and makes the batch's outcome independent of cross-customer arrival order.
    """
    by_position: dict[int, IncomingEvent] = {}
    repeats = 0
    for event in events:
        if event.position in by_position:
            repeats += 1
            continue
        by_position[event.position] = event
    return [by_position[p] for p in sorted(by_position)], repeats


def _latest_positions(events: Sequence[IncomingEvent]) -> dict[UUID, int]:
    """Per subject, the highest position in the batch: where its checkpoints move to
    (every event up to it is now applied, by this batch or an earlier one)."""
    latest: dict[UUID, int] = {}
    for e in events:
        latest[e.subject_id] = e.position  # events are sorted by position
    return latest


def _by_projection(checkpoints: Checkpoints) -> dict[str, dict[UUID, int]]:
    """The locked checkpoints regrouped: projection -> subject -> position."""
    grouped: dict[str, dict[UUID, int]] = {}
    for (name, subject), position in checkpoints.items():
        grouped.setdefault(name, {})[subject] = position
    return grouped


def _first_positions(events: Sequence[IncomingEvent]) -> dict[UUID, int]:
    """Per subject, the lowest position in the batch."""
    first: dict[UUID, int] = {}
    for e in reversed(events):
        first[e.subject_id] = e.position
    return first


def _fresh_for(
    events: list[IncomingEvent], first: Mapping[UUID, int], done: Mapping[UUID, int]
) -> list[IncomingEvent]:
    """The batch's events a projection has not applied yet, given its checkpoints.

    A live batch is usually all fresh (every subject's first event is past its
    checkpoint): then the list is shared and needs no per-event lookup.
    """
    if all(done.get(subject, 0) < position for subject, position in first.items()):
        return events
    return [e for e in events if e.position > done.get(e.subject_id, 0)]


def _scheduler_moments(events: Sequence[IncomingEvent]) -> dict[UUID, datetime]:
    """Per customer, the latest moment a scheduler event says the derived state changed."""
    moments: dict[UUID, datetime] = {}
    for e in events:
        if e.known and e.kind in (LifecycleStageChanged.TYPE, TierChanged.TYPE):
            moments[e.subject_id] = max(moments.get(e.subject_id, e.occurred_at), e.occurred_at)
    return moments


def apply_batch(
    conn: Connection[Any],
    envelopes: Iterable[Mapping[str, Any]],
    projections: Sequence[Projection] = PROJECTIONS,
    *,
    now: datetime | None = None,
    materialize: bool = True,
) -> ApplyResult:
    """Parse delivered envelopes and apply them: `apply_events`."""
    return apply_events(
        conn,
        (parse_envelope(e) for e in envelopes),
        projections,
        now=now,
        materialize=materialize,
    )


def apply_events(
    conn: Connection[Any],
    incoming: Iterable[IncomingEvent],
    projections: Sequence[Projection] = PROJECTIONS,
    *,
    now: datetime | None = None,
    materialize: bool = True,
) -> ApplyResult:
    """Apply the events each projection has not applied yet; see `ApplyResult`.

    Pass a subset of `projections` to rebuild some of them (after `reset_projection`):
    the others are neither written nor advanced. Never commits: the caller commits, and
    only then commits its Kafka offsets. An autocommit connection outside a transaction
    block is refused, since the writes and their checkpoints must commit together.
    Every customer with a fresh event then gets its lifecycle, tier and summaries
    recomputed as of `now` (default: the clock), in the same transaction
    (`projections.materialize`), and the profile's version, updated_at and last_position
    moved in the same row write (`customers.moves`); a replay passes
    ``materialize=False`` and refreshes every customer once at its end instead of once
    per batch (the moves are then written alone).
    """
    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        raise ValueError("apply a batch inside a transaction: use `with conn.transaction():`")
    events, repeats = _in_order(incoming)
    if not events:
        return ApplyResult(applied=0, duplicates=repeats, unknown=0)
    latest, first = _latest_positions(events), _first_positions(events)
    behind = claim_checkpoints(conn, [p.name for p in projections], first, latest)
    done = _by_projection(behind)
    reached: dict[tuple[str, UUID], int] = {}
    fresh_positions: set[int] = set()
    moved: dict[UUID, customers.Move] = {}
    for projection in projections:
        fresh = _fresh_for(events, first, done.get(projection.name, {}))
        if not fresh:
            continue
        projection.apply(conn, fresh)
        if projection.name == customers.PROJECTION.name:
            moved = customers.moves(fresh)
        if behind:  # the claim moved or created every other row to the batch's positions
            subjects = latest if fresh is events else {e.subject_id for e in fresh}
            keys = ((projection.name, s) for s in subjects)
            reached.update((k, latest[k[1]]) for k in keys if k in behind)
        fresh_positions.update(e.position for e in fresh)
    advance_checkpoints(conn, reached)
    fresh_events = [e for e in events if e.position in fresh_positions]
    if fresh_events and materialize:
        refresh(
            conn,
            {e.subject_id for e in fresh_events},
            now or datetime.now(UTC),
            hints=_scheduler_moments(fresh_events),
            moves=moved,
            hold_time_changes=True,
        )
    else:
        customers.write_moves(conn, moved)
    unknown = sum(1 for e in events if e.position in fresh_positions and not e.known)
    applied = len(fresh_positions) - unknown
    return ApplyResult(
        applied=applied,
        duplicates=repeats + len(events) - len(fresh_positions),
        unknown=unknown,
    )


def apply_envelopes(
    conn: Connection[Any], envelopes: Iterable[Mapping[str, Any]], *, now: datetime | None = None
) -> int:
    """Apply a batch in the caller's transaction; returns how many new known events it held."""
    return apply_batch(conn, envelopes, now=now).applied

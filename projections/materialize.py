"""The materialized columns of rm_customers: lifecycle, tier, summaries over the merge tree.

After a batch's projections wrote their facts, `refresh` recomputes every customer the
batch touched, and every survivor above it (a duplicate's purchase counts for its
survivor), in the batch's transaction, so the columns commit with the checkpoints.
The facts are read set-based (one query per kind for all touched trees); the rules are
applied in Python (`projections.derivation`), the one definition of them.

"now" for a live refresh is the clock, never earlier than the moment the row was last
computed for, nor than the moment a scheduler event says (`LifecycleStageChanged` and
`TierChanged` carry `as_of`), so a scheduler's change is stored as the rule says at the
moment it ran. A replay computes each customer as of its own latest event
(`event_moment`), not as of the day it runs: time's changes since then are the
scheduler's to record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from psycopg import Connection, sql

from events import LifecycleStageChanged, TierChanged
from events.vocabulary import CHANNELS
from projections.bulk import as_jsonb
from projections.derivation import Derived, derive
from projections.derived import DEFAULT_THRESHOLDS, ComplaintFact, PurchaseFact, Thresholds
from projections.handlers.customers import Move
from projections.incoming import IncomingEvent
from projections.membership import GIVEN_ROOTS, MAX_DEPTH, tree_ctes
from projections.schema import DERIVED_COLUMNS

JUST_BEFORE: Final = timedelta(microseconds=1)
"""PostgreSQL's resolution: the last moment before a `valid_until`."""


@dataclass
class TreeFacts:
    """Everything the materialized columns of one profile are computed from."""

    stage: str
    stored_as_of: datetime | None
    stored: tuple[str, str]
    valid_until: datetime | None = None
    merged_into: UUID | None = None
    forgotten: bool = False
    purchases: list[PurchaseFact] = field(default_factory=list)
    complaints: list[ComplaintFact] = field(default_factory=list)
    open_complaints: int = 0
    touches: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    merged_ids: list[UUID] = field(default_factory=list)


@dataclass(frozen=True)
class Materialized:
    id: UUID
    derived: Derived
    facts: TreeFacts


UP_SQL: Final = """
WITH RECURSIVE up AS (
    SELECT s.id, 0 AS depth FROM unnest(%(ids)s::uuid[]) AS s(id)
    UNION ALL
    SELECT m.survivor_id, up.depth + 1 FROM up JOIN rm_merges AS m ON m.duplicate_id = up.id
    WHERE up.depth < %(depth)s
)
SELECT DISTINCT c.id FROM up JOIN rm_customers AS c ON c.id = up.id
"""

ROWS_SQL: Final = """
SELECT id, stage, derived_as_of, lifecycle_stage, tier, valid_until, merged_into, forgotten
FROM rm_customers WHERE id = ANY(%(roots)s::uuid[]) ORDER BY id
"""
LOCK: Final = " FOR UPDATE"
"""A refresh locks its rows first, in id order: two batches recomputing one survivor
(from its own partition and from a duplicate's) take turns, and the second one reads
the first one's facts."""


def _tree_query(body: str) -> sql.Composed:
    return sql.SQL("WITH RECURSIVE {tree} {body}").format(
        tree=tree_ctes(GIVEN_ROOTS), body=sql.SQL(body)
    )


PURCHASES_SQL: Final = _tree_query(
    "SELECT t.root_id, p.occurred_at, p.total_cny"
    " FROM tree AS t JOIN rm_purchases AS p ON p.customer_id = t.member_id"
)
COMPLAINTS_SQL: Final = _tree_query(
    "SELECT t.root_id, k.severity, k.filed_at, k.resolved_at, k.status"
    " FROM tree AS t JOIN rm_complaints AS k ON k.customer_id = t.member_id"
)
TOUCHES_SQL: Final = _tree_query(
    "SELECT t.root_id, k.channel, sum(k.touches), max(k.last_at)"
    " FROM tree AS t JOIN rm_touch_counts AS k ON k.customer_id = t.member_id"
    " GROUP BY t.root_id, k.channel"
)
MEMBERS_SQL: Final = _tree_query(
    "SELECT root_id, array_agg(member_id ORDER BY member_id) FROM tree"
    " WHERE member_id <> root_id GROUP BY root_id"
)


def with_survivors(conn: Connection[Any], ids: Iterable[UUID]) -> list[UUID]:
    """`ids` that have a profile row, plus every customer they were merged into."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = conn.execute(UP_SQL, {"ids": wanted, "depth": MAX_DEPTH}).fetchall()
    return sorted(row[0] for row in rows)


def load_facts(
    conn: Connection[Any], roots: Sequence[UUID], *, lock: bool = False
) -> dict[UUID, TreeFacts]:
    """The facts of each profile in `roots` (own id and merged duplicates), five queries."""
    params = {"roots": list(roots)}
    found: dict[UUID, TreeFacts] = {}
    rows_sql = ROWS_SQL + LOCK if lock else ROWS_SQL
    for cid, stage, as_of, lifecycle, tier, until, merged_into, forgotten in conn.execute(
        rows_sql, params
    ):
        found[cid] = TreeFacts(stage, as_of, (lifecycle, tier), until, merged_into, forgotten)
    for root, at, total in conn.execute(PURCHASES_SQL, params):
        found[root].purchases.append(PurchaseFact(at, Decimal(total)))
    for root, severity, filed, resolved, status in conn.execute(COMPLAINTS_SQL, params):
        found[root].complaints.append(ComplaintFact(severity or "", filed, resolved))
        found[root].open_complaints += status != "RESOLVED"
    for root, channel, n, last in conn.execute(TOUCHES_SQL, params):
        found[root].touches[channel] = (int(n), last)
    for root, members in conn.execute(MEMBERS_SQL, params):
        found[root].merged_ids = list(members)
    return found


def compute(
    facts: Mapping[UUID, TreeFacts],
    now: datetime | None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    hints: Mapping[UUID, datetime] | None = None,
    *,
    hold_time_changes: bool = False,
) -> list[Materialized]:
    """Apply the rules to each profile as of max(now, its stored as-of, its hint); with
    `now` None (a replay), as of its stored as-of and hint alone (`event_moment`).

    `hold_time_changes` (a live batch): a profile whose stored `valid_until` has passed
    and that has no scheduler event in the batch is computed as of just before that
    moment. The change time made is the scheduler's to record as an event; computed past
    it here, on some other event of the customer's (a touch a moment after day 90), the
    row would take the new stage silently and the scheduler, seeing no change left,
    would never record it."""
    hints = hints or {}
    done = []
    for cid in sorted(facts):
        f = facts[cid]
        moments = [m for m in (now, f.stored_as_of, hints.get(cid)) if m is not None]
        as_of = max(moments) if moments else datetime.now(UTC)
        due = f.valid_until
        if hold_time_changes and cid not in hints and due is not None and due <= as_of:
            as_of = max(due - JUST_BEFORE, f.stored_as_of or due - JUST_BEFORE)
        derived = derive(f.stage, f.purchases, f.complaints, as_of, thresholds)
        done.append(Materialized(cid, derived, f))
    return done


def _channel_order(channel: str) -> tuple[int, str]:
    return (CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS), channel)


def columns_of(m: Materialized) -> dict[str, Any]:
    """The materialized columns' values (`MATERIALIZED_COLUMNS`) of one computed profile."""
    f, d = m.facts, m.derived
    times = [p.occurred_at for p in f.purchases]
    return {
        "lifecycle_stage": d.lifecycle_stage,
        "lifecycle_reason": d.reason,
        "tier": d.tier,
        "tier_reason": d.tier_reason,
        "derived_as_of": d.as_of,
        "valid_until": d.valid_until,
        "purchase_count": len(f.purchases),
        "purchase_total": sum((p.total_cny for p in f.purchases), Decimal(0)),
        "first_purchase_at": min(times, default=None),
        "last_purchase_at": max(times, default=None),
        "touch_count": sum(n for n, _ in f.touches.values()),
        "last_touch_at": max((at for _, at in f.touches.values()), default=None),
        "touches_by_channel": [
            {"channel": c, "count": f.touches[c][0]} for c in sorted(f.touches, key=_channel_order)
        ],
        "open_complaints": f.open_complaints,
        "merged_ids": f.merged_ids,
    }


def _record(m: Materialized, move: Move | None) -> dict[str, Any]:
    version, updated_at, last_position = move or (None, None, None)
    return {
        "id": m.id,
        "version": version,
        "updated_at": updated_at,
        "last_position": last_position,
        **columns_of(m),
    }


MATERIALIZED_COLUMNS: Final = tuple((name, kind) for name, kind, _ in DERIVED_COLUMNS)
"""(name, SQL type) of the columns `columns_of` fills, in the schema's order."""
MOVE_COLUMNS: Final = (
    ("id", "uuid"),
    ("version", "integer"),
    ("updated_at", "timestamptz"),
    ("last_position", "bigint"),
)

WRITE_SQL: Final = (
    "UPDATE rm_customers AS c SET "
    + ", ".join(f"{name} = r.{name}" for name, _ in MATERIALIZED_COLUMNS)
    + ", version = greatest(c.version, r.version),"
    " updated_at = greatest(c.updated_at, r.updated_at),"
    " last_position = greatest(c.last_position, r.last_position)"
    " FROM jsonb_to_recordset(%s) AS r("
    + ", ".join(f"{name} {kind}" for name, kind in (*MOVE_COLUMNS, *MATERIALIZED_COLUMNS))
    + ") WHERE c.id = r.id"
)
"""`greatest` ignores NULL: a row with no move (a survivor, a scheduler's refresh) keeps
its version, updated_at and last_position."""


def write(
    conn: Connection[Any], rows: Sequence[Materialized], moves: Mapping[UUID, Move] | None = None
) -> None:
    """Store the computed columns in one statement (rows in id order: no deadlocks),
    with the `moves` of the rows that have one (`customers.moves`)."""
    moves = moves or {}
    if rows:
        records = [_record(m, moves.get(m.id)) for m in sorted(rows, key=lambda m: m.id)]
        conn.execute(WRITE_SQL, [as_jsonb(records)])


def refresh(
    conn: Connection[Any],
    subjects: Iterable[UUID],
    now: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    hints: Mapping[UUID, datetime] | None = None,
    moves: Mapping[UUID, Move] | None = None,
    *,
    hold_time_changes: bool = False,
) -> list[Materialized]:
    """Recompute and store the columns of `subjects` and of every survivor above them,
    with the `moves` of their batch (`customers.moves`; each subject of a move has a row).
    `hold_time_changes`: see `compute`."""
    roots = with_survivors(conn, subjects)
    if not roots:
        return []
    facts = load_facts(conn, roots, lock=True)
    rows = compute(facts, now, thresholds, hints, hold_time_changes=hold_time_changes)
    write(conn, rows, moves)
    return rows


def refresh_all(
    conn: Connection[Any],
    now: datetime | None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    chunk: int = 2000,
    moments: Mapping[UUID, datetime] | None = None,
) -> int:
    """Recompute every customer's columns, `chunk` at a time (after a replay): as of
    `now`, or with `now` None as of the latest of `moments` (each customer's
    `event_moment`s) over its merge tree."""
    ids = [row[0] for row in conn.execute("SELECT id FROM rm_customers ORDER BY id")]
    for start in range(0, len(ids), chunk):
        facts = load_facts(conn, ids[start : start + chunk], lock=True)
        hints = _over_trees(facts, moments or {}) if now is None else None
        write(conn, compute(facts, now, thresholds, hints))
    return len(ids)


def event_moment(event: IncomingEvent) -> datetime:
    """The moment a live processor computes a customer for, on this event: when it was
    recorded (the processor's clock, less its lag), or the moment a scheduler event says
    the state changed. A replay computes each customer as of its latest event's moment,
    not as of the day it runs: a rebuild then reproduces the live rows, and leaves a
    change that time made but nobody recorded yet to the scheduler, which records it
    (`LifecycleStageChanged`) instead of the rebuild making it silently."""
    if event.known and event.kind in (LifecycleStageChanged.TYPE, TierChanged.TYPE):
        return max(event.recorded_at, event.occurred_at)
    return event.recorded_at


def note_moment(moments: dict[UUID, datetime], event: IncomingEvent) -> None:
    """Keep the latest `event_moment` per customer."""
    at = event_moment(event)
    known = moments.get(event.subject_id)
    moments[event.subject_id] = at if known is None or at > known else known


def _over_trees(
    facts: Mapping[UUID, TreeFacts], moments: Mapping[UUID, datetime]
) -> dict[UUID, datetime]:
    """Per profile, the latest moment of any customer in its merge tree (a duplicate's
    purchase moved its survivor's computation too)."""
    found = {}
    for cid, f in facts.items():
        known = [moments[m] for m in (cid, *f.merged_ids) if m in moments]
        if known:
            found[cid] = max(known)
    return found


TREE_MOMENTS_SQL: Final = _tree_query(
    "SELECT t.root_id, max(c.derived_as_of) FROM tree AS t"
    " JOIN rm_customers AS c ON c.id = t.member_id GROUP BY t.root_id"
)


def tree_moments(conn: Connection[Any], roots: Sequence[UUID]) -> dict[UUID, datetime]:
    """Per profile in `roots`, the latest moment any customer of its tree was computed
    for (a replay's survivors, once every partition stored its own rows)."""
    rows = conn.execute(TREE_MOMENTS_SQL, {"roots": list(roots)})
    return {root: at for root, at in rows if at is not None}

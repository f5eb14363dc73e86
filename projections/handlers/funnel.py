"""rm_funnel: per customer, when it registered, its source and how far it got.

The funnel counts a customer as having reached every stage up to the furthest one it
ever got to on the ordered path LEAD..WON, so only that rank (and when each stage was
first reached) is kept. LOST is off the path: it never advances, and moving back or
being won back after LOST never lowers what was reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import Connection

from events import CustomerRegistered, StageMoved
from events.vocabulary import PIPELINE_PATH
from projections.bulk import load_rows, write_records
from projections.handlers.base import Projection, of_kind
from projections.incoming import IncomingEvent
from projections.vocabulary import STAGE_RANK

COLUMNS = (
    ("customer_id", "uuid"),
    ("registered_at", "timestamptz"),
    ("source", "text"),
    ("furthest_rank", "smallint"),
    ("furthest_stage", "text"),
    ("reached_at", "jsonb"),
    ("last_position", "bigint"),
)

Row = dict[str, Any]


def new_row(event: IncomingEvent) -> Row:
    return {
        "customer_id": event.subject_id,
        "registered_at": event.occurred_at,
        "source": None,
        "furthest_rank": 0,
        "furthest_stage": PIPELINE_PATH[0],
        "reached_at": {PIPELINE_PATH[0]: event.occurred_at.isoformat()},
        "last_position": 0,
    }


def _reach(row: Row, rank: int, at: str) -> None:
    """Reaching a stage reaches every stage before it (moves may skip stages)."""
    reached = dict(row["reached_at"])
    for stage in PIPELINE_PATH[: rank + 1]:
        reached.setdefault(stage, at)
    row["reached_at"] = reached
    if rank > row["furthest_rank"]:
        row["furthest_rank"] = rank
        row["furthest_stage"] = PIPELINE_PATH[rank]


def fold(row: Row, event: IncomingEvent) -> None:
    if event.kind == CustomerRegistered.TYPE:
        row["registered_at"] = event.occurred_at
        row["source"] = event.data.get("source")
        _reach(row, 0, event.occurred_at.isoformat())
    elif event.kind == StageMoved.TYPE:
        rank = STAGE_RANK.get(str(event.data.get("to_stage")))
        if rank is not None:
            _reach(row, rank, event.occurred_at.isoformat())
    row["last_position"] = max(row["last_position"], event.position)


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    relevant = of_kind(events, CustomerRegistered.TYPE, StageMoved.TYPE)
    if not relevant:
        return
    rows = load_rows(
        conn, "rm_funnel", COLUMNS, "customer_id", sorted({e.subject_id for e in relevant})
    )
    for event in relevant:
        row = rows.get(event.subject_id)
        if row is None:
            row = rows[event.subject_id] = new_row(event)
        fold(row, event)
    write_records(conn, "rm_funnel", COLUMNS, list(rows.values()), key=("customer_id",))


PROJECTION = Projection("funnel", apply)

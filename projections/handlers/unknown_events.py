"""rm_unknown_events: how many events of types this build does not understand were seen.

Skipping them keeps the processors running when a newer writer publishes a new type
or version; counting them (once each, thanks to the checkpoint) tells operators that a
deploy of the read side is due and a replay will be needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import Connection

from projections.bulk import write_records
from projections.handlers.base import Projection
from projections.incoming import IncomingEvent

COLUMNS = (("type", "text"), ("seen", "bigint"), ("last_position", "bigint"))
MERGE = {
    "seen": "rm_unknown_events.seen + EXCLUDED.seen",
    "last_position": "greatest(rm_unknown_events.last_position, EXCLUDED.last_position)",
}


def count(counts: dict[str, dict[str, Any]], events: Sequence[IncomingEvent]) -> None:
    """Add the unknown events among `events` to `counts` (type -> row)."""
    for event in events:
        if event.known:
            continue
        entry = counts.setdefault(
            event.type_name, {"type": event.type_name, "seen": 0, "last_position": 0}
        )
        entry["seen"] += 1
        entry["last_position"] = max(entry["last_position"], event.position)


def write(conn: Connection[Any], counts: dict[str, dict[str, Any]]) -> None:
    """Add `counts` to the stored ones, in key order (writers share these rows)."""
    rows = [counts[k] for k in sorted(counts)]
    write_records(conn, "rm_unknown_events", COLUMNS, rows, key=("type",), merge=MERGE)


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    counts: dict[str, dict[str, Any]] = {}
    count(counts, events)
    write(conn, counts)


PROJECTION = Projection("unknown_events", apply)

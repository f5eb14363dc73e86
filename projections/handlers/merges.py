"""rm_merges: which duplicate was merged into which survivor.

A merge records one event on each side (CustomerMerged on the duplicate, DuplicateMerged
on the survivor), on two partitions with no order between them. Either one creates the
link; each fills in its own position, which `applied_position` uses to tell when both
sides (and so the duplicate's whole history) are in the read models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Connection

from events import CustomerMerged, DuplicateMerged
from projections.bulk import write_records
from projections.handlers.base import Projection, as_uuid, of_kind
from projections.incoming import IncomingEvent

COLUMNS = (
    ("duplicate_id", "uuid"),
    ("survivor_id", "uuid"),
    ("merged_at", "timestamptz"),
    ("duplicate_position", "bigint"),
    ("survivor_position", "bigint"),
)
MERGE = {
    "merged_at": "least(rm_merges.merged_at, EXCLUDED.merged_at)",
    "duplicate_position": "coalesce(EXCLUDED.duplicate_position, rm_merges.duplicate_position)",
    "survivor_position": "coalesce(EXCLUDED.survivor_position, rm_merges.survivor_position)",
}


def link(event: IncomingEvent) -> dict[str, Any] | None:
    """The row one side of a merge fills in (None for a malformed event)."""
    if event.kind == CustomerMerged.TYPE:
        survivor = as_uuid(event.data.get("survivor_id"))
        if survivor is None:
            return None
        return {
            "duplicate_id": event.subject_id,
            "survivor_id": survivor,
            "merged_at": event.occurred_at,
            "duplicate_position": event.position,
        }
    duplicate = as_uuid(event.data.get("duplicate_id"))
    if duplicate is None:
        return None
    return {
        "duplicate_id": duplicate,
        "survivor_id": event.subject_id,
        "merged_at": event.occurred_at,
        "survivor_position": event.position,
    }


def collect(links: dict[UUID, dict[str, Any]], events: Sequence[IncomingEvent]) -> None:
    """Fold the merge events into `links` (duplicate id -> row), as `MERGE` would."""
    for event in of_kind(events, CustomerMerged.TYPE, DuplicateMerged.TYPE):
        found = link(event)
        if found is None:
            continue
        known = links.get(found["duplicate_id"])
        if known is not None:
            found = {**known, **found, "merged_at": min(known["merged_at"], found["merged_at"])}
        links[found["duplicate_id"]] = found


def write(conn: Connection[Any], links: dict[UUID, dict[str, Any]]) -> None:
    """Upsert the links in key order (two partitions' writers lock them in one order)."""
    rows = [links[k] for k in sorted(links)]
    write_records(conn, "rm_merges", COLUMNS, rows, key=("duplicate_id",), merge=MERGE)


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    links: dict[UUID, dict[str, Any]] = {}
    collect(links, events)
    write(conn, links)


PROJECTION = Projection("merges", apply)

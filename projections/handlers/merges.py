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


def _link(event: IncomingEvent) -> dict[str, Any] | None:
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


def apply(conn: Connection[Any], events: Sequence[IncomingEvent]) -> None:
    links: dict[UUID, dict[str, Any]] = {}
    for event in of_kind(events, CustomerMerged.TYPE, DuplicateMerged.TYPE):
        link = _link(event)
        if link is None:
            continue
        known = links.get(link["duplicate_id"])
        if known is not None:
            link = {**known, **link, "merged_at": min(known["merged_at"], link["merged_at"])}
        links[link["duplicate_id"]] = link
    write_records(
        conn, "rm_merges", COLUMNS, list(links.values()), key=("duplicate_id",), merge=MERGE
    )


PROJECTION = Projection("merges", apply)

"""How far each projection got, as one row per projection (`rm_applied_marks`).

The checkpoints (rm_applied) are one row per customer and projection: their
`max(position)` is a scan of 11 rows a customer, ~100 ms at 100,000 customers and ~1 s
at a million. Each projections worker's heartbeat (every second, `streams.sink`) raises
its projections' marks to the highest position it applied, and `/metrics` and the
heartbeat's lag read these few rows instead.

A mark is made when a process starts and the projection has none (the first start, or
after `reset_projection`), from that projection's checkpoints, and then only raised:
`reset_projection` deletes the projection's mark with its checkpoints, so a live worker
cannot claim a projection that was emptied under it; `drop_all` drops them all.
Readers fall back to the checkpoints for a projection without a mark (then an index
range over its own rows only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from psycopg import Connection

SEED: Final = """
INSERT INTO rm_applied_marks (projection, position)
SELECT p.name, coalesce((SELECT max(a.position) FROM rm_applied AS a
                         WHERE a.projection = p.name), 0)
FROM unnest(%(projections)s::text[]) AS p(name)
WHERE NOT EXISTS (SELECT 1 FROM rm_applied_marks AS m WHERE m.projection = p.name)
ON CONFLICT (projection) DO NOTHING"""
"""Marks for the projections without one, from their checkpoints: ~60 ms a projection at
100,000 customers, so only where none is (a first start, or after `reset_projection`);
a restart reads none."""

RAISE: Final = """
WITH raised AS (
    UPDATE rm_applied_marks SET position = %(mine)s
    WHERE projection = ANY(%(projections)s::text[]) AND position < %(mine)s
    RETURNING position)
SELECT greatest(%(mine)s::bigint, (SELECT max(position) FROM rm_applied_marks
                           WHERE projection = ANY(%(projections)s::text[])))"""
"""Raise the marks to `mine`, then read the furthest (one statement; rows are written
only when they move)."""


def seed_marks(conn: Connection[Any], projections: Sequence[str]) -> None:
    """Mark each of `projections` that has no mark at its checkpoints' highest position
    (a process's start)."""
    conn.execute(SEED, {"projections": list(projections)})


def raise_marks(conn: Connection[Any], projections: Sequence[str], mine: int) -> int:
    """Raise the marks of `projections` to `mine`; the furthest of them after that."""
    row = conn.execute(RAISE, {"projections": list(projections), "mine": mine}).fetchone()
    return int(row[0]) if row and row[0] is not None else mine


def projection_positions(conn: Connection[Any], projections: Sequence[str]) -> dict[str, int]:
    """How far each of `projections` got: its mark, else its checkpoints' highest; one
    without either (never applied) is left out."""
    found = {
        str(name): int(position)
        for name, position in conn.execute("SELECT projection, position FROM rm_applied_marks")
        if name in projections
    }
    unmarked = [p for p in projections if p not in found]
    if unmarked:
        rows = conn.execute(
            "SELECT projection, max(position) FROM rm_applied"
            " WHERE projection = ANY(%s::text[]) GROUP BY projection",
            [unmarked],
        )
        found.update((str(name), int(position)) for name, position in rows)
    return found

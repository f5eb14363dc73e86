"""How far each projection got, per customer: the at-most-once guarantee.

Kafka delivers one customer's events in position order but may deliver any of them
again (at-least-once, and again after a crash mid-batch). So each projection keeps, per
subject, the highest position it applied, in the same transaction as its writes, and
skips anything at or below it. Rows are locked in a fixed order (subject, projection):
a second consumer of the same partition during a rebalance waits, then sees the new
checkpoint and skips, and two batches cannot deadlock on each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from psycopg import Connection

Checkpoints = dict[tuple[str, UUID], int]
"""(projection, subject id) -> highest applied position; 0 when nothing was applied."""


def lock_checkpoints(
    conn: Connection[Any], projections: Iterable[str], subjects: Iterable[UUID]
) -> Checkpoints:
    """Lock (creating at 0 where missing) and read the checkpoints of a batch's subjects."""
    names = sorted(set(projections))
    ids = sorted(set(subjects))
    if not names or not ids:
        return {}
    pairs = {"projections": names, "subjects": ids}
    conn.execute(
        """
        INSERT INTO rm_applied (projection, subject_id, position)
        SELECT p.name, s.id, 0
        FROM unnest(%(subjects)b::uuid[]) AS s(id)
        CROSS JOIN unnest(%(projections)b::text[]) AS p(name)
        ORDER BY s.id, p.name
        ON CONFLICT (projection, subject_id) DO NOTHING
        """,
        pairs,
    )
    rows = conn.execute(
        """
        SELECT projection, subject_id, position FROM rm_applied
        WHERE subject_id = ANY(%(subjects)b::uuid[]) AND projection = ANY(%(projections)b::text[])
        ORDER BY subject_id, projection
        FOR UPDATE
        """,
        pairs,
    ).fetchall()
    return {(name, subject): int(position) for name, subject, position in rows}


def advance_checkpoints(conn: Connection[Any], reached: Mapping[tuple[str, UUID], int]) -> None:
    """Raise checkpoints to the positions just applied (never lowers one)."""
    if not reached:
        return
    keys = sorted(reached, key=lambda k: (k[1], k[0]))
    conn.execute(
        """
        UPDATE rm_applied AS a SET position = v.position
        FROM unnest(%b::text[], %b::uuid[], %b::bigint[]) AS v(projection, subject_id, position)
        WHERE a.projection = v.projection AND a.subject_id = v.subject_id
          AND a.position < v.position
        """,
        [[k[0] for k in keys], [k[1] for k in keys], [reached[k] for k in keys]],
    )

"""How far the read models have got for one customer's profile: read-your-writes.

A mutation returns the global position of its last event; a query passing it back
waits until `applied_position` of that customer is at least that. Definition:

    applied_position(c) = the largest P such that every event that can change the
    profile answering for c (c resolved through merges to its survivor S) and has a
    position <= P is applied by every projection.

Per customer, each projection's checkpoint is the last position it applied for that
customer (events of one customer arrive in order), so the customer's own part is the
minimum checkpoint over all projections. A profile also depends on its merged
duplicates: a duplicate whose own CustomerMerged event is applied everywhere is closed
and adds no bound; otherwise its checkpoint bounds the result. A merge writes its two
events in one transaction (adjacent positions), so once the survivor has applied its
DuplicateMerged and the duplicate side is known too, the survivor's part is raised to
the later of the two: asking with the merge's position then resolves on both sides.
An id never seen gives 0.
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

from psycopg import Connection

from projections.handlers import PROJECTION_NAMES
from projections.membership import MAX_DEPTH

APPLIED_POSITION_SQL: Final = """
WITH RECURSIVE up AS (
    SELECT %(id)s::uuid AS id, 0 AS depth
    UNION ALL
    SELECT m.survivor_id, up.depth + 1
    FROM up JOIN rm_merges AS m ON m.duplicate_id = up.id
    WHERE up.depth < %(depth)s
),
root AS (SELECT id FROM up ORDER BY depth DESC LIMIT 1),
walk AS (
    SELECT id AS member_id, 0 AS depth FROM root
    UNION ALL
    SELECT m.duplicate_id, w.depth + 1
    FROM walk AS w JOIN rm_merges AS m ON m.survivor_id = w.member_id
    WHERE w.depth < %(depth)s
),
checkpoint AS (
    SELECT mb.member_id, min(coalesce(a.position, 0)) AS position
    FROM (SELECT DISTINCT member_id FROM walk) AS mb
    CROSS JOIN unnest(%(projections)s::text[]) AS p(name)
    LEFT JOIN rm_applied AS a ON a.projection = p.name AND a.subject_id = mb.member_id
    GROUP BY mb.member_id
),
bound AS (
    SELECT CASE
        WHEN EXISTS (
            SELECT 1 FROM rm_merges AS m
            WHERE m.duplicate_id = c.member_id AND m.duplicate_position <= c.position
        ) THEN NULL
        ELSE greatest(c.position, (
            SELECT max(greatest(m.duplicate_position, m.survivor_position))
            FROM rm_merges AS m
            WHERE m.survivor_id = c.member_id AND m.survivor_position <= c.position
              AND m.duplicate_position IS NOT NULL
        ))
    END AS position
    FROM checkpoint AS c
)
SELECT coalesce(min(position), 0) FROM bound
"""


def applied_position(conn: Connection[Any], customer_id: UUID | str) -> int:
    """See the module docstring; 0 for an id the read models have never seen."""
    params = {
        "id": UUID(str(customer_id)),
        "depth": MAX_DEPTH,
        "projections": list(PROJECTION_NAMES),
    }
    row = conn.execute(APPLIED_POSITION_SQL, params).fetchone()
    return int(row[0]) if row else 0

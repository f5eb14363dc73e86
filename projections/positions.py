"""How far the read models have got for one customer's profile: read-your-writes.

A mutation returns the global position of its last event; a query passing it back
(`atLeast`) waits until the read models include that position for the profile it
reads. Definition:

    the read models include P for c  <=>  every event that can change the profile
    answering for c (c resolved through merges to its survivor S, and every customer
    merged into S: the merge tree) and has a position <= P is applied by every
    projection.

P may belong to any customer's event: a client passes the latest position it holds
(it wrote to A, then to B, and reads A with B's position). So P is settled by two
facts together, both read through indexes (`includes_position`):

- the read models' side: per member of the tree, each projection's checkpoint in
  rm_applied is the last position it applied for that customer (one customer's events
  arrive in order), so the member's part is the lowest checkpoint over projections;
- the event store's side: the member's last event at or below P, over its own stream
  and its complaints' streams (``crm_stream_subjects``). The member is settled when
  its checkpoint reaches that event, or when it has no event at or below P at all.

Positions commit in order (the recorder inserts under a table lock), so once the
store's newest position is at least P, no event at or below P can still appear; a P
beyond it is never settled by the store and is waited for. The tree is the one the
read models know: a merge at or below P is itself an event of its duplicate and its
survivor, so waiting for their events reveals the link, and the other side then joins.

`applied_position` is the cheap lower bound from the checkpoints alone (no store): when
it already reaches P nothing else is read. Walks stop at `MAX_DEPTH` links.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from psycopg import Connection

from projections.handlers import PROJECTION_NAMES
from projections.membership import MAX_DEPTH

STORE_EVENTS: Final = "stored_events"
STREAM_SUBJECTS: Final = "crm_stream_subjects"
"""The event store's tables (named here, not imported: projections do not import
commands); the store and the read models share one database."""

TREE_CTES: Final = """
up AS (
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
)"""
"""``checkpoint(member_id, position)``: each member of the tree and its lowest checkpoint."""

APPLIED_POSITION_SQL: Final = (
    "WITH RECURSIVE"
    + TREE_CTES
    + """,
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
)
"""A lower bound from checkpoints alone: a duplicate whose own CustomerMerged is applied
is closed and adds no bound; a survivor that applied both sides of a merge (adjacent
positions, one transaction) is raised to the later of the two."""

LAGGING_SQL: Final = (
    "WITH RECURSIVE"
    + TREE_CTES
    + f""",
behind AS (SELECT member_id, position FROM checkpoint WHERE position < %(at)s),
streams AS (
    SELECT member_id, member_id AS stream_id FROM behind
    UNION ALL
    SELECT b.member_id, s.stream_id
    FROM behind AS b JOIN {STREAM_SUBJECTS} AS s
      ON s.customer_id = b.member_id AND s.first_position <= %(at)s
),
due AS (
    SELECT st.member_id, max(last.position) AS position
    FROM streams AS st CROSS JOIN LATERAL (
        SELECT e.notification_id AS position FROM {STORE_EVENTS} AS e
        WHERE e.originator_id = st.stream_id AND e.notification_id <= %(at)s
        ORDER BY e.originator_version DESC LIMIT 1
    ) AS last
    GROUP BY st.member_id
)
SELECT
    (SELECT coalesce(max(notification_id), 0) FROM {STORE_EVENTS}) AS head,
    (SELECT min(b.position) FROM behind AS b JOIN due AS d USING (member_id)
     WHERE d.position > b.position) AS lagging
"""
)
"""Members whose checkpoint is below P, their last store event at or below P (walked
down from the newest version of each stream, so only events after P are passed over),
and the lowest checkpoint among those that have not applied it (NULL: none lag)."""


@dataclass(frozen=True)
class Inclusion:
    """Whether the read models include a position for a profile, and how far they got.

    `applied` is a position every event of the tree at or below which is applied:
    the asked position itself when included, else a lower bound (for error messages).
    """

    included: bool
    applied: int


def _params(customer_id: UUID | str) -> dict[str, Any]:
    return {
        "id": UUID(str(customer_id)),
        "depth": MAX_DEPTH,
        "projections": list(PROJECTION_NAMES),
    }


def applied_position(conn: Connection[Any], customer_id: UUID | str) -> int:
    """The checkpoints' lower bound (see the module docstring); 0 for an unknown id."""
    row = conn.execute(APPLIED_POSITION_SQL, _params(customer_id)).fetchone()
    return int(row[0]) if row else 0


def includes_position(conn: Connection[Any], customer_id: UUID | str, position: int) -> Inclusion:
    """Do the read models include `position` for the profile answering for the customer?

    One query when the checkpoints already reach it, two otherwise (both indexed: the
    merge tree, rm_applied's key, the stream-subject index and the store's key).
    """
    bound = applied_position(conn, customer_id)
    if bound >= position:
        return Inclusion(True, bound)
    params = {**_params(customer_id), "at": position}
    row = conn.execute(LAGGING_SQL, params).fetchone()
    head, lagging = (int(row[0]), row[1]) if row else (0, None)
    if lagging is not None:
        return Inclusion(False, max(bound, int(lagging)))
    if head >= position:
        return Inclusion(True, position)
    return Inclusion(False, max(bound, head))  # nothing lags, but P is not recorded yet

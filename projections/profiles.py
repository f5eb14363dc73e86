"""Build `CustomerView`s for resolved profile ids in three set-based queries.

Used by `get_customers` (DataLoader batches) and by list pages, so a page of fifty
customers costs the same three round trips as one customer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row

from events.vocabulary import CHANNELS
from projections.derived import Thresholds, facts_ctes, lifecycle_sql, tier_sql
from projections.membership import GIVEN_ROOTS, tree_ctes
from projections.views import (
    ChannelCount,
    Consent,
    CustomerView,
    Need,
    PurchaseSummary,
    StageChange,
    SurveyAnswer,
    TouchSummary,
)


def _profile_sql(now: datetime, thresholds: Thresholds) -> sql.Composed:
    return sql.SQL(
        """WITH RECURSIVE {tree}, {facts},
summary AS (
    SELECT t.root_id, count(p.position) AS purchase_count, coalesce(sum(p.total_cny), 0) AS total,
        min(p.occurred_at) AS first_at, max(p.occurred_at) AS last_at
    FROM tree AS t LEFT JOIN rm_purchases AS p ON p.customer_id = t.member_id
    GROUP BY t.root_id
),
members AS (
    SELECT root_id,
        coalesce(array_agg(member_id ORDER BY member_id) FILTER (WHERE member_id <> root_id),
            '{{}}') AS merged_ids
    FROM tree GROUP BY root_id
)
SELECT c.*, {lifecycle} AS lifecycle_stage, {tier} AS tier,
    s.purchase_count, s.total AS purchase_total, s.first_at AS first_purchase_at,
    s.last_at AS last_purchase_at, mb.merged_ids
FROM rm_customers AS c
JOIN facts AS f ON f.root_id = c.id
JOIN summary AS s ON s.root_id = c.id
JOIN members AS mb ON mb.root_id = c.id"""
    ).format(
        tree=tree_ctes(GIVEN_ROOTS),
        facts=facts_ctes(now, thresholds),
        lifecycle=lifecycle_sql(now, thresholds),
        tier=tier_sql(thresholds),
    )


TOUCHES_SQL = sql.SQL(
    """WITH RECURSIVE {tree}
SELECT t.root_id, k.channel, count(*) AS n, max(k.occurred_at) AS last_at
FROM tree AS t JOIN rm_touches AS k ON k.customer_id = t.member_id
GROUP BY t.root_id, k.channel"""
).format(tree=tree_ctes(GIVEN_ROOTS))


def _channel_order(channel: str) -> tuple[int, str]:
    return (CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS), channel)


def _touch_summaries(conn: Connection[Any], roots: Sequence[UUID]) -> dict[UUID, TouchSummary]:
    grouped: dict[UUID, list[tuple[str, int, datetime]]] = {}
    for root, channel, n, last_at in conn.execute(TOUCHES_SQL, {"roots": list(roots)}):
        grouped.setdefault(root, []).append((channel, n, last_at))
    return {
        root: TouchSummary(
            count=sum(n for _, n, _ in rows),
            last_at=max(last for _, _, last in rows),
            by_channel=tuple(
                ChannelCount(channel, n)
                for channel, n, _ in sorted(rows, key=lambda r: _channel_order(r[0]))
            ),
        )
        for root, rows in grouped.items()
    }


def _at(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _view(row: Mapping[str, Any], touches: TouchSummary | None) -> CustomerView:
    return CustomerView(
        id=row["id"],
        version=row["version"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        address=row["address"],
        company=row["company"],
        industry=row["industry"],
        region=row["region"],
        source=row["source"],
        owner=row["owner"],
        referred_by=row["referred_by"],
        referrals=tuple(UUID(str(r["customer_id"])) for r in row["referrals"]),
        tags=tuple(row["tags"]),
        stage=row["stage"],
        lifecycle_stage=row["lifecycle_stage"],
        tier=row["tier"],
        purchases=PurchaseSummary(
            count=row["purchase_count"],
            total=Decimal(row["purchase_total"]),
            first_at=row["first_purchase_at"],
            last_at=row["last_purchase_at"],
        ),
        touches=touches or TouchSummary(count=0, last_at=None, by_channel=()),
        consents=tuple(
            Consent(c["purpose"], c.get("channel"), bool(c["granted"]), _at(c["at"]))
            for c in row["consents"]
        ),
        needs=tuple(
            Need(str(n["need_id"]), n.get("description"), n.get("product_interest"), _at(n["at"]))
            for n in row["needs"]
        ),
        stage_history=tuple(
            StageChange(s["stage"], s.get("from"), _at(s["at"]), s.get("reason"))
            for s in row["stage_history"]
        ),
        surveys=tuple(
            SurveyAnswer(str(s["survey_id"]), int(s["score"]), s.get("comment"), _at(s["at"]))
            for s in row["surveys"]
        ),
        merged_into=row["merged_into"],
        merged_ids=tuple(row["merged_ids"]),
        forgotten=row["forgotten"],
        forgotten_at=row["forgotten_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_position=row["last_position"],
    )


def views_of_roots(
    conn: Connection[Any], roots: Sequence[UUID], now: datetime, thresholds: Thresholds
) -> dict[UUID, CustomerView]:
    """The views of these profile ids (already resolved through merges)."""
    wanted = sorted(set(roots))
    if not wanted:
        return {}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_profile_sql(now, thresholds), {"roots": wanted})
        rows = cur.fetchall()
    touches = _touch_summaries(conn, wanted)
    return {row["id"]: _view(row, touches.get(row["id"])) for row in rows}

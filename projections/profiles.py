"""Build `CustomerView`s for resolved profile ids: one lookup of rm_customers rows.

Lifecycle stage, tier and the purchase and touch summaries (over the merge tree) are
columns the projections wrote (`projections.materialize`); nothing is derived here.
Used by `get_customers` (DataLoader batches); list pages join the same columns to their
keyset page (`projections.keyset`) and build views with `view_of_row`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row

from projections.by_ids import by_ids
from projections.views import (
    ChannelCount,
    Consent,
    CustomerView,
    Need,
    PurchaseSummary,
    SurveyAnswer,
    TouchSummary,
)

PROFILE_COLUMNS: Final = (
    "id", "version", "name", "email", "phone", "address", "company", "industry", "region",
    "source", "owner", "referred_by", "tags", "stage", "lifecycle_stage", "lifecycle_reason",
    "tier", "tier_reason", "purchase_count", "purchase_total", "first_purchase_at",
    "last_purchase_at", "touch_count", "last_touch_at", "touches_by_channel", "consents",
    "needs", "surveys", "merged_into", "merged_ids", "forgotten", "forgotten_at",
    "created_at", "updated_at", "last_position", "custom_fields", "custom_texts",
)  # fmt: skip
"""The rm_customers columns a view is made of (`view_of_row`): not the search keys, the
stage history or the referrals, which no reader serves."""

PROFILES: Final = by_ids(
    "roots",
    lambda ids: sql.SQL("SELECT {} FROM rm_customers WHERE id = ANY({})").format(
        sql.SQL(", ").join(map(sql.Identifier, PROFILE_COLUMNS)), ids
    ),
)


def _touches(row: Mapping[str, Any]) -> TouchSummary:
    return TouchSummary(
        count=row["touch_count"],
        last_at=row["last_touch_at"],
        by_channel=tuple(
            ChannelCount(c["channel"], int(c["count"])) for c in row["touches_by_channel"]
        ),
    )


def _at(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def view_of_row(row: Mapping[str, Any]) -> CustomerView:
    """The view of one rm_customers row (a dict with the `PROFILE_COLUMNS`)."""
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
        touches=_touches(row),
        consents=tuple(
            Consent(c["purpose"], c.get("channel"), bool(c["granted"]), _at(c["at"]))
            for c in row["consents"]
        ),
        needs=tuple(
            Need(str(n["need_id"]), n.get("description"), n.get("product_interest"), _at(n["at"]))
            for n in row["needs"]
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
        lifecycle_reason=row["lifecycle_reason"] or "",
        tier_reason=row["tier_reason"] or "",
        custom_values={**(row["custom_fields"] or {}), **(row["custom_texts"] or {})},
    )


def views_of_roots(conn: Connection[Any], roots: Sequence[UUID]) -> dict[UUID, CustomerView]:
    """The views of these profile ids (already resolved through merges): one lookup."""
    wanted = sorted(set(roots))
    if not wanted:
        return {}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(*PROFILES.bind(wanted))
        rows = cur.fetchall()
    return {row["id"]: view_of_row(row) for row in rows}

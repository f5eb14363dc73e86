"""Lifecycle stage and tier: the one definition of RULES.md's tables and thresholds.

The projections apply the Python functions and store the answers
(`projections.derivation`, `projections.materialize`); reads look them up. Where SQL
must state the rule (as-of questions: the analytics macros ``customers_at(ts)``, the
benchmarks), `lifecycle_case` and `tier_case` generate it from the same `Thresholds`,
for PostgreSQL and DuckDB alike; `tests/integration/test_analytics.py` holds the SQL
and the stored answers together.

Semantics of time (exact durations, not calendar days): a last purchase is "more than
90 days ago" when ``now - last > 90 days``; a purchase is "in the last 365 days" when
``now - 365 days <= occurred_at <= now``. Facts dated after `now` are ignored, so asking
with a past `now` gives the stage as of then, except the pipeline stage, which is the
current one. A complaint is open at `now` when filed by then and not resolved by then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from psycopg import sql

from events.vocabulary import OPPORTUNITY_STAGES, PIPELINE_PATH, WON


@dataclass(frozen=True)
class Thresholds:
    """The RULES.md defaults; a deployment may tune them (they are configuration)."""

    at_risk_after: timedelta = timedelta(days=90)
    churned_after: timedelta = timedelta(days=180)
    loyal_window: timedelta = timedelta(days=365)
    loyal_purchases: int = 5
    repeat_purchases: int = 2
    severe_severities: tuple[str, ...] = ("HIGH", "CRITICAL")
    customer_stage: str = WON
    opportunity_stages: tuple[str, ...] = OPPORTUNITY_STAGES
    tier_window: timedelta = timedelta(days=365)
    vip_total: Decimal = Decimal("100000")
    vip_frequent_purchases: int = 12
    vip_frequent_total: Decimal = Decimal("50000")
    gold_total: Decimal = Decimal("20000")
    silver_total: Decimal = Decimal("2000")

    def __post_init__(self) -> None:
        unknown = set(self.opportunity_stages) - set(PIPELINE_PATH)
        if unknown:
            raise ValueError(f"not pipeline stages: {sorted(unknown)}")


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class PurchaseFact:
    occurred_at: datetime
    total_cny: Decimal


@dataclass(frozen=True)
class ComplaintFact:
    severity: str
    filed_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class CustomerFacts:
    """Everything lifecycle and tier depend on, as of one `now` (the SQL `facts` columns)."""

    stage: str
    purchase_count: int
    last_purchase_at: datetime | None
    loyal_window_purchases: int
    tier_window_purchases: int
    tier_window_total: Decimal
    has_severe_open_complaint: bool


def facts_as_of(
    *,
    stage: str,
    purchases: Iterable[PurchaseFact],
    complaints: Iterable[ComplaintFact] = (),
    now: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> CustomerFacts:
    """Summarise one customer's (and its merged duplicates') facts as of `now`."""
    past = [p for p in purchases if p.occurred_at <= now]
    loyal = [p for p in past if p.occurred_at >= now - thresholds.loyal_window]
    tiered = [p for p in past if p.occurred_at >= now - thresholds.tier_window]
    severe = any(
        c.severity in thresholds.severe_severities
        and c.filed_at <= now
        and (c.resolved_at is None or c.resolved_at > now)
        for c in complaints
    )
    return CustomerFacts(
        stage=stage,
        purchase_count=len(past),
        last_purchase_at=max((p.occurred_at for p in past), default=None),
        loyal_window_purchases=len(loyal),
        tier_window_purchases=len(tiered),
        tier_window_total=sum((p.total_cny for p in tiered), Decimal(0)),
        has_severe_open_complaint=severe,
    )


def lifecycle_with_reason(
    facts: CustomerFacts, now: datetime, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> tuple[str, str]:
    """RULES.md "Lifecycle stage" and the row of its table that decided it (for events)."""
    t = thresholds
    is_customer = facts.purchase_count > 0 or facts.stage == t.customer_stage
    last = facts.last_purchase_at
    if is_customer and last is not None and now - last > t.churned_after:
        return "CHURNED", f"last purchase more than {t.churned_after.days} days ago"
    if is_customer and last is not None and now - last > t.at_risk_after:
        return "AT_RISK", f"last purchase more than {t.at_risk_after.days} days ago"
    if is_customer and facts.has_severe_open_complaint:
        return "AT_RISK", f"open complaint of severity {' or '.join(t.severe_severities)}"
    if facts.loyal_window_purchases >= t.loyal_purchases:
        return "LOYAL", (
            f"at least {t.loyal_purchases} purchases in the last {t.loyal_window.days} days"
        )
    if facts.purchase_count >= t.repeat_purchases:
        return "REPEAT_CUSTOMER", f"at least {t.repeat_purchases} purchases"
    if is_customer:
        return "NEW_CUSTOMER", f"a purchase or stage {t.customer_stage}"
    if facts.stage in t.opportunity_stages:
        return "OPPORTUNITY", f"pipeline stage {facts.stage}"
    return "PROSPECT", f"pipeline stage {facts.stage} without purchases"


def lifecycle_stage(
    facts: CustomerFacts, now: datetime, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> str:
    """RULES.md "Lifecycle stage": checked top to bottom, the first that holds wins."""
    return lifecycle_with_reason(facts, now, thresholds)[0]


def tier_reason(facts: CustomerFacts, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """The facts `tier` decided on, in words (for the scheduler's `TierChanged`)."""
    return (
        f"{facts.tier_window_purchases} purchases totalling {facts.tier_window_total} CNY"
        f" in the last {thresholds.tier_window.days} days"
    )


def tier(facts: CustomerFacts, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """RULES.md "Tier": from the purchases of the tier window, in CNY; first match wins."""
    t = thresholds
    total = facts.tier_window_total
    if total >= t.vip_total or (
        facts.tier_window_purchases >= t.vip_frequent_purchases and total >= t.vip_frequent_total
    ):
        return "VIP"
    if total >= t.gold_total:
        return "GOLD"
    if total >= t.silver_total:
        return "SILVER"
    return "BRONZE"


# --- the same rules in SQL -------------------------------------------------------------


def interval(duration: timedelta) -> sql.Composed:
    """An exact interval: microseconds, so no calendar or DST arithmetic sneaks in."""
    micros = duration // timedelta(microseconds=1)
    return sql.SQL("{}::interval").format(sql.Literal(f"{micros} microseconds"))


def _text_array(values: Iterable[str]) -> sql.Composed:
    return sql.SQL("{}::text[]").format(sql.Literal(list(values)))


def facts_ctes(now: datetime, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> sql.Composed:
    """CTEs ending in ``facts`` (one row per root, the `CustomerFacts` columns plus
    ``root_id``), computed over a preceding CTE ``tree(root_id, member_id)`` that lists
    each profile's own id and its merged duplicates' ids."""
    t = thresholds
    return sql.SQL(
        """
purchase_facts AS (
    SELECT t.root_id,
        count(p.position) AS purchase_count,
        max(p.occurred_at) AS last_purchase_at,
        count(p.position) FILTER (WHERE p.occurred_at >= {now} - {loyal}) AS loyal_window_purchases,
        count(p.position) FILTER (WHERE p.occurred_at >= {now} - {tier}) AS tier_window_purchases,
        coalesce(sum(p.total_cny) FILTER (WHERE p.occurred_at >= {now} - {tier}), 0)
            AS tier_window_total
    FROM tree AS t
    LEFT JOIN rm_purchases AS p ON p.customer_id = t.member_id AND p.occurred_at <= {now}
    GROUP BY t.root_id
),
complaint_facts AS (
    SELECT DISTINCT t.root_id
    FROM tree AS t JOIN rm_complaints AS k ON k.customer_id = t.member_id
    WHERE k.severity = ANY({severe}) AND k.filed_at <= {now}
      AND (k.resolved_at IS NULL OR k.resolved_at > {now})
),
facts AS (
    SELECT pf.*, c.stage, (cf.root_id IS NOT NULL) AS has_severe_open_complaint
    FROM purchase_facts AS pf
    JOIN rm_customers AS c ON c.id = pf.root_id
    LEFT JOIN complaint_facts AS cf ON cf.root_id = pf.root_id
)"""
    ).format(
        now=sql.Literal(now),
        loyal=interval(t.loyal_window),
        tier=interval(t.tier_window),
        severe=_text_array(t.severe_severities),
    )


def _quoted(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(_quoted(v) for v in values) + ")"


def interval_text(duration: timedelta) -> str:
    """`interval` as plain SQL text that PostgreSQL and DuckDB both read."""
    return f"'{duration // timedelta(microseconds=1)} microseconds'::INTERVAL"


def lifecycle_case(now: str, facts: str = "f", thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """`lifecycle_stage` as one SQL CASE, for PostgreSQL and DuckDB alike.

    `now` is an SQL expression (a literal, or DuckDB's macro parameter ``ts``); the
    columns are those of `CustomerFacts` on the relation aliased `facts`. The one
    generator of the rule in SQL: the analytics catalog uses it too.
    """
    t, f = thresholds, facts
    customer = f"({f}.purchase_count > 0 OR {f}.stage = {_quoted(t.customer_stage)})"
    return f"""CASE
    WHEN {customer} AND {f}.last_purchase_at < {now} - {interval_text(t.churned_after)}
        THEN 'CHURNED'
    WHEN {customer} AND ({f}.last_purchase_at < {now} - {interval_text(t.at_risk_after)}
        OR {f}.has_severe_open_complaint) THEN 'AT_RISK'
    WHEN {f}.loyal_window_purchases >= {t.loyal_purchases} THEN 'LOYAL'
    WHEN {f}.purchase_count >= {t.repeat_purchases} THEN 'REPEAT_CUSTOMER'
    WHEN {customer} THEN 'NEW_CUSTOMER'
    WHEN {f}.stage IN {_in_list(t.opportunity_stages)} THEN 'OPPORTUNITY'
    ELSE 'PROSPECT'
END"""


def tier_case(facts: str = "f", thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """`tier` as one SQL CASE over the `CustomerFacts` columns (PostgreSQL and DuckDB)."""
    t, f = thresholds, facts
    return f"""CASE
    WHEN {f}.tier_window_total >= {t.vip_total}
        OR ({f}.tier_window_purchases >= {t.vip_frequent_purchases}
            AND {f}.tier_window_total >= {t.vip_frequent_total}) THEN 'VIP'
    WHEN {f}.tier_window_total >= {t.gold_total} THEN 'GOLD'
    WHEN {f}.tier_window_total >= {t.silver_total} THEN 'SILVER'
    ELSE 'BRONZE'
END"""


def lifecycle_sql(
    now: datetime, thresholds: Thresholds = DEFAULT_THRESHOLDS, facts: str = "f"
) -> sql.Composed:
    """`lifecycle_case` at a literal `now`, for as-of questions in PostgreSQL."""
    return sql.SQL(lifecycle_case("{now}", facts, thresholds)).format(now=sql.Literal(now))


def tier_sql(thresholds: Thresholds = DEFAULT_THRESHOLDS, facts: str = "f") -> sql.Composed:
    """`tier_case` for PostgreSQL."""
    return sql.SQL(tier_case(facts, thresholds)).format()

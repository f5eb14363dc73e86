"""The data under check, as pandas frames: read models, analytics views, reconciliations.

Money is compared to the cent (`CENT`): the event store keeps decimal strings, the
read models `numeric`, the analytics `DECIMAL(18,2)`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import pandas as pd
import psycopg

from ops.quality.store import StoreFacts
from projections import queries
from projections.derivation import derive
from projections.materialize import load_facts
from projections.schema import TOUCH_COUNTS_OF

CENT = Decimal("0.01")

READ_MODEL_SQL = {
    "rm_customers": "SELECT id, stage, forgotten, merged_into, version FROM rm_customers",
    "rm_live_customers": (
        "SELECT id FROM rm_customers WHERE NOT forgotten AND merged_into IS NULL"
    ),
    "rm_purchases": "SELECT position, customer_id, currency, total, total_cny FROM rm_purchases",
    "rm_complaints": "SELECT id, customer_id, severity, status, satisfaction FROM rm_complaints",
    "rm_funnel": "SELECT customer_id, furthest_rank, furthest_stage FROM rm_funnel",
}

ANALYTICS_SQL = {
    "customers": (
        "SELECT customer_id, stage, lifecycle_stage, tier, purchase_count, purchase_total,"
        " open_complaints FROM customers"
    ),
    "events": "SELECT position, type, customer_id, occurred_at FROM events",
    "purchases": (
        "SELECT position, line_no, customer_id, quantity, amount_cny, order_total_cny"
        " FROM purchases"
    ),
    "funnel": "SELECT rank, stage, reached, conversion FROM funnel ORDER BY rank",
    "rfm": "SELECT customer_id, r_score, f_score, m_score FROM rfm",
    "cohorts": "SELECT cohort_month, months_since, retention, revenue FROM cohorts",
}

ANALYTICS_TOTALS_SQL = """SELECT customer_id, sum(order_total_cny) AS total
FROM purchases WHERE line_no = 1 GROUP BY 1"""


TOUCH_COUNTS_SQL = f"""SELECT coalesce(s.customer_id, r.customer_id)::text AS customer_id,
    coalesce(s.channel, r.channel) AS channel,
    coalesce(s.touches, 0)::text AS stored_touches,
    coalesce(r.touches, 0)::text AS counted_touches,
    coalesce(s.last_at::text, '') AS stored_last_at,
    coalesce(r.last_at::text, '') AS counted_last_at
FROM rm_touch_counts AS s
FULL JOIN ({TOUCH_COUNTS_OF.format(rows="rm_touches")}) AS r
  ON r.customer_id = s.customer_id AND r.channel = s.channel
ORDER BY 1, 2"""
"""The touch counters beside a count of the touch rows they stand for (a counter or a
group missing on one side shows 0 and an empty moment there)."""


def _cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def _frame(cursor: Any) -> pd.DataFrame:
    columns = [d[0] for d in cursor.description or ()]
    return pd.DataFrame.from_records(cursor.fetchall(), columns=columns)


def read_model_frames(conn: psycopg.Connection[Any]) -> dict[str, pd.DataFrame]:
    frames = {name: _frame(conn.execute(query)) for name, query in READ_MODEL_SQL.items()}
    steps = queries.funnel(conn)
    frames["rm_funnel_steps"] = pd.DataFrame(
        {"stage": [s.stage for s in steps], "reached": [s.reached for s in steps]}
    )
    return frames


def touch_counts_frame(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    return _frame(conn.execute(TOUCH_COUNTS_SQL))


def analytics_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    return {f"analytics_{name}": _frame(con.execute(q)) for name, q in ANALYTICS_SQL.items()}


def purchase_totals_frame(
    facts: StoreFacts, conn: psycopg.Connection[Any], con: duckdb.DuckDBPyConnection
) -> pd.DataFrame:
    """One row per customer with purchases anywhere: the store's, read model's and
    analytics' totals side by side (a customer missing from one side shows 0 there)."""
    read_model = dict(
        conn.execute("SELECT customer_id, sum(total_cny) FROM rm_purchases GROUP BY 1").fetchall()
    )
    analytics = {str(k): v for k, v in con.execute(ANALYTICS_TOTALS_SQL).fetchall()}
    store = {str(k): v for k, v in facts.purchase_totals.items()}
    read = {str(k): v for k, v in read_model.items()}
    ids = sorted(set(store) | set(read) | set(analytics))
    return pd.DataFrame(
        {
            "customer_id": ids,
            "store_total": [str(_cents(store.get(i))) for i in ids],
            "read_model_total": [str(_cents(read.get(i))) for i in ids],
            "analytics_total": [str(_cents(analytics.get(i))) for i in ids],
        }
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def derived_state_frame(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    """Per customer, the stored lifecycle stage, tier and valid_until beside what the
    rules (`projections.derivation`, the one definition) give over its stored facts
    (merge tree included) at the moment the row was computed for."""
    ids = [row[0] for row in conn.execute("SELECT id FROM rm_customers ORDER BY id")]
    facts = load_facts(conn, ids)
    now = datetime.now(UTC)
    rows = []
    for cid in ids:
        f = facts[cid]
        rule = derive(f.stage, f.purchases, f.complaints, f.stored_as_of or now)
        rows.append(
            {
                "id": str(cid),
                "stored_lifecycle_stage": f.stored[0],
                "rule_lifecycle_stage": rule.lifecycle_stage,
                "stored_tier": f.stored[1],
                "rule_tier": rule.tier,
                "stored_valid_until": _text(f.valid_until),
                "rule_valid_until": _text(rule.valid_until),
            }
        )
    columns = [
        "id",
        "stored_lifecycle_stage",
        "rule_lifecycle_stage",
        "stored_tier",
        "rule_tier",
        "stored_valid_until",
        "rule_valid_until",
    ]
    return pd.DataFrame(rows, columns=columns)

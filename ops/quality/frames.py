"""The data under check, as pandas frames: read models, analytics views, reconciliations.

Money is compared to the cent (`CENT`): the event store keeps decimal strings, the
read models `numeric`, the analytics `DECIMAL(18,2)`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

import duckdb
import pandas as pd
import psycopg

from commands.chain import STREAM_SUBJECTS
from commands.recorder import STORED_EVENTS
from events import ORGANISATION_ID
from ops.quality.store import StoreFacts
from projections import queries
from projections.materialize import columns_of, compute, load_facts
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


CHECKED_COLUMNS: Final = (
    "lifecycle_stage",
    "tier",
    "valid_until",
    "purchase_count",
    "purchase_total",
    "touch_count",
    "open_complaints",
)
"""Materialized columns of rm_customers that `derived_state` checks against the facts."""


def _shown(name: str, value: Any) -> str:
    return str(_cents(value)) if name == "purchase_total" else _text(value)


def derived_state_frame(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    """Per customer, each of its stored `CHECKED_COLUMNS` beside what the materialization
    (`projections.materialize`, the rules' one definition) gives over its stored facts
    (merge tree included) at the moment the row was computed for: ``stored_<column>``
    and ``rule_<column>``."""
    listed = ", ".join(CHECKED_COLUMNS)
    stored = {
        row[0]: row[1:]
        for row in conn.execute(f"SELECT id, {listed} FROM rm_customers ORDER BY id")
    }
    rows = []
    for m in compute(load_facts(conn, list(stored)), None):
        rule = columns_of(m)
        row = {"id": str(m.id)}
        for name, value in zip(CHECKED_COLUMNS, stored[m.id], strict=True):
            row[f"stored_{name}"] = _shown(name, value)
            row[f"rule_{name}"] = _shown(name, rule[name])
        rows.append(row)
    columns = ["id", *(f"{k}_{n}" for n in CHECKED_COLUMNS for k in ("stored", "rule"))]
    return pd.DataFrame(rows, columns=columns)


def analytics_coverage_frame(
    conn: psycopg.Connection[Any], con: duckdb.DuckDBPyConnection
) -> pd.DataFrame:
    """One row per event the store holds, up to the newest one analytics has, that the
    analytics `events` lack (none when healthy): an event a worker parked and never
    wrote. Events past that position are lag, not loss, and are left out."""
    row = con.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
    newest = int(row[0]) if row else 0
    stored = {
        r[0]
        for r in conn.execute(
            f"SELECT notification_id FROM {STORED_EVENTS}"
            " WHERE originator_id <> %s AND notification_id <= %s",
            [ORGANISATION_ID, newest],
        )
    }
    have = {r[0] for r in con.execute("SELECT DISTINCT position FROM events").fetchall()}
    missing = sorted(stored - have)
    return pd.DataFrame({"position": missing, "in_analytics": [False] * len(missing)})


TIMELINE_GAPS_SQL = f"""
WITH newest AS (SELECT coalesce(max(position), 0) AS position FROM rm_timeline),
streams AS (
    SELECT id AS stream_id FROM rm_customers
    UNION SELECT stream_id FROM {STREAM_SUBJECTS}
)
SELECT e.notification_id AS position, e.originator_id::text AS stream_id
FROM {STORED_EVENTS} AS e
JOIN streams AS s ON s.stream_id = e.originator_id
CROSS JOIN newest
WHERE e.notification_id <= newest.position
  AND NOT EXISTS (SELECT 1 FROM rm_timeline AS t WHERE t.position = e.notification_id)
ORDER BY 1
"""
"""Events of a customer's streams (its own, its complaints', its tasks') up to the newest
one the timeline holds, that the timeline lacks: the 360° history missing a row. Events
past that position are lag, not loss, and are left out."""


def timeline_coverage_frame(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    """One row per event the timeline lacks (none when healthy)."""
    rows = conn.execute(TIMELINE_GAPS_SQL).fetchall()
    return pd.DataFrame(
        {
            "position": [r[0] for r in rows],
            "stream_id": [r[1] for r in rows],
            "in_timeline": [False] * len(rows),
        }
    )

"""The DuckDB catalog: views and table macros over the Parquet datasets, nothing else.

Analysts open it read-only while the worker writes: the views re-read the file globs on
every query, so one connection keeps seeing new events. The file is written to a temp
name and renamed over the old one, and only when its SQL changed (a reader holding the
old file keeps the old, still valid, definitions until it reconnects).

Lifecycle stage and tier are `projections.derived`'s rules as SQL generated from the
one definition (`lifecycle_case`, `tier_case`, the same generator the PostgreSQL side
uses), so a threshold changes in one place; time-dependent views take ``now()`` and
have a table macro twin taking the moment explicitly: ``customers_at(ts)``,
``rfm_at(ts)``, ``funnel_between(from_ts, to_ts, src)``.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from datetime import timedelta
from pathlib import Path

import duckdb

from events.vocabulary import PIPELINE_PATH
from projections.analytics.layout import COMPACT_NAME, EMPTY_PART, PART_PREFIX, AnalyticsLayout
from projections.analytics.schema import Dataset, datasets
from projections.analytics.sql import literal, literal_list, literal_tuple
from projections.business_time import DEFAULT_TIMEZONE
from projections.derived import DEFAULT_THRESHOLDS, Thresholds, lifecycle_case, tier_case
from projections.membership import MAX_DEPTH

VERSION_TABLE = "catalog_info"


def _interval(duration: timedelta) -> str:
    return f"INTERVAL {duration // timedelta(microseconds=1)} MICROSECONDS"


def dataset_view(layout: AnalyticsLayout, ds: Dataset) -> str:
    """Compact rows no part overrides, plus the parts deduplicated (newest per key)."""
    folder = layout.dataset(ds.name)
    # With the empty part, whose schema is always the current one, so a compact file
    # written before a column existed still reads (the column as NULL).
    compact = literal_list([folder / COMPACT_NAME, folder / EMPTY_PART])
    part_glob = literal(folder / f"{PART_PREFIX}*.parquet")
    key = ", ".join(ds.dedupe_key)
    order = "last_position DESC" if ds.snapshot else key
    columns = ", ".join(ds.schema.names)
    return f"""CREATE VIEW ds_{ds.name} AS
WITH parts AS (
    SELECT {columns} FROM read_parquet({part_glob}, union_by_name = true)
    QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order}) = 1
)
SELECT {columns} FROM read_parquet({compact}, union_by_name = true) AS c
WHERE NOT EXISTS (SELECT 1 FROM parts AS p WHERE {
        " AND ".join(f"p.{k} = c.{k}" for k in ds.dedupe_key)
    })
UNION ALL
SELECT {columns} FROM parts"""


def _moment(body: str) -> str:
    """A macro body with its moment `ts` read as TIMESTAMPTZ: `customers_at('2026-01-01')`
    means that day in the session's zone, as a time literal would (DuckDB refused the
    string with an operator error naming neither the macro nor `ts`)."""
    return re.sub(r"(?<!`)\bts\b(?!`)", "CAST(ts AS TIMESTAMPTZ)", body)


def _facts_macro(t: Thresholds) -> str:
    return "CREATE MACRO customers_at(ts) AS TABLE\n" + _moment(_facts_body(t))


def _facts_body(t: Thresholds) -> str:
    return f"""WITH RECURSIVE merged AS (
    SELECT * FROM merges WHERE merged_at <= ts  -- a merge after `ts` had not happened
),
roots AS (
    SELECT d.customer_id FROM customer_dim AS d
    WHERE NOT EXISTS (
        SELECT 1 FROM merged AS m JOIN customer_dim AS s ON s.customer_id = m.survivor_id
        WHERE m.duplicate_id = d.customer_id)
),
walk AS (
    -- Seeded from the merges only (few), not from every root (all of them).
    SELECT m.survivor_id AS root_id, m.duplicate_id AS member_id, 1 AS depth
    FROM merged AS m JOIN roots AS r ON r.customer_id = m.survivor_id
    UNION ALL
    SELECT w.root_id, m.duplicate_id, w.depth + 1
    FROM walk AS w JOIN merged AS m ON m.survivor_id = w.member_id
    WHERE w.depth < {MAX_DEPTH}
),
tree AS (
    SELECT customer_id AS root_id, customer_id AS member_id FROM roots
    UNION ALL
    SELECT DISTINCT root_id, member_id FROM walk
),
orders AS (
    SELECT customer_id, position, occurred_at, order_total_cny AS total_cny
    FROM purchases WHERE line_no = 1
),
purchase_facts AS (
    SELECT t.root_id,
        count(o.position) AS purchase_count,
        coalesce(sum(o.total_cny), 0) AS purchase_total,
        min(o.occurred_at) AS first_purchase_at,
        max(o.occurred_at) AS last_purchase_at,
        count(o.position) FILTER (WHERE o.occurred_at >= ts - {_interval(t.loyal_window)})
            AS loyal_window_purchases,
        count(o.position) FILTER (WHERE o.occurred_at >= ts - {_interval(t.tier_window)})
            AS tier_window_purchases,
        coalesce(sum(o.total_cny) FILTER (WHERE o.occurred_at >= ts - {
        _interval(t.tier_window)
    }), 0)
            AS tier_window_total
    FROM tree AS t
    LEFT JOIN orders AS o ON o.customer_id = t.member_id AND o.occurred_at <= ts
    GROUP BY t.root_id
),
complaint_facts AS (
    SELECT t.root_id,
        count(*) FILTER (WHERE k.filed_at <= ts AND (k.resolved_at IS NULL OR k.resolved_at > ts))
            AS open_complaints,
        bool_or(k.severity IN {literal_tuple(t.severe_severities)} AND k.filed_at <= ts
            AND (k.resolved_at IS NULL OR k.resolved_at > ts)) AS has_severe_open_complaint
    FROM tree AS t JOIN complaints AS k ON k.customer_id = t.member_id
    GROUP BY t.root_id
),
touch_facts AS (
    SELECT t.root_id, sum(m.touches) AS touches, sum(m.inbound_touches) AS inbound_touches,
        sum(m.outbound_touches) AS outbound_touches, max(m.last_touch_at) AS last_touch_at
    FROM tree AS t JOIN customer_dim AS m ON m.customer_id = t.member_id
    GROUP BY t.root_id
),
f AS (
    SELECT d.* EXCLUDE (touches, inbound_touches, outbound_touches, last_touch_at),
        pf.purchase_count, pf.purchase_total, pf.first_purchase_at,
        pf.last_purchase_at, pf.loyal_window_purchases, pf.tier_window_purchases,
        pf.tier_window_total, coalesce(cf.open_complaints, 0) AS open_complaints,
        coalesce(cf.has_severe_open_complaint, false) AS has_severe_open_complaint,
        tf.touches, tf.inbound_touches, tf.outbound_touches, tf.last_touch_at
    FROM purchase_facts AS pf
    JOIN customer_dim AS d ON d.customer_id = pf.root_id
    JOIN touch_facts AS tf ON tf.root_id = pf.root_id
    LEFT JOIN complaint_facts AS cf ON cf.root_id = pf.root_id
    WHERE d.registered_at <= ts  -- nobody yet at `ts`
)
SELECT f.customer_id, f.registered_at, f.region, f.source, f.company, f.industry, f.owner,
    f.referred_by, f.tags, f.custom_fields, f.stage, f.stage_changed_at, f.furthest_stage,
    {lifecycle_case("ts", "f", t)} AS lifecycle_stage,
    {tier_case("f", t)} AS tier,
    f.purchase_count, f.purchase_total, f.first_purchase_at, f.last_purchase_at,
    f.tier_window_total, f.touches, f.inbound_touches, f.outbound_touches, f.last_touch_at,
    f.open_complaints, f.forgotten, f.created_at, f.updated_at, f.version
FROM f"""


def _funnel_macro() -> str:
    counts = ",\n    ".join(
        f"count(*) FILTER (WHERE furthest_rank >= {rank}) AS r{rank}"
        for rank in range(len(PIPELINE_PATH))
    )
    steps = "\nUNION ALL ".join(
        f"SELECT {rank} AS rank, {literal(stage)} AS stage, r{rank} AS reached, "
        + (
            "NULL::DOUBLE"
            if rank == 0
            else f"CASE WHEN r{rank - 1} > 0 THEN r{rank} / r{rank - 1} END"
        )
        + " AS conversion FROM counts"
        for rank, stage in enumerate(PIPELINE_PATH)
    )
    return f"""CREATE MACRO funnel_between(from_ts, to_ts, src) AS TABLE
WITH counts AS (
    SELECT {counts}
    FROM customer_dim AS d
    WHERE d.registered_at IS NOT NULL
      AND NOT EXISTS (
        SELECT 1 FROM merges AS m JOIN customer_dim AS s ON s.customer_id = m.survivor_id
        WHERE m.duplicate_id = d.customer_id)
      AND (from_ts IS NULL OR d.registered_at >= from_ts)
      AND (to_ts IS NULL OR d.registered_at < to_ts)
      AND (src IS NULL OR d.source = src)
)
SELECT * FROM ({steps}) ORDER BY rank"""


def cohorts_view(zone: str) -> str:
    """Cohort retention by business month in `zone`: one row per registration month and
    month since, from 0 to the newest month with data, zeros where nobody bought (a
    month whose customers never bought keeps its rows: a heat map shows it, empty)."""
    tz = literal(zone)
    return f"""CREATE VIEW cohorts AS
WITH members AS (
    SELECT customer_id,
        year(registered_at AT TIME ZONE {tz}) * 12 + month(registered_at AT TIME ZONE {tz}) - 1
            AS cohort
    FROM customer_dim WHERE registered_at IS NOT NULL
),
sizes AS (SELECT cohort, count(*) AS cohort_size FROM members GROUP BY ALL),
orders AS (
    SELECT customer_id, order_total_cny,
        year(occurred_at AT TIME ZONE {tz}) * 12 + month(occurred_at AT TIME ZONE {tz}) - 1
            AS month_index
    FROM purchases WHERE line_no = 1
),
buyers AS (
    SELECT m.cohort, o.month_index - m.cohort AS months_since, o.customer_id,
        sum(o.order_total_cny) AS revenue
    FROM orders AS o JOIN members AS m USING (customer_id)
    WHERE o.month_index >= m.cohort
    GROUP BY ALL
),
newest AS (
    SELECT greatest((SELECT max(cohort) FROM sizes), (SELECT max(month_index) FROM orders))
        AS month_index
),
grid AS (
    SELECT s.cohort, s.cohort_size,
        unnest(range(0, n.month_index - s.cohort + 1)) AS months_since
    FROM sizes AS s, newest AS n
)
SELECT make_date((g.cohort // 12)::INTEGER, (g.cohort % 12 + 1)::INTEGER, 1) AS cohort_month,
    g.months_since, g.cohort_size, count(b.customer_id) AS active_customers,
    count(b.customer_id) / g.cohort_size AS retention,
    coalesce(sum(b.revenue), 0) AS revenue
FROM grid AS g
LEFT JOIN buyers AS b ON b.cohort = g.cohort AND b.months_since = g.months_since
GROUP BY g.cohort, g.months_since, g.cohort_size
ORDER BY cohort_month, g.months_since"""


RFM_BODY = """WITH base AS (
    SELECT customer_id, region, source, tier, last_purchase_at,
        date_diff('day', last_purchase_at, ts) AS recency_days,
        purchase_count AS frequency, purchase_total AS monetary
    FROM customers_at(ts) WHERE NOT forgotten AND purchase_count > 0
)
SELECT *,
    -- Quintiles of the rank: the lowest value scores 1, and equal values score alike
    -- (ntile split ties arbitrarily, so a score changed between two identical runs).
    least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY recency_days DESC)))::INTEGER
        AS r_score,
    least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY frequency)))::INTEGER AS f_score,
    least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY monetary)))::INTEGER AS m_score
FROM base"""


def catalog_sql(
    layout: AnalyticsLayout,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    zone: str = DEFAULT_TIMEZONE,
) -> list[str]:
    """Every statement of the catalog; business months are `zone`'s (`CRM_TIMEZONE`)."""
    statements = [dataset_view(layout, ds) for ds in datasets()]
    statements += [
        "CREATE VIEW events AS SELECT * FROM ds_events",
        "CREATE VIEW purchases AS SELECT * FROM ds_purchases",
        "CREATE VIEW merges AS SELECT * FROM ds_merges",
        "CREATE VIEW complaints AS SELECT * FROM ds_complaints",
        "CREATE VIEW customer_dim AS SELECT * FROM ds_customers",
        _facts_macro(thresholds),
        "CREATE VIEW customers AS SELECT * EXCLUDE (forgotten) FROM customers_at(now())"
        " WHERE NOT forgotten",
        _funnel_macro(),
        "CREATE VIEW funnel AS SELECT * FROM funnel_between(NULL, NULL, NULL)",
        cohorts_view(zone),
        "CREATE MACRO rfm_at(ts) AS TABLE\n" + _moment(RFM_BODY),
        "CREATE VIEW rfm AS SELECT * FROM rfm_at(now())",
    ]
    return statements


def write_catalog(
    layout: AnalyticsLayout,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    zone: str = DEFAULT_TIMEZONE,
) -> bool:
    """(Re)write the catalog file when its definitions changed; True when written."""
    statements = catalog_sql(layout, thresholds, zone)
    digest = hashlib.sha256("\n;\n".join(statements).encode()).hexdigest()
    target = layout.catalog
    if target.exists() and _stored_digest(target) == digest:
        return False
    layout.root.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    with duckdb.connect(str(temp)) as con:
        for statement in statements:
            con.execute(statement)
        con.execute(f"CREATE TABLE {VERSION_TABLE} (digest VARCHAR, written_at TIMESTAMPTZ)")
        con.execute(f"INSERT INTO {VERSION_TABLE} VALUES (?, now())", [digest])
        con.execute("CHECKPOINT")
    os.replace(temp, target)
    Path(f"{temp}.wal").unlink(missing_ok=True)
    return True


def _stored_digest(path: Path) -> str | None:
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute(f"SELECT digest FROM {VERSION_TABLE}").fetchone()
    except duckdb.Error:
        return None
    return str(row[0]) if row else None


def connect(layout: AnalyticsLayout, zone: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog, as an analyst would open it: its files are
    the analytics folder's only (no `read_text` of the data folder's passwords, no `COPY`
    out of it), and the settings locked so a query cannot lift that. With `zone`, the
    session's time zone (date_trunc, date_diff and printed times follow it)."""
    con = duckdb.connect(str(layout.catalog), read_only=True)
    con.execute("SET enable_progress_bar = false")  # results go to pipes and files too
    if zone:  # business days and months in `CRM_TIMEZONE`, as GraphQL counts them
        con.execute("SET TimeZone = $1", [zone])
    folders = {f"{layout.root.absolute()}/", f"{layout.root.resolve()}/"}
    con.execute("SET allowed_directories = $1", [sorted(folders)])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con

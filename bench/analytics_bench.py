"""`crm bench analytics`: funnel, cohort and RFM queries on 10M synthetic events.

The events are generated straight into the analytics datasets' Parquet files by DuckDB
(the worker would take hours to write 10M events on 2 cores, and this measures the
queries, not the worker), with the customer dimension, purchases and complaints that
such a history implies. The same data is copied into the PostgreSQL read models
(`rm_customers`, `rm_funnel`, `rm_purchases`, `rm_complaints`) and the same questions
asked there, in the same run: the read models' funnel is `projections.queries.funnel`
(what GraphQL serves); cohorts and RFM are the catalog's SQL in PostgreSQL's dialect.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from bench.document import now, row, target
from bench.server import scratch_database
from events.vocabulary import PIPELINE_PATH, SEVERITIES
from projections import queries
from projections.analytics.catalog import connect, write_catalog
from projections.analytics.layout import AnalyticsLayout
from projections.analytics.parquet import ensure_datasets
from projections.analytics.sql import literal, literal_list
from projections.derived import facts_ctes, tier_sql
from projections.membership import ALL_ROOTS, tree_ctes
from projections.schema import create_all

END = datetime(2026, 1, 1, tzinfo=UTC)
QUERY_TARGET_MS = 1000.0
SOURCES = ("web", "referral", "partner", "event", "social", "ads")
REGIONS = ("华东", "华北", "华南", "西南", "东北")


@dataclass(frozen=True)
class AnalyticsConfig:
    events: int
    repeats: int

    @property
    def customers(self) -> int:
        return max(100, self.events // 20)

    @property
    def orders(self) -> int:
        return self.events * 3 // 20

    @property
    def complaints(self) -> int:
        return self.customers // 20

    @classmethod
    def make(cls, size: str, repeats: int | None = None) -> AnalyticsConfig:
        events = {"tiny": 20_000, "quick": 500_000}.get(size, 10_000_000)
        return cls(events, repeats or (3 if size != "full" else 5))


def _pick(values: tuple[str, ...], seed: str) -> str:
    options = literal_list(values)
    return f"{options}[1 + (hash({seed}) % {len(values)})::INTEGER]"


def generate(layout: AnalyticsLayout, config: AnalyticsConfig) -> dict[str, int]:
    """Write the synthetic datasets as compact files; returns row counts."""
    ensure_datasets(layout)
    c, o, k = config.customers, config.orders, config.complaints
    touches = config.events - c - o - k
    end = literal(END.isoformat())
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"""CREATE TABLE c AS SELECT i AS idx,
            md5('c' || i)::UUID AS customer_id,
            to_timestamp(epoch(TIMESTAMPTZ {end}) - 730 * 86400 * random()) AS registered_at,
            {_pick(SOURCES, "i * 7")} AS source, {_pick(REGIONS, "i * 13")} AS region,
            least({len(PIPELINE_PATH) - 1}, floor(-ln(1 - random() * 0.999) * 1.4))::SMALLINT
                AS furthest_rank
            FROM range({c}) AS t(i)""")
        con.execute(f"""CREATE TABLE o AS SELECT j, floor(pow(random(), 2) * {c})::BIGINT AS idx,
            random() AS r, round(50 + random() * random() * 20000, 2)::DECIMAL(18,2) AS amount
            FROM range({o}) AS t(j)""")
        paths = {name: str(layout.compact_file(name)) for name in ("customers", "purchases")}
        stages = literal_list(PIPELINE_PATH)
        con.execute(f"""COPY (SELECT customer_id, registered_at, region, source,
            NULL::VARCHAR AS company, NULL::VARCHAR AS industry, NULL::VARCHAR AS owner,
            NULL::UUID AS referred_by, []::VARCHAR[] AS tags,
            {stages}[furthest_rank + 1] AS stage, registered_at AS stage_changed_at,
            true AS funnel_entered, furthest_rank, {stages}[furthest_rank + 1] AS furthest_stage,
            NULL::UUID AS merged_into, NULL::TIMESTAMPTZ AS merged_at, false AS forgotten,
            NULL::TIMESTAMPTZ AS forgotten_at, 10::BIGINT AS touches,
            4::BIGINT AS inbound_touches, 6::BIGINT AS outbound_touches,
            registered_at AS last_touch_at, registered_at AS created_at,
            registered_at AS updated_at, 20::BIGINT AS version, idx + 1 AS last_position
            FROM c ORDER BY customer_id) TO {literal(paths["customers"])} (FORMAT parquet)""")
        con.execute(f"""CREATE TABLE p AS SELECT {c} + j + 1 AS position, 1 AS line_no,
            c.customer_id, 'O' || j AS order_id,
            to_timestamp(epoch(c.registered_at)
                + (epoch(TIMESTAMPTZ {end}) - epoch(c.registered_at)) * o.r) AS occurred_at,
            'CNY' AS currency, 1::DECIMAL(18,8) AS rate_to_cny, 'SKU-' || (j % 500) AS sku,
            1::BIGINT AS quantity, amount AS unit_price, amount, amount AS amount_cny,
            1 AS line_count, amount AS order_total, amount AS order_total_cny
            FROM o JOIN c USING (idx)""")
        con.execute(
            f"COPY (FROM p ORDER BY position) TO {literal(paths['purchases'])} (FORMAT parquet)"
        )
        con.execute(f"""COPY (SELECT md5('k' || i)::UUID AS complaint_id,
            md5('c' || (i * 7 % {c}))::UUID AS customer_id, 'SERVICE' AS category,
            {literal_list(SEVERITIES)}[1 + (i % {len(SEVERITIES)})::INTEGER] AS severity,
            CASE WHEN i % 3 = 0 THEN 'OPEN' ELSE 'RESOLVED' END AS status, false AS
            escalated_automatically, NULL::BIGINT AS satisfaction,
            TIMESTAMPTZ {end} - INTERVAL 30 DAY AS filed_at, NULL::TIMESTAMPTZ AS escalated_at,
            CASE WHEN i % 3 = 0 THEN NULL ELSE TIMESTAMPTZ {end} - INTERVAL 10 DAY END
                AS resolved_at, 2::BIGINT AS version, {c + o} + i + 1 AS last_position
            FROM range({k}) AS t(i)) TO {literal(str(layout.compact_file("complaints")))}
            (FORMAT parquet)""")
        con.execute(f"""COPY (
            SELECT idx + 1 AS position, 'crm.customer.registered.v1' AS type, 1 AS type_version,
                customer_id, customer_id AS stream_id, 1::BIGINT AS stream_version,
                registered_at AS occurred_at, registered_at AS recorded_at, 'bench' AS actor,
                source, region FROM c
            UNION ALL
            SELECT position, 'crm.customer.purchase_recorded.v2', 2, customer_id, customer_id,
                2, occurred_at, occurred_at, 'bench', NULL, NULL FROM p
            UNION ALL
            SELECT {c + o} + i + 1, 'crm.customer.contact_touch_recorded.v2', 2,
                md5('c' || (i % {c}))::UUID, md5('c' || (i % {c}))::UUID, 3,
                TIMESTAMPTZ {end} - INTERVAL 1 DAY, TIMESTAMPTZ {end} - INTERVAL 1 DAY, 'bench',
                NULL, NULL
            FROM range({touches + k}) AS t(i)
            ORDER BY position) TO {literal(str(layout.compact_file("events")))} (FORMAT parquet)""")
        write_catalog(layout)
        return {
            "events": config.events,
            "customers": c,
            "orders": o,
            "complaints": k,
        }


def load_read_models(layout: AnalyticsLayout, url: str) -> None:
    """The same customers, purchases and complaints as PostgreSQL read-model rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        create_all(conn)
        copies = {
            "rm_customers (id, region, source, stage, created_at, updated_at, version, "
            "last_position)": "SELECT customer_id, region, source, stage, created_at, "
            "updated_at, version, last_position FROM customer_dim",
            "rm_funnel (customer_id, registered_at, source, furthest_rank, furthest_stage, "
            "last_position)": "SELECT customer_id, registered_at, source, furthest_rank, "
            "furthest_stage, last_position FROM customer_dim",
            "rm_purchases (position, customer_id, order_id, occurred_at, currency, "
            "rate_to_cny, total, total_cny, lines)": "SELECT position, customer_id, order_id, "
            "occurred_at, currency, rate_to_cny, order_total, order_total_cny, '[]' "
            "FROM purchases",
            "rm_complaints (id, customer_id, category, severity, status, filed_at, "
            "resolved_at, version, last_position)": "SELECT complaint_id, customer_id, "
            "category, severity, status, filed_at, resolved_at, version, last_position "
            "FROM complaints",
        }
        with connect(layout) as analytics:
            for table, query in copies.items():
                rows = analytics.execute(query)
                with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                    while batch := rows.fetchmany(50_000):
                        for values in batch:
                            copy.write_row(values)
        conn.execute("ANALYZE")


PG_COHORTS = """
WITH members AS (
    SELECT customer_id, date_trunc('month', registered_at) AS cohort_month FROM rm_funnel
),
sizes AS (SELECT cohort_month, count(*) AS cohort_size FROM members GROUP BY 1),
activity AS (
    SELECT m.cohort_month,
        ((extract(year FROM date_trunc('month', p.occurred_at)) - extract(year FROM m.cohort_month))
         * 12 + extract(month FROM date_trunc('month', p.occurred_at))
         - extract(month FROM m.cohort_month))::int AS months_since,
        count(DISTINCT p.customer_id) AS active_customers, sum(p.total_cny) AS revenue
    FROM rm_purchases AS p JOIN members AS m USING (customer_id)
    WHERE p.occurred_at >= m.cohort_month
    GROUP BY 1, 2
)
SELECT a.cohort_month, a.months_since, s.cohort_size, a.active_customers,
    a.active_customers::float / s.cohort_size AS retention, a.revenue
FROM activity AS a JOIN sizes AS s USING (cohort_month)
ORDER BY 1, 2"""


def pg_rfm(at: datetime) -> psycopg.sql.Composed:
    """The catalog's `rfm_at` over the read models: facts (merge trees included), tier,
    then the three scores."""
    from psycopg import sql

    return sql.SQL(
        """WITH RECURSIVE {tree}, {facts},
totals AS (
    SELECT t.root_id, sum(p.total_cny) AS monetary
    FROM tree AS t JOIN rm_purchases AS p ON p.customer_id = t.member_id
    WHERE p.occurred_at <= {at} GROUP BY 1
),
base AS (
    SELECT f.root_id AS customer_id, {tier} AS tier,
        extract(day FROM {at} - f.last_purchase_at) AS recency_days,
        f.purchase_count AS frequency, totals.monetary
    FROM facts AS f JOIN totals USING (root_id) WHERE f.purchase_count > 0
)
SELECT *, ntile(5) OVER (ORDER BY recency_days DESC) AS r_score,
    ntile(5) OVER (ORDER BY frequency) AS f_score,
    ntile(5) OVER (ORDER BY monetary) AS m_score
FROM base"""
    ).format(
        tree=tree_ctes(ALL_ROOTS),
        facts=facts_ctes(at),
        tier=tier_sql(facts="f"),
        at=sql.Literal(at),
    )


def _timed(run: Callable[[], int], repeats: int) -> dict[str, Any]:
    runs, size = [], 0
    for _ in range(repeats):
        began = time.perf_counter()
        size = run()
        runs.append((time.perf_counter() - began) * 1000)
    return {"median_ms": round(statistics.median(runs), 1), "runs_ms": runs, "result_size": size}


def _pg_result(conn: psycopg.Connection[Any], query: str | psycopg.sql.Composable) -> int:
    """The whole result, streamed in PostgreSQL's binary format; returns its bytes.

    Both engines hand over the full result in their own binary form (DuckDB: Arrow), so
    the time is the query's, not Python's cost of building half a million row tuples.
    """
    from psycopg import sql

    received = 0
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(
        sql.SQL(query) if isinstance(query, str) else query
    )
    with conn.cursor().copy(statement) as copy:
        for chunk in copy:
            received += len(chunk)
    return received


def measure(layout: AnalyticsLayout, url: str, repeats: int) -> dict[str, dict[str, Any]]:
    """Each question on the catalog (a read-only connection, as an analyst opens it) and
    on the read models; the DuckDB size is rows, the PostgreSQL one bytes."""
    analyst = connect(layout)
    duck_queries = {
        "funnel": "SELECT * FROM funnel_between(NULL, NULL, NULL)",
        "cohorts": "SELECT * FROM cohorts",
        "rfm": f"SELECT * FROM rfm_at(TIMESTAMPTZ {literal(END.isoformat())})",
    }
    results: dict[str, dict[str, Any]] = {}
    with psycopg.connect(url) as conn:
        pg_runs: dict[str, Callable[[], int]] = {
            "funnel": lambda: len(queries.funnel(conn)),
            "cohorts": lambda: _pg_result(conn, PG_COHORTS),
            "rfm": lambda: _pg_result(conn, pg_rfm(END)),
        }
        for name, query in duck_queries.items():

            def duck(q: str = query) -> int:
                return int(analyst.sql(q).to_arrow_table().num_rows)

            results[name] = {
                "duckdb": _timed(duck, repeats),
                "postgres": _timed(pg_runs[name], repeats),
            }
    analyst.close()
    return results


def run_analytics(
    server_url: str, config: AnalyticsConfig, size: str, log: Callable[[str], None]
) -> dict[str, Any]:
    started = now()
    with tempfile.TemporaryDirectory(prefix="crm-bench-analytics-") as folder:
        layout = AnalyticsLayout(Path(folder))
        began = time.perf_counter()
        counts = generate(layout, config)
        generated_s = time.perf_counter() - began
        size_mb = sum(p.stat().st_size for p in layout.root.rglob("*.parquet")) / 1e6
        log(f"analytics: {config.events:,} events generated into Parquet in {generated_s:.1f}s")
        with scratch_database(server_url, "analytics") as url:  # never the platform's own
            began = time.perf_counter()
            load_read_models(layout, url)
            loaded_s = time.perf_counter() - began
            log(f"analytics: the same rows copied into the read models in {loaded_s:.1f}s")
            results = measure(layout, url, config.repeats)
    summary = []
    targets = {}
    for name, timing in results.items():
        duck_ms = timing["duckdb"]["median_ms"]
        pg_ms = timing["postgres"]["median_ms"]
        met = duck_ms < QUERY_TARGET_MS
        summary.append(
            row(
                f"{name} query, {config.events / 1e6:g}M events (DuckDB vs read models)",
                duck_ms,
                "ms",
                baseline=pg_ms,
                p50_ms=duck_ms,
                target="< 1,000 ms",
                met=met,
            )
        )
        targets[f"{name}_query_ms"] = target(QUERY_TARGET_MS, duck_ms, at_most=True)
        log(f"analytics: {name}: DuckDB {duck_ms:,.0f} ms, PostgreSQL {pg_ms:,.0f} ms")
    return {
        "benchmark": "analytics",
        "size": size,
        "config": asdict(config),
        "started_at": started,
        "finished_at": now(),
        "results": {
            "rows": counts,
            "parquet_mb": round(size_mb, 1),
            "generate_s": round(generated_s, 1),
            "read_model_load_s": round(loaded_s, 1),
            "queries": results,
        },
        "summary": summary,
        "targets": targets,
    }

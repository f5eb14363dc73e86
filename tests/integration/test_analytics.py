"""Analytics on the real servers: a seeded year of history replayed into the Parquet
datasets and the DuckDB catalog; the views agree with GraphQL and with the event store;
`crm sql`, `crm report` and `crm check` work from the command line, and check fails on
corrupted data."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import pytest_asyncio

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from demo.command import seed_database
from events import ALL_EVENTS, ORGANISATION_ID
from ops.quality.store import store_facts
from projections.analytics.catalog import connect
from projections.analytics.layout import AnalyticsLayout
from projections.analytics.parquet import compact_all, parts, write_part
from projections.analytics.schema import dataset
from projections.analytics.writer import AnalyticsSink
from streams.analytics_rebuild import rebuild_analytics
from streams.rebuild import rebuild
from streams.source import EventSource
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import crm_command

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 30, 12, tzinfo=UTC)


@dataclass
class Seeded:
    url: str
    key: str
    app: CrmApplication
    data_dir: Path
    layout: AnalyticsLayout

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CRM_DATABASE_URL": self.url,
            "CRM_MASTER_KEY": self.key,
            "CRM_DATA_DIR": str(self.data_dir),
        }

    def crm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*crm_command(), *args], env=self.env(), capture_output=True, text=True, timeout=180
        )


@pytest.fixture(scope="module")
def seeded(servers: ServerSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = servers.new_database("analytics")
    key = generate_master_key()
    seed_database(url, key=key, customers=300, seed=11, batch=25, until=NOW)
    app = CrmApplication(url, master_key=key, pool_size=2)
    rebuild(app, url, now=NOW)  # lifecycle and tier as of NOW, as the views are asked
    data_dir = tmp_path_factory.mktemp("analytics-data")
    layout = AnalyticsLayout.for_data_dir(data_dir)
    rebuild_analytics(app, layout, batch_size=700)  # several batches, then compaction
    yield Seeded(url, key, app, data_dir, layout)
    app.close()
    servers.drop_database(url)


def scalar(con: duckdb.DuckDBPyConnection, query: str, *params: Any) -> Any:
    row = con.execute(query, list(params)).fetchone()
    assert row is not None
    return row[0]


def customer_events(seeded: Seeded) -> int:
    """Events in the store but the organisation's (which analytics leave out)."""
    with psycopg.connect(seeded.url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM stored_events WHERE originator_id <> %s", [ORGANISATION_ID]
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_the_views_cover_the_store_and_hold_no_personal_data(seeded: Seeded) -> None:
    con = connect(seeded.layout)
    facts = store_facts(seeded.app)
    assert scalar(con, "SELECT count(*) FROM events") == customer_events(seeded)
    assert scalar(con, "SELECT count(DISTINCT position) FROM events") == scalar(
        con, "SELECT count(*) FROM events"
    )
    assert scalar(con, "SELECT count(*) FROM customers") == facts.live_customers
    totals = dict(
        con.execute(
            "SELECT customer_id, sum(order_total_cny) FROM purchases WHERE line_no = 1 GROUP BY 1"
        ).fetchall()
    )
    assert totals == facts.purchase_totals
    for view in ("funnel", "cohorts", "rfm", "complaints", "merges"):
        assert scalar(con, f"SELECT count(*) FROM {view}") > 0, view
    personal = {name for cls in ALL_EVENTS for name in cls.PERSONAL}
    columns = {
        row[0]
        for row in con.execute("SELECT column_name FROM information_schema.columns").fetchall()
    }
    assert columns and not (columns & personal)
    con.close()


def test_custom_field_values_agree_between_the_read_model_and_duckdb(seeded: Seeded) -> None:
    """The demo's custom fields after a full rebuild (set-based replay) and in analytics."""
    with psycopg.connect(seeded.url) as conn:
        defined = conn.execute("SELECT key, field_type FROM rm_custom_fields ORDER BY key")
        assert defined.fetchall() == [
            ("contract_end", "DATE"),
            ("industry_segment", "SINGLE_CHOICE"),
        ]
        in_postgres = dict(
            conn.execute(
                "SELECT custom_fields ->> 'industry_segment', count(*) FROM rm_customers "
                "WHERE custom_fields ? 'industry_segment' GROUP BY 1"
            ).fetchall()
        )
    con = connect(seeded.layout)
    in_duckdb = dict(
        con.execute(
            "SELECT json_extract_string(custom_fields, '$.industry_segment') AS s, count(*) "
            "FROM customers WHERE s IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    assert in_postgres and in_duckdb == in_postgres
    changed = scalar(
        con,
        "SELECT count(*) FROM (SELECT unnest(changes) AS c FROM events "
        "WHERE type = 'crm.customer.custom_fields_changed') WHERE c.key = 'industry_segment'",
    )
    assert changed == sum(in_postgres.values())
    con.close()


def test_customers_at_a_moment_holds_who_existed_then(seeded: Seeded) -> None:
    con = connect(seeded.layout)
    then = NOW - timedelta(days=180)
    registered = scalar(con, "SELECT count(*) FROM customer_dim WHERE registered_at <= ?", then)
    later = scalar(con, "SELECT count(*) FROM customer_dim WHERE registered_at > ?", then)
    assert registered and later, "the seeded year has customers on both sides"
    at_then = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE registered_at > ?) FROM customers_at(?)",
        [then, then],
    ).fetchone()
    assert at_then is not None and at_then[1] == 0, "nobody registered after the moment"
    merged_later = scalar(
        con,
        "SELECT count(*) FROM merges AS m JOIN customer_dim AS d ON d.customer_id = m.duplicate_id"
        " WHERE m.merged_at > ? AND d.registered_at <= ?",
        then,
        then,
    )
    assert at_then[0] == registered - scalar(
        con,
        "SELECT count(*) FROM merges AS m JOIN customer_dim AS d ON d.customer_id = m.duplicate_id"
        " WHERE m.merged_at <= ?",
        then,
    ), f"duplicates merged later ({merged_later}) still stood alone then"
    moment = "2025-01-01 00:00:00+00"
    for macro in ("customers_at", "rfm_at"):  # a string is read as a time, as a literal is
        as_text = scalar(con, f"SELECT count(*) FROM {macro}('{moment}')")
        assert as_text == scalar(con, f"SELECT count(*) FROM {macro}(TIMESTAMPTZ '{moment}')")
    con.close()


def test_a_survivors_touches_include_its_duplicates(seeded: Seeded) -> None:
    con = connect(seeded.layout)
    in_duckdb = dict(con.execute("SELECT customer_id, touches FROM customers").fetchall())
    with psycopg.connect(seeded.url) as conn:
        in_postgres = dict(
            conn.execute(
                "SELECT id, touch_count FROM rm_customers"
                " WHERE merged_into IS NULL AND NOT forgotten AND merged_ids <> '{}'"
            ).fetchall()
        )
    assert in_postgres, "the seeded history merges customers"
    assert {str(k): v for k, v in in_postgres.items()} == {
        str(k): in_duckdb[k] for k in in_postgres
    }
    con.close()


def test_rfm_scores_are_the_same_each_run_and_equal_values_score_alike(seeded: Seeded) -> None:
    con = connect(seeded.layout)
    runs = [
        con.execute("SELECT * FROM rfm_at(?) ORDER BY customer_id", [NOW]).fetchall()
        for _ in range(3)
    ]
    assert runs[0] == runs[1] == runs[2]
    for value, score in (("frequency", "f_score"), ("monetary", "m_score")):
        split = con.execute(
            f"SELECT {value} FROM rfm_at(?) GROUP BY 1 HAVING count(DISTINCT {score}) > 1", [NOW]
        ).fetchall()
        assert split == [], f"equal {value} with different {score}"
    con.close()


def test_rfm_scores_rank_recency_frequency_and_money(seeded: Seeded) -> None:
    con = connect(seeded.layout)
    rows = con.execute(
        "SELECT r_score, avg(recency_days), f_score, m_score FROM rfm_at(?) GROUP BY ALL",
        [NOW],
    ).fetchall()
    assert {r[0] for r in rows} == {1, 2, 3, 4, 5}
    by_r = con.execute(
        "SELECT r_score, max(recency_days), min(recency_days) FROM rfm_at(?) GROUP BY 1 ORDER BY 1",
        [NOW],
    ).fetchall()
    for (_, _, lower_min), (_, higher_max, _) in itertools.pairwise(by_r):
        assert higher_max <= lower_min  # a higher R score never means an older last purchase
    cohort = con.execute("SELECT sum(revenue) FROM cohorts").fetchone()
    orders = con.execute(
        "SELECT sum(p.order_total_cny) FROM purchases AS p JOIN customer_dim AS d "
        "USING (customer_id) WHERE p.line_no = 1 "
        "AND p.occurred_at >= date_trunc('month', d.registered_at)"
    ).fetchone()
    assert cohort == orders
    con.close()


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(seeded: Seeded) -> AsyncIterator[GatewayHarness]:
    harness = GatewayHarness.start(seeded.url, clock=lambda: NOW)
    yield harness
    await harness.aclose()


@pytest.mark.asyncio(loop_scope="session")
async def test_sql_answers_equal_graphql_for_funnel_lifecycle_and_tier(
    seeded: Seeded, gateway: GatewayHarness
) -> None:
    con = connect(seeded.layout)
    window = {"from": (NOW - timedelta(days=200)).isoformat(), "to": NOW.isoformat()}
    data = await gateway.data(
        "query($from: DateTime, $to: DateTime) { all: funnel { stages { stage reached "
        "conversionFromPrevious } } "
        'recent: funnel(from: $from, to: $to, source: "referral") { stages { stage reached } } '
        "lifecycleDistribution { stage count } tierDistribution { tier count } "
        "customers(first: 100) { edges { node { id tier lifecycleStage } } } }",
        window,
    )
    sql_all = con.execute(
        "SELECT stage, reached, conversion FROM funnel_between(NULL, NULL, NULL) ORDER BY rank"
    ).fetchall()
    assert [
        (s["stage"], s["reached"], s["conversionFromPrevious"]) for s in data["all"]["stages"]
    ] == sql_all
    sql_recent = con.execute(
        "SELECT stage, reached FROM funnel_between(?, ?, 'referral') ORDER BY rank",
        [NOW - timedelta(days=200), NOW],
    ).fetchall()
    assert [(s["stage"], s["reached"]) for s in data["recent"]["stages"]] == sql_recent
    assert sql_recent[0][1] > 0

    lifecycle = dict(
        con.execute(
            "SELECT lifecycle_stage, count(*) FROM customers_at(?) GROUP BY 1", [NOW]
        ).fetchall()
    )
    assert {s["stage"]: s["count"] for s in data["lifecycleDistribution"] if s["count"]} == (
        lifecycle
    )
    assert len(lifecycle) >= 4  # the seeded year spreads customers over the stages
    tiers = dict(
        con.execute("SELECT tier, count(*) FROM customers_at(?) GROUP BY 1", [NOW]).fetchall()
    )
    assert {t["tier"]: t["count"] for t in data["tierDistribution"] if t["count"]} == tiers
    assert len(tiers) >= 3

    nodes = [edge["node"] for edge in data["customers"]["edges"]]
    per_customer = {
        str(row[0]): (row[1], row[2])
        for row in con.execute(
            "SELECT customer_id, tier, lifecycle_stage FROM customers_at(?)", [NOW]
        ).fetchall()
    }
    assert len(nodes) == 100
    assert {n["id"]: (n["tier"], n["lifecycleStage"]) for n in nodes} == {
        n["id"]: per_customer[n["id"]] for n in nodes
    }
    con.close()


def test_redelivered_batches_and_compaction_change_no_answer(
    seeded: Seeded, tmp_path: Path
) -> None:
    layout = AnalyticsLayout(tmp_path / "analytics")
    sink = AnalyticsSink(layout, compact_every=float("inf"))
    source = EventSource(seeded.app)
    batch = source.read_after(0, 400)
    rest = source.read_after(batch.last_position, 100_000)
    sink(batch.envelopes)
    sink(batch.envelopes[100:])  # at-least-once: a batch delivered again, in part
    sink(rest.envelopes)
    sink(rest.envelopes)
    answers = """SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM purchases),
        (SELECT sum(touches) FROM customer_dim), (SELECT list(reached ORDER BY rank) FROM funnel),
        (SELECT count(*) FROM customers_at(?)), (SELECT count(*) FROM complaints)"""
    con = connect(layout)
    before = con.execute(answers, [NOW]).fetchone()
    expected = connect(seeded.layout).execute(answers, [NOW]).fetchone()
    assert before == expected
    assert len(parts(layout, dataset("events"))) == 4
    folded = compact_all(layout)
    assert folded["events"] == 4 and parts(layout, dataset("events")) == []
    assert con.execute(answers, [NOW]).fetchone() == expected  # the same open connection
    con.close()


def test_crm_sql_prints_tables_csv_json_and_parquet(seeded: Seeded, tmp_path: Path) -> None:
    table = seeded.crm("sql", "SELECT stage, reached FROM funnel ORDER BY rank")
    assert table.returncode == 0, table.stderr
    assert "LEAD" in table.stdout and "7 rows" in table.stdout
    csv = seeded.crm("sql", "SELECT stage FROM funnel ORDER BY rank", "--format", "csv")
    assert csv.stdout.splitlines()[:3] == ["stage", "LEAD", "CONTACTED"]
    as_json = seeded.crm("sql", "SELECT tier, purchase_total FROM customers LIMIT 3", "-f", "json")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(rows) == 3 and set(rows[0]) == {"tier", "purchase_total"}
    out = tmp_path / "events.parquet"
    parquet = seeded.crm("sql", "SELECT * FROM events", "-f", "parquet", "--out", str(out))
    assert parquet.returncode == 0, parquet.stderr
    assert duckdb.sql(f"SELECT count(*) FROM '{out}'").fetchall() == [(customer_events(seeded),)]
    missing = seeded.crm("sql", "SELECT 1", "-f", "parquet")
    assert missing.returncode == 2 and "--out" in missing.stderr
    wrong = seeded.crm("sql", "SELECT * FROM no_such_view")
    assert wrong.returncode == 2 and "QUERY" in wrong.stderr and "no_such_view" in wrong.stderr


def test_crm_sql_reads_the_analytics_files_only(seeded: Seeded, tmp_path: Path) -> None:
    secret = seeded.data_dir / "secret.txt"
    secret.write_text("the superuser's password")
    peek = seeded.crm("sql", f"SELECT content FROM read_text('{secret}')")
    assert peek.returncode == 2 and "password" not in peek.stdout
    assert "disabled by configuration" in peek.stderr
    target = tmp_path / "copied.csv"
    for query, said in (
        (f"COPY (SELECT 1 AS x) TO '{target}'", "not COPY"),
        ("SET enable_external_access = true", "not SET"),
        ("SELECT 1; SELECT 2", "one statement at a time, not 2"),
    ):
        refused = seeded.crm("sql", query)
        assert refused.returncode == 2 and said in refused.stderr, (query, refused.stderr)
    assert not target.exists()


def test_crm_sql_counts_days_in_the_business_time_zone(seeded: Seeded) -> None:
    query = "SELECT current_setting('TimeZone'), date_trunc('day', TIMESTAMPTZ '2026-03-01 17:00Z')"
    default = seeded.crm("sql", query, "-f", "csv")
    assert default.stdout.splitlines()[1] == "Asia/Shanghai,2026-03-02T00:00:00+08:00"
    env = {**seeded.env(), "CRM_TIMEZONE": "UTC"}
    utc = subprocess.run(
        [*crm_command(), "sql", query, "-f", "csv"], env=env, capture_output=True, text=True
    )
    assert utc.stdout.splitlines()[1] == "UTC,2026-03-01T00:00:00+00:00", utc.stderr


def test_crm_sql_output_is_streamed_and_errors_are_one_line(seeded: Seeded, tmp_path: Path) -> None:
    listed = seeded.crm("sql", "SELECT [1, 2] AS l, {'a': 1} AS s", "-f", "csv")
    assert listed.stdout.splitlines() == ["l,s", '"[1, 2]","{""a"": 1}"'], "JSON, not repr"
    few = seeded.crm("sql", "SELECT * FROM range(250) AS t(n)", "--max-rows", "3")
    assert "250 rows" in " ".join(few.stdout.split()), few.stdout
    assert "│ 2 │" in few.stdout and "│ 3 │" not in few.stdout, "rows 0, 1 and 2 only"
    negative = seeded.crm("sql", "SELECT 1", "--max-rows", "-1")
    assert negative.returncode == 2 and "--max-rows" in negative.stderr
    into_folder = seeded.crm("sql", "SELECT 1", "-f", "csv", "--out", str(tmp_path))
    assert into_folder.returncode == 2 and "--out" in into_folder.stderr
    assert "Traceback" not in into_folder.stderr


def test_crm_report_draws_every_chart(seeded: Seeded, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    result = seeded.crm("report", "--out", str(target))
    assert result.returncode == 0, result.stderr
    page = target.read_text()
    for title in ("Funnel", "Lifecycle stages", "Tiers", "Cohort retention", "Revenue by month"):
        assert f'alt="{title}" src="data:image/png;base64,' in page
    assert "live customers" in page


def test_crm_check_passes_on_good_data_and_fails_on_corruption(seeded: Seeded) -> None:
    good = seeded.crm("check")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "checks passed" in good.stdout
    assert (seeded.layout.docs_dir / "gx" / "uncommitted" / "data_docs").is_dir()

    # A purchase line in analytics with a negative amount, under an existing position.
    con = connect(seeded.layout)
    row = con.execute("SELECT * FROM purchases ORDER BY position LIMIT 1").fetchone()
    names = [d[0] for d in con.description or ()]
    con.close()
    assert row is not None
    bad = dict(zip(names, row, strict=True))
    bad["amount_cny"] = bad["order_total_cny"] = -bad["order_total_cny"]
    corrupt = write_part(seeded.layout, dataset("purchases"), [bad])
    assert corrupt is not None
    try:
        failed = seeded.crm("check", "--no-docs")
    finally:
        corrupt.unlink()
    assert failed.returncode == 1
    assert "FAILED analytics_purchases" in failed.stdout
    assert "FAILED purchase_totals" in failed.stdout

    # A read model drifted from the event store.
    with psycopg.connect(seeded.url) as conn:
        conn.execute(
            "UPDATE rm_purchases SET total_cny = total_cny + 1 "
            "WHERE position = (SELECT min(position) FROM rm_purchases)"
        )
    try:
        drifted = seeded.crm("check", "--no-docs")
    finally:
        with psycopg.connect(seeded.url) as conn:
            conn.execute(
                "UPDATE rm_purchases SET total_cny = total_cny - 1 "
                "WHERE position = (SELECT min(position) FROM rm_purchases)"
            )
    assert drifted.returncode == 1
    assert "store_total = read_model_total" in drifted.stdout
    assert "FAILED analytics_purchases" not in drifted.stdout

    # A profile's materialized summary drifted from its facts: named, with its customer.
    tamper = (
        "UPDATE rm_customers SET purchase_total = purchase_total {0} 1,"
        " purchase_count = purchase_count {0} 1 WHERE id = %s"
    )
    with psycopg.connect(seeded.url) as conn:
        found = conn.execute(
            "SELECT id FROM rm_customers WHERE purchase_count > 0 ORDER BY id LIMIT 1"
        ).fetchone()
        assert found is not None
        conn.execute(tamper.format("+"), [found[0]])
    try:
        summary = seeded.crm("check", "--no-docs")
    finally:
        with psycopg.connect(seeded.url) as conn:
            conn.execute(tamper.format("-"), [found[0]])
    assert summary.returncode == 1
    assert "stored_purchase_total = rule_purchase_total" in summary.stdout
    assert "stored_purchase_count = rule_purchase_count" in summary.stdout
    assert f"id {found[0]}" in summary.stdout, "the customer is named"

    # A row of the 360° history lost (not the newest: that would read as lag).
    with psycopg.connect(seeded.url) as conn:
        conn.execute(
            "CREATE TABLE lost_row AS SELECT * FROM rm_timeline WHERE position ="
            " (SELECT min(position) FROM rm_timeline WHERE position > 1)"
        )
        lost = conn.execute("DELETE FROM rm_timeline USING lost_row AS l"
                            " WHERE rm_timeline.position = l.position RETURNING l.position"
                            ).fetchone()  # fmt: skip
        assert lost is not None
    try:
        gap = seeded.crm("check", "--no-docs")
    finally:
        with psycopg.connect(seeded.url) as conn:
            conn.execute("INSERT INTO rm_timeline SELECT * FROM lost_row")
            conn.execute("DROP TABLE lost_row")
    assert gap.returncode == 1
    assert "FAILED timeline_coverage" in gap.stdout and f"position {lost[0]}" in gap.stdout


def test_crm_analytics_rebuild_compact_and_views(seeded: Seeded) -> None:
    answers = "SELECT (SELECT count(*) FROM events), (SELECT list(reached) FROM funnel)"
    with connect(seeded.layout) as con:
        before = con.execute(answers).fetchall()
    rebuilt = seeded.crm("analytics", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt analytics from {seeded.app.recorder.max_notification_id()} events" in (
        rebuilt.stdout
    )
    with connect(seeded.layout) as con:
        assert con.execute(answers).fetchall() == before
    compacted = seeded.crm("analytics", "compact")
    assert compacted.returncode == 0 and "events: folded 0 parts" in compacted.stdout
    views = seeded.crm("analytics", "views")
    for line in ("customers: customer_id,", "funnel: rank, stage, reached, conversion"):
        assert line in views.stdout
    assert "table macros: customers_at, funnel_between, rfm_at" in views.stdout


def test_crm_sql_without_a_catalog_says_how_to_get_one(seeded: Seeded, tmp_path: Path) -> None:
    result = subprocess.run(
        [*crm_command(), "sql", "SELECT 1", "--data-dir", str(tmp_path / "empty")],
        env=seeded.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no analytics catalog" in result.stderr and "crm analytics rebuild" in result.stderr

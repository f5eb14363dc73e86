"""Analytics Parquet files without servers: atomic parts, compaction, and files written
before a column existed (an event gained a field) still read, compact and load."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from projections.analytics.catalog import connect, write_catalog
from projections.analytics.layout import AnalyticsLayout
from projections.analytics.parquet import compact, ensure_datasets, parts, reading, write_part
from projections.analytics.report import write_report
from projections.analytics.schema import dataset
from projections.analytics.writer import _load_rows

T = datetime(2025, 1, 1, tzinfo=UTC)


def customer_row(customer_id: object, position: int, source: str) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(dataset("customers").schema.names)
    row.update(customer_id=customer_id, registered_at=T, source=source, tags=[], stage="LEAD",
               furthest_rank=0, furthest_stage="LEAD", funnel_entered=True, forgotten=False,
               touches=0, inbound_touches=0, outbound_touches=0, created_at=T, updated_at=T,
               version=position, last_position=position)  # fmt: skip
    return row


def test_parts_and_compaction_keep_the_newest_snapshot(tmp_path: Path) -> None:
    layout = AnalyticsLayout(tmp_path)
    ensure_datasets(layout)
    write_catalog(layout)
    ds = dataset("customers")
    a, b = uuid4(), uuid4()
    write_part(layout, ds, [customer_row(a, 1, "web"), customer_row(b, 2, "ads")])
    write_part(layout, ds, [customer_row(a, 3, "referral")])
    assert not list(tmp_path.rglob(".*.tmp"))  # temp names are renamed away
    with connect(layout) as con:
        read = "SELECT customer_id, source FROM customer_dim ORDER BY source"
        before = con.execute(read).fetchall()
        assert before == [(b, "ads"), (a, "referral")]
        assert compact(layout, ds) == 2 and parts(layout, ds) == []
        assert con.execute(read).fetchall() == before


def test_a_compact_file_from_before_a_new_column_still_reads_compacts_and_loads(
    tmp_path: Path,
) -> None:
    layout = AnalyticsLayout(tmp_path)
    ensure_datasets(layout)
    write_catalog(layout)
    ds = dataset("customers")
    old = uuid4()
    old_schema = pa.schema([f for f in ds.schema if f.name != "industry"])

    def written_by_an_older_build(path: Path, rows: list[dict[str, object]]) -> None:
        cut = [{k: v for k, v in r.items() if k != "industry"} for r in rows]
        pq.write_table(pa.Table.from_pylist(cut, old_schema), path)

    written_by_an_older_build(layout.compact_file("customers"), [customer_row(old, 5, "web")])
    written_by_an_older_build(
        layout.dataset("customers") / "part-00000000000000000006-old.parquet",
        [customer_row(uuid4(), 6, "ads")],
    )

    with connect(layout) as con:
        assert con.execute(
            "SELECT source, industry FROM customer_dim ORDER BY source"
        ).fetchall() == [("ads", None), ("web", None)]
    assert compact(layout, ds) == 1
    assert "industry" in pq.read_schema(layout.compact_file("customers")).names
    assert _load_rows(layout, ds, [old])[old]["source"] == "web"
    assert duckdb.sql(f"SELECT count(*) FROM '{layout.compact_file('customers')}'").fetchall() == [
        (2,)
    ]


def test_a_worker_reading_rows_back_never_meets_a_part_another_is_compacting(
    tmp_path: Path,
) -> None:
    """Two analytics workers share the folder: one compacting deleted the parts the other
    had listed, whose read then failed and parked its batch ("No files found"). Reads
    back now hold the dataset's lock shared, compaction exclusive."""
    layout = AnalyticsLayout(tmp_path)
    ensure_datasets(layout)
    ds = dataset("customers")
    ids = [uuid4() for _ in range(5)]
    stop = threading.Event()
    failures: list[BaseException] = []

    def compacting() -> None:
        position = 1
        while not stop.is_set():
            for cid in ids:
                position += 1
                write_part(layout, ds, [customer_row(cid, position, "web")])
            compact(layout, ds)

    worker = threading.Thread(target=compacting)
    worker.start()
    try:
        deadline = time.monotonic() + 3
        reads = 0
        while time.monotonic() < deadline:
            try:
                found = _load_rows(layout, ds, ids)
            except duckdb.Error as error:
                failures.append(error)
                break
            reads += 1
            assert set(found) <= set(ids)
    finally:
        stop.set()
        worker.join()
    assert not failures, failures
    assert reads > 10


def test_a_report_on_no_data_draws_every_chart(tmp_path: Path) -> None:
    layout = AnalyticsLayout(tmp_path)
    ensure_datasets(layout)
    write_catalog(layout)
    target = tmp_path / "report.html"
    with connect(layout) as con:
        write_report(con, target)
    page = target.read_text()
    for title in ("Funnel", "Lifecycle stages", "Tiers", "Cohort retention", "Revenue by month"):
        assert f'alt="{title}" src="data:image/png;base64,' in page


def test_compaction_waits_for_a_query_of_the_analytics_verbs(tmp_path: Path) -> None:
    layout = AnalyticsLayout(tmp_path)
    ensure_datasets(layout)
    ds = dataset("customers")
    write_part(layout, ds, [customer_row(uuid4(), 1, "web")])
    folded: list[int] = []
    with reading(layout):  # as `crm sql` holds it while its query runs
        worker = threading.Thread(target=lambda: folded.append(compact(layout, ds)))
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive() and parts(layout, ds), "the part is still there to read"
    worker.join(timeout=30)
    assert folded == [1] and parts(layout, ds) == []

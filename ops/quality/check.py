"""`crm check`: every suite against the live read models, analytics and event store."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg

from commands.application import CrmApplication
from ops.quality.frames import (
    analytics_coverage_frame,
    analytics_frames,
    derived_state_frame,
    purchase_totals_frame,
    read_model_frames,
    timeline_coverage_frame,
    touch_counts_frame,
)
from ops.quality.runner import QualityReport, run_suites
from ops.quality.store import store_facts
from ops.quality.suites import all_suites


def check_platform(
    app: CrmApplication,
    database_url: str,
    catalog: duckdb.DuckDBPyConnection,
    project_dir: Path,
    *,
    build_docs: bool = True,
) -> QualityReport:
    facts = store_facts(app)
    with psycopg.connect(database_url) as conn:
        frames = read_model_frames(conn)
        frames.update(analytics_frames(catalog))
        frames["purchase_totals"] = purchase_totals_frame(facts, conn, catalog)
        frames["derived_state"] = derived_state_frame(conn)
        frames["touch_counts"] = touch_counts_frame(conn)
        frames["analytics_coverage"] = analytics_coverage_frame(conn, catalog)
        frames["timeline_coverage"] = timeline_coverage_frame(conn)
    return run_suites(frames, all_suites(facts), project_dir, build_docs=build_docs)

"""`crm check`'s analytics coverage: an event the store holds but analytics never wrote
(a batch a worker parked) is found and named by its position, on real PostgreSQL and the
analytics files; events past analytics' newest position are lag, not loss."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RegisterCustomer
from commands.service import CommandService
from ops.quality.frames import analytics_coverage_frame
from ops.quality.runner import run_suites
from ops.quality.suites import Suite, reconciliation_suites
from projections.analytics.catalog import connect
from projections.analytics.layout import AnalyticsLayout
from projections.analytics.writer import AnalyticsSink
from streams.source import EventSource

pytestmark = pytest.mark.integration


def test_an_event_analytics_never_wrote_is_named_by_its_position(
    database_url: str, tmp_path: Path
) -> None:
    app = CrmApplication(database_url, master_key=generate_master_key(), pool_size=1)
    try:
        service = CommandService(app)
        for name in ("甲", "乙", "丙", "丁"):
            service.handle(RegisterCustomer(name=name), CommandContext("ops"))
        envelopes = EventSource(app).read_after(0, 100).envelopes
    finally:
        app.close()
    assert len(envelopes) == 4
    layout = AnalyticsLayout(tmp_path / "analytics")
    sink = AnalyticsSink(layout)
    sink([envelopes[0], envelopes[2]])  # the second parked; the fourth not there yet
    lost = envelopes[1]["position"]
    with psycopg.connect(database_url) as conn, connect(layout) as catalog:
        frame = analytics_coverage_frame(conn, catalog)
        assert frame["position"].tolist() == [lost], "the lag past the newest is not loss"
        (suite,) = [s for s in reconciliation_suites() if s.name == "analytics_coverage"]
        report = run_suites(
            {suite.name: frame}, [Suite(suite.name, suite.expectations)], tmp_path / "gx",
            build_docs=False,
        )  # fmt: skip
    assert not report.success
    assert f"position {lost}" in report.failures[0].detail
    sink([envelopes[1], envelopes[3]])
    with psycopg.connect(database_url) as conn, connect(layout) as catalog:
        assert analytics_coverage_frame(conn, catalog).empty

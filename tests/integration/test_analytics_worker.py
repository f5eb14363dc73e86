"""The analytics worker process on the real broker: an analyst's read-only DuckDB
connection, opened while the platform runs, sees new events arrive within seconds."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from commands.application import CrmApplication
from commands.service import CommandService
from projections.analytics.layout import AnalyticsLayout
from streams.topic import ensure_topic
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import one_customer, start_worker, stop
from tests.integration.support.waiting import wait_for

pytestmark = pytest.mark.integration

CATCH_UP_SECONDS = 10.0


def test_a_read_only_catalog_sees_new_events_within_seconds(
    servers: ServerSet,
    app: CrmApplication,
    database_url: str,
    kafka_topic: str,
    master_key: str,
    tmp_path: Path,
) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 2)
    data_dir = tmp_path / "data"
    layout = AnalyticsLayout.for_data_dir(data_dir)
    service = CommandService(app)
    processes = [
        start_worker(servers, database_url, kafka_topic, master_key, data_dir, ("relay",)),
        start_worker(
            servers, database_url, kafka_topic, master_key, data_dir, ("worker", "analytics")
        ),
    ]
    try:
        for i in range(5):
            one_customer(service, i)
        wait_for(layout.catalog.exists, 60, interval=0.2)
        analyst = duckdb.connect(str(layout.catalog), read_only=True)

        def caught_up() -> bool:
            newest = app.recorder.max_notification_id()
            row = analyst.execute("SELECT count(*) FROM events").fetchone()
            return row is not None and row[0] == newest

        wait_for(caught_up, 90, interval=0.2)  # the worker joins its consumer group first
        for i in range(5, 25):
            one_customer(service, i)
        wait_for(caught_up, CATCH_UP_SECONDS, interval=0.2)

        assert analyst.execute(
            "SELECT count(*), sum(purchase_total), sum(touches) FROM customers"
        ).fetchall() == [(25, Decimal("120.00") * 25, 25)]
        assert analyst.execute("SELECT reached FROM funnel WHERE stage = 'QUOTE'").fetchall() == [
            (25,)
        ]
        analyst.close()
    finally:
        for process in processes:
            stop(process)

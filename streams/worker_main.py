"""The stream processor processes (`crm worker NAME`): Kafka topic ──► read models.

One process per worker name; several processes of one name share the topic's
partitions (one consumer group per name). A worker whose work is not written yet is
still a real process that holds its connections and reports `idle` with what it will
do (see `streams.relay_main` for the contract with the process shell in `ops`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.relay_main import Report, StopFlag, StreamConfig, serve_idle

if TYPE_CHECKING:
    from commands.application import CrmApplication
    from streams.processor import ProcessorSettings

WORKERS: dict[str, str] = {
    "projections": "apply events to the PostgreSQL read models (360°, funnel, timeline, …)",
    "analytics": "write events to Parquet files and the DuckDB catalog for analysts",
}
IMPLEMENTED = frozenset({"projections", "analytics"})
"""Every worker `crm up` starts, with the job it will do."""


def run(name: str, config: StreamConfig, report: Report, stop: StopFlag) -> None:
    """Body of `crm worker NAME`."""
    if name not in WORKERS:
        raise ValueError(f"unknown worker {name!r}; known: {', '.join(WORKERS)}")
    report("starting", "connecting to the database and the broker")
    if name not in IMPLEMENTED:
        serve_idle(config, report, stop, f"{name} worker: {WORKERS[name]}")
        return
    from commands.application import CrmApplication
    from streams.processor import ProcessorSettings

    app = CrmApplication(config.database_url, master_key=config.master_key, pool_size=2)
    settings = ProcessorSettings(name, config.kafka_bootstrap, config.topic, config.data_dir)
    try:
        if name == "analytics":
            _run_analytics(app, config, settings, report)
        else:
            _run_read_models(app, config, settings, report)
    finally:
        app.close()


def _run_read_models(
    app: CrmApplication, config: StreamConfig, settings: ProcessorSettings, report: Report
) -> None:
    from streams.processor import run_processor
    from streams.sink import ReadModelSink

    sink = ReadModelSink(app, config.database_url)
    try:
        run_processor(settings, sink, report, sink.lag)
    finally:
        sink.close()


def _run_analytics(
    app: CrmApplication, config: StreamConfig, settings: ProcessorSettings, report: Report
) -> None:
    from projections.analytics.layout import AnalyticsLayout
    from projections.analytics.writer import AnalyticsSink
    from streams.processor import run_processor

    sink = AnalyticsSink(AnalyticsLayout.for_data_dir(config.data_dir))

    def lag() -> int:
        newest = app.recorder.max_notification_id() or 0
        return max(0, newest - sink.highest_position)

    run_processor(settings, sink, report, lag)

"""The stream processor processes (`crm worker NAME`): Kafka topic ──► read models.

One process per worker name; several processes of one name share the topic's
partitions (one consumer group per name). Each worker is the same faust processor
(`streams.processor`) with its own sink (see `streams.relay_main` for the contract with
the process shell in `ops`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streams.relay_main import Report, StopFlag, StreamConfig

if TYPE_CHECKING:
    from commands.application import CrmApplication
    from streams.generation import GenerationWatch
    from streams.processor import ProcessorSettings

Runner = Callable[
    ["CrmApplication", StreamConfig, "ProcessorSettings", Report, "GenerationWatch"], None
]


def _run_read_models(
    app: CrmApplication,
    config: StreamConfig,
    settings: ProcessorSettings,
    report: Report,
    watch: GenerationWatch,
) -> None:
    from streams.processor import run_processor
    from streams.sink import ReadModelSink

    sink = ReadModelSink(app, config.database_url)
    try:
        run_processor(settings, sink, report, sink.lag, watch.moved)
    finally:
        sink.close()


def _run_analytics(
    app: CrmApplication,
    config: StreamConfig,
    settings: ProcessorSettings,
    report: Report,
    watch: GenerationWatch,
) -> None:
    from projections.analytics.layout import AnalyticsLayout
    from projections.analytics.writer import AnalyticsSink
    from streams.processor import run_processor

    sink = AnalyticsSink(AnalyticsLayout.for_data_dir(config.data_dir))

    def lag() -> int:
        newest = app.recorder.max_notification_id() or 0
        return max(0, newest - sink.highest_position)

    run_processor(settings, sink, report, lag, watch.moved)


@dataclass(frozen=True)
class Worker:
    job: str
    run: Runner


WORKERS: dict[str, Worker] = {
    "projections": Worker(
        "apply events to the PostgreSQL read models (360°, funnel, timeline, …)",
        _run_read_models,
    ),
    "analytics": Worker(
        "write events to Parquet files and the DuckDB catalog for analysts", _run_analytics
    ),
}
"""Every worker `crm up` starts, with the job it does."""


def run(name: str, config: StreamConfig, report: Report, stop: StopFlag) -> None:
    """Body of `crm worker NAME` (faust installs its own signal handlers, so `stop` is
    not polled here)."""
    if name not in WORKERS:
        raise ValueError(f"unknown worker {name!r}; known: {', '.join(WORKERS)}")
    report("starting", "connecting to the database and the broker")
    from commands.application import CrmApplication
    from streams.generation import GenerationWatch
    from streams.processor import ProcessorSettings

    app = CrmApplication(config.database_url, master_key=config.master_key, pool_size=2)
    watch = GenerationWatch(config.database_url, config.topic)
    settings = ProcessorSettings(
        name, config.kafka_bootstrap, config.topic, config.data_dir, generation=watch.started_in
    )
    try:
        WORKERS[name].run(app, config, settings, report, watch)
    finally:
        app.close()

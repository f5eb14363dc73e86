"""The stream processor processes (`crm worker NAME`): Kafka topic ──► read models.

One process per worker name; several processes of one name share the topic's
partitions (one consumer group per name). A worker whose work is not written yet is
still a real process that holds its connections and reports `idle` with what it will
do (see `streams.relay_main` for the contract with the process shell in `ops`).
"""

from __future__ import annotations

from streams.relay_main import Report, StopFlag, StreamConfig, serve_idle

WORKERS: dict[str, str] = {
    "projections": "apply events to the PostgreSQL read models (360°, funnel, timeline, …)",
    "analytics": "write events to Parquet files and the DuckDB catalog for analysts",
}
IMPLEMENTED = frozenset({"projections"})
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
    from streams.processor import ProcessorSettings, run_processor
    from streams.sink import ReadModelSink

    app = CrmApplication(config.database_url, master_key=config.master_key, pool_size=2)
    sink = ReadModelSink(app, config.database_url)
    settings = ProcessorSettings(name, config.kafka_bootstrap, config.topic, config.data_dir)
    try:
        run_processor(settings, sink, report, sink.lag)
    finally:
        sink.close()
        app.close()

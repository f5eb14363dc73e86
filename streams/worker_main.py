"""The stream processor processes (`crm worker NAME`): Kafka topic ──► read models.

One process per worker name; several processes of one name share the topic's
partitions (one consumer group per name). Each worker is the same faust processor
(`streams.processor`) with its own sink (see `streams.relay_main` for the contract with
the process shell in `ops`).
"""

from __future__ import annotations

import faulthandler
import re
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streams.generation import GROUP_PREFIX
from streams.relay_main import Report, StopFlag, StreamConfig

if TYPE_CHECKING:
    from commands.sealed_reader import SealedSource
    from streams.intake import Intake
    from streams.processor import ProcessorSettings

Sink = Callable[[Sequence[Mapping[str, Any]]], Any]


@dataclass(frozen=True)
class OpenedSink:
    """A worker's sink, how far behind it is (for /healthz) and how to close it."""

    sink: Sink
    lag: Callable[[], int]
    close: Callable[[], None]


Opener = Callable[["SealedSource", StreamConfig], OpenedSink]


def _read_models(source: SealedSource, config: StreamConfig) -> OpenedSink:
    from bootstrap import read_model_sink

    sink = read_model_sink(source, config.database_url)
    return OpenedSink(sink, sink.lag, sink.close)


def _analytics(source: SealedSource, config: StreamConfig) -> OpenedSink:
    from bootstrap import analytics_sink

    sink = analytics_sink(config.data_dir, config.timezone)

    def lag() -> int:
        newest = source.max_position()
        return max(0, newest - sink.highest_position)

    return OpenedSink(sink, lag, lambda: None)


Body = Callable[[StreamConfig, Report, StopFlag], None]


def _no_sink(source: SealedSource, config: StreamConfig) -> OpenedSink:
    raise ValueError("this worker consumes no topic, so it has no sink")


def _lifecycle(config: StreamConfig, report: Report, stop: StopFlag) -> None:
    from streams.lifecycle_scheduler import run as run_scheduler

    run_scheduler(config, report, stop)


@dataclass(frozen=True)
class Worker:
    """`open` gives a topic consumer's sink; a worker with its own `body` runs that
    instead (e.g. the lifecycle scheduler, which reads the read models, not the topic)."""

    job: str
    open: Opener
    body: Body | None = None
    batch_within: float = 0.05
    """How long a batch waits for more events once the last one is done (faust's
    `take_events(within=...)`); what queued meanwhile joins at once."""


WORKERS: dict[str, Worker] = {
    "projections": Worker(
        "apply events to the PostgreSQL read models (360°, funnel, timeline, …)",
        _read_models,
        # Reads wait on it (`atLeast`, the lag): apply what queued during the last batch
        # at once. Batches still grow with the load, as events queue while one applies.
        batch_within=0.005,
    ),
    "analytics": Worker(
        "write events to Parquet files and the DuckDB catalog for analysts", _analytics
    ),
    "lifecycle": Worker(
        "record lifecycle-stage and tier changes that time alone causes (day 91: AT_RISK)",
        _no_sink,
        _lifecycle,
    ),
}
"""Every worker `crm up` starts, with the job it does."""


def processor_settings(
    name: str, config: StreamConfig, topic: str, generation: int = 0, segment: str = ""
) -> ProcessorSettings:
    """How worker `name` consumes `topic` (a generation and segment of the configured one)."""
    from streams.processor import ProcessorSettings

    return ProcessorSettings(
        name,
        config.kafka_bootstrap,
        topic,
        config.data_dir,
        generation=generation,
        segment=segment,
        security=config.kafka_security,
        batch_within=WORKERS[name].batch_within,
        group_prefix=config.group_prefix,
    )


def run(name: str, config: StreamConfig, report: Report, stop: StopFlag) -> None:
    """Body of `crm worker NAME` (faust installs its own signal handlers, so `stop` is
    not polled here)."""
    if name not in WORKERS:
        raise ValueError(f"unknown worker {name!r}; known: {', '.join(WORKERS)}")
    body = WORKERS[name].body
    if body is not None:
        body(config, report, stop)
        return
    # `kill -USR1 PID` prints every thread's stack: where a stuck worker waits.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    report("starting", "connecting to the database and the broker")
    from bootstrap import sealed_reader  # the composition root; only the process body
    from streams.heap import settle
    from streams.join_watch import JoinPatience
    from streams.processor import run_processor
    from streams.topic_follow import LogWatch

    # A worker opens sealed fields and reports lag: the key ring, not the store application.
    app = sealed_reader(config.database_url, config.master_key)
    # The physical topic: the configured one, or the segment a widening cut over to.
    watch = LogWatch(
        config.database_url,
        config.topic,
        name,
        config.kafka_bootstrap,
        config.kafka_security,
        config.group_prefix,
    )

    def settings_now() -> ProcessorSettings:
        return processor_settings(name, config, watch.topic, watch.generation, watch.tag)

    settings = settings_now()
    patience = JoinPatience(config.join_timeout)  # across this process's apps
    try:
        with opened_intake(name, app, config, settings.group) as (intake, opened):
            settle()  # the sink and faust are loaded: out of the collector's full passes
            # A broker loss or a widening's cut: the same process joins the next group
            # with a new faust app (sink, key ring and connections are kept); after a
            # stalled partition (streams/stall_watch.py), the same group again.
            while run_processor(
                settings, intake, report, opened.lag, lambda: intake.parked, watch.moved, patience
            ):
                watch.advance()
                settings = settings_now()
                intake.rejoin(settings.group)
    finally:
        watch.close()
        app.close()


def worker_of_group(group: str, prefix: str = GROUP_PREFIX) -> str | None:
    """The worker whose consumer group (and parking-lot name) is `group`, of any
    generation of the broker's log and any widened topic (`crm-NAME`, `crm-NAME-gN`,
    `crm-NAME-pK`, `crm-NAME-gN-pK`, with `prefix` for `crm`)."""
    from streams.processor import group_name

    base = re.sub(r"(-g[0-9]+)?(-p[0-9]+)?$", "", group)
    return next((name for name in WORKERS if group_name(name, prefix=prefix) == base), None)


@contextmanager
def opened_intake(
    name: str, app: SealedSource, config: StreamConfig, group: str | None = None
) -> Iterator[tuple[Intake, OpenedSink]]:
    """Worker `name`'s sink behind its intake (also what `crm parked retry` applies with)."""
    from streams.intake import Intake
    from streams.processor import group_name

    opened = WORKERS[name].open(app, config)
    group = group or group_name(name, prefix=config.group_prefix)
    intake = Intake(group, app.stream_signing_key, opened.sink, config.database_url)
    try:
        yield intake, opened
    finally:
        intake.close()
        opened.close()

"""The faust-streaming processor behind `crm worker NAME`: topic ──► sink, in batches.

At-least-once by design (see DESIGN.md's known traps): one agent, concurrency 1, and a
sink whose writes are idempotent by position. faust's `take` acks a batch when the loop
body finishes, even when it raised; so a batch that fails to apply ends the process at
once (no ack, no commit) and the supervisor restarts it to re-read from the last commit.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import faust

from streams.envelope import decode
from streams.generation import group_id

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[dict[str, Any]]], Any]
Report = Callable[[str, str], None]

EXIT_BATCH_FAILED = 70
EXIT_BROKER_LOST = 75  # the broker lost the log: restart into the new generation's group
FETCH_MAX_WAIT_MS = 100
SESSION_TIMEOUT_S = 2.0


def prompt_fetches() -> None:
    """Make faust's consumers ask the broker to answer a fetch within 100 ms.

    faust hard-codes ``fetch_max_wait_ms=1500`` when it builds its aiokafka consumer, and
    a broker may hold a fetch on a quiet partition for that whole wait before answering
    (the embedded Tansu does), so each event could sit on the topic for up to 1.5 s.
    The patch is confined to the processor process, which runs nothing else.
    """
    import aiokafka

    if getattr(aiokafka.AIOKafkaConsumer, "crm_prompt_fetches", False):
        return

    class PromptConsumer(aiokafka.AIOKafkaConsumer):
        crm_prompt_fetches = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["fetch_max_wait_ms"] = FETCH_MAX_WAIT_MS
            super().__init__(*args, **kwargs)

    aiokafka.AIOKafkaConsumer = PromptConsumer


def _die_unacked(message: str, count: int) -> None:
    log.exception(message, count)
    os._exit(EXIT_BATCH_FAILED)


async def apply_before_ack(sink: Sink, envelopes: Sequence[dict[str, Any]]) -> None:
    """Run `sink(envelopes)` in a thread; return (and let `take` ack) only once it is done.

    faust's `take` acks the batch in a `finally`, so it also acks when the agent is
    cancelled mid-batch (faust stopping or restarting the agent after a broker error), and
    a stop commits what was acked. A thread cannot be cancelled: without care the sink is
    still writing (the analytics part not yet fsynced) while its offsets are committed,
    and an exit then loses the batch (issue 11: analytics 85.00 vs 84.00). So a cancel
    waits for the sink to finish before it goes on; a failed sink, or a second cancel
    while waiting, ends the process at once, with nothing acked.
    """
    work = asyncio.ensure_future(asyncio.to_thread(sink, envelopes))
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        try:
            await asyncio.shield(work)  # applied before the ack runs, or never acked
        except BaseException:
            _die_unacked("batch of %d interrupted twice or failed; exiting unacked", len(envelopes))
        raise
    except Exception:
        _die_unacked("batch of %d failed; exiting without acking it", len(envelopes))


@dataclass(frozen=True)
class ProcessorSettings:
    name: str
    bootstrap: str
    topic: str
    data_dir: Path
    batch_size: int = 500
    batch_within: float = 0.05
    rebalance_timeout: float = 3.0  # Tansu waits this long for a group to (re)join
    generation: int = 0  # of the broker's log (streams/generation.py): names the group


def build_app(
    settings: ProcessorSettings,
    sink: Sink,
    report: Report,
    lag: Callable[[], int] | None = None,
    log_replaced: Callable[[], bool] | None = None,
) -> faust.App:
    brokers = [f"kafka://{server.strip()}" for server in settings.bootstrap.split(",")]
    datadir = settings.data_dir / "faust" / settings.name
    datadir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        group_id(settings.name, settings.generation),
        broker=brokers,
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_replication_factor=1,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_rebalance_timeout=settings.rebalance_timeout,
        # A worker killed with SIGKILL stays a member until its session times out, and its
        # restarted self cannot join before that: 2 s (was 6 s) with heartbeats every 0.5 s.
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=SESSION_TIMEOUT_S / 4,
        broker_commit_every=settings.batch_size,
        broker_commit_interval=1.0,
    )
    topic = app.topic(settings.topic, key_serializer="raw", value_serializer="raw")
    counters = {"batches": 0, "events": 0}

    @app.agent(topic, concurrency=1)
    async def apply(stream: Any) -> None:
        async for batch in stream.take(settings.batch_size, within=settings.batch_within):
            envelopes = [decode(value) for value in batch]
            await apply_before_ack(sink, envelopes)
            counters["batches"] += 1
            counters["events"] += len(envelopes)

    @app.timer(0.5)
    async def watch_the_log() -> None:
        # Offsets into a log the broker lost are meaningless; see streams/generation.py.
        if log_replaced is not None and await asyncio.to_thread(log_replaced):
            log.warning("the broker lost its log; restarting into the new consumer group")
            report("starting", "the broker lost its log: rejoining as a new consumer group")
            os._exit(EXIT_BROKER_LOST)

    async def heartbeat() -> None:
        behind = await asyncio.to_thread(lag) if lag else None
        lag_text = f", lag {behind}" if behind is not None else ""
        report("ok", f"{counters['events']} events in {counters['batches']} batches{lag_text}")

    app.timer(1.0)(heartbeat)

    async def joined(sender: Any, *args: Any, **kwargs: Any) -> None:
        # Say "ok" the moment the group has taken us in, not at the next timer tick: the
        # restart time after a kill is measured until /healthz is 200 again.
        await heartbeat()

    app.on_partitions_assigned.connect(cast(Any, joined))

    return app


def run_processor(
    settings: ProcessorSettings,
    sink: Sink,
    report: Report,
    lag: Callable[[], int] | None = None,
    log_replaced: Callable[[], bool] | None = None,
) -> None:
    """Block until SIGINT/SIGTERM (faust's worker installs the handlers and stops cleanly).

    `lag()`: how many recorded events this worker has not applied yet (for /healthz).
    `log_replaced()`: true once the broker lost the log this worker reads (the process
    then ends at once, to be restarted into the new generation's consumer group).
    """
    prompt_fetches()
    app = build_app(settings, sink, report, lag, log_replaced)
    report("starting", "joining the consumer group")
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    worker.execute_from_commandline()

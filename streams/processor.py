"""The faust-streaming processor behind `crm worker NAME`: topic ──► intake, in batches.

At-least-once by design (see DESIGN.md's known traps): one agent, concurrency 1, and a
sink whose writes are idempotent by position. The intake (`streams.intake`) parks every
message it cannot trust or apply and applies the rest, so a bad message never fails a
batch. faust's `take_events` acks a batch when the loop body finishes, even when it
raised or was cancelled; so the batch is acked only once the intake returned, and a
batch that still fails (the database is gone) ends the process at once (no ack, no
commit) and the supervisor restarts it to re-read from the last commit.

When the broker loses its log (streams/generation.py), or the topic was widened and the
group has read it to the cut (streams/topic_follow.py), the running faust worker is
stopped and a new app joins the next consumer group in the same process: a process
restart (imports, start-up) was most of the recovery time after a broker loss.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import faust
from faust.tables import TableManager

from streams.generation import GROUP_PREFIX, group_id
from streams.group_offsets import GroupReader
from streams.join_watch import JoinPatience, JoinWatch
from streams.kafka_clients import PLAINTEXT, KafkaSecurity, faust_credentials
from streams.parking import RawMessage
from streams.stall_watch import Progress, StallWatch
from streams.tracing import traced_batch

log = logging.getLogger(__name__)

Intake = Callable[[Sequence[RawMessage]], Any]
"""Takes a batch of raw messages; parks what it cannot apply (`streams.intake.Intake`)."""
Report = Callable[[str, str], None]

EXIT_BATCH_FAILED = 70
EXIT_BROKER_LOST = 75  # the broker lost the log and the in-process switch did not finish
FETCH_MAX_WAIT_MS = 100
SESSION_TIMEOUT_S = 2.0
LOG_WATCH_INTERVAL_S = 0.25  # how often a worker asks whether the broker lost its log
SWITCH_STOP_TIMEOUT_S = 10.0  # the old app must stop within this, else a process restart


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


def log_group_joins() -> None:
    """Log aiokafka's group joins (joined, generation, leader, assignment) at INFO, with
    the rest of aiokafka at WARNING (`quiet_libraries`): a join that hangs is then seen in
    the log, and a rebalance is rare enough to be worth a few lines each time. They go
    through the process's own handler, as JSON lines like every other."""
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.setLevel(logging.INFO)
    coordinator.propagate = True


def _die_unacked(message: str, count: int) -> None:
    log.exception(message, count)
    os._exit(EXIT_BATCH_FAILED)


async def apply_before_ack(intake: Intake, messages: Sequence[RawMessage]) -> None:
    """Run `intake(messages)` in a thread; return (and let `take_events` ack) only once done.

    faust's `take_events` acks the batch in a `finally`, so it also acks when the agent is
    cancelled mid-batch (faust stopping or restarting the agent after a broker error), and
    a stop commits what was acked. A thread cannot be cancelled: without care the sink is
    still writing (the analytics part not yet fsynced) while its offsets are committed,
    and an exit then loses the batch (issue 11: analytics 85.00 vs 84.00). So a cancel
    waits for the intake to finish before it goes on; a failed intake, or a second cancel
    while waiting, ends the process at once, with nothing acked.
    """
    work = asyncio.ensure_future(asyncio.to_thread(intake, messages))
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        try:
            await asyncio.shield(work)  # applied before the ack runs, or never acked
        except BaseException:
            _die_unacked("batch of %d interrupted twice or failed; exiting unacked", len(messages))
        raise
    except Exception:
        _die_unacked("batch of %d failed; exiting without acking it", len(messages))


class NoTablesManager(TableManager):
    """faust's table manager without its fixed 1 s sleep at start-up, which waits for
    tables to be declared: this app declares none, and that second was a third of a
    worker's start (after a restart, or a move to a new broker generation)."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


LIBRARIES: Final = ("faust", "mode", "aiokafka")


def quiet_libraries(level: int) -> None:
    """faust, mode and aiokafka log at WARNING or above, unless the process asks for less
    (CRM_LOG_LEVEL=DEBUG): their INFO lines are every rebalance's and fetch's chatter."""
    chosen = level if level <= logging.DEBUG else max(level, logging.WARNING)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(chosen)


class PromptStopWorker(faust.Worker):
    """faust's worker, without mode's fixed 1 s sleep before it closes a stopped loop:
    that second was a third of an in-process generation switch (and of every stop), and
    without its terminal spinner, whose cursor escapes ended up in the log file."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spinner = None

    async def _sentinel_task(self) -> None:
        await asyncio.sleep(0.05)


class GenerationSwitch:
    """Stops a running faust worker because the broker's log was replaced, the topic was
    widened, or a held partition stalled, so that the caller starts a new app in the
    group it must read now (the same one after a stall); `requested` tells that stop
    from one by a signal. The stop goes the way of a SIGTERM (the batch in flight is
    applied before its ack, see `apply_before_ack`); if it hangs (a consumer waiting on
    the broker), the process ends with `EXIT_BROKER_LOST` and the supervisor starts it
    again at once: the old way, slower but as correct.
    """

    def __init__(self, stop_timeout: float = SWITCH_STOP_TIMEOUT_S) -> None:
        self.requested = False
        self.worker: Any = None
        self.stop_timeout = stop_timeout
        self._watchdog: threading.Timer | None = None
        self._requested_at = self._stopped_at = 0.0

    def request(self) -> None:
        if self.requested or self.worker is None:
            return
        self.requested = True
        self._requested_at = time.monotonic()
        self._watchdog = threading.Timer(self.stop_timeout, self._stop_hung)
        self._watchdog.daemon = True
        self._watchdog.start()
        # mode's own path for a SIGTERM: stop the services, then cancel the start.
        self.worker._schedule_shutdown(signal.SIGTERM)

    def stopped(self) -> None:
        self._stopped_at = time.monotonic()
        if self._watchdog is not None:
            self._watchdog.cancel()

    def took(self) -> float:
        """Seconds from the request to the end of the old worker's stop."""
        return self._stopped_at - self._requested_at

    def _stop_hung(self) -> None:
        log.error(
            "the old consumer did not stop in %.0fs; restarting the process", self.stop_timeout
        )
        os._exit(EXIT_BROKER_LOST)


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
    segment: str = ""  # a widened topic's part of the group name (streams/topic_follow.py)
    security: KafkaSecurity = PLAINTEXT  # SASL/SSL of a managed cluster
    group_prefix: str = GROUP_PREFIX  # this installation's groups on a shared cluster

    @property
    def group(self) -> str:
        """The consumer group, also the parked rows' `group_name`: per generation, since
        offsets (the parking lot's key) name other messages in a new log, and per segment
        of a widened topic (`streams.topic_follow`)."""
        return group_id(self.name, self.generation, self.segment, self.group_prefix)


def group_name(worker: str, generation: int = 0, prefix: str = GROUP_PREFIX) -> str:
    """Worker `worker`'s consumer group, also its name in the parking lot."""
    return group_id(worker, generation, prefix=prefix)


def raw_message(event: Any) -> RawMessage:
    """The bytes and coordinates of a faust event's message (headers as (name, bytes))."""
    message = event.message
    headers = message.headers or ()
    pairs = headers.items() if isinstance(headers, dict) else headers
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value or b"",
        headers=tuple((str(name), bytes(value or b"")) for name, value in pairs),
    )


def build_app(
    settings: ProcessorSettings,
    intake: Intake,
    report: Report,
    lag: Callable[[], int] | None = None,
    parked: Callable[[], int] | None = None,
    log_replaced: Callable[[], bool] | None = None,
    switch: GenerationSwitch | None = None,
    group: GroupReader | None = None,
) -> faust.App:
    brokers = [f"kafka://{server.strip()}" for server in settings.bootstrap.split(",")]
    datadir = settings.data_dir / "faust" / settings.name
    datadir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        settings.group,
        broker=brokers,
        broker_credentials=faust_credentials(settings.security),
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_replication_factor=1,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_rebalance_timeout=settings.rebalance_timeout,
        # A worker killed with SIGKILL stays a member until its session times out, and its
        # restarted self (or its twin) cannot take its partitions before that: 2 s (was
        # 6 s) with heartbeats every 0.5 s. Not lower: on this loaded 2-core machine a
        # busy member can miss 1 s, and each false expiry is a rebalance of the group.
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=SESSION_TIMEOUT_S / 4,
        broker_commit_every=settings.batch_size,
        broker_commit_interval=1.0,
        TableManager=NoTablesManager,
    )
    topic = app.topic(settings.topic, key_serializer="raw", value_serializer="raw")
    counters = {"batches": 0, "events": 0}
    applying_since: list[float] = []  # when the batch being written began (the stall watch)

    @app.agent(topic, concurrency=1)
    async def apply(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within):
            messages = [raw_message(event) for event in events]
            applying_since.append(time.monotonic())
            try:
                with traced_batch(settings.name, messages):
                    await apply_before_ack(intake, messages)
            finally:
                applying_since.clear()
            counters["batches"] += 1
            counters["events"] += len(messages)

    @app.timer(LOG_WATCH_INTERVAL_S)
    async def watch_the_log() -> None:
        # Offsets into a log the broker lost are meaningless (streams/generation.py); a
        # widened topic was read to its cut by the whole group (streams/topic_follow.py).
        if switch is None or switch.requested or log_replaced is None:
            return
        if await asyncio.to_thread(log_replaced):
            log.warning("the log moved (broker loss or widening); following it in place")
            report("starting", "the log moved (broker loss or widening): rejoining on it")
            switch.request()

    stall_watch = StallWatch()

    @app.timer(stall_watch.check_seconds)
    async def watch_for_stalls() -> None:
        # A held partition with a backlog and no progress (streams/stall_watch.py).
        held = held_partitions(app, settings.topic)
        if switch is None or switch.requested or group is None or not held:
            return
        try:
            committed, ends = await asyncio.to_thread(
                group.read, settings.topic, held, with_ends=True
            )
        except Exception as error:  # the broker restarting: no news is no stall
            log.debug("cannot read the group's progress: %s", error)
            return
        progress = {p: Progress(committed.get(p), ends[p]) for p in held if p in ends}
        stalled = stall_watch.stalled(
            time.monotonic(), progress, applying_since=next(iter(applying_since), None)
        )
        if stalled:
            log.error(
                "no progress for %.0fs on partitions %s of %s, with events waiting; "
                "rejoining the group in place",
                stall_watch.stall_seconds,
                stalled,
                settings.topic,
            )
            report("starting", f"stalled on partitions {stalled}: rejoining the group")
            switch.request()

    async def heartbeat() -> None:
        try:
            behind = await asyncio.to_thread(lag) if lag else None
            lag_text = f", lag {behind}" if behind is not None else ""
        except Exception as error:
            # PostgreSQL restarting: a timer that raised would crash faust and cost a
            # process restart and a group join; the sink reconnects by itself.
            lag_text = f", lag unknown ({type(error).__name__})"
        parked_text = f", {parked()} parked so far" if parked else ""
        report(
            "ok",
            f"{counters['events']} events in {counters['batches']} batches{lag_text}"
            f"{parked_text}, topic {settings.topic}, partitions {assigned(app, settings.topic)}",
        )

    app.timer(1.0)(heartbeat)

    saying: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references to tasks

    async def joined(sender: Any, *args: Any, **kwargs: Any) -> None:
        # Say "ok" the moment the group has taken us in, not at the next timer tick: the
        # restart time after a kill is measured until /healthz is 200 again. Not awaited:
        # the lag asks PostgreSQL, and a slow database must not hold up the rebalance.
        task = asyncio.ensure_future(heartbeat())
        saying.add(task)
        task.add_done_callback(saying.discard)

    app.on_partitions_assigned.connect(cast(Any, joined))

    return app


def held_partitions(app: faust.App, topic: str) -> list[int]:
    """The partitions of `topic` this member holds now (replicas of one worker share them;
    a rebalance moves them)."""
    try:
        return sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topic)
    except Exception:  # not joined yet: faust has no consumer assignment to show
        return []


def assigned(app: faust.App, topic: str) -> str:
    """`held_partitions` for the heartbeat, e.g. "0,2"."""
    return ",".join(str(p) for p in held_partitions(app, topic)) or "none"


def run_processor(
    settings: ProcessorSettings,
    intake: Intake,
    report: Report,
    lag: Callable[[], int] | None = None,
    parked: Callable[[], int] | None = None,
    log_replaced: Callable[[], bool] | None = None,
    patience: JoinPatience | None = None,
) -> bool:
    """Run until SIGINT/SIGTERM (faust's worker installs the handlers and stops cleanly)
    or until this worker must rejoin: the log moved, or a held partition stalled.

    `lag()`: how many recorded events this worker has not applied yet (for /healthz);
    `parked()`: how many messages this process parked (for its heartbeat);
    `log_replaced()`: true once the broker lost the log this worker reads, or the group
    read its widened topic to the cut (`streams.topic_follow.LogWatch.moved`);
    `patience`: how long this app waits for its group, kept across the process's apps
    (`streams.join_watch.JoinPatience`; by default a fresh one at `JOIN_WITHIN_S`).
    Returns True when it stopped to rejoin: the caller runs it again with the settings of
    now, in this process. A signal's stop raises SystemExit as before.
    """
    prompt_fetches()
    log_group_joins()
    patience = patience or JoinPatience()
    # Each run gets a loop of its own: mode's worker closes its loop when it stops.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    switch = GenerationSwitch()
    group = GroupReader(settings.bootstrap, settings.group, settings.security)  # stall watch
    app = build_app(settings, intake, report, lag, parked, log_replaced, switch, group)
    report("starting", "joining the consumer group")
    # The process's logging stays as `crm worker` set it up (JSON lines, CRM_LOG_LEVEL):
    # mode's worker would replace it with its own text format.
    quiet_libraries(logging.getLogger().level)
    worker = PromptStopWorker(app, loop=loop, quiet=True, override_logging=False)
    switch.worker = worker
    watch = watched_join(app, loop, switch, settings.group, patience, report)
    try:
        worker.execute_from_commandline()
    except SystemExit:
        if not switch.requested:
            raise
    finally:
        watch.stop()
        switch.stopped()
        group.close()
    if switch.requested:
        log.warning("the old app stopped in %.1fs", switch.took())
    return switch.requested


def watched_join(
    app: faust.App,
    loop: asyncio.AbstractEventLoop,
    switch: GenerationSwitch,
    group: str,
    patience: JoinPatience,
    report: Report,
) -> JoinWatch:
    """A started `JoinWatch` on `app`'s first assignment: if it does not come in
    `patience.within`, every thread's stack goes to the log and a new app joins in place
    (`streams.join_watch`)."""
    within = patience.within

    def rejoin() -> None:
        if watch.taken_in:  # the join came while the stacks were written: keep it
            return
        report("starting", f"no partitions after {within:g}s: joining again")
        switch.request()

    def overdue() -> None:
        patience.missed()
        log.error(
            "the group %s gave no partitions in %gs; every thread's stack follows, "
            "then a new app joins in place",
            group,
            within,
        )
        # File descriptor 2, the worker's log: mode's worker swaps `sys.stderr` for a
        # logging proxy without a file descriptor, which faulthandler writes to.
        faulthandler.dump_traceback(file=2, all_threads=True)
        loop.call_soon_threadsafe(rejoin)

    watch = JoinWatch(overdue, within)

    async def taken_in(sender: Any, *args: Any, **kwargs: Any) -> None:
        watch.joined()
        patience.joined()

    app.on_partitions_assigned.connect(cast(Any, taken_in))
    watch.start()
    return watch

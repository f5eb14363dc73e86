"""The outbox relay: every recorded event, in global-position order, onto the Kafka topic.

Delivery is at-least-once and never skips: the relay remembers the last position it
has seen acknowledged (`crm_relay_progress`, written only after the broker's delivery
reports for that batch and every batch before it), so a crash re-sends at most the
batches in flight (`WINDOW`), never skips one. Reading the store overlaps sending: while
librdkafka ships one batch (`streams.relay_producer`), the relay reads and encodes the
next. It also remembers the partition end offsets the broker reported, and the topic's id;
when the topic is gone, has another id, or any partition is shorter than that (the
embedded broker keeps nothing across its restart), the broker has lost data and the relay
re-publishes everything from the store.
Envelope ids are stable, and every consumer applies an event at most once.

A widened topic (`crm topic widen`, `streams.topic_cuts`) is a cut-over: once a cut is
requested the leader drains what it has in flight, records the cut at its bookmark and
publishes every later event to the new topic. The configured topic name keeps naming the
bookmark and the leader lock; `publishing` is the physical topic written now.

Any number of relays may run: one leads (`streams.relay_progress`: an advisory lock on
the bookmark's connection), the others wait in `run` and take over when it dies. That
connection and the LISTEN one go to `session_url`, the server itself when the store is
reached through a transaction pooler (which would hand the lock's session to others).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

import orjson
import psycopg
from confluent_kafka import KafkaException
from eventsourcing import persistence
from kafka import TopicPartition
from kafka.errors import KafkaError

from commands.application import CrmApplication
from streams.kafka_clients import PLAINTEXT, KafkaSecurity, consumer
from streams.relay_producer import DeliveryFailed, ProducerPipeline
from streams.relay_progress import ProgressStore, RelayProgress
from streams.sampling import VALIDATE_EVERY, SampledValidator
from streams.source import EventSource, PrebuiltEvent, StoredEvent, message_of
from streams.topic import ensure_topic, exact_ends
from streams.topic_cuts import complete_cut, current, current_partitions, load_cuts, pending
from streams.wire import WireMessage

log = logging.getLogger(__name__)

ENDS_REFRESH_SECONDS = 0.25
"""How stale the remembered partition ends may get. They are what a broker's loss of
data is measured against (a topic shorter than them); probing them costs two round trips,
so under load it is done at most 4 times a second rather than after every batch. Each
refresh is also a loss check (`_probe_ends`): the ends of a restarted broker's new
log never replace those of the log it lost."""

KEEP_MESSAGES = 1_000_000
"""Messages built at commit are kept this many positions behind the bookmark (unless
`CRM_RELAY_KEEP_MESSAGES` says otherwise), for a fast re-publish after a broker loss;
older rows are deleted (a re-publish builds those from the stored events), so
`crm_event_envelopes` stays bounded (~1 KB a row) while the store grows."""
PRUNE_EVERY_SECONDS = 5.0
PRUNE_AT_MOST = 10_000
"""Rows deleted by one prune: a short statement in the relay's loop, so pruning never
holds publishing back for long (a store far past the limit is worked down over time)."""

WINDOW = 4
"""Batches in flight at once: enough that the store read of the next batches overlaps the
broker's acknowledgement of the first; what a crash may re-send."""

REPORT_EVERY_SECONDS = 1.0
"""How often a leading relay says "ok" with its position and lag (each a query and a
heartbeat file written); any other status is said at once, and "ok" again right after it.
Said on every turn of the loop, it was a third of the relay's CPU under the end-to-end
bench's mutations (a turn every few events)."""

PROBE_METADATA_BACKOFF_MS = 20
"""The least time between two metadata fetches of the relay's probe (`_partition_ends`)."""

LEADER_POLL_SECONDS = 0.25
"""How often a standby asks for the leader lock: the takeover delay after a leader dies."""

Report = Callable[[str, str], None]
BROKER_RETRY_SECONDS = 0.2
DATABASE_RETRY_SECONDS = 0.2
DATABASE_LOST: tuple[type[Exception], ...] = (
    psycopg.OperationalError,  # our own connections (and the pool's PoolTimeout)
    persistence.OperationalError,  # the event store's, translated by the library
    persistence.InterfaceError,
)
"""PostgreSQL went away: what the relay reconnects from instead of ending."""
BROKER_ERRORS = (KafkaError, KafkaException, DeliveryFailed)
"""kafka-python's (the probe, topic administration) and librdkafka's (the producer)."""


class Reporter:
    """The relay's heartbeat: "ok" (with its position and lag, a query) at most every
    `REPORT_EVERY_SECONDS`; any other status at once, and the next "ok" right after it."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self._ok_at: float | None = None  # None: something else was said since

    def __call__(self, status: str, detail: str) -> None:
        self._report(status, detail)
        self._ok_at = None

    def ok(self, detail: Callable[[], str]) -> None:
        now = time.monotonic()
        if self._ok_at is None or now - self._ok_at >= REPORT_EVERY_SECONDS:
            self._report("ok", detail())
            self._ok_at = now


class NotLeader(RuntimeError):
    """Another relay publishes this topic; this one may only wait (`run` does)."""


class Relay:
    """Publishes batches; `run` loops until stopped, `publish_available` drains once."""

    def __init__(
        self,
        app: CrmApplication,
        database_url: str,
        bootstrap: str,
        topic: str,
        *,
        partitions: int = 4,
        batch_size: int = 1000,
        security: KafkaSecurity = PLAINTEXT,
        window: int = WINDOW,
        validate_every: int = VALIDATE_EVERY,
        producer_config: Mapping[str, Any] | None = None,
        session_url: str | None = None,
        keep_messages: int | None = None,  # None: KEEP_MESSAGES
    ) -> None:
        self.source = EventSource(app)
        self.keep_messages = KEEP_MESSAGES if keep_messages is None else keep_messages
        self._pruned_at = float("-inf")
        self._pruned_upto = 0  # positions at or below it were pruned by this relay
        self.signing_key = app.stream_signing_key
        self.bootstrap = bootstrap
        self.security = security
        self.topic = topic
        self.partitions = partitions
        self.batch_size = batch_size
        self.window = window
        self.validator = SampledValidator(validate_every)
        self.producer_config = producer_config
        self.database_url = database_url
        # The leader lock and LISTEN live in a session: behind a transaction pooler they
        # need the server itself (`CRM_DATABASE_DIRECT_URL`; docs/deployment.md).
        self.session_url = session_url or database_url
        self.store = ProgressStore(self.session_url, topic)
        self.progress = self.store.load()
        self.publishing = topic  # the physical topic: `topic` until a cut moved it
        self.publishing_partitions, self.publishing_replication = partitions, 1
        self._follow_cuts()
        self.sent = self.progress.position  # read ahead of the bookmark: what is in flight
        self.caught_up = False  # the last read found nothing after `sent`
        self.pipeline = ProducerPipeline(bootstrap, self.publishing, security, producer_config)
        self.probe = consumer(bootstrap, security=security, client_id="crm-relay-probe")
        # kafka-python 3 keeps its metadata's own retry backoff (100 ms) whatever the client
        # is given, and spaces refreshes by it: the first probe, made right after the
        # client's bootstrap fetched metadata, waited ~100 ms at every relay start.
        self.probe._cluster.config["retry_backoff_ms"] = PROBE_METADATA_BACKOFF_MS
        self._ends_probed_at = 0.0
        self._topic_ids: dict[str, UUID | None] = {}  # each topic's id at the last probe
        self.listener = psycopg.connect(self.session_url, autocommit=True)
        self.listener.execute("LISTEN stored_events")

    def _restart_pipeline(self) -> None:
        """A fresh producer, resending from the bookmark (the old one's batches are dropped)."""
        self.pipeline.close(timeout=1)
        self.pipeline = ProducerPipeline(
            self.bootstrap, self.publishing, self.security, self.producer_config
        )
        self.sent = self.progress.position

    def _follow_cuts(self) -> None:
        """Publish to the topic the last recorded cut names (the base topic before any)."""
        cuts = load_cuts(self.store.conn, self.topic)
        self.publishing = current(self.topic, cuts)
        self.publishing_partitions, self.publishing_replication = current_partitions(
            cuts, self.partitions
        )

    def _ensure_publishing_topic(self) -> None:
        ensure_topic(
            self.bootstrap,
            self.publishing,
            self.publishing_partitions,
            self.security,
            self.publishing_replication,
        )

    # -- leadership ---------------------------------------------------------------------------

    def lead(self) -> bool:
        """Lead if no other relay does; on taking over, go on from the last leader's bookmark."""
        if self.store.leading:
            return True
        if not self.store.try_lead():
            return False
        self.progress = self.store.load()
        self._topic_ids.clear()  # the bookmark's ends tell what the last leader saw
        self._follow_cuts()  # the last leader may have cut over
        self._restart_pipeline()
        log.info(
            "relay leads %s from position %s, publishing to %s",
            self.topic,
            self.progress.position,
            self.publishing,
        )
        return True

    # -- broker checks ------------------------------------------------------------------------

    def _partition_ends(self) -> dict[int, int] | None:
        """End offset per partition as the broker reports it; None when the topic is gone."""
        topic = self.publishing
        if topic not in self.probe.topics():  # topics() fetches fresh metadata
            return None
        known = self.probe.partitions_for_topic(topic)
        if not known:
            return None
        ends = self.probe.end_offsets([TopicPartition(topic, p) for p in known])
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    def _topic_recreated(self) -> bool:
        """True when the topic has another id than at the last probe: it was made again
        (the embedded broker's restart), however far the new log has grown since."""
        topic = self.publishing
        # Filled by the metadata `topics()` just fetched; kafka-python has no public getter.
        found = self.probe._cluster.topic_id(topic)
        before = self._topic_ids.get(topic)
        self._topic_ids[topic] = found
        return None not in (before, found) and before != found

    def broker_lost_data(self) -> bool:
        """True, and the bookmark reset to 0, when the topic is gone, was made again, or is
        shorter than we left it."""
        return self._probe_ends() is None

    def _probe_ends(self) -> dict[int, int] | None:
        """The broker's partition ends now, or None when they show a loss (the bookmark is
        then reset to 0 and everything is re-published).

        Every refresh of the remembered ends goes through here (`bookmark`): a refresh
        that took the ends of a new, shorter log as they were hid the loss from every later
        check (CI's chaos run, 72 orders never re-published to the analytics worker)."""
        ends = self._partition_ends()
        remembered = self.progress.partition_ends
        lost = (
            ends is None
            or self._topic_recreated()
            or any(ends.get(p, 0) < end for p, end in remembered.items())
        )
        if ends is None:
            self._ensure_publishing_topic()
        if lost and (self.progress.position > 0 or remembered):
            log.warning(
                "broker lost data on %s (had %s, now %s): re-publishing from the event store",
                self.publishing,
                remembered,
                ends,
            )
            self.progress = RelayProgress(0, {}, self.progress.republished + 1)
            self.store.save(self.progress)
            # The new broker does not know our idempotent producer id: start a fresh one.
            self._restart_pipeline()
            return None
        return ends or {}

    # -- widening -----------------------------------------------------------------------------

    def cut_if_requested(self) -> bool:
        """Make a requested cut (`crm topic widen`): True when the relay moved topics.

        Everything in flight is acknowledged first, so every event up to the bookmark P is
        on the old topic and nothing after it is; the cut records P and the old topic's
        partition ends (what a consumer must read before it moves), then later events go
        to the new topic. A crash before the record leaves the request open for the next
        leader; after it, the next leader publishes from P to the new topic.
        """
        request = pending(load_cuts(self.store.conn, self.topic))
        if request is None:
            return False
        while self.pipeline.in_flight:
            self.bookmark(self.pipeline.delivered(0.1))
        self.sent = self.progress.position
        ends = exact_ends(self.bootstrap, self.publishing, self.security)
        ensure_topic(
            self.bootstrap,
            request.topic,
            request.partitions,
            self.security,
            request.replication_factor,
        )
        position = self.progress.position
        complete_cut(
            self.store.conn, self.topic, request, position, ends, self.progress.republished
        )
        old = self.publishing
        self.progress = RelayProgress(position, {}, self.progress.republished)
        self._follow_cuts()
        self._restart_pipeline()
        log.warning(
            "cut %s at position %s: later events go to %s (%s partitions)",
            old,
            position,
            self.publishing,
            self.publishing_partitions,
        )
        return True

    # -- publishing ---------------------------------------------------------------------------

    def _message(self, event: StoredEvent | PrebuiltEvent) -> WireMessage:
        message = message_of(self.signing_key, event)
        if self.validator.due():  # parsed back only for the sample
            self.validator.check(orjson.loads(message.value))
        return message

    def fill(self) -> int:
        """Read and queue batches until `window` are in flight or the store has no more;
        returns how many events were queued (0 also when the window is full: `caught_up`
        tells whether the store had nothing more). Acknowledged batches are bookmarked between
        reads, so the bookmark follows the broker closely under load."""
        queued = 0
        while len(self.pipeline.in_flight) < self.window:
            batch = self.source.read_stored_after(self.sent, self.batch_size)
            self.caught_up = not batch.events
            if self.caught_up:
                break
            self.pipeline.send([self._message(e) for e in batch.events], batch.last_position)
            self.sent = batch.last_position
            queued += len(batch.events)
            self.bookmark(self.pipeline.delivered())
        return queued

    def bookmark(self, position: int | None) -> None:
        """Remember `position` as published (every event up to it acknowledged)."""
        if position is None:
            return
        ends = self.progress.partition_ends
        if time.monotonic() - self._ends_probed_at >= ENDS_REFRESH_SECONDS:
            self._ends_probed_at = time.monotonic()
            probed = self._probe_ends()
            if probed is None:
                return  # acknowledged by a broker that lost what came before: all is re-sent
            ends = probed
        self.progress = RelayProgress(position, ends, self.progress.republished)
        self.store.save(self.progress, self.validator.take_counts())
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_upto = self.source.forget_messages(
                after=self._pruned_upto,
                upto=position - self.keep_messages,
                at_most=PRUNE_AT_MOST,
            )
            self._pruned_at = time.monotonic()

    def step(self, wait: float) -> int:
        """Queue what the window allows, then bookmark what the broker acknowledged, waiting
        up to `wait` for a report when nothing new could be queued; returns events queued."""
        queued = self.fill()
        self.bookmark(self.pipeline.delivered(0.0 if queued else wait))
        return queued

    def publish_available(self) -> int:
        """Drain everything recorded so far (tests, rebuilds); returns how many were sent.

        Raises `NotLeader` while another relay leads the topic, and `DeliveryFailed` when
        the broker does not acknowledge (nothing past the last good batch is bookmarked).
        """
        if not self.lead():
            raise NotLeader(f"another relay leads {self.topic}")
        self.broker_lost_data()
        self.cut_if_requested()
        sent = 0
        while True:
            sent += self.step(wait=0.05)
            if self.caught_up and not self.pipeline.in_flight:
                return sent

    def lag(self) -> int:
        return max(0, self.source.max_position() - self.progress.position)

    def wait_for_events(self, timeout: float) -> None:
        """Sleep until the store NOTIFYs a new insert, or `timeout`."""
        for _ in self.listener.notifies(timeout=timeout, stop_after=1):
            pass

    def run(self, stop: Any, report: Report, *, check_interval: float = 1.0) -> None:
        last_check = 0.0
        say = Reporter(report)
        self._ensure_publishing_topic()
        while not stop.is_set():
            try:
                if not self.lead():
                    say("idle", f"standby: another relay publishes {self.topic}")
                    stop.wait(LEADER_POLL_SECONDS)
                    continue
                if time.monotonic() - last_check >= check_interval:
                    self.broker_lost_data()
                    self.cut_if_requested()
                    last_check = time.monotonic()
                self.step(wait=0.05)
                say.ok(
                    lambda: (
                        f"leading; published up to position {self.progress.position} "
                        f"on {self.publishing}, "
                        f"lag {self.lag()}, "
                        f"re-published after broker loss {self.progress.republished}x"
                    )
                )
                if self.caught_up and not self.pipeline.in_flight:
                    # LISTEN on its own connection: a PostgreSQL restart surfaces here too.
                    self.wait_for_events(min(check_interval, 0.5))
            except BROKER_ERRORS as error:
                self._broker_trouble(error, say)
                last_check = 0.0  # once it answers, first ask whether it lost the topic
                stop.wait(BROKER_RETRY_SECONDS)
            except DATABASE_LOST as error:
                self._database_trouble(error, say)
                stop.wait(DATABASE_RETRY_SECONDS)

    def _broker_trouble(self, error: Exception, report: Report) -> None:
        """The broker failed a send or a probe (killed, restarting): stay up and retry.

        Ending the process instead (as before) cost a whole restart of the relay, several
        seconds of the recovery after a broker kill. The producer may be fenced for good
        (a restarted broker does not know its idempotent producer id), so a fresh one is
        made; nothing was bookmarked past the last acknowledged batch, so the rest is sent
        again.
        """
        log.warning("broker unavailable (%s); retrying", error)
        report("error", f"broker unavailable: {type(error).__name__}; retrying")
        self._restart_pipeline()

    def _database_trouble(self, error: Exception, report: Report) -> None:
        """PostgreSQL went away (killed, restarting): stay up, reconnect, go on.

        Ending the process instead cost a whole restart of the relay after every restart
        of PostgreSQL: most of the recovery time (bench/NOTES.md, "Replicas and
        recovery"). The new progress store does not lead: the next `lead()` takes the
        lock again (a standby may have taken it meanwhile), re-reads the bookmark, which
        holds only what was acknowledged, and restarts the pipeline, so a batch in flight
        is sent again (consumers dedupe by position).
        """
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning("database unavailable (%s); reconnecting", first)
        report("error", f"database unavailable: {first}; reconnecting")
        with contextlib.suppress(psycopg.Error):
            self.listener.close()
            self.store.close()
        with contextlib.suppress(psycopg.OperationalError):
            store = ProgressStore(self.session_url, self.topic)
            listener = psycopg.connect(self.session_url, autocommit=True, connect_timeout=3)
            listener.execute("LISTEN stored_events")
            self.store, self.listener = store, listener

    def close(self) -> None:
        self.pipeline.close()
        self.probe.close()
        self.listener.close()
        self.store.close()

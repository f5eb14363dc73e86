"""The outbox relay: every recorded event, in global-position order, onto the Kafka topic.

Delivery is at-least-once and never skips: the relay remembers the last position it
has seen acknowledged (`crm_relay_progress`, written only after the producer's flush
returned), so a crash re-sends at most one batch. It also remembers the partition end
offsets the broker reported after that flush; when the topic is gone or any partition
is shorter than that (the embedded broker keeps nothing across its restart), the broker
has lost data and the relay re-publishes everything from the event store.
Envelope ids are stable, and every consumer applies an event at most once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from eventsourcing import persistence
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from commands.application import CrmApplication
from streams.envelope import encode, validate
from streams.signing import signed_headers
from streams.source import EventSource
from streams.topic import ensure_topic

log = logging.getLogger(__name__)

ENDS_REFRESH_SECONDS = 0.25
"""How stale the remembered partition ends may get. They are what a broker's loss of
data is measured against (a topic shorter than them); probing them costs two round trips,
so under load it is done at most 4 times a second rather than after every batch. Loss
of everything (the embedded broker's restart) is found either way: the topic is gone."""

Report = Callable[[str, str], None]
BROKER_RETRY_SECONDS = 0.2
DATABASE_RETRY_SECONDS = 0.2
DATABASE_LOST: tuple[type[Exception], ...] = (
    psycopg.OperationalError,  # our own connections (and the pool's PoolTimeout)
    persistence.OperationalError,  # the event store's, translated by the library
    persistence.InterfaceError,
)
"""PostgreSQL went away: what the relay reconnects from instead of ending."""

PROGRESS_DDL = """
CREATE TABLE IF NOT EXISTS crm_relay_progress (
    topic text PRIMARY KEY,
    position bigint NOT NULL,
    partition_ends jsonb NOT NULL DEFAULT '{}',
    republished integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass
class RelayProgress:
    position: int = 0
    partition_ends: dict[int, int] = field(default_factory=dict)
    republished: int = 0


class ProgressStore:
    """The relay's own bookmark, in the event store's database."""

    def __init__(self, database_url: str, topic: str) -> None:
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.topic = topic
        self.conn.execute(PROGRESS_DDL)

    def load(self) -> RelayProgress:
        row = self.conn.execute(
            "SELECT position, partition_ends, republished FROM crm_relay_progress WHERE topic = %s",
            (self.topic,),
        ).fetchone()
        if row is None:
            return RelayProgress()
        return RelayProgress(row[0], {int(k): int(v) for k, v in row[1].items()}, row[2])

    def save(self, progress: RelayProgress) -> None:
        self.conn.execute(
            "INSERT INTO crm_relay_progress (topic, position, partition_ends, republished) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (topic) DO UPDATE SET "
            "position = EXCLUDED.position, partition_ends = EXCLUDED.partition_ends, "
            "republished = EXCLUDED.republished, updated_at = now()",
            (
                self.topic,
                progress.position,
                json.dumps(progress.partition_ends),
                progress.republished,
            ),
        )

    def close(self) -> None:
        self.conn.close()


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
        validate_messages: bool = True,
    ) -> None:
        self.source = EventSource(app)
        self.signing_key = app.stream_signing_key
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.batch_size = batch_size
        self.validate_messages = validate_messages
        self.database_url = database_url
        self.store = ProgressStore(database_url, topic)
        self.progress = self.store.load()
        self.producer = self._new_producer()
        self.probe = KafkaConsumer(bootstrap_servers=bootstrap, client_id="crm-relay-probe")
        self._ends_probed_at = 0.0
        self.listener = psycopg.connect(database_url, autocommit=True)
        self.listener.execute("LISTEN stored_events")

    def _new_producer(self) -> KafkaProducer:
        return KafkaProducer(
            bootstrap_servers=self.bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            batch_size=512 * 1024,
            max_request_size=8 * 1024 * 1024,
            # A send to a dead broker fails within seconds (the default waits 120 s),
            # so the relay notices a broker kill and recovers in place.
            request_timeout_ms=3000,
            delivery_timeout_ms=4000,
            client_id="crm-relay",
        )

    # -- broker checks ------------------------------------------------------------------------

    def _partition_ends(self) -> dict[int, int] | None:
        """End offset per partition as the broker reports it; None when the topic is gone."""
        if self.topic not in self.probe.topics():  # topics() fetches fresh metadata
            return None
        known = self.probe.partitions_for_topic(self.topic)
        if not known:
            return None
        ends = self.probe.end_offsets([TopicPartition(self.topic, p) for p in known])
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    def broker_lost_data(self) -> bool:
        """True, and the bookmark reset to 0, when the topic is gone or shorter than we left it."""
        ends = self._partition_ends()
        remembered = self.progress.partition_ends
        lost = ends is None or any(ends.get(p, 0) < end for p, end in remembered.items())
        if ends is None:
            ensure_topic(self.bootstrap, self.topic, self.partitions)
        if lost and (self.progress.position > 0 or remembered):
            log.warning(
                "broker lost data on %s (had %s, now %s): re-publishing from the event store",
                self.topic,
                remembered,
                ends,
            )
            self.progress = RelayProgress(0, {}, self.progress.republished + 1)
            self.store.save(self.progress)
            # The new broker does not know our idempotent producer id: start a fresh one.
            self.producer.close(timeout=5)
            self.producer = self._new_producer()
            return True
        return False

    # -- publishing ---------------------------------------------------------------------------

    def publish_batch(self) -> int:
        """Send the next batch and wait for the broker's acknowledgement; returns its size."""
        batch = self.source.read_after(self.progress.position, self.batch_size)
        if not batch.envelopes:
            return 0
        futures = []
        for envelope in batch.envelopes:
            if self.validate_messages:
                validate(envelope)
            key, value = envelope["subject"].encode(), encode(envelope)
            headers = signed_headers(self.signing_key, key, value)  # workers apply only these
            futures.append(self.producer.send(self.topic, key=key, value=value, headers=headers))
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if any send failed: nothing is marked as sent
        ends = self.progress.partition_ends
        if time.monotonic() - self._ends_probed_at >= ENDS_REFRESH_SECONDS:
            ends = self._partition_ends() or {}
            self._ends_probed_at = time.monotonic()
        self.progress = RelayProgress(batch.last_position, ends, self.progress.republished)
        self.store.save(self.progress)
        return len(batch.envelopes)

    def publish_available(self) -> int:
        """Drain everything recorded so far (tests, rebuilds); returns how many were sent."""
        self.broker_lost_data()
        sent = 0
        while count := self.publish_batch():
            sent += count
        return sent

    def lag(self) -> int:
        return max(0, self.source.max_position() - self.progress.position)

    def wait_for_events(self, timeout: float) -> None:
        """Sleep until the store NOTIFYs a new insert, or `timeout`."""
        for _ in self.listener.notifies(timeout=timeout, stop_after=1):
            pass

    def run(self, stop: Any, report: Report, *, check_interval: float = 1.0) -> None:
        last_check = 0.0
        ensure_topic(self.bootstrap, self.topic, self.partitions)
        while not stop.is_set():
            try:
                if time.monotonic() - last_check >= check_interval:
                    self.broker_lost_data()
                    last_check = time.monotonic()
                sent = self.publish_batch()
                report(
                    "ok",
                    f"published up to position {self.progress.position}, lag {self.lag()}, "
                    f"re-published after broker loss {self.progress.republished}x",
                )
                if not sent:
                    self.wait_for_events(min(check_interval, 0.5))
            except KafkaError as error:
                self._broker_trouble(error, report)
                last_check = 0.0  # once it answers, first ask whether it lost the topic
                stop.wait(BROKER_RETRY_SECONDS)
            except DATABASE_LOST as error:
                self._database_trouble(error, report)
                stop.wait(DATABASE_RETRY_SECONDS)

    def _broker_trouble(self, error: KafkaError, report: Report) -> None:
        """The broker failed a send or a probe (killed, restarting): stay up and retry.

        Ending the process instead (as before) cost a whole restart of the relay, several
        seconds of the recovery after a broker kill. The producer may be fenced for good
        (a restarted broker does not know its idempotent producer id), so a fresh one is
        made; nothing was bookmarked for the failed batch, so it is sent again.
        """
        log.warning("broker unavailable (%s); retrying", error)
        report("error", f"broker unavailable: {type(error).__name__}; retrying")
        self.producer.close(timeout=1)
        # Still down: the closed producer fails the next send, and we come back here.
        with contextlib.suppress(KafkaError):
            self.producer = self._new_producer()

    def _database_trouble(self, error: Exception, report: Report) -> None:
        """PostgreSQL went away (killed, restarting): stay up, reconnect, go on.

        Ending the process instead cost a whole restart of the relay after every restart
        of PostgreSQL: most of the recovery time (bench/NOTES.md, "Replicas and
        recovery"). The bookmark is re-read from the database, which holds only what was
        acknowledged, so a batch in flight is sent again (consumers dedupe by position).
        The event source's pool checks its connections on checkout by itself.
        """
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning("database unavailable (%s); reconnecting", first)
        report("error", f"database unavailable: {first}; reconnecting")
        with contextlib.suppress(psycopg.Error):
            self.listener.close()
            self.store.close()
        with contextlib.suppress(psycopg.OperationalError):
            store = ProgressStore(self.database_url, self.topic)
            listener = psycopg.connect(self.database_url, autocommit=True, connect_timeout=3)
            listener.execute("LISTEN stored_events")
            self.store, self.listener = store, listener
            self.progress = self.store.load()

    def close(self) -> None:
        self.producer.close(timeout=5)
        self.probe.close()
        self.listener.close()
        self.store.close()

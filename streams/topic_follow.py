"""Which physical topic a worker reads, and when it must move on (`streams.topic_cuts`).

A worker's log is its broker generation's segments (`topic_cuts.segments`). It reads the
first segment its consumer group has not finished, and leaves it only when the group (all
its replicas together) has committed every partition up to the cut's ends: committed
offsets are written only after a batch is applied, so at that moment every event up to
the cut is in the read models, and no event after it has been read. The worker then
stops its faust app and ends (exit 75, restarted at once by the supervisor) to start on
the next segment: unlike after a broker loss, where a new faust app in the same process
joins a new group (`streams.worker_main.run`), the group keeps its name here, and a new
app in the same process stalled on the new topic in loaded runs. Replicas that see the
move at different moments are harmless: none starts on the new topic before the whole
group finished the old one.

The consumer group keeps its name across segments (offsets are per topic), so parked
messages and `crm parked` keep working; a broker loss still starts a new group.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import psycopg

from streams.generation import generation_on, group_id
from streams.kafka_clients import PLAINTEXT, KafkaSecurity, consumer
from streams.topic_cuts import Segment, first_unread, load_cuts, read_up_to, segments

log = logging.getLogger(__name__)

CUT_CHECK_SECONDS = 2.0


def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: Mapping[int, int], security: KafkaSecurity
) -> dict[int, int | None]:
    """The group's committed offset on each of `topic`'s `partitions` (None: nothing yet)."""
    from kafka import TopicPartition

    reader = consumer(
        bootstrap,
        security=security,
        group_id=group,
        enable_auto_commit=False,
        client_id="crm-cut-watch",
    )
    try:
        return {p: reader.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        reader.close()


def read_log_on(conn: psycopg.Connection[Any], base: str) -> tuple[int, list[Segment]]:
    """(broker generation, its segments) of topic `base`."""
    generation = generation_on(conn, base)
    return generation, segments(base, generation, load_cuts(conn, base))


class LogWatch:
    """Where worker `name` reads (`segment`), and `moved()`: time to rejoin elsewhere.

    Asked four times a second, so it keeps one connection (a new one each time cost a
    PostgreSQL backend start per question and per worker)."""

    def __init__(
        self,
        database_url: str,
        base: str,
        name: str,
        bootstrap: str,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.database_url = database_url
        self.base = base
        self.name = name
        self.bootstrap = bootstrap
        self.security = security
        self._conn: psycopg.Connection[Any] | None = None
        self._next_offsets_check = 0.0
        self.advance()

    def advance(self) -> None:
        """Take the log as it is now: the newest generation, its first unread segment."""
        self.generation, found = self._read()
        self.group = group_id(self.name, self.generation)
        self.index, self.segment = first_unread(found, self._committed)

    def _read(self) -> tuple[int, list[Segment]]:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.database_url, connect_timeout=3, autocommit=True)
            return read_log_on(self._conn, self.base)
        except psycopg.Error:
            self.close()
            raise

    @property
    def topic(self) -> str:
        return self.segment.topic

    def _committed(self, segment: Segment) -> dict[int, int | None]:
        ends = segment.ends or {}
        return committed_offsets(self.bootstrap, self.group, segment.topic, ends, self.security)

    def finished(self, segment: Segment) -> bool:
        """True once the group has read a closed segment up to its cut."""
        return segment.closed and read_up_to(segment.ends or {}, self._committed(segment))

    def moved(self) -> bool:
        """True when this worker must rejoin: the broker lost its log (a new generation),
        or the segment it reads was cut and the whole group has read it to the cut. False
        while PostgreSQL or the broker does not answer (no news is no move)."""
        try:
            generation, found = self._read()
            if generation != self.generation:
                return True
            reading = found[self.index] if self.index < len(found) else self.segment
            if not reading.closed or time.monotonic() < self._next_offsets_check:
                return False
            # The group's offsets cost a broker client each time: asked every
            # CUT_CHECK_SECONDS, not at the generation check's pace.
            self._next_offsets_check = time.monotonic() + CUT_CHECK_SECONDS
            return self.finished(reading)
        except Exception as error:  # psycopg's or kafka's: PostgreSQL or the broker restarting
            log.debug("cannot tell whether the log moved: %s", error)
            return False

    def describe(self) -> str:
        """For the heartbeat: which topic, and whether a cut waits for the group."""
        return f"topic {self.segment.topic}" + (
            f" (cut at {self.segment.until}: finishing it)" if self.segment.closed else ""
        )

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

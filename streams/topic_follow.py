"""Which physical topic a worker reads, and when it must move on (`streams.topic_cuts`).

A worker's log is its broker generation's segments (`topic_cuts.segments`). It reads the
first segment its consumer group has not finished, and leaves it only when the group (all
its replicas together) has committed every partition up to the cut's ends: committed
offsets are written only after a batch is applied, so at that moment every event up to
the cut is in the read models, and no event after it has been read. The worker then
stops its faust app and starts a new one on the next segment, in the same process, as
after a broker loss (`streams.worker_main.run`). Replicas that see the move at different
moments are harmless: none starts on the new topic before the whole group finished the
old one.

Each segment has a consumer group of its own (`segment_group`): `crm-projections` on the
configured topic, `crm-projections-p6` on `<topic>.p6`. Reusing one group name across
topics left the moved members waiting for an assignment that never came when the
embedded broker still held the group's previous members (issue 18: the restarted worker
sat in faust's start, before any partition, in 2 of 8 loaded runs); a group never used
before has no such state. Offsets are per topic anyway, and the parking lot knows each
group's worker (`streams.worker_main.worker_of_group`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import psycopg

from streams.generation import GROUP_PREFIX, generation_on, group_id
from streams.group_offsets import group_offsets
from streams.kafka_clients import PLAINTEXT, KafkaSecurity
from streams.topic_cuts import Segment, first_unread, load_cuts, read_up_to, segments

log = logging.getLogger(__name__)

CUT_CHECK_SECONDS = 2.0


def segment_tag(base: str, topic: str) -> str:
    """What names a segment's group after the worker's: "" on `base`, "p6" on `<base>.p6`."""
    return topic.removeprefix(f"{base}.") if topic != base else ""


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
        group_prefix: str = GROUP_PREFIX,
    ) -> None:
        self.database_url = database_url
        self.group_prefix = group_prefix
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
        self.index, self.segment = first_unread(found, self._committed)

    def segment_group(self, segment: Segment) -> str:
        """The consumer group that reads `segment` (of this watch's generation)."""
        tag = segment_tag(self.base, segment.topic)
        return group_id(self.name, self.generation, tag, self.group_prefix)

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

    @property
    def tag(self) -> str:
        """The segment's part of the group name (`segment_tag`)."""
        return segment_tag(self.base, self.segment.topic)

    def _committed(self, segment: Segment) -> dict[int, int | None]:
        ends = segment.ends or {}
        group = self.segment_group(segment)
        committed, _ = group_offsets(self.bootstrap, group, segment.topic, ends, self.security)
        return committed

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

"""Where a processor's batches go: open the sealed personal fields, then apply the batch
to the read models in ONE PostgreSQL transaction together with their checkpoints."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from commands.sealed_reader import SealedSource
from projections.apply import ApplyResult, apply_batch
from projections.handlers import PROJECTIONS, Projection
from projections.marks import raise_marks, seed_marks
from projections.schema import ensure_all
from streams.source import EnvelopeOpener

RECONNECT_FOR_S = 30.0  # how long a batch waits for PostgreSQL before the worker gives up
ATTEMPTS = 3
"""Tries of one batch when PostgreSQL rolled it back (deadlock, serialization)."""


class ReadModelSink:
    """Applies envelope batches at most once per event (checkpoints per customer)."""

    def __init__(
        self,
        source: SealedSource,
        database_url: str,
        projections: Sequence[Projection] = PROJECTIONS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clock = clock  # "now" for lifecycle and tier; tests move it
        self.opener = EnvelopeOpener(source)
        self.source = source
        self.database_url = database_url
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.projections = projections
        with self.conn.transaction():
            ensure_all(self.conn)  # no DDL (no table locks) where it already ran
        self.applied = 0
        self.highest_position = 0
        self._lag_conn: psycopg.Connection[Any] | None = None  # the heartbeat's own
        self._lag_lock = threading.Lock()  # the timer and the join can ask at once

    def __call__(self, envelopes: Sequence[Mapping[str, Any]]) -> ApplyResult:
        """Apply the batch; when PostgreSQL went away (killed, restarting), wait for it and
        apply again (the checkpoints make that safe) instead of ending the process, whose
        restart and consumer-group join would cost seconds more of recovery."""
        deadline = time.monotonic() + RECONNECT_FOR_S
        while True:
            try:
                return self._apply(envelopes)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                self._reconnect()

    def _reconnect(self) -> None:
        self.conn.close()
        # Still down: the next attempt fails on the closed connection, and waits again.
        with contextlib.suppress(psycopg.OperationalError):
            self.conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=2)

    def _apply(self, envelopes: Sequence[Mapping[str, Any]]) -> ApplyResult:
        opened = self.opener.open_all(envelopes)
        for attempt in range(ATTEMPTS):
            try:
                with self.conn.transaction():
                    result = apply_batch(self.conn, opened, self.projections, now=self.clock())
                break
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                # A deadlock with another worker's batch (both recomputing survivors of
                # cross merges): the transaction is gone whole, so running it again is safe.
                if attempt == ATTEMPTS - 1:
                    raise
        self.applied += result.applied
        self.highest_position = max(
            [self.highest_position, *(int(e["position"]) for e in envelopes)]
        )
        return result

    def lag(self) -> int:
        """Events recorded after the furthest position any replica of this worker applied
        (0 when caught up), as each one's heartbeat last said it (`projections.marks`).

        Partitions advance independently, so this is the distance from the furthest one:
        a lower bound of the work left, exact when the worker is idle. A process's first
        call marks the projections that have no mark yet at their checkpoints' highest
        position (`seed_marks`); a rebuild writes rm_applied and not the marks, so the
        marks may stay ahead of a rebuilt projection until the worker catches up.
        """
        newest = self.source.max_position()
        names = [p.name for p in self.projections]
        with self._lag_lock:
            try:
                if self._lag_conn is None:
                    self._lag_conn = psycopg.connect(
                        self.database_url, autocommit=True, connect_timeout=5
                    )
                    seed_marks(self._lag_conn, names)  # once: marks only rise after it
                furthest = raise_marks(self._lag_conn, names, self.highest_position)
            except psycopg.OperationalError:
                self._close_lag_conn()  # PostgreSQL restarting: the next call connects
                raise
        return max(0, newest - furthest)

    def _close_lag_conn(self) -> None:
        if self._lag_conn is not None:
            self._lag_conn.close()
            self._lag_conn = None

    def close(self) -> None:
        self.conn.close()
        with self._lag_lock:
            self._close_lag_conn()

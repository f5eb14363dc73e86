"""What a reader of recorded events needs from the store, without the store application.

The projections and analytics workers open sealed personal fields of the envelopes they
consume, verify the relay's signature, and report their lag against the store's newest
position. None of that needs the event store application (its recorder, repository,
snapshotting, write pools): only the key ring, the transcoder the fields were sealed
with, the stream signing key, and two small queries. The composition root builds one
per worker (`bootstrap.sealed_reader`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

import psycopg
from eventsourcing.persistence import JSONTranscoder

from commands.crypto import MasterKey, derive_stream_signing_key, parse_master_key
from commands.keys import KeyRing
from commands.recorder import CUSTOMER_KEYS, STORED_EVENTS
from commands.transcoder import crm_transcoder


class SealedSource(Protocol):
    """What opening sealed fields and reporting lag needs; the store application
    (`CrmApplication`) and the lighter `SealedReader` both provide it."""

    keys: KeyRing
    stream_signing_key: bytes

    @property
    def transcoder(self) -> JSONTranscoder: ...

    def max_position(self) -> int: ...


class SealedReader:
    """The key ring, transcoder and signing key of the platform, on one connection."""

    def __init__(
        self, database_url: str, master_key: str | bytes, *, key_cache_ttl: float = 5.0
    ) -> None:
        master = parse_master_key(master_key)
        self.stream_signing_key = derive_stream_signing_key(master)
        self.transcoder = crm_transcoder()
        self._url = database_url
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._master = MasterKey(master)
        self.keys = KeyRing(self._master, self._fetch_wrapped_keys, ttl=key_cache_ttl)

    def verify_master_key(self) -> None:
        """Raise `MasterKeyMismatch` unless the master key opens the database's check row
        (`commands.key_check`): a worker started with another key (or none, so it made
        one in its data folder) would fail every signature and park every message."""
        from commands.key_check import KEY_CHECK, verify_sealed_check

        found = self._query("SELECT to_regclass(%s)", (KEY_CHECK,))
        rows = self._query(f"SELECT sealed FROM {KEY_CHECK} WHERE id = 1") if found[0][0] else []
        verify_sealed_check(self._master, bytes(rows[0][0]) if rows else None)

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of one statement on the reader's connection, opened again when it was lost
        (a PostgreSQL restart): fails fast instead of waiting on a pool's reconnect
        backoff, so the caller's own retry decides how long to wait for the server."""
        with self._lock:
            for attempt in range(2):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
                    return self._conn.execute(statement, params).fetchall()
                except psycopg.OperationalError:
                    self._drop()
                    if attempt == 1:
                        raise
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    def _fetch_wrapped_keys(self, customer_ids: Sequence[UUID]) -> Mapping[UUID, bytes]:
        rows = self._query(
            f"SELECT customer_id, wrapped_key FROM {CUSTOMER_KEYS} WHERE customer_id = ANY(%s)",
            (list(customer_ids),),
        )
        return {row[0]: bytes(row[1]) for row in rows}

    def max_position(self) -> int:
        """The store's newest global position (0 while it is empty)."""
        rows = self._query(f"SELECT max(notification_id) FROM {STORED_EVENTS}")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def close(self) -> None:
        with self._lock:
            self._drop()

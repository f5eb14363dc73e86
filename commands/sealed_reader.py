"""What a reader of recorded events needs from the store, without the store application.

The projections and analytics workers open sealed personal fields of the envelopes they
consume, verify the relay's signature, and report their lag against the store's newest
position. None of that needs the event store application (its recorder, repository,
snapshotting, write pools): only the key ring, the transcoder the fields were sealed
with, the stream signing key, and two small queries. The composition root builds one
per worker (`bootstrap.sealed_reader`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from psycopg_pool import ConnectionPool

from commands.crypto import MasterKey, derive_stream_signing_key, parse_master_key
from commands.keys import KeyRing
from commands.recorder import CUSTOMER_KEYS, STORED_EVENTS


class SealedSource(Protocol):
    """What opening sealed fields and reporting lag needs; the store application
    (`CrmApplication`) and the lighter `SealedReader` both provide it."""

    keys: KeyRing
    stream_signing_key: bytes

    @property
    def transcoder(self) -> JSONTranscoder: ...

    def max_position(self) -> int: ...


def crm_transcoder() -> JSONTranscoder:
    """The transcoder the store application seals and records with (eventsourcing's
    defaults: UUID, Decimal, datetime)."""
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())
    return transcoder


class SealedReader:
    """The key ring, transcoder and signing key of the platform, on two connections."""

    def __init__(
        self, database_url: str, master_key: str | bytes, *, key_cache_ttl: float = 5.0
    ) -> None:
        master = parse_master_key(master_key)
        self.stream_signing_key = derive_stream_signing_key(master)
        self.transcoder = crm_transcoder()
        self._pool: ConnectionPool[Any] = ConnectionPool(
            database_url,
            min_size=1,
            max_size=2,
            kwargs={"autocommit": True},
            check=ConnectionPool.check_connection,
            open=True,
            name="sealed-reader",
        )
        self.keys = KeyRing(MasterKey(master), self._fetch_wrapped_keys, ttl=key_cache_ttl)

    def _fetch_wrapped_keys(self, customer_ids: Sequence[UUID]) -> Mapping[UUID, bytes]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT customer_id, wrapped_key FROM {CUSTOMER_KEYS} WHERE customer_id = ANY(%s)",
                (list(customer_ids),),
            ).fetchall()
        return {row[0]: bytes(row[1]) for row in rows}

    def max_position(self) -> int:
        """The store's newest global position (0 while it is empty)."""
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT max(notification_id) FROM {STORED_EVENTS}").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def close(self) -> None:
        self._pool.close()

"""The parking lot (dead letters): messages a worker could not apply, kept for operators.

A message that is not the relay's (bad or missing signature), not JSON, not a valid
envelope (unknown type, schema violation) or that the sink cannot apply is stored here
with its reason, partition, offset and exact bytes, and the worker moves on: every valid
message around it is applied and the batch is acknowledged. `crm parked list|show|retry|
drop` works on this table; `/healthz` turns "degraded" and `/metrics` counts it.

Parking is idempotent on (group, topic, partition, offset): a redelivered batch (a crash
before the offsets were committed) does not park a message twice.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from projections.schema import absent_tables, serialize_ddl

PARKED_DDL = """
CREATE TABLE IF NOT EXISTS crm_parked (
    id bigserial PRIMARY KEY,
    group_name text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    message_offset bigint NOT NULL,
    key bytea,
    value bytea NOT NULL,
    headers jsonb NOT NULL DEFAULT '[]',
    reason text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (group_name, topic, partition, message_offset)
)
"""

Connection = psycopg.Connection[Any]


@dataclass(frozen=True)
class RawMessage:
    """One Kafka message as it came off the topic, before anything trusts it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Parked:
    """A row of `crm_parked`."""

    id: int
    group: str
    reason: str
    parked_at: datetime
    message: RawMessage = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """What `crm parked list --json` prints for it."""
        return {
            "id": self.id,
            "group": self.group,
            "topic": self.message.topic,
            "partition": self.message.partition,
            "offset": self.message.offset,
            "reason": self.reason,
            "parked_at": self.parked_at.isoformat(),
        }


def create_parking(conn: Connection) -> None:
    """The parking lot, if missing (one process at a time: `serialize_ddl`). Where it
    exists, no lock is taken: a start does not wait for another process's DDL."""
    if not absent_tables(conn, ["crm_parked"]):
        return
    with conn.transaction():
        serialize_ddl(conn)
        conn.execute(PARKED_DDL)


def _headers_json(headers: Iterable[tuple[str, bytes]]) -> Jsonb:
    # base64, so any header bytes survive the round trip and retry re-verifies them as sent
    return Jsonb([[name, base64.b64encode(value).decode("ascii")] for name, value in headers])


def park(conn: Connection, group: str, rejected: Sequence[tuple[RawMessage, str]]) -> int:
    """Store each (message, reason) once; returns how many were new."""
    added = 0
    for message, reason in rejected:
        cursor = conn.execute(
            "INSERT INTO crm_parked (group_name, topic, partition, message_offset, key, value,"
            " headers, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (group_name, topic, partition, message_offset) DO NOTHING",
            (
                group,
                message.topic,
                message.partition,
                message.offset,
                message.key,
                message.value,
                _headers_json(message.headers),
                reason,
            ),
        )
        added += cursor.rowcount
    return added


_COLUMNS = (
    "id, group_name, reason, parked_at, topic, partition, message_offset, key, value, headers"
)


def _parked(row: Sequence[Any]) -> Parked:
    headers = tuple((str(n), base64.b64decode(v)) for n, v in row[9])
    message = RawMessage(row[4], row[5], row[6], row[7], bytes(row[8]), headers)
    return Parked(row[0], row[1], row[2], row[3], message)


def list_parked(conn: Connection, limit: int = 1000) -> list[Parked]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM crm_parked ORDER BY id LIMIT %s", (limit,))
    return [_parked(row) for row in rows.fetchall()]


def get_parked(conn: Connection, parked_id: int) -> Parked | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM crm_parked WHERE id = %s", (parked_id,)).fetchone()
    return _parked(row) if row else None


def drop_parked(conn: Connection, parked_id: int) -> bool:
    return conn.execute("DELETE FROM crm_parked WHERE id = %s", (parked_id,)).rowcount > 0


def repark(conn: Connection, parked_id: int, reason: str) -> None:
    """A retry that failed again: keep the message, with the reason it failed this time."""
    conn.execute(
        "UPDATE crm_parked SET reason = %s, parked_at = now() WHERE id = %s", (reason, parked_id)
    )


def parked_count(conn: Connection) -> int:
    """How many messages wait in the lot (0 before the table exists)."""
    try:
        with conn.transaction():
            row = conn.execute("SELECT count(*) FROM crm_parked").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0

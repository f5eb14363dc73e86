"""Helpers for the poison-message tests: put raw (signed, forged or broken) messages on
the topic beside the relay's, and read the parking lot."""

from __future__ import annotations

from typing import Any

import psycopg
from kafka import KafkaProducer

from commands.application import CrmApplication
from streams.envelope import encode
from streams.signing import signed_headers
from streams.source import EventSource


def produce(
    bootstrap: str,
    topic: str,
    key: bytes,
    value: bytes,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """One message, acknowledged; same key as the relay's, so the same partition."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key, value=value, headers=headers or []).get(timeout=30)
    finally:
        producer.close(timeout=5)


def produce_signed(
    bootstrap: str, topic: str, signing_key: bytes, key: bytes, value: bytes
) -> None:
    """A message signed as the relay signs: only its content can make it poison."""
    produce(bootstrap, topic, key, value, signed_headers(signing_key, key, value))


def envelope_at(app: CrmApplication, position: int) -> dict[str, Any]:
    """The relay's envelope of the event at `position`, to copy or forge from."""
    return EventSource(app).read_after(position - 1, 1).envelopes[0]


def forged(app: CrmApplication, original: int, **changes: Any) -> tuple[bytes, bytes]:
    """(key, value) of a copy of the envelope at position `original`, some attributes changed."""
    envelope = {**envelope_at(app, original), **changes}
    return str(envelope["subject"]).encode(), encode(envelope)


def parked_rows(database_url: str) -> list[tuple[str, int, int, str]]:
    """(group, partition, offset, reason) of every parked message, oldest first."""
    with psycopg.connect(database_url) as conn:
        try:
            rows = conn.execute(
                "SELECT group_name, partition, message_offset, reason FROM crm_parked ORDER BY id"
            ).fetchall()
        except psycopg.errors.UndefinedTable:
            return []
    return [(r[0], r[1], r[2], r[3]) for r in rows]

"""Which copy of the topic's log the workers read: the relay's count of broker losses.

A consumer's positions (faust's read and committed offsets in memory, the group's
committed offsets on the broker) are offsets into one log. When the broker loses its
data (the embedded Tansu is memory-only) the relay re-publishes everything into a new
log, where the same offsets name other events: a worker that went on with its old
positions dropped every message below them as "already read" (faust skips offsets under
its read offset), and lost events (issue 11: analytics 85.00 vs 84.00). So each loss
the relay finds starts a new *generation*: workers join a consumer group named after it
(no positions at all: they read the new log from its start, idempotently). A running
worker that sees the generation move stops its faust app and starts a new one in the
new group, in the same process (`streams.worker_main.run`); a widened topic
(`streams.topic_cuts`) moves workers by a process restart (`streams.topic_follow`).
"""

from __future__ import annotations

from typing import Any

import psycopg


def broker_generation(database_url: str, topic: str) -> int:
    """How many times the relay found the broker had lost `topic` (0 before any relay ran)."""
    with psycopg.connect(database_url, connect_timeout=3, autocommit=True) as conn:
        return generation_on(conn, topic)


def generation_on(conn: psycopg.Connection[Any], topic: str) -> int:
    """`broker_generation` on an open connection."""
    exists = conn.execute("SELECT to_regclass('crm_relay_progress')").fetchone()
    if not exists or exists[0] is None:
        return 0
    row = conn.execute(
        "SELECT republished FROM crm_relay_progress WHERE topic = %s", (topic,)
    ).fetchone()
    return int(row[0]) if row else 0


GROUP_PREFIX = "crm"
"""The default first part of every consumer group (`CRM_KAFKA_GROUP_PREFIX`): two
installations on one Kafka cluster need different ones, or each one's workers are
members of the other's groups (every start of one rebalances the other)."""


def group_id(name: str, generation: int, segment: str = "", prefix: str = GROUP_PREFIX) -> str:
    """`<prefix>-<name>` for the first log, `<prefix>-<name>-g<N>` after the N-th broker
    loss, and `-<segment>` after either for a widened topic of that log
    (`streams.topic_follow`)."""
    group = f"{prefix}-{name}" if generation == 0 else f"{prefix}-{name}-g{generation}"
    return f"{group}-{segment}" if segment else group

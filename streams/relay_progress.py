"""The relay's bookmark and its leadership, in the event store's database.

`crm_relay_progress` holds per topic the last position acknowledged by the broker, the
partition ends seen then, how often everything was re-published (the generation), and
the sampled validation's counts (`/metrics`).

Leadership: any number of relays may run; the one holding a session advisory lock on
this store's connection publishes, the others wait (`try_lead`, polled). The lock is
held by the very connection that writes the bookmark, so a leader whose connection died
(process killed, network cut: PostgreSQL ends the session and frees the lock) cannot
write another bookmark: its next save fails and the process ends. A standby then takes
the lock, loads the bookmark and continues from it: events the old leader sent after its
last bookmark go out again (same envelope ids; consumers apply each at most once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import psycopg

PROGRESS_DDL = """
CREATE TABLE IF NOT EXISTS crm_relay_progress (
    topic text PRIMARY KEY,
    position bigint NOT NULL,
    partition_ends jsonb NOT NULL DEFAULT '{}',
    republished integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE crm_relay_progress
    ADD COLUMN IF NOT EXISTS validated bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS invalid bigint NOT NULL DEFAULT 0
"""

LEADER_LOCK_CLASS = 0x52454C59
"""First half of the two-key advisory lock ("RELY"); the second is the topic's hash. The
two-key form never collides with the single-bigint locks used elsewhere."""
DDL_LOCK_CLASS = LEADER_LOCK_CLASS + 1
"""Held while a relay creates or migrates the bookmark table (a class of its own, so it
never meets a topic's leader lock)."""


@dataclass
class RelayProgress:
    position: int = 0
    partition_ends: dict[int, int] = field(default_factory=dict)
    republished: int = 0


@dataclass
class ValidationCounts:
    """Messages validated against their schemas (a sample) and how many failed."""

    validated: int = 0
    invalid: int = 0


class ProgressStore:
    """The relay's own bookmark, and the leader lock, on one dedicated connection."""

    def __init__(self, database_url: str, topic: str) -> None:
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.topic = topic
        self.leading = False
        with self.conn.transaction():
            # Relays started together (`crm up --relays 2`) would race on CREATE TABLE IF
            # NOT EXISTS ("duplicate key … pg_type"): one at a time.
            self.conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (DDL_LOCK_CLASS,))
            self.conn.execute(PROGRESS_DDL)

    def try_lead(self) -> bool:
        """Take the topic's leader lock if no other relay holds it; True while we hold it."""
        if not self.leading:
            row = self.conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LEADER_LOCK_CLASS, self.topic)
            ).fetchone()
            self.leading = bool(row and row[0])
        return self.leading

    def load(self) -> RelayProgress:
        row = self.conn.execute(
            "SELECT position, partition_ends, republished FROM crm_relay_progress WHERE topic = %s",
            (self.topic,),
        ).fetchone()
        if row is None:
            return RelayProgress()
        return RelayProgress(row[0], {int(k): int(v) for k, v in row[1].items()}, row[2])

    def save(self, progress: RelayProgress, counts: ValidationCounts | None = None) -> None:
        counts = counts or ValidationCounts()
        self.conn.execute(
            "INSERT INTO crm_relay_progress "
            "(topic, position, partition_ends, republished, validated, invalid) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (topic) DO UPDATE SET "
            "position = EXCLUDED.position, partition_ends = EXCLUDED.partition_ends, "
            "republished = EXCLUDED.republished, updated_at = now(), "
            "validated = crm_relay_progress.validated + EXCLUDED.validated, "
            "invalid = crm_relay_progress.invalid + EXCLUDED.invalid",
            (
                self.topic,
                progress.position,
                json.dumps(progress.partition_ends),
                progress.republished,
                counts.validated,
                counts.invalid,
            ),
        )

    def close(self) -> None:
        self.conn.close()  # frees the leader lock with the session

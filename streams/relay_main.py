"""The outbox relay process (`crm relay`): event store ──► Kafka topic, by global position.

The work itself is `streams.relay.Relay`; this module is the process body.

The process shell (`ops`) passes in the settings it resolved, a `report(status,
detail)` callable that writes the heartbeat, and a stop flag set on SIGTERM/SIGINT.
`run` returns when the flag is set; an exception ends the process and the
supervisor restarts it with backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from projections.business_time import DEFAULT_TIMEZONE
from streams.generation import GROUP_PREFIX
from streams.join_watch import JOIN_WITHIN_S
from streams.kafka_clients import PLAINTEXT, KafkaSecurity

Report = Callable[[str, str], None]
"""report(status, detail): status is ok | idle | starting | error."""


class StopFlag(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...


@dataclass(frozen=True)
class StreamConfig:
    """The settings a stream process needs, resolved by `crm up` or the environment."""

    database_url: str
    kafka_bootstrap: str
    topic: str
    data_dir: Path
    partitions: int = 4
    master_key: str = field(default="", repr=False)  # base64; for `CrmApplication`
    kafka_security: KafkaSecurity = PLAINTEXT  # SASL/SSL of a managed cluster
    timezone: str = DEFAULT_TIMEZONE  # business dates (cohort months): `CRM_TIMEZONE`
    # The server past any pooler, for session state (the relay's leader lock, LISTEN):
    # `CRM_DATABASE_DIRECT_URL`; None means `database_url` keeps sessions (no pooler).
    session_url: str | None = None
    # Messages built at commit kept behind the bookmark: `CRM_RELAY_KEEP_MESSAGES`; None
    # means the relay's default (`streams.relay.KEEP_MESSAGES`).
    keep_messages: int | None = None
    # Seconds a worker waits for its group's first assignment before it joins again:
    # `CRM_WORKER_JOIN_TIMEOUT` (`streams.join_watch`).
    join_timeout: float = JOIN_WITHIN_S
    # The first part of the consumer groups' names: `CRM_KAFKA_GROUP_PREFIX`.
    group_prefix: str = GROUP_PREFIX


def run(config: StreamConfig, report: Report, stop: StopFlag) -> None:
    """Body of `crm relay`: publish until stopped; an error ends the process (restarted)."""
    from bootstrap import relay as open_relay  # the composition root; only the process body
    from streams.heap import settle

    report("starting", "connecting to the database and the broker")
    with open_relay(config) as relay:
        settle()  # its clients are built: out of the collector's full passes (streams/heap.py)
        relay.run(stop, report)

"""The outbox relay process (`crm relay`): event store ──► Kafka topic, by global position.

The work itself is `streams.relay.Relay`; this module is the process body.

The process shell (`ops`) passes in the settings it resolved, a `report(status,
detail)` callable that writes the heartbeat, and a stop flag set on SIGTERM/SIGINT.
`run` returns when the flag is set; an exception ends the process and the
supervisor restarts it with backoff.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

Report = Callable[[str, str], None]
"""report(status, detail): status is ok | idle | starting | error."""

CHECK_INTERVAL = 2.0


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


def broker_reachable(bootstrap: str, timeout: float = 1.0) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
        except (OSError, ValueError):
            continue
        return True
    return False


def serve_idle(config: StreamConfig, report: Report, stop: StopFlag, planned: str) -> None:
    """Stay connected and say honestly that the work itself is not implemented yet."""
    import psycopg

    conn: psycopg.Connection | None = None
    while not stop.is_set():
        problems: list[str] = []
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(config.database_url, connect_timeout=3, autocommit=True)
            conn.execute("SELECT 1")
        except psycopg.Error as error:
            problems.append(f"database unreachable: {str(error).strip().splitlines()[0]}")
            if conn is not None:
                conn.close()
            conn = None
        if not broker_reachable(config.kafka_bootstrap):
            problems.append(f"kafka unreachable at {config.kafka_bootstrap}")
        if problems:
            report("error", "; ".join(problems))
        else:
            report("idle", f"not implemented yet: {planned}")
        stop.wait(CHECK_INTERVAL)
    if conn is not None:
        conn.close()


def run(config: StreamConfig, report: Report, stop: StopFlag) -> None:
    """Body of `crm relay`: publish until stopped; an error ends the process (restarted)."""
    from commands.application import CrmApplication
    from streams.relay import Relay

    report("starting", "connecting to the database and the broker")
    app = CrmApplication(config.database_url, master_key=config.master_key, pool_size=2)
    relay = Relay(
        app, config.database_url, config.kafka_bootstrap, config.topic, partitions=config.partitions
    )
    try:
        relay.run(stop, report)
    finally:
        relay.close()
        app.close()

"""Real servers for the test session: embedded by default, external when configured.

`CRM_DATABASE_URL` / `CRM_KAFKA_BOOTSTRAP` point the tests at external servers; each
test run then works in databases and topics of its own, so it never touches other data.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ops.embedded.kafka import EmbeddedKafka, stop_kafka
from ops.embedded.postgres import EmbeddedPostgres, stop_postgres


@dataclass
class ServerSet:
    database_url: str
    kafka_bootstrap: str
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def new_database(self, prefix: str = "t") -> str:
        """A new empty database on the session's server; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        params = conninfo_to_dict(self.database_url)
        params["dbname"] = name
        return make_conninfo(**params)

    def drop_database(self, url: str) -> None:
        name = conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def new_topic(self, prefix: str = "t") -> str:
        return f"{prefix}.{uuid.uuid4().hex[:12]}"


def _as_url(conninfo: str) -> str:
    params = conninfo_to_dict(conninfo)
    user = params.get("user", "postgres")
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    return f"postgresql://{user}@{host}:{port}/{params.get('dbname', 'postgres')}"


@contextmanager
def started_servers(workdir: Path) -> Iterator[ServerSet]:
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
    database_url = os.environ.get("CRM_DATABASE_URL")
    bootstrap = os.environ.get("CRM_KAFKA_BOOTSTRAP")
    try:
        if not database_url:
            pg = EmbeddedPostgres(workdir / "pgdata")
            processes.append(("postgres", pg.start()))
            database_url = pg.superuser_url  # the harness CREATEs a database per test
        if not bootstrap:
            kafka = EmbeddedKafka(log_path=workdir / "tansu.log")
            processes.append(("kafka", kafka.start()))
            bootstrap = kafka.bootstrap
        servers = ServerSet(database_url, bootstrap, processes)
        yield servers
    finally:
        for name, process in reversed(processes):
            (stop_postgres if name == "postgres" else stop_kafka)(process)


@contextmanager
def open_folder() -> Iterator[Path]:
    """A folder the server's own user can enter. Not pytest's tmp_path: a parallel pytest
    session resets /tmp/pytest-of-<user> to 0700 at any time, locking the server out."""
    with tempfile.TemporaryDirectory(prefix="crm-pg-") as name:
        folder = Path(name)
        folder.chmod(0o755)
        yield folder

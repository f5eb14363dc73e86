"""Where a benchmark runs: the configured PostgreSQL server, or a throwaway embedded one.

Each measurement gets a database of its own on that server (created and dropped here),
so the plain-library baseline and our store never share tables or caches, yet share
the same server, disk and settings: the comparison is like for like.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


@contextmanager
def bench_server(database_url: str | None) -> Iterator[str]:
    """A URL of a database on the server to use; an embedded one lives for the block."""
    if database_url:
        yield database_url
        return
    from ops.embedded.postgres import EmbeddedPostgres, stop_postgres

    with tempfile.TemporaryDirectory(prefix="crm-bench-") as folder:
        path = Path(folder)
        path.chmod(0o755)  # the embedded server runs as its own user and must get in
        server = EmbeddedPostgres(path / "pgdata")
        process = server.start()
        try:
            yield server.superuser_url  # each run CREATEs its own database
        finally:
            stop_postgres(process)


def with_database(url: str, name: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return make_conninfo("", **params)


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new empty database on the server of `server_url`, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_version(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


@contextmanager
def bench_broker(bootstrap: str | None) -> Iterator[str]:
    """The configured Kafka bootstrap, or a throwaway embedded Tansu for the block."""
    if bootstrap:
        yield bootstrap
        return
    from ops.embedded.kafka import EmbeddedKafka, stop_kafka

    broker = EmbeddedKafka()
    process = broker.start()
    try:
        yield broker.bootstrap
    finally:
        stop_kafka(process)


def new_topic(prefix: str) -> str:
    """A topic no earlier run used (Tansu or a shared cluster may keep old ones)."""
    return f"{prefix}.{uuid.uuid4().hex[:10]}"

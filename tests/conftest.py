"""Session-wide real servers and per-test fresh databases."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ServerSet, started_servers


@pytest.fixture(scope="session")
def servers() -> Iterator[ServerSet]:
    """The real PostgreSQL and Kafka-protocol broker, started once per test run."""
    with tempfile.TemporaryDirectory(prefix="crm-test-") as workdir:
        path = Path(workdir)
        os.chmod(path, 0o755)
        with started_servers(path) as started:
            yield started


@pytest.fixture
def database_url(servers: ServerSet) -> Iterator[str]:
    """A new, empty database for one test, dropped afterwards."""
    url = servers.new_database()
    try:
        yield url
    finally:
        servers.drop_database(url)


@pytest.fixture
def kafka_bootstrap(servers: ServerSet) -> str:
    return servers.kafka_bootstrap


@pytest.fixture
def kafka_topic(servers: ServerSet) -> str:
    """A topic name no other test uses."""
    return servers.new_topic()

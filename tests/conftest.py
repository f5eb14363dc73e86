"""Session-wide real servers and per-test fresh databases."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture
def master_key() -> str:
    """A fresh master key (wraps each customer's data key)."""
    from commands.crypto import generate_master_key

    return generate_master_key()


@pytest.fixture
def app(database_url: str, master_key: str) -> Iterator[Any]:
    """The event store application on this test's fresh database."""
    from commands.application import CrmApplication

    application = CrmApplication(database_url, master_key=master_key, pool_size=4)
    yield application
    application.close()

"""Integration tests: session-wide real servers, per-test fresh databases and topics.

The servers start only when a test asks for one of these fixtures, and only tests under
this folder can: unit tests never see them. Every test collected here is marked
`integration` (a new file needs nothing to be), so `-m "not integration"` skips them all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio

from ops.embedded.kafka import EmbeddedKafka, stop_kafka
from tests.integration.support.servers import ServerSet, started_servers

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under this folder `integration`, before `-m` deselects anything."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


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
def own_broker(tmp_path: Path) -> Iterator[str]:
    """A broker of this test's own, for a test about consumer groups: the session's broker
    holds every earlier test's groups of the same names (`crm-projections`), whose
    rebalances and left-over members are not what the test is about."""
    kafka = EmbeddedKafka(log_path=tmp_path / "tansu.log")
    process = kafka.start()
    try:
        yield kafka.bootstrap
    finally:
        stop_kafka(process)


@pytest.fixture
def kafka_topic(servers: ServerSet) -> str:
    """A topic name no other test uses."""
    return servers.new_topic()


@pytest.fixture
def app(database_url: str, master_key: str) -> Iterator[Any]:
    """The event store application on this test's fresh database, as processes open it
    (saves write each event's Kafka message too)."""
    from bootstrap import open_store

    application = open_store(database_url, master_key, kind="command", pool_size=4)
    yield application
    application.close()


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to this test's database, with every read-model table created."""
    from projections.schema import create_all

    with psycopg.connect(database_url) as connection:
        create_all(connection)
        connection.commit()
        yield connection


# -- the gateway in process (tests/integration/test_gateway_*.py) -----------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[Any]:
    """The gateway on a database of its own, per module (a module that needs a clock,
    limits or seeded data defines its own `gw`)."""
    from tests.integration.support.gateway import GatewayHarness

    url = servers.new_database()
    harness = GatewayHarness.start(url)
    yield harness
    await harness.aclose()
    servers.drop_database(url)


# -- the web console in headless Chromium (tests/integration/test_console_*.py) --------
# Imported inside the fixtures: other integration tests need neither Playwright nor uvicorn.


@pytest.fixture(scope="module")
def site(servers: ServerSet) -> Iterator[Any]:
    """The gateway with its console on a free port, a relay feeding live events (per module)."""
    from tests.integration.support.browser import ConsoleSite

    started = ConsoleSite.start(servers)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per module."""
    from playwright.sync_api import sync_playwright

    from tests.integration.support.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, site: Any) -> Iterator[Any]:
    """A fresh page that may reach only the gateway; the test fails if it tried anything
    else or a script threw."""
    from tests.integration.support.browser import new_context

    context, guard = new_context(browser, site)
    yield context.new_page()
    context.close()
    assert guard.foreign == [], f"requests outside the gateway: {guard.foreign}"
    assert guard.script_errors == [], f"uncaught script errors: {guard.script_errors}"

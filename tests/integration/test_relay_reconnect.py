"""The relay reconnects to PostgreSQL in place instead of ending (issue 11, item 6: its
process restart was most of the recovery time after a `kill -9` of PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
import pytest

from commands.application import CrmApplication
from commands.service import CommandService
from streams.relay import REPORT_EVERY_SECONDS, Relay
from streams.topic import ensure_topic
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import one_customer
from tests.integration.support.waiting import wait_for
from tests.support.spies import calls_to

pytestmark = pytest.mark.integration


@dataclass
class RelayRun:
    """A relay's `run` loop in a thread: what it reported and what it raised."""

    stop: threading.Event = field(default_factory=threading.Event)
    reports: list[tuple[str, str]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    thread: threading.Thread | None = None


@contextmanager
def running(relay: Relay) -> Iterator[RelayRun]:
    """`relay.run` in a thread until the block ends; then stopped and closed."""
    run = RelayRun()

    def body() -> None:
        try:
            relay.run(run.stop, lambda status, detail: run.reports.append((status, detail)))
        except BaseException as error:  # the test fails on it below
            run.errors.append(error)

    run.thread = threading.Thread(target=body, daemon=True)
    run.thread.start()
    try:
        yield run
    finally:
        run.stop.set()
        run.thread.join(timeout=10)
        relay.close()
    assert not run.errors


def test_the_relay_survives_its_connections_being_cut(
    servers: ServerSet, app: CrmApplication, database_url: str, kafka_topic: str
) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 2)
    service = CommandService(app)
    one_customer(service, 1)
    relay = Relay(app, database_url, servers.kafka_bootstrap, kafka_topic, partitions=2)
    with running(relay) as run:
        first = relay.source.max_position()
        wait_for(lambda: relay.progress.position >= first, timeout=30)
        cut = [relay.store.conn.info.backend_pid, relay.listener.info.backend_pid]
        with psycopg.connect(database_url, autocommit=True) as admin:
            for pid in cut:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        one_customer(service, 2)  # recorded while the relay's connections are dead
        newest = relay.source.max_position()
        wait_for(lambda: relay.progress.position >= newest, timeout=30)
        assert run.thread is not None and run.thread.is_alive(), run.errors
        assert any("database unavailable" in detail for status, detail in run.reports)
        assert relay.store.conn.info.backend_pid not in cut


def test_a_leading_relay_says_ok_about_once_a_second_and_again_right_after_trouble(
    servers: ServerSet,
    app: CrmApplication,
    database_url: str,
    kafka_topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each "ok" costs a lag query and a heartbeat file: said on every turn of the loop,
    it was a third of the relay's CPU under steady writes. Any other status is said at
    once, and "ok" follows as soon as the relay publishes again."""
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 2)
    service = CommandService(app)
    relay = Relay(app, database_url, servers.kafka_bootstrap, kafka_topic, partitions=2)
    turns = calls_to(monkeypatch, relay, "step")
    began = time.monotonic()
    with running(relay) as run:
        for n in range(40):  # a turn of the loop for each, or nearly
            one_customer(service, n)
            wait_for(lambda: relay.progress.position >= relay.source.max_position(), 30)
        seconds = time.monotonic() - began
        oks = [detail for status, detail in run.reports if status == "ok"]
        assert len(turns) >= 40
        assert 1 <= len(oks) <= seconds / REPORT_EVERY_SECONDS + 2, (len(oks), seconds)
        assert "published up to position" in oks[0]

        # From here on "ok" is said again only because trouble was said in between.
        monkeypatch.setattr("streams.relay.REPORT_EVERY_SECONDS", 3600.0)
        said = len(run.reports)
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (relay.store.conn.info.backend_pid,))
        one_customer(service, 99)
        wait_for(lambda: any(status == "error" for status, _ in run.reports[said:]), 30)
        wait_for(lambda: run.reports[-1][0] == "ok", timeout=30)

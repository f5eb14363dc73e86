"""The relay reconnects to PostgreSQL in place instead of ending (issue 11, item 6: its
process restart was most of the recovery time after a `kill -9` of PostgreSQL)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from commands.application import CrmApplication
from commands.service import CommandService
from streams.relay import REPORT_EVERY_SECONDS, Relay
from streams.topic import ensure_topic
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import one_customer
from tests.integration.support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_the_relay_survives_its_connections_being_cut(
    servers: ServerSet, app: CrmApplication, database_url: str, kafka_topic: str
) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 2)
    service = CommandService(app)
    one_customer(service, 1)
    relay = Relay(app, database_url, servers.kafka_bootstrap, kafka_topic, partitions=2)
    reports: list[tuple[str, str]] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            relay.run(stop, lambda status, detail: reports.append((status, detail)))
        except BaseException as error:  # the test fails on it below
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        first = relay.source.max_position()
        wait_for(lambda: relay.progress.position >= first, timeout=30)
        cut = [relay.store.conn.info.backend_pid, relay.listener.info.backend_pid]
        with psycopg.connect(database_url, autocommit=True) as admin:
            for pid in cut:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        one_customer(service, 2)  # recorded while the relay's connections are dead
        newest = relay.source.max_position()
        wait_for(lambda: relay.progress.position >= newest, timeout=30)
        assert thread.is_alive(), errors
        assert any("database unavailable" in detail for status, detail in reports)
        assert relay.store.conn.info.backend_pid not in cut
    finally:
        stop.set()
        thread.join(timeout=10)
        relay.close()
    assert not errors


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
    turns = [0]
    step = relay.step

    def counted_step(wait: float) -> int:
        turns[0] += 1
        return step(wait)

    monkeypatch.setattr(relay, "step", counted_step)
    reports: list[tuple[str, str]] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            relay.run(stop, lambda status, detail: reports.append((status, detail)))
        except BaseException as error:  # the test fails on it below
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    began = time.monotonic()
    thread.start()
    try:
        for n in range(40):  # a turn of the loop for each, or nearly
            one_customer(service, n)
            wait_for(lambda: relay.progress.position >= relay.source.max_position(), 30)
        seconds = time.monotonic() - began
        oks = [detail for status, detail in reports if status == "ok"]
        assert turns[0] >= 40
        assert 1 <= len(oks) <= seconds / REPORT_EVERY_SECONDS + 2, (len(oks), seconds)
        assert "published up to position" in oks[0]

        # From here on "ok" is said again only because trouble was said in between.
        monkeypatch.setattr("streams.relay.REPORT_EVERY_SECONDS", 3600.0)
        said = len(reports)
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (relay.store.conn.info.backend_pid,))
        one_customer(service, 99)
        wait_for(lambda: any(status == "error" for status, _ in reports[said:]), timeout=30)
        wait_for(lambda: reports[-1][0] == "ok", timeout=30)
        assert thread.is_alive(), errors
    finally:
        stop.set()
        thread.join(timeout=10)
        relay.close()
    assert not errors

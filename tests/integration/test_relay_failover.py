"""Issue 18 item 2: two `crm relay` processes, one leads, kill -9 it under load, the
standby takes over from the bookmark: nothing lost, duplicates only of identical messages
(same envelope id, same bytes: the workers apply each event at most once)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg
import pytest

from commands.application import CrmApplication
from commands.service import CommandService
from streams.envelope import decode
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import one_customer, start_worker, stop
from tests.integration.support.waiting import wait_for
from tests.integration.test_relay import consume_all

pytestmark = pytest.mark.integration


def heartbeat(data_dir: Path) -> dict[str, Any]:
    try:
        beat: dict[str, Any] = json.loads((data_dir / "run" / "relay.json").read_text())
    except (OSError, ValueError):
        return {}
    return beat


def bookmark(database_url: str, topic: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('crm_relay_progress')").fetchone() == (None,):
            return 0  # no relay has started yet
        row = conn.execute(
            "SELECT position FROM crm_relay_progress WHERE topic = %s", (topic,)
        ).fetchone()
    return int(row[0]) if row else 0


def newest(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM stored_events")
        return int(row.fetchone()[0])  # type: ignore[index]


def test_a_standby_relay_takes_over_when_the_leader_is_killed_under_load(
    servers: ServerSet,
    app: CrmApplication,
    database_url: str,
    kafka_topic: str,
    master_key: str,
    tmp_path: Path,
) -> None:
    service = CommandService(app)
    one_customer(service, 0)
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first = start_worker(servers, database_url, kafka_topic, master_key, first_dir, ("relay",))
    second: Any = None
    stop_load = threading.Event()
    written: list[int] = []

    def load() -> None:
        i = 1
        while not stop_load.is_set():
            one_customer(service, i)  # 4 events each, as fast as one client goes
            written.append(i)
            i += 1

    loader = threading.Thread(target=load)
    try:
        wait_for(lambda: bookmark(database_url, kafka_topic) >= 4, timeout=60)
        relay = ("relay",)
        second = start_worker(servers, database_url, kafka_topic, master_key, second_dir, relay)
        wait_for(lambda: heartbeat(second_dir).get("status") == "idle", timeout=60)
        assert "standby" in heartbeat(second_dir)["detail"]
        assert heartbeat(first_dir)["status"] == "ok"

        loader.start()
        wait_for(lambda: len(written) >= 20, timeout=60)
        os.killpg(first.pid, signal.SIGKILL)  # kill -9 the leader mid-stream
        first.wait()
        killed_at, at_kill = time.monotonic(), bookmark(database_url, kafka_topic)
        wait_for(lambda: bookmark(database_url, kafka_topic) > at_kill, timeout=30, interval=0.01)
        takeover = time.monotonic() - killed_at
        wait_for(lambda: len(written) >= 40, timeout=60)
        stop_load.set()
        loader.join(timeout=60)
        last = newest(database_url)
        wait_for(lambda: bookmark(database_url, kafka_topic) == last, timeout=60)
        assert heartbeat(second_dir)["status"] == "ok" and second.poll() is None
    finally:
        stop_load.set()
        if loader.is_alive():
            loader.join(timeout=60)
        stop(first)
        if second is not None:
            stop(second)

    on_topic = consume_all(servers.kafka_bootstrap, kafka_topic, 10**6, timeout_ms=5000)
    copies: dict[str, set[bytes]] = defaultdict(set)
    positions = set()
    for message in on_topic:
        envelope = decode(message.value)
        copies[envelope["id"]].add(message.value)
        positions.add(envelope["position"])
    assert positions == set(range(1, last + 1))  # nothing lost
    assert all(len(values) == 1 for values in copies.values())  # a duplicate is the same message
    duplicates = len(on_topic) - len(copies)
    print(
        f"\nrelay failover: {last} events, standby published {takeover:.2f} s after the "
        f"kill -9, {duplicates} duplicates (re-sent after the last bookmark)"
    )

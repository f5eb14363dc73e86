"""The topic's partition count and replication factor are settings: they reach the broker
when the topic is created, and a live topic narrower than the setting is named, not
silently widened (per-customer order; docs/streams.md)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient

from streams.processes import ProcessBeat, beat, create_processes, list_processes, remove
from streams.topic import ensure_topic, partition_count, partition_shortfall
from tests.integration.support.servers import ServerSet

pytestmark = pytest.mark.integration


def test_a_new_topic_gets_the_partitions_and_replication_asked_for(
    servers: ServerSet, kafka_topic: str
) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 3, replication_factor=1)
    assert partition_count(servers.kafka_bootstrap, kafka_topic) == 3
    admin = KafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    try:
        described = admin.describe_topics([kafka_topic])[0]
    finally:
        admin.close()
    assert {len(p["replica_nodes"]) for p in described["partitions"]} == {1}


def test_a_narrower_live_topic_is_named_not_widened(servers: ServerSet, kafka_topic: str) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 2)
    warning = partition_shortfall(servers.kafka_bootstrap, kafka_topic, 4)
    assert warning is not None
    assert "2 partitions" in warning and "asks for 4" in warning
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 4)  # exists: left as it is
    assert partition_count(servers.kafka_bootstrap, kafka_topic) == 2
    assert partition_shortfall(servers.kafka_bootstrap, kafka_topic, 2) is None


def test_process_rows_are_listed_marked_stale_and_removed(
    conn: psycopg.Connection[Any],
) -> None:
    create_processes(conn)
    beat(conn, ProcessBeat("host-a", 11, "gateway", "ok", "serving", "http://a:1"))
    beat(conn, ProcessBeat("host-b", 22, "worker-projections", "starting"))
    conn.execute("UPDATE crm_processes SET ts = now() - interval '30 seconds' WHERE pid = 22")
    rows = {row["pid"]: row for row in list_processes(conn)}
    assert rows[11]["status"] == "ok" and not rows[11]["stale"]
    assert rows[11]["probe"] == "http://a:1"
    assert rows[22]["status"] == "stale" and rows[22]["reported"] == "starting"
    remove(conn, "host-a", 11, "gateway")
    assert [row["pid"] for row in list_processes(conn)] == [22]


def test_a_components_last_row_is_not_forgotten_but_a_replaced_one_is(
    conn: psycopg.Connection[Any],
) -> None:
    # Every relay killed long ago: the newest relay row stays (down), older ones go.
    create_processes(conn)
    for pid in (31, 32):
        beat(conn, ProcessBeat("host-c", pid, "relay", "ok", "leading"))
    conn.execute("UPDATE crm_processes SET ts = now() - interval '2 hours' WHERE pid = 31")
    conn.execute("UPDATE crm_processes SET ts = now() - interval '1 hour' WHERE pid = 32")
    beat(conn, ProcessBeat("host-d", 41, "gateway", "ok", "serving"))
    rows = {row["pid"]: row for row in list_processes(conn)}
    assert sorted(rows) == [32, 41] and rows[32]["stale"]
    beat(conn, ProcessBeat("host-c", 33, "relay", "ok", "leading"))  # a relay is back
    conn.execute("UPDATE crm_processes SET ts = now() - interval '1 hour' WHERE pid = 41")
    beat(conn, ProcessBeat("host-c", 33, "relay", "ok", "leading"))
    assert sorted(row["pid"] for row in list_processes(conn)) == [33, 41]

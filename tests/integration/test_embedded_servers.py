"""The embedded servers are real: SQL runs, messages round-trip, data survives a restart."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer

from ops.embedded.postgres import EmbeddedPostgres, stop_postgres
from streams.topic import ensure_topic
from tests.integration.support.servers import ServerSet, open_folder

pytestmark = pytest.mark.integration


def test_postgres_answers_sql(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE t (n int)")
        conn.execute("INSERT INTO t VALUES (41), (1)")
        assert conn.execute("SELECT sum(n) FROM t").fetchone() == (42,)


def test_embedded_postgres_keeps_data_across_restart() -> None:
    with open_folder() as folder:
        keeps_data_across_restart(folder)


def keeps_data_across_restart(folder: Path) -> None:
    server = EmbeddedPostgres(folder / "pgdata")
    process = server.start()
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('survives')")
    finally:
        stop_postgres(process)
    assert process.poll() is not None

    again = EmbeddedPostgres(folder / "pgdata")
    process = again.start()
    try:
        with psycopg.connect(again.url) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("survives",)
    finally:
        stop_postgres(process)


def test_broker_round_trips_keyed_messages(servers: ServerSet, kafka_topic: str) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, partitions=2)
    producer = KafkaProducer(bootstrap_servers=servers.kafka_bootstrap, enable_idempotence=True)
    for i in range(20):
        producer.send(kafka_topic, key=f"c{i % 3}".encode(), value=f"m{i}".encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        kafka_topic,
        bootstrap_servers=servers.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    received = [(m.key.decode(), m.value.decode()) for m in consumer]
    consumer.close()
    assert sorted(v for _, v in received) == sorted(f"m{i}" for i in range(20))
    # Per-key order is preserved: the partitioning contract the read models rely on.
    for key in ("c0", "c1", "c2"):
        values = [int(v[1:]) for k, v in received if k == key]
        assert values == sorted(values)

"""Kafka security settings on the real broker: set explicitly (`CRM_KAFKA_SECURITY_PROTOCOL=
PLAINTEXT`, what the embedded broker speaks), they reach the admin client, the relay's
producer and probe, a worker's faust app, the gateway's live consumer and the operators'
consumers, and events flow end to end through all of them. (SASL/SSL reach the same
clients: tests/unit/test_kafka_clients.py reads them back from each constructed client.)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from commands.application import CrmApplication
from commands.service import CommandService
from gateway.live import LiveEvents
from ops.config import load_settings_checked
from streams import kafka_clients
from streams.kafka_clients import KafkaSecurity
from streams.relay import Relay
from streams.topic import ensure_topic
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import one_customer, start_worker, stop

pytestmark = pytest.mark.integration

EXPLICIT = {"CRM_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "CRM_KAFKA_SSL_CHECK_HOSTNAME": "true"}


@pytest.fixture
def security(monkeypatch: pytest.MonkeyPatch) -> KafkaSecurity:
    for name, value in EXPLICIT.items():
        monkeypatch.setenv(name, value)
    return load_settings_checked().kafka_security


def applied_customers(database_url: str) -> int:
    try:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM rm_customers").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def test_explicit_settings_reach_the_admin_client_and_create_the_topic(
    servers: ServerSet, kafka_topic: str, security: KafkaSecurity
) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 3, security)
    admin = kafka_clients.admin_client(servers.kafka_bootstrap, security)
    try:
        assert admin.config["security_protocol"] == "PLAINTEXT"
        assert kafka_topic in admin.list_topics()
    finally:
        admin.close()


def test_relay_and_worker_processes_carry_events_with_the_explicit_settings(
    servers: ServerSet,
    app: CrmApplication,
    database_url: str,
    kafka_topic: str,
    master_key: str,
    tmp_path: Path,
    security: KafkaSecurity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`crm relay` and `crm worker projections` read the settings from the environment
    (as under `crm up`) and hand them to their producer, probe and faust app."""
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 2, security)
    service = CommandService(app)
    for i in range(3):
        one_customer(service, i)
    verbs = {"relay": ("relay",), "worker": ("worker", "projections")}
    logs = {name: tmp_path / f"{name}.log" for name in verbs}
    processes = [
        start_worker(servers, database_url, kafka_topic, master_key, tmp_path / n, v, logs[n])
        for n, v in verbs.items()
    ]
    try:
        deadline = time.monotonic() + 90
        while applied_customers(database_url) < 3:
            assert time.monotonic() < deadline, "the worker did not apply the relay's events\n" + (
                "\n".join(
                    f"--- {n}\n{p.read_text(errors='replace')[-3000:]}" for n, p in logs.items()
                )
            )
            assert all(p.poll() is None for p in processes), "a process exited"
            time.sleep(0.3)
    finally:
        for process in processes:
            stop(process)
    consumer = kafka_clients.consumer(
        servers.kafka_bootstrap,
        kafka_topic,
        security=security,
        auto_offset_reset="earliest",
        consumer_timeout_ms=8000,
        enable_auto_commit=False,
    )
    try:
        assert consumer.config["security_protocol"] == "PLAINTEXT"
        seen = [message for _, message in zip(range(12), consumer, strict=False)]
    finally:
        consumer.close()
    assert len(seen) == 12  # 3 customers x 4 events, read back with the same settings


async def test_the_gateways_live_consumer_uses_the_settings(
    servers: ServerSet,
    app: CrmApplication,
    database_url: str,
    kafka_topic: str,
    security: KafkaSecurity,
) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 1, security)
    live = LiveEvents(servers.kafka_bootstrap, kafka_topic, security)
    relay = Relay(
        app, database_url, servers.kafka_bootstrap, kafka_topic, partitions=1, security=security
    )
    try:
        assert relay.pipeline.security is security  # librdkafka_config(security): unit-tested
        assert relay.probe.config["security_protocol"] == "PLAINTEXT"
        async with live.subscribe(None) as subscriber:
            one_customer(CommandService(app), 0)
            await asyncio.to_thread(relay.publish_available)
            envelope = await asyncio.wait_for(subscriber.queue.get(), timeout=20)
        assert envelope is not None and UUID(envelope["subject"])
    finally:
        await live.close()
        relay.close()

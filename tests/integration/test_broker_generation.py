"""A worker never carries its consumer positions into a log the broker rebuilt.

When the relay finds that the broker lost the topic (it re-publishes everything), each
running worker moves to the next generation's consumer group, which reads the new log
from its start: nothing below their old offsets is skipped (issue 11, item 4). The move
happens inside the running process (same pid): a process restart was most of the
recovery time after a broker loss (issue 11, item 6)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from chaos.running import crm_argv
from commands.application import CrmApplication
from commands.service import CommandService
from streams.generation import broker_generation, group_id
from streams.relay import Relay
from streams.topic import ensure_topic
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import one_customer, stop
from tests.integration.support.waiting import wait_for

pytestmark = pytest.mark.integration


def purchases(database_url: str) -> int:
    try:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM rm_purchases").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def test_a_new_broker_generation_moves_the_running_worker_into_a_fresh_group(
    servers: ServerSet,
    app: CrmApplication,
    database_url: str,
    kafka_topic: str,
    master_key: str,
    tmp_path: Path,
) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 2)
    service = CommandService(app)
    for i in range(3):
        one_customer(service, i)
    relay = Relay(app, database_url, servers.kafka_bootstrap, kafka_topic, partitions=2)
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
        "CRM_KAFKA_TOPIC": kafka_topic,
        "CRM_MASTER_KEY": master_key,
        "CRM_DATA_DIR": str(tmp_path),
    }

    def worker() -> subprocess.Popen[bytes]:
        with (tmp_path / "worker.log").open("ab") as log:
            return subprocess.Popen(
                crm_argv("worker", "projections"),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    process = worker()
    try:
        relay.publish_available()
        wait_for(lambda: purchases(database_url) == 3, timeout=60, interval=0.2)
        assert broker_generation(database_url, kafka_topic) == 0
        # The relay found the broker had lost the topic (as after a Tansu restart).
        relay.progress.republished += 1
        relay.store.save(relay.progress)
        wait_for(lambda: group_id("projections", 1) in consumer_groups(servers), timeout=60)
        for i in range(3, 5):
            one_customer(service, i)
        relay.publish_available()
        wait_for(lambda: purchases(database_url) == 5, timeout=60, interval=0.2)
        # The same process moved to the new group: it was never restarted.
        assert process.poll() is None, (tmp_path / "worker.log").read_text()
    finally:
        stop(process)
        relay.close()


def consumer_groups(servers: ServerSet) -> set[str]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    try:
        return {g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups()}
    finally:
        admin.close()

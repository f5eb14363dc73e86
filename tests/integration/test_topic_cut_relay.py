"""The relay's side of a widening and the gateway's live events across it, on the real
servers: the cut is made at the bookmark with the old topic's true ends, a relay taking
over goes on on the new topic (not mistaking it for a broker that lost data), and a live
subscription sees the events of both topics in order; and `crm topic widen`'s refusals."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from commands.application import CrmApplication
from commands.service import CommandService
from gateway.live import LiveEvents
from ops.stack import crm_command
from streams.envelope import decode
from streams.relay import Relay
from streams.topic import ensure_topic, partition_count
from streams.topic_cuts import current_on, load_cuts, request_cut
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import one_customer
from tests.integration.test_relay import consume_all

pytestmark = pytest.mark.integration


def _request(database_url: str, base: str, partitions: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        request_cut(conn, base, f"{base}.p{partitions}", partitions, 1)


def test_the_relay_cuts_at_its_bookmark_and_a_successor_stays_on_the_new_topic(
    servers: ServerSet, app: CrmApplication, database_url: str, kafka_topic: str
) -> None:
    bootstrap, service = servers.kafka_bootstrap, CommandService(app)
    ensure_topic(bootstrap, kafka_topic, 2)
    relay = Relay(app, database_url, bootstrap, kafka_topic, partitions=2, batch_size=3)
    for i in range(3):
        one_customer(service, i)  # 4 events each
    relay.publish_available()
    _request(database_url, kafka_topic, 5)
    one_customer(service, 3)  # recorded before the relay saw the request: after the cut
    relay.publish_available()
    relay.close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        (cut,) = load_cuts(conn, kafka_topic)
    assert cut.position == 12 and cut.generation == 0
    # The true ends (Tansu's ListOffsets under-reports a multi-record batch's end).
    assert cut.ends is not None and sum(cut.ends.values()) == 12
    old = consume_all(bootstrap, kafka_topic, 100, timeout_ms=3000)
    assert sorted(decode(m.value)["position"] for m in old) == list(range(1, 13))
    assert {m.partition: m.offset + 1 for m in old} == {p: e for p, e in cut.ends.items() if e}

    new_topic = f"{kafka_topic}.p5"
    assert partition_count(bootstrap, new_topic) == 5
    successor = Relay(app, database_url, bootstrap, kafka_topic, partitions=2)
    one_customer(service, 4)
    successor.publish_available()
    assert successor.publishing == new_topic
    assert successor.progress.republished == 0  # the new topic is no sign of a lost broker
    successor.close()
    new = consume_all(bootstrap, new_topic, 100, timeout_ms=3000)
    assert sorted(decode(m.value)["position"] for m in new) == list(range(13, 21))


async def test_a_live_subscription_follows_the_cut_to_the_new_topic(
    servers: ServerSet, app: CrmApplication, database_url: str, kafka_topic: str
) -> None:
    bootstrap, service = servers.kafka_bootstrap, CommandService(app)
    ensure_topic(bootstrap, kafka_topic, 2)
    relay = Relay(app, database_url, bootstrap, kafka_topic, partitions=2)

    async def current_topic() -> str:
        def read() -> str:
            with psycopg.connect(database_url, autocommit=True) as conn:
                return current_on(conn, kafka_topic)

        return await asyncio.to_thread(read)

    live = LiveEvents(bootstrap, kafka_topic, current_topic=current_topic)
    received: list[dict[str, Any] | None] = []
    try:
        async with live.subscribe(None) as subscriber:
            one_customer(service, 0)
            await asyncio.to_thread(relay.publish_available)
            for _ in range(4):
                received.append(await asyncio.wait_for(subscriber.queue.get(), timeout=20))
            _request(database_url, kafka_topic, 3)
            one_customer(service, 1)
            await asyncio.to_thread(relay.publish_available)
            assert relay.publishing == f"{kafka_topic}.p3"
            for _ in range(4):
                received.append(await asyncio.wait_for(subscriber.queue.get(), timeout=20))
    finally:
        await live.close()
        relay.close()
    assert [envelope and envelope["position"] for envelope in received] == list(range(1, 9))
    assert live.topic == f"{kafka_topic}.p3"


def test_widen_refuses_fewer_partitions_and_a_second_request_and_says_when_no_relay_cut(
    servers: ServerSet, database_url: str, kafka_topic: str, master_key: str, tmp_path: Path
) -> None:
    ensure_topic(servers.kafka_bootstrap, kafka_topic, 2)
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
        "CRM_KAFKA_TOPIC": kafka_topic,
        "CRM_MASTER_KEY": master_key,
        "CRM_DATA_DIR": str(tmp_path),
    }

    def widen(partitions: int) -> subprocess.CompletedProcess[str]:
        command = crm_command("topic", "widen", "--partitions", str(partitions), "--wait", "0")
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    narrower = widen(2)
    assert narrower.returncode == 2
    assert "--partitions" in narrower.stderr and "PARTITIONS_NOT_MORE" in narrower.stderr
    requested = widen(4)  # no relay runs: recorded, not cut
    assert requested.returncode == 3 and "not cut yet" in requested.stderr
    assert partition_count(servers.kafka_bootstrap, f"{kafka_topic}.p4") == 4
    second = widen(8)
    assert second.returncode == 2 and "WIDENING_PENDING" in second.stderr
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert [(c.topic, c.done) for c in load_cuts(conn, kafka_topic)] == [
            (f"{kafka_topic}.p4", False)
        ]

"""`/metrics` tells how far the relay and each projection are behind the event store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RegisterCustomer
from commands.service import CommandService
from gateway.app import create_app
from projections.schema import reset_projection
from streams.relay import Relay
from streams.sink import ReadModelSink
from streams.source import EventSource
from tests.integration.support.metrics import gauge

pytestmark = pytest.mark.integration


def gateway_on(
    database_url: str, data_dir: Path, bootstrap: str = "", topic: str = "crm.events"
) -> Any:
    settings = SimpleNamespace(
        data_dir=data_dir,
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        kafka_topic=topic,
        jwt_secret="x",
        master_key=None,
        production=False,
        cors_origins=[],
        identity_provider=None,
    )
    return create_app(settings)  # type: ignore[arg-type]


async def scrape(gateway: Any) -> str:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await asyncio.wait_for(client.get("/metrics"), timeout=15)
    assert response.status_code == 200
    return response.text


async def test_metrics_report_relay_and_projection_lag(
    database_url: str, kafka_bootstrap: str, kafka_topic: str, tmp_path: Path
) -> None:
    app = CrmApplication(database_url, master_key=generate_master_key(), pool_size=2)
    service = CommandService(app)
    relay = Relay(app, database_url, kafka_bootstrap, kafka_topic, partitions=2, validate_every=1)
    sink = ReadModelSink(app, database_url)
    transport = httpx.ASGITransport(
        app=gateway_on(database_url, tmp_path, kafka_bootstrap, kafka_topic)
    )
    try:
        for i in range(3):
            service.handle(RegisterCustomer(name=f"M{i}"), CommandContext("ops"))
        relay.publish_available()
        sink(EventSource(app).read_after(0, 2).envelopes)  # the worker applied 2 of 3
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        assert gauge(response.text, "crm_events_recorded") == 3
        assert gauge(response.text, "crm_relay_lag_events") == 0
        assert 'crm_projection_lag_events{projection="customers"} 1.0' in response.text
        assert f'crm_relay_validated_messages{{topic="{kafka_topic}"}} 3.0' in response.text
        assert f'crm_relay_invalid_messages{{topic="{kafka_topic}"}} 0.0' in response.text
        assert sink.lag() == 1
    finally:
        relay.close()
        sink.close()
        app.close()


async def test_a_scrape_reads_the_marks_not_the_checkpoints(
    app: CrmApplication, database_url: str, tmp_path: Path
) -> None:
    """The checkpoints are 11 rows a customer (~1 s to scan at a million customers): a
    scrape reads the marks the heartbeats raised, and answers while rm_applied is held.
    A projection emptied under the worker (`reset_projection`) loses its mark, and its
    heartbeat does not claim it again."""
    service = CommandService(app)
    for i in range(3):
        service.handle(RegisterCustomer(name=f"S{i}"), CommandContext("ops"))
    sink = ReadModelSink(app, database_url)
    gateway = gateway_on(database_url, tmp_path)
    try:
        sink(EventSource(app).read_after(0, 3).envelopes)
        assert sink.lag() == 0  # the heartbeat: marks every projection at 3
        with psycopg.connect(database_url) as holder:
            holder.execute("LOCK TABLE rm_applied IN ACCESS EXCLUSIVE MODE")
            try:
                text = await scrape(gateway)
            finally:
                holder.rollback()
        assert 'crm_projection_lag_events{projection="customers"} 0.0' in text
        assert 'crm_projection_lag_events{projection="complaints"} 0.0' in text
        with psycopg.connect(database_url) as conn:
            reset_projection(conn, "complaints")
        service.handle(RegisterCustomer(name="S3"), CommandContext("ops"))
        sink(EventSource(app).read_after(3, 1).envelopes)
        assert sink.lag() == 0
        text = await scrape(gateway)
        assert 'crm_projection_lag_events{projection="customers"} 0.0' in text
        # Only the customer applied after the reset has a complaints checkpoint: its lag
        # is read from them (position 4 of 4), never claimed by the heartbeat's mark.
        with psycopg.connect(database_url) as conn:
            marked = conn.execute("SELECT projection FROM rm_applied_marks").fetchall()
        assert ("complaints",) not in marked and ("customers",) in marked
        assert 'crm_projection_lag_events{projection="complaints"} 0.0' in text
    finally:
        sink.close()

"""`/metrics` tells how far the relay and each projection are behind the event store."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RegisterCustomer
from commands.service import CommandService
from gateway.app import create_app
from streams.relay import Relay
from streams.sink import ReadModelSink
from streams.source import EventSource
from tests.integration.support.metrics import gauge

pytestmark = pytest.mark.integration


async def test_metrics_report_relay_and_projection_lag(
    database_url: str, kafka_bootstrap: str, kafka_topic: str, tmp_path: Path
) -> None:
    app = CrmApplication(database_url, master_key=generate_master_key(), pool_size=2)
    service = CommandService(app)
    relay = Relay(app, database_url, kafka_bootstrap, kafka_topic, partitions=2, validate_every=1)
    sink = ReadModelSink(app, database_url)
    settings = SimpleNamespace(
        data_dir=tmp_path,
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic=kafka_topic,
        jwt_secret="x",
        master_key=None,
        production=False,
        cors_origins=[],
        identity_provider=None,
    )
    gateway = create_app(settings)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=gateway)
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

"""The composition root builds working parts from settings, on the real servers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

import bootstrap
from commands.messages import CommandContext, RegisterCustomer
from gateway.app import create_app, serving_status
from streams.kafka_clients import PLAINTEXT
from streams.relay import KEEP_MESSAGES
from streams.relay_main import StreamConfig
from streams.source import EventSource

pytestmark = pytest.mark.integration

CTX = CommandContext("ops")


@pytest.mark.parametrize(
    ("kind", "opened", "most"), [("gateway", 8, 24), ("worker", 2, 18), ("probe", 1, 2)]
)
def test_the_store_pool_is_sized_for_the_process_kind(
    database_url: str, master_key: str, kind: bootstrap.ProcessKind, opened: int, most: int
) -> None:
    with bootstrap.store(database_url, master_key, kind=kind) as app:
        pool = app.recorder.datastore.pool  # type: ignore[attr-defined]
        assert (pool.min_size, pool.max_size) == (opened, most)


def gateway_settings(
    tmp_path: Path, database_url: str, master_key: str, secret: str
) -> SimpleNamespace:
    return SimpleNamespace(
        data_dir=tmp_path,
        database_url=database_url,
        kafka_bootstrap=None,
        kafka_topic="crm.events",
        jwt_secret=secret,
        master_key=master_key,
        production=False,
        cors_origins=[],
        identity_provider=None,
        max_token_ttl_days=7,
        kafka_security=PLAINTEXT,
    )


async def test_the_gateway_serves_graphql_over_the_deps_bootstrap_builds(
    tmp_path: Path, database_url: str, master_key: str
) -> None:
    settings = gateway_settings(tmp_path, database_url, master_key, secret="s3cret")
    deps = bootstrap.gateway_deps_for(settings)  # type: ignore[arg-type]
    assert deps is not None
    try:
        assert deps.limits.max_token_lifetime == timedelta(days=7)
        gateway = create_app(settings, deps=deps)  # type: ignore[arg-type]
        assert serving_status(gateway)[0] == "ok"
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            response = await client.post("/graphql", json={"query": "{ __typename }"})
        assert response.status_code == 401  # GraphQL is mounted and asks for a token
    finally:
        deps.close()


def test_the_gateways_connection_counts_are_settings(
    tmp_path: Path, database_url: str, master_key: str
) -> None:
    settings = gateway_settings(tmp_path, database_url, master_key, secret="s3cret")
    settings.database_pool_gateway = 3
    settings.database_pool_gateway_overflow = 2
    settings.database_read_pool = 2
    deps = bootstrap.gateway_deps_for(settings)  # type: ignore[arg-type]
    assert deps is not None
    try:
        store_pool = deps.app.recorder.datastore.pool  # type: ignore[attr-defined]
        assert (store_pool.min_size, store_pool.max_size) == (3, 5)
        assert deps.reads.pool.max_size == 2
    finally:
        deps.close()


def test_without_a_jwt_secret_there_are_no_deps_and_no_graphql(
    tmp_path: Path, database_url: str, master_key: str
) -> None:
    settings = gateway_settings(tmp_path, database_url, master_key, secret="")
    assert bootstrap.gateway_deps_for(settings) is None  # type: ignore[arg-type]
    gateway = create_app(settings)  # type: ignore[arg-type]
    assert serving_status(gateway)[0] == "idle"


def test_the_relay_and_the_read_model_sink_carry_what_the_store_recorded(
    tmp_path: Path, database_url: str, master_key: str, kafka_bootstrap: str, kafka_topic: str
) -> None:
    config = StreamConfig(
        database_url, kafka_bootstrap, kafka_topic, tmp_path, partitions=1, master_key=master_key
    )
    with bootstrap.store(database_url, master_key, kind="command") as app:
        bootstrap.command_service(app).handle(RegisterCustomer(name="Boot Strap"), CTX)
        with bootstrap.relay(config) as relay:
            assert relay.publish_available() == 1
            assert relay.keep_messages == KEEP_MESSAGES  # unset: the relay's default
        with bootstrap.relay(replace(config, keep_messages=0)) as relay:
            assert relay.keep_messages == 0  # CRM_RELAY_KEEP_MESSAGES=0: keep none
        sink = bootstrap.read_model_sink(app, database_url)
        try:
            sink(EventSource(app).read_after(0, 10).envelopes)
            assert sink.lag() == 0
        finally:
            sink.close()

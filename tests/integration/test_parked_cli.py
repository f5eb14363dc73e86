"""`crm parked list|show|retry|drop` as an operator runs them, and what `/healthz` and
`/metrics` say while messages are parked."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from commands.application import CrmApplication
from commands.messages import RecordContactTouch, RegisterCustomer
from commands.service import CommandService
from gateway.app import create_app
from ops.cli import app as crm_app
from streams.envelope import encode
from streams.parking import RawMessage, create_parking, park
from streams.signing import signed_headers
from streams.sink import ReadModelSink
from tests.integration.support.metrics import gauge
from tests.integration.support.parking import envelope_at
from tests.integration.support.streaming import CTX

pytestmark = pytest.mark.integration


def signed(app: CrmApplication, key: bytes, value: bytes, offset: int) -> RawMessage:
    headers = tuple(signed_headers(app.stream_signing_key, key, value))
    return RawMessage("crm.events", 0, offset, key, value, headers)


async def get(settings: Any, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.get(path)


async def test_parked_verbs_health_and_metrics_end_to_end(
    app: CrmApplication,
    database_url: str,
    kafka_bootstrap: str,
    master_key: str,
    tmp_path: Path,
) -> None:
    CommandService(app).handle(RegisterCustomer(name="Parked"), CTX)
    envelope = envelope_at(app, 1)
    subject = str(envelope["subject"]).encode()
    good = signed(app, subject, encode(envelope), 10)  # the relay's, parked by a sink hiccup
    poison = signed(app, subject, b"\x1b[2Jnot json", 11)  # a terminal escape inside
    with psycopg.connect(database_url, autocommit=True) as conn:
        create_parking(conn)
        assert park(conn, "crm-projections", [(good, "cannot apply: hiccup"), (poison, "x")]) == 2
        assert park(conn, "crm-projections", [(poison, "again")]) == 0  # a redelivery
    settings = SimpleNamespace(
        data_dir=tmp_path,
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic="crm.events",
        jwt_secret="x",
        master_key=None,
        production=False,
        cors_origins=[],
        identity_provider=None,
    )
    health = await get(settings, "/healthz")
    assert health.status_code == 200  # reads work: degraded, not down
    assert (health.json()["status"], health.json()["parked"]) == ("degraded", 2)
    assert gauge((await get(settings, "/metrics")).text, "crm_parked_messages") == 2

    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": master_key}
    env["CRM_DATA_DIR"] = str(tmp_path)
    runner = CliRunner()

    def crm(*args: str) -> Any:
        return runner.invoke(crm_app, list(args), env=env)

    listed = json.loads(crm("parked", "list", "--json").stdout)
    assert [(p["group"], p["partition"], p["offset"]) for p in listed] == [
        ("crm-projections", 0, 10),
        ("crm-projections", 0, 11),
    ]
    assert set(listed[0]) == {"id", "group", "topic", "partition", "offset", "reason", "parked_at"}
    good_id, poison_id = (str(p["id"]) for p in listed)

    shown = crm("parked", "show", poison_id)
    assert shown.exit_code == 0 and "\x1b" not in shown.stdout
    assert "value (12 bytes): \\x1b[2Jnot json" in shown.stdout
    assert "header crm-sig: " in shown.stdout and "reason: x" in shown.stdout

    retried = crm("parked", "retry", good_id)
    assert retried.exit_code == 0, retried.output
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT name FROM rm_customers").fetchall() == [("Parked",)]

    still = crm("parked", "retry", poison_id)
    assert still.exit_code == 1 and "still parked: not JSON" in still.stdout
    assert [p["reason"][:9] for p in json.loads(crm("parked", "list", "--json").stdout)] == [
        "not JSON:"
    ]
    assert crm("parked", "drop", poison_id).exit_code == 0
    assert json.loads(crm("parked", "list", "--json").stdout) == []
    missing = crm("parked", "show", poison_id)
    assert missing.exit_code == 2 and "error: ID" in missing.stderr

    health = await get(settings, "/healthz")
    assert (health.json()["status"], health.json()["parked"]) == ("ok", 0)


def test_a_retry_behind_its_customers_later_events_is_not_reported_applied(
    app: CrmApplication, database_url: str, master_key: str, tmp_path: Path
) -> None:
    """A parked registration whose customer's later event was applied meanwhile is skipped
    by the checkpoint: the retry says so (exit 1) and keeps the message, instead of
    saying "applied" and dropping the one record of what the read models lack."""
    service = CommandService(app)
    customer = service.handle(RegisterCustomer(name="Behind"), CTX).customer_id
    service.handle(RecordContactTouch(customer_id=customer, channel="PHONE"), CTX)
    sink = ReadModelSink(app, database_url)
    try:
        sink([envelope_at(app, 2)])  # the later event applied, the first one parked
    finally:
        sink.close()
    first = envelope_at(app, 1)
    message = signed(app, str(first["subject"]).encode(), encode(first), 20)
    with psycopg.connect(database_url, autocommit=True) as conn:
        create_parking(conn)
        park(conn, "crm-projections", [(message, "cannot apply: a bug since fixed")])
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": master_key}
    env["CRM_DATA_DIR"] = str(tmp_path)
    runner = CliRunner()
    (parked,) = json.loads(runner.invoke(crm_app, ["parked", "list", "--json"], env=env).stdout)
    retried = runner.invoke(crm_app, ["parked", "retry", str(parked["id"])], env=env)
    assert retried.exit_code == 1, retried.output
    assert "still parked: not applied" in retried.stdout and "rebuild" in retried.stdout
    (kept,) = json.loads(runner.invoke(crm_app, ["parked", "list", "--json"], env=env).stdout)
    assert kept["id"] == parked["id"] and kept["reason"].startswith("not applied")

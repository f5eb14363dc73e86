"""One flipped byte in a sealed field of the event store: the audit readers answer with
everything else and name the damaged value (GraphQL `CORRUPTED`, `crm audit` exit 1
with one closing line), and `crm audit verify` reports the altered event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
import pytest_asyncio

from commands.application import CrmApplication
from commands.messages import (
    ChangeContactDetails,
    CommandContext,
    FileComplaint,
    RegisterCustomer,
    TagCustomer,
)
from commands.service import CommandService
from compliance.audit import replay, state_as_of
from compliance.export import verify_export
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration]

T0 = datetime(2025, 3, 1, tzinfo=UTC)
CTX = CommandContext(actor="sales-ann")


def history(service: Any) -> tuple[UUID, int]:
    """A customer with three events and a complaint; returns it and its registration's
    position (whose sealed email the tests damage; a later event changes the email)."""
    registered = service.handle(
        RegisterCustomer(name="Kim Park", email="kim@example.com", occurred_at=T0), CTX
    )
    cid = registered.customer_id
    service.handle(TagCustomer(customer_id=cid, add=("vip",), occurred_at=T0 + timedelta(1)), CTX)
    service.handle(
        FileComplaint(
            customer_id=cid,
            category="delivery",
            severity="HIGH",
            description="late",
            occurred_at=T0 + timedelta(2),
        ),
        CTX,
    )
    service.handle(
        ChangeContactDetails(
            customer_id=cid, email="kim@work.example", occurred_at=T0 + timedelta(3)
        ),
        CTX,
    )
    return cid, int(registered.position)


def flip_sealed_byte(database_url: str, position: int, field: str) -> None:
    """Flip the lowest bit of one byte in the middle of a sealed value, in place."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT state FROM stored_events WHERE notification_id = %s", (position,)
        ).fetchone()
        assert row is not None
        state = bytearray(row[0])
        sealed = json.loads(state)["_pii"][field].encode()
        at = bytes(state).index(sealed) + len(sealed) // 2
        state[at] ^= 0x01
        conn.execute(
            "UPDATE stored_events SET state = %s WHERE notification_id = %s",
            (bytes(state), position),
        )


def corrupted_errors(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in result.get("errors", []) if e["extensions"]["code"] == "CORRUPTED"]


# -- GraphQL -------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def damaged(servers: ServerSet) -> AsyncIterator[tuple[GatewayHarness, UUID, int]]:
    url = servers.new_database()
    harness = GatewayHarness.start(url)
    cid, position = history(harness.deps.service)
    flip_sealed_byte(url, position, "email")
    yield harness, cid, position
    await harness.aclose()
    servers.drop_database(url)


@pytest.mark.asyncio(loop_scope="session")
async def test_audit_trail_answers_the_rest_and_names_the_damaged_value(
    damaged: tuple[GatewayHarness, UUID, int],
) -> None:
    gw, cid, position = damaged
    result = await gw.gql(
        "query($id: ID!) { auditTrail(customerId: $id) { edges { node { position type data } } } }",
        {"id": str(cid)},
        role="compliance",
    )
    nodes = [e["node"] for e in result["data"]["auditTrail"]["edges"]]
    assert len(nodes) == 4, "registered, tagged, complaint filed, contact changed: all there"
    first = json.loads(nodes[0]["data"])
    assert nodes[0]["position"] == position
    assert first["email"] is None and first["name"] == "Kim Park"
    assert json.loads(nodes[-1]["data"])["email"] == "kim@work.example"
    [error] = corrupted_errors(result)
    assert error["extensions"]["position"] == position
    assert error["extensions"]["field"] == "email"
    assert error["path"] == ["auditTrail"] and str(position) in error["message"]
    assert len(result["errors"]) == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_customer_as_of_answers_with_the_damaged_value_null(
    damaged: tuple[GatewayHarness, UUID, int],
) -> None:
    gw, cid, position = damaged
    query = "query($id: ID!, $at: DateTime!) { customerAsOf(id: $id, at: $at) { name email tags } }"
    before_change = await gw.gql(
        query, {"id": str(cid), "at": (T0 + timedelta(2)).isoformat()}, role="compliance"
    )
    assert before_change["data"]["customerAsOf"] == {
        "name": "Kim Park",
        "email": None,
        "tags": ["vip"],
    }
    [error] = corrupted_errors(before_change)
    assert error["extensions"]["position"] == position
    assert error["extensions"]["field"] == "email"
    after = await gw.gql(
        query, {"id": str(cid), "at": (T0 + timedelta(4)).isoformat()}, role="compliance"
    )
    assert after["data"]["customerAsOf"]["email"] == "kim@work.example"


@pytest.mark.asyncio(loop_scope="session")
async def test_subject_export_answers_the_whole_document_and_names_the_damaged_value(
    damaged: tuple[GatewayHarness, UUID, int],
) -> None:
    gw, cid, position = damaged
    result = await gw.gql(
        "query($id: ID!) { subjectExport(customerId: $id) { document } }",
        {"id": str(cid)},
        role="compliance",
    )
    document = json.loads(result["data"]["subjectExport"]["document"])
    assert verify_export(document) == []
    assert [c["position"] for c in document["manifest"]["corrupted"]] == [position]
    assert len(document["events"]) == 4
    [error] = corrupted_errors(result)
    assert error["extensions"]["position"] == position
    assert error["extensions"]["field"] == "email"
    assert error["path"] == ["subjectExport"]


# -- the store's readers and the command line ---------------------------------------------


@pytest.fixture
def store(
    app: CrmApplication, database_url: str, master_key: str, tmp_path: Path
) -> tuple[dict[str, str], UUID, int]:
    cid, position = history(CommandService(app))
    flip_sealed_byte(database_url, position, "email")
    env = {
        "CRM_DATABASE_URL": database_url,
        "CRM_MASTER_KEY": master_key,
        "CRM_DATA_DIR": str(tmp_path),
    }
    return env, cid, position


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`crm` in a subprocess with this interpreter; PYTHONPATH is inherited."""
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_replay_and_as_of_read_past_the_damaged_value(
    app: CrmApplication, store: tuple[dict[str, str], UUID, int]
) -> None:
    _, cid, position = store
    steps = replay(app, cid)
    assert [s.position for s in steps if s.corrupted] == [position]
    assert steps[0].data["email"] is None and steps[0].state["name"] == "Kim Park"
    assert steps[-1].state["email"] == "kim@work.example"
    found = state_as_of(app, cid, T0 + timedelta(1))
    assert found is not None and found.customer.state["email"] is None
    assert [(c.position, c.field) for c in found.corrupted] == [(position, "email")]


def test_cli_replay_and_export_print_the_damage_and_exit_1(
    store: tuple[dict[str, str], UUID, int], tmp_path: Path
) -> None:
    env, cid, position = store
    text = crm("audit", "replay", str(cid), env=env)
    assert text.returncode == 1, text.stderr
    assert "Traceback" not in text.stderr
    assert f"CORRUPTED  the event at position {position}" in text.stdout
    assert "crm.customer.contact_details_changed" in text.stdout, "the rest is printed"
    last = text.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 1 corrupted value") and f"{position} (email)" in last

    as_json = crm("audit", "replay", str(cid), "-f", "json", env=env)
    assert as_json.returncode == 1
    steps = json.loads(as_json.stdout)
    assert steps[0]["corrupted"][0]["position"] == position and len(steps) == 4

    out = tmp_path / "export.json"
    exported = crm("audit", "export", str(cid), "--out", str(out), env=env)
    assert exported.returncode == 1 and "Traceback" not in exported.stderr
    document = json.loads(out.read_text())
    assert [c["position"] for c in document["manifest"]["corrupted"]] == [position]
    assert len(document["events"]) == 4
    assert document["customer"]["state"]["email"] == "kim@work.example"

    as_of = crm("audit", "as-of", str(cid), (T0 + timedelta(1)).isoformat(), env=env)
    assert as_of.returncode == 1 and f"{position} (email)" in as_of.stderr


def test_verify_reports_the_flipped_byte_as_altered(
    store: tuple[dict[str, str], UUID, int],
) -> None:
    env, _, position = store
    verified = crm("audit", "verify", "--no-checkpoint", env=env)
    assert verified.returncode == 1
    assert f"BROKEN at position {position} (altered)" in verified.stdout


def test_an_event_whose_whole_state_no_longer_parses_is_named_and_passed(
    app: CrmApplication, database_url: str
) -> None:
    cid, _ = history(CommandService(app))
    tagged = app.recorder.select_events(cid)[1]
    with psycopg.connect(database_url) as conn:
        position = conn.execute(
            "SELECT notification_id FROM stored_events "
            "WHERE originator_id = %s AND originator_version = 2",
            (cid,),
        ).fetchone()
        assert position is not None
        conn.execute(
            "UPDATE stored_events SET state = %s WHERE notification_id = %s",
            (b"\xff" + bytes(tagged.state)[1:], position[0]),
        )
    steps = replay(app, cid)
    assert len(steps) == 4
    broken = steps[1]
    assert [(c.position, c.field) for c in broken.corrupted] == [(position[0], "state")]
    assert broken.occurred_at is None and broken.data == {}
    assert steps[-1].state["email"] == "kim@work.example" and steps[-1].state["version"] == 3


def break_whole_state(database_url: str, stream_id: UUID, version: int) -> int:
    """Make one event's stored state unparseable (its first byte); returns its position."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "UPDATE stored_events SET state = '\\xff'::bytea || substring(state FROM 2) "
            "WHERE originator_id = %s AND originator_version = %s RETURNING notification_id",
            (stream_id, version),
        ).fetchone()
        assert row is not None
        return int(row[0])


def test_as_of_passes_over_an_event_whose_time_is_unreadable_and_names_it(
    app: CrmApplication, database_url: str
) -> None:
    cid, _ = history(CommandService(app))
    position = break_whole_state(database_url, cid, 2)  # the tag, dated T0 + 1 day
    found = state_as_of(app, cid, T0 + timedelta(2))
    assert found is not None and found.customer.version == 1
    assert found.customer.state["email"] == "kim@example.com"
    assert [(c.position, c.field) for c in found.corrupted] == [(position, "state")]


@pytest.mark.asyncio(loop_scope="session")
async def test_customer_as_of_in_graphql_names_an_event_whose_time_is_unreadable(
    servers: ServerSet,
) -> None:
    url = servers.new_database()
    gw = GatewayHarness.start(url)
    try:
        cid, _ = history(gw.deps.service)
        position = break_whole_state(url, cid, 2)
        query = "query($id: ID!, $at: DateTime!) { customerAsOf(id: $id, at: $at) { email tags } }"
        result = await gw.gql(
            query, {"id": str(cid), "at": (T0 + timedelta(2)).isoformat()}, role="compliance"
        )
        assert result["data"]["customerAsOf"] == {"email": "kim@example.com", "tags": []}
        [error] = corrupted_errors(result)
        assert error["extensions"]["position"] == position
        assert error["extensions"]["field"] == "state"
    finally:
        await gw.aclose()
        servers.drop_database(url)

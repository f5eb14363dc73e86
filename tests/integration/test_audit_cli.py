"""`crm audit …` as an operator runs it, against the real PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import (
    CommandContext,
    FileComplaint,
    RecordContactTouch,
    RegisterCustomer,
)
from commands.service import CommandService
from compliance.export import verify_export

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(".venv/bin/crm").resolve()
    return subprocess.run(
        [str(exe) if exe.exists() else "crm", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def platform(database_url: str, tmp_path: Path) -> tuple[dict[str, str], UUID]:
    key = generate_master_key()
    app = CrmApplication(database_url, master_key=key, pool_size=1)
    try:
        service = CommandService(app)
        ctx = CommandContext(actor="sales-ann")
        cid = service.handle(
            RegisterCustomer(name="Kim Park", email="kim@example.com", occurred_at=T0), ctx
        ).customer_id
        service.handle(
            RecordContactTouch(
                customer_id=cid, channel="PHONE", summary="quote", occurred_at=T0 + timedelta(1)
            ),
            ctx,
        )
        service.handle(
            FileComplaint(
                customer_id=cid,
                category="delivery",
                severity="HIGH",
                description="late",
                occurred_at=T0 + timedelta(2),
            ),
            ctx,
        )
    finally:
        app.close()
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}
    return env, cid


def test_replay_as_of_and_access(platform: tuple[dict[str, str], UUID]) -> None:
    env, cid = platform
    text = crm("audit", "replay", str(cid), "--actor", "dpo-eve", env=env)
    assert text.returncode == 0, text.stderr
    assert "#1  crm.customer.registered.v1" in text.stdout
    assert "crm.complaint.filed.v1  complaint" in text.stdout
    assert "actor sales-ann" in text.stdout and "Kim Park" in text.stdout

    as_json = crm("audit", "replay", str(cid), "-f", "json", "--until", "2025-03-02", env=env)
    steps = json.loads(as_json.stdout)
    assert [s["type"] for s in steps] == [
        "crm.customer.registered.v1",
        "crm.customer.contact_touch_recorded.v3",
    ]
    assert steps[1]["state"]["touch_counts"] == {"PHONE": 1} and steps[0]["actor"] == "sales-ann"
    assert steps[0]["recorded_at"] and steps[0]["correlation_id"]

    redacted = crm("audit", "replay", str(cid), "-f", "csv", "--redact", env=env)
    table = list(csv.DictReader(io.StringIO(redacted.stdout)))
    assert len(table) == 3 and "Kim Park" not in redacted.stdout
    assert {"position", "occurred_at", "recorded_at", "actor", "causation_id", "state"} <= set(
        table[0]
    )

    as_of = crm("audit", "as-of", str(cid), "2025-03-02T12:00:00+00:00", "-f", "json", env=env)
    found = json.loads(as_of.stdout)
    assert found["customer"]["version"] == 2 and found["customer"]["state"]["name"] == "Kim Park"
    assert found["complaints"] == []

    access = crm("audit", "access", str(cid), "-f", "json", env=env)
    reads = json.loads(access.stdout)
    assert [(r["actor"], r["role"], r["operation"]) for r in reads] == [
        ("dpo-eve", "compliance", "cli:audit replay"),
        (reads[1]["actor"], "compliance", "cli:audit replay"),
        (reads[2]["actor"], "compliance", "cli:audit as-of"),
    ]
    assert "name" in reads[0]["fields"] and "description" in reads[0]["fields"]

    assert crm("audit", "replay", "nope", env=env).returncode == 2
    early = crm("audit", "replay", str(cid), "--until", "2000-01-01", env=env)
    assert early.returncode == 1 and "did not exist yet" in early.stderr, "as as-of says it"
    unknown = crm("audit", "as-of", str(uuid4()), "2025-03-02", env=env)
    assert unknown.returncode == 1 and "no customer" in unknown.stderr


def test_verify_names_the_break_and_the_checkpoint_catches_a_full_rewrite(
    platform: tuple[dict[str, str], UUID], database_url: str, tmp_path: Path
) -> None:
    env, _ = platform
    first = crm("audit", "verify", env=env)
    assert first.returncode == 0, first.stderr
    assert "chain intact: 3 events" in first.stdout
    anchor = tmp_path / "audit" / "chain-checkpoint.json"
    assert json.loads(anchor.read_text())["position"] == 3

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE stored_events SET state = replace(convert_from(state, 'UTF8'), "
            "'PHONE', 'EMAIL')::bytea WHERE notification_id = 2"
        )
    broken = crm("audit", "verify", env=env)
    assert broken.returncode == 1
    assert "BROKEN at position 2 (altered)" in broken.stdout

    # A full rewrite: recompute every link over the edited events. The chain alone now
    # looks intact; only the anchor outside the database shows the difference.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM crm_event_chain")
        conn.execute(
            "SELECT crm_chain_append_v1(array_agg(notification_id ORDER BY notification_id)) "
            "FROM stored_events"
        )
    rewritten = crm("audit", "verify", env=env)
    assert rewritten.returncode == 1
    assert "chain intact" in rewritten.stdout
    assert "checkpoint: the link at anchored position 3 differs" in rewritten.stderr

    unanchored = crm("audit", "verify", "--no-checkpoint", "--from", "2", env=env)
    assert unanchored.returncode == 0 and "positions 2..3" in unanchored.stdout


def test_export_writes_one_checksummed_document(
    platform: tuple[dict[str, str], UUID], tmp_path: Path
) -> None:
    env, cid = platform
    out = tmp_path / "exports" / f"{cid}.json"
    result = crm("audit", "export", str(cid), "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "checksum sha256 " in result.stdout
    document = json.loads(out.read_text())
    assert verify_export(document) == []
    assert document["manifest"]["customer_id"] == str(cid)
    assert len(document["events"]) == 3
    assert document["customer"]["state"]["name"] == "Kim Park"
    assert document["customer"]["complaints"][0]["severity"] == "HIGH"
    assert document["store"]["key"] == "present" and document["store"]["email_reserved"]
    document["events"][0]["actor"] = "someone else"
    assert verify_export(document) == [
        "checksum does not match the document",
        "section events does not match its manifest digest",
    ]


def test_export_to_a_folder_is_one_line_and_leaves_nothing(
    platform: tuple[dict[str, str], UUID], tmp_path: Path
) -> None:
    env, cid = platform
    result = crm("audit", "export", str(cid), "--out", str(tmp_path), env=env)
    assert result.returncode == 2 and "--out" in result.stderr and "is a folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [], "no temporary copy of the document left behind"

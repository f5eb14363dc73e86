"""`crm projections rebuild` and `crm schemas check` as an operator runs them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RegisterCustomer
from commands.service import CommandService
from streams.rebuild_shadow import take_rebuild_lock

pytestmark = pytest.mark.integration


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(".venv/bin/crm").resolve()
    return subprocess.run(
        [str(exe) if exe.exists() else "crm", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_rebuild_verb_fills_the_read_models_from_the_store(
    database_url: str, tmp_path: Path
) -> None:
    key = generate_master_key()
    app = CrmApplication(database_url, master_key=key, pool_size=1)
    try:
        service = CommandService(app)
        for i in range(3):
            service.handle(
                RegisterCustomer(name=f"R{i}", email=f"r{i}@example.com"), CommandContext("ops")
            )
    finally:
        app.close()
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}
    result = crm("projections", "rebuild", env=env)
    assert result.returncode == 0, result.stderr
    assert "from 3 events" in result.stdout
    assert "events/s" in result.stdout, "the progress bar shows the rate"
    with psycopg.connect(database_url) as conn:
        names = sorted(r[0] for r in conn.execute("SELECT name FROM rm_customers").fetchall())
    assert names == ["R0", "R1", "R2"]

    refused = crm("projections", "rebuild", "nope", env=env)
    assert refused.returncode == 2 and "NAME" in refused.stderr

    with psycopg.connect(database_url, autocommit=True) as running:
        take_rebuild_lock(running)  # as a rebuild in progress holds it
        busy = crm("projections", "rebuild", env=env)
    assert busy.returncode == 1
    assert "another `crm projections rebuild` is running" in busy.stderr
    assert "Traceback" not in busy.stderr + busy.stdout, "one line, not a stack"


def test_rebuild_without_a_database_names_the_setting(tmp_path: Path) -> None:
    result = crm("projections", "rebuild", env={"CRM_DATA_DIR": str(tmp_path / "empty")})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: CRM_DATABASE_URL")


def test_schemas_check_passes_on_the_committed_files() -> None:
    assert crm("schemas", "check", env={}).returncode == 0

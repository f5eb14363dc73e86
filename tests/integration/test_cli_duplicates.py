"""`crm duplicates list` as an operator runs it: pairs with score and reasons, pages,
no personal data printed, a bad cursor named."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from uuid import UUID

import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RegisterCustomer
from commands.service import CommandService
from ops.stack import crm_command
from tests.integration.support.gateway import ReadModelSync

pytestmark = pytest.mark.integration


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crm_command(*args), env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def seeded(database_url: str, tmp_path: Path) -> tuple[dict[str, str], list[UUID]]:
    key = generate_master_key()
    app = CrmApplication(database_url, master_key=key, pool_size=1)
    try:
        service, ctx = CommandService(app), CommandContext("ops")
        given = [
            RegisterCustomer(name="李娜", phone="139 1234 5678"),
            RegisterCustomer(name="Li Na", phone="+86 139-1234-5678"),
            RegisterCustomer(name="周杰", email="zhou@example.com"),
            RegisterCustomer(name="Zhou J.", email="zhou+crm@example.com"),
        ]
        ids = [service.handle(command, ctx).customer_id for command in given]
        sync = ReadModelSync(app, database_url)
        sync()
        sync.close()
    finally:
        app.close()
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}
    return env, ids


def test_pairs_are_listed_best_first_and_page(seeded: tuple[dict[str, str], list[UUID]]) -> None:
    env, ids = seeded
    first = crm("duplicates", "list", "--first", "1", env=env)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].split() == ["80", "PHONE,NAME", str(ids[0]), str(ids[1])]
    assert "李娜" not in first.stdout and "Li Na" not in first.stdout
    cursor = lines[-1].split("--after ")[1]
    rest = crm("duplicates", "list", "--after", cursor, env=env)
    assert rest.returncode == 0, rest.stderr
    assert rest.stdout.splitlines()[0].split() == ["50", "EMAIL", str(ids[2]), str(ids[3])]
    assert rest.stdout.splitlines()[-1] == "1 pairs"
    usage = crm("duplicates", "list", "--help", env=env)
    assert usage.returncode == 0 and "mergeCustomers" in usage.stdout
    bad = crm("duplicates", "list", "--after", "nope", env=env)
    assert bad.returncode == 2 and "--after" in bad.stderr

"""`crm org` on the real database, run as the `crm` process: the organisation defined by
the CLI goes through the aggregate's rules (a refusal exits 1 naming its field), is
recorded as `cli:<user>`, and `crm org show` prints what the read model holds, in the
`organisation` query's shape with `--json`."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
from pathlib import Path

import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RegisterCustomer
from commands.service import CommandService
from events.organisation import ORGANISATION_ID
from ops.stack import crm_command
from streams.source import EventSource
from tests.integration.support.gateway import ReadModelSync

pytestmark = pytest.mark.integration


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crm_command(*args), env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_the_organisation_is_defined_and_shown_by_the_cli(
    database_url: str, tmp_path: Path
) -> None:
    key = generate_master_key()
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}
    steps = [
        ("department", "华东"),
        ("department", "Empty"),
        ("team", "Shanghai desk", "--department", "华东"),
        ("member", "add", "Shanghai desk", "wang"),
        ("member", "add", "Shanghai desk", "li"),
        ("member", "add", "Shanghai desk", "zhao"),
        ("member", "remove", "Shanghai desk", "zhao"),
        ("rule", "Shanghai web", "--team", "Shanghai desk", "--region", "上海", "--source",
         "web", "--capacity", "5"),
    ]  # fmt: skip
    for step in steps:
        done = crm("org", *step, env=env)
        assert done.returncode == 0, (step, done.stderr)
    again = crm("org", "member", "add", "Shanghai desk", "li", env=env)
    assert again.returncode == 0 and "li joined Shanghai desk" in again.stdout

    for capacity in ("0", "-1"):
        bad = crm("org", "rule", "r", "--team", "Shanghai desk", f"--capacity={capacity}", env=env)
        assert bad.returncode == 1 and "VALIDATION capacity" in bad.stderr, bad.stderr
    unknown = crm("org", "team", "B", "--department", "nowhere", env=env)
    assert unknown.returncode == 1 and "NOT_FOUND department" in unknown.stderr

    app = CrmApplication(database_url, master_key=key, pool_size=1)
    try:
        recorded = EventSource(app).read_after(0, 1000).envelopes
        assert {e["actor"] for e in recorded} == {f"cli:{getpass.getuser()}"}
        assert {e["stream"] for e in recorded} == {str(ORGANISATION_ID)}
        # A lead from 上海 via web without an owner: the CLI's rule routes it to li.
        lead = RegisterCustomer(name="线索", region="上海", source="web")
        registered = CommandService(app).handle(lead, CommandContext(actor="test"))
        assert registered.customer_id is not None
        sync = ReadModelSync(app, database_url)
        sync()
        sync.close()
    finally:
        app.close()

    shown = crm("org", "show", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    expected = {
        "departments": [
            {"name": "Empty", "teams": []},
            {
                "name": "华东",
                "teams": [
                    {"name": "Shanghai desk", "department": "华东", "members": ["li", "wang"]}
                ],
            },
        ],
        "rules": [
            {
                "rule": "Shanghai web",
                "team": "Shanghai desk",
                "region": "上海",
                "source": "web",
                "capacity": 5,
                "open": 1,
            }
        ],
    }
    assert json.loads(shown.stdout) == expected
    # The set-based rebuild of the organisation's tables gives the same answer.
    rebuilt = crm("projections", "rebuild", "organisation", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(crm("org", "show", "--json", env=env).stdout) == expected
    table = crm("org", "show", env=env)
    assert table.returncode == 0, table.stderr
    assert "Shanghai desk" in table.stdout and "li, wang" in table.stdout
    assert "Shanghai web" in table.stdout and "assignment rules" in table.stdout
    usage = crm("org", "--help", env=env)
    assert usage.returncode == 0 and "member" in usage.stdout and "rule" in usage.stdout

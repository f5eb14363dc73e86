"""`crm export customers` as an operator runs it: CSV and Parquet, masked by role."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, MergeCustomers, RegisterCustomer
from commands.service import CommandService
from ops.stack import crm_command
from tests.integration.support.gateway import ReadModelSync

pytestmark = pytest.mark.integration


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crm_command(*args), env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    key = generate_master_key()
    app = CrmApplication(database_url, master_key=key, pool_size=1)
    try:
        service, ctx = CommandService(app), CommandContext("ops")
        ids = [
            service.handle(
                RegisterCustomer(
                    name=f"客户{i}", email=f"c{i}@example.com", region="华东", owner="amy"
                ),
                ctx,
            ).customer_id
            for i in range(3)
        ]
        service.handle(MergeCustomers(survivor_id=ids[0], duplicate_id=ids[2]), ctx)
        sync = ReadModelSync(app, database_url)
        sync()
        sync.close()
    finally:
        app.close()
    return {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}


def test_csv_for_sales_has_personal_columns(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "customers.csv"
    result = crm(
        "export", "customers", str(out), "-f", "csv", "--role", "sales", "--subject", "amy", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "exported 2 customers" in result.stdout
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["name"] for r in rows) == ["客户0", "客户1"], "the merged duplicate is left out"
    assert {r["email"] for r in rows} == {"c0@example.com", "c1@example.com"}
    assert {r["region"] for r in rows} == {"华东"}


def test_parquet_for_an_analyst_is_masked(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "customers.parquet"
    result = crm("export", "customers", str(out), "-f", "parquet", "--role", "analyst", env=env)
    assert result.returncode == 0, result.stderr
    assert "name, email, phone, address masked for analyst" in result.stdout
    table = pq.read_table(out).to_pylist()
    assert len(table) == 2
    assert all(r["name"] is None and r["email"] is None for r in table)
    assert {r["region"] for r in table} == {"华东"} and all(r["created_at"] for r in table)


def test_bad_options_are_named(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "x"
    bad_format = crm("export", "customers", str(out), "--format", "xlsx", env=env)
    assert bad_format.returncode == 2 and "--format" in bad_format.stderr
    bad_role = crm("export", "customers", str(out), "--role", "god", env=env)
    assert bad_role.returncode == 2 and "--role" in bad_role.stderr
    assert not out.exists()


def test_a_scoped_role_exports_only_what_its_subject_reaches(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "theirs.csv"
    other = crm("export", "customers", str(out), "--role", "sales", "--subject", "zoe", env=env)
    assert other.returncode == 0, other.stderr
    assert "exported 0 customers" in other.stdout, "zoe is in no team with amy"
    nobody = crm("export", "customers", str(out), "--role", "manager", env=env)
    assert nobody.returncode == 2 and "--subject" in nobody.stderr

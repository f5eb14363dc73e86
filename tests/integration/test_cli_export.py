"""`crm export customers` as an operator runs it: CSV and Parquet, masked by role."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import psycopg
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


def access_rows(database_url: str) -> list[tuple[str, str, list[str], str]]:
    with psycopg.connect(database_url) as conn:
        return [
            (actor, role, fields, operation)
            for actor, role, fields, operation in conn.execute(
                "SELECT actor, role, fields, operation FROM crm_access_log ORDER BY id"
            )
        ]


def test_personal_data_exported_is_in_the_access_log(
    env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    masked = crm("export", "customers", str(tmp_path / "a.csv"), "--role", "analyst", env=env)
    assert masked.returncode == 0, masked.stderr
    assert access_rows(database_url) == [], "an analyst's export carries no personal data"

    out = tmp_path / "amy.csv"
    result = crm("export", "customers", str(out), "--role", "sales", "--subject", "amy", env=env)
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8") as f:
        exported = {r["id"] for r in csv.DictReader(f)}
    logged = access_rows(database_url)
    assert logged == [("amy", "sales", ["name", "email"], "cli:export customers")] * 2
    with psycopg.connect(database_url) as conn:
        ids = {str(r[0]) for r in conn.execute("SELECT customer_id FROM crm_access_log")}
    assert ids == exported


def test_an_export_the_access_log_cannot_record_is_not_written(
    env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    out = tmp_path / "all.csv"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE crm_access_log RENAME TO crm_access_log_away")
        try:
            result = crm("export", "customers", str(out), "--role", "admin", env=env)
        finally:
            conn.execute("ALTER TABLE crm_access_log_away RENAME TO crm_access_log")
    assert result.returncode == 2
    assert "crm_access_log" in result.stderr and "no file written" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_support_gets_the_partial_masks_the_api_gives_support(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "support.csv"
    result = crm("export", "customers", str(out), "--role", "support", "--subject", "amy", env=env)
    assert result.returncode == 0, result.stderr
    assert "(email, phone, address partly masked for support)" in result.stdout
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["name"] for r in rows) == ["客户0", "客户1"], "support sees names whole"
    assert sorted(r["email"] for r in rows) == ["c***@example.com"] * 2


def test_an_unwritable_target_is_named_before_anything_is_read(
    env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    for target, said in ((tmp_path, "is a folder"), (tmp_path / "no" / "x.csv", "no folder")):
        result = crm("export", "customers", str(target), "--role", "admin", env=env)
        assert result.returncode == 2 and "OUT" in result.stderr and said in result.stderr
        assert "Traceback" not in result.stderr
    assert access_rows(database_url) == [], "nothing exported, nothing logged"

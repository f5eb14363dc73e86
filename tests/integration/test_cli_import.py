"""`crm import customers` on the real database: encodings, header mapping, refused rows
with their line, duplicates by email, idempotent re-runs and all-or-nothing batches."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.importing import Service, import_customers
from commands.messages import CommandContext, RegisterCustomer
from commands.service import CommandService
from ops.stack import crm_command

pytestmark = pytest.mark.integration

CSV = (
    "姓名,邮箱,手机,地区,备注\n"
    "王小明,wang@example.com,13912345678,华东,ignored\n"
    "李雷,not-an-email,,华北,\n"
    "韩梅梅,taken@example.com,,华南,\n"
    "Zhang San,WANG@example.com,,华东,\n"
    ",blank@example.com,,,\n"
    "赵六,,,西南,\n"
)


@pytest.fixture
def key() -> str:
    return generate_master_key()


@pytest.fixture
def app(database_url: str, key: str) -> Iterator[CrmApplication]:
    application = CrmApplication(database_url, master_key=key, pool_size=2)
    yield application
    application.close()


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crm_command(*args), env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def customers(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM crm_customer_keys").fetchone()
    return int(row[0]) if row else 0


def events(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM stored_events").fetchone()
    return int(row[0]) if row else 0


def test_rows_are_imported_refused_or_reported_as_duplicates(
    app: CrmApplication, database_url: str, key: str, tmp_path: Path
) -> None:
    CommandService(app).handle(
        RegisterCustomer(name="Existing", email="taken@example.com"), CommandContext("ops")
    )
    file = tmp_path / "customers.csv"
    file.write_text(CSV, encoding="utf-8")
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}
    result = crm("import", "customers", str(file), env=env)
    assert result.returncode == 1, result.stderr  # not every row went in
    out = result.stdout
    assert "line 3: refused VALIDATION email" in out
    assert "line 4: duplicate (same as customer " in out
    assert "line 5: duplicate (same as line 2)" in out
    assert "line 6: refused VALIDATION name" in out
    assert "6 rows (utf-8): 2 imported, 0 already imported, 2 duplicates, 2 refused" in out
    assert "rows/s" in result.stdout + result.stderr, "the progress bar shows the rate"
    assert customers(database_url) == 3
    before = events(database_url)
    again = crm("import", "customers", str(file), env=env)
    assert again.returncode == 1, again.stderr
    assert "0 imported, 2 already imported" in again.stdout
    assert events(database_url) == before, "re-running the same file records nothing"


def test_gb18030_with_a_header_mapping(
    app: CrmApplication, database_url: str, key: str, tmp_path: Path
) -> None:
    file = tmp_path / "excel.csv"
    file.write_bytes("客户名称,Mail\n欧阳娜娜,ouyang@example.com\n".encode("gb18030"))
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}
    unmapped = crm("import", "customers", str(file), env=env)
    assert unmapped.returncode == 0, unmapped.stderr  # 客户名称 is a known spelling of name
    assert "1 rows (gb18030): 1 imported" in unmapped.stdout
    other = tmp_path / "other.csv"
    other.write_bytes("Kunde,Mail\n欧阳娜娜,ouyang2@example.com\n".encode("gb18030"))
    refused = crm("import", "customers", str(other), env=env)
    assert refused.returncode == 2 and "no column maps to name" in refused.stderr
    mapped = crm(
        "import", "customers", str(other), "--map", "Kunde=name", "--map", "Mail=email", env=env
    )
    assert mapped.returncode == 0, mapped.stderr
    assert "1 imported" in mapped.stdout
    bad = crm("import", "customers", str(other), "--map", "Kunde=nickname", env=env)
    assert bad.returncode == 2 and "--map" in bad.stderr
    stored = {(c.name, c.email) for c in _all_customers(app, database_url)}
    # "Mail" is no known header: ignored until mapped.
    assert stored == {("欧阳娜娜", None), ("欧阳娜娜", "ouyang2@example.com")}


def test_a_row_refused_leaves_its_email_to_the_next_row(
    app: CrmApplication, database_url: str, key: str, tmp_path: Path
) -> None:
    file = tmp_path / "reuse.csv"
    file.write_text(
        "name,email,phone\nX,reuse@example.com,99\nReuse 2,reuse@example.com,13800138009\n"
    )
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}
    result = crm("import", "customers", str(file), env=env)
    assert "line 2: refused VALIDATION phone" in result.stdout
    assert "line 3: duplicate" not in result.stdout, "a refused row took no email"
    assert "2 rows (utf-8): 1 imported, 0 already imported, 0 duplicates, 1 refused" in (
        result.stdout
    )
    assert {c.email for c in _all_customers(app, database_url)} == {"reuse@example.com"}


@pytest.mark.parametrize(
    ("content", "args", "said"),
    [
        (b"name,email\nJ\xfcrgen M\xfcller,jm@example.de\n", (), "neither UTF-8 nor GB18030"),
        (b"", (), "FILE: the file is empty"),
        (b"name,Mail\nA,a@example.com\n", ("--map", "Mial=email"), "--map: no column 'Mial'"),
        (b"name,company\nA," + b"x" * 140_000 + b"\n", (), "FILE: line 2 is not CSV"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_line(
    database_url: str, key: str, tmp_path: Path, content: bytes, args: Sequence[str], said: str
) -> None:
    file = tmp_path / "bad.csv"
    file.write_bytes(content)
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}
    result = crm("import", "customers", str(file), *args, env=env)
    assert result.returncode == 2 and said in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert customers(database_url) == 0


def _all_customers(app: CrmApplication, database_url: str) -> list[Any]:
    with psycopg.connect(database_url) as conn:
        ids = [r[0] for r in conn.execute("SELECT customer_id FROM crm_customer_keys")]
    return [app.repository.get(i) for i in ids]


class Crash(Exception):
    """The process dies between two batches."""


def test_a_crash_leaves_whole_batches_and_a_rerun_finishes(
    app: CrmApplication, database_url: str
) -> None:
    raw = ("name,email\n" + "".join(f"P{i},p{i}@example.com\n" for i in range(5))).encode()
    commands = CommandService(app)
    calls = 0

    def crashing(batch: Sequence[RegisterCustomer], context: CommandContext) -> list[Any]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Crash
        return commands.handle_many(batch, context)

    def service(handle: Any) -> Service:
        return Service(
            handle_many=handle,
            email_owner=lambda email: app.crm_recorder.email_owner(app.email_digest(email)),
            exists=lambda cid: bool(app.recorder.select_events(cid, limit=1)),
        )

    with pytest.raises(Crash):
        import_customers(raw, service(crashing), batch=2)
    assert customers(database_url) == 2, "the first batch whole, nothing of the second"
    report = import_customers(raw, service(commands.handle_many), batch=2)
    assert (report.imported, report.already) == (3, 2)
    assert customers(database_url) == 5

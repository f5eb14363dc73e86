"""Config faults end a verb with one line naming the problem, quickly: no traceback, and
no 30 s wait on a database that is not there (the subprocess timeout is the bound)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from chaos.running import clean_env, crm_argv
from ops.embedded.ports import free_port

pytestmark = pytest.mark.integration

QUICK = 20.0  # far below the 30 s a pool waited for an absent database; not a benchmark


def crm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crm_argv(*args), env=clean_env(), capture_output=True, text=True, timeout=QUICK
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def endpoints(data_dir: Path, database_port: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (data_dir / "endpoints.json").write_text(
        json.dumps(
            {
                "graphql": f"http://127.0.0.1:{port}/graphql",
                "health": f"http://127.0.0.1:{port}/healthz",
                "database": f"postgresql://crm_app:secret@127.0.0.1:{database_port}/crm",
                "kafka": {"bootstrap": f"127.0.0.1:{free_port()}", "topic": "crm.events"},
            }
        )
    )


@pytest.mark.parametrize("folder", ["logs", "run", "pgdata"])
def test_a_file_where_a_folder_belongs_is_named(tmp_path: Path, folder: str) -> None:
    (tmp_path / folder).write_text("not a folder")
    line = one_line(crm("up", "--data-dir", str(tmp_path), "--port", "0"))
    assert f"{tmp_path / folder} is a file" in line


@pytest.mark.parametrize("verb", [["audit", "verify"], ["projections", "rebuild"]])
def test_a_wrong_database_port_in_endpoints_json_is_named(tmp_path: Path, verb: list[str]) -> None:
    port = free_port()
    endpoints(tmp_path, database_port=port)
    line = one_line(crm(*verb, "--data-dir", str(tmp_path)))
    assert "endpoints.json" in line
    assert f"port {port}" in line
    assert "secret" not in line  # the password stays out of the message


def test_status_names_an_unreachable_gateway(tmp_path: Path) -> None:
    endpoints(tmp_path, database_port=free_port())
    assert "cannot read http://127.0.0.1:" in one_line(crm("status", "--data-dir", str(tmp_path)))


def test_invalid_endpoints_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "endpoints.json").write_text("{not json")
    for verb in (["status"], ["audit", "verify"]):
        line = one_line(crm(*verb, "--data-dir", str(tmp_path)))
        assert "endpoints.json is not valid JSON" in line


def test_unreadable_endpoints_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "endpoints.json").mkdir()  # unreadable even for root
    line = one_line(crm("status", "--data-dir", str(tmp_path)))
    assert "cannot read" in line and "endpoints.json" in line


def test_endpoints_json_without_the_database_is_named(tmp_path: Path) -> None:
    (tmp_path / "endpoints.json").write_text(json.dumps({"health": "http://127.0.0.1:1/"}))
    line = one_line(crm("audit", "verify", "--data-dir", str(tmp_path)))
    assert "has no 'database' entry" in line

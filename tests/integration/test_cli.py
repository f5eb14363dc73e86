"""The `crm` command line as a user runs it: help, tokens, and one-line errors for bad settings."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest
import typer

from chaos.running import (
    clean_env,
    crm_argv,
    running_platform,
    scratch_data_dir,
)
from gateway.auth import Unauthenticated, verify_claims
from gateway.auth import verify_token as gateway_verify
from gateway.roles import ROLES, Role
from ops.cli import app as cli_app
from ops.cli import command_names
from ops.embedded.ports import free_port
from ops.tokens import parse_ttl

pytestmark = pytest.mark.integration

VERBS = ["up", "demo", "status", "token", "gateway", "relay", "worker"]


def crm(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crm_argv(*args),
        env=clean_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(result: subprocess.CompletedProcess[str], setting: str) -> str:
    """The process failed with exactly one stderr line that names `setting`."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {setting}: "), lines[0]
    return lines[0]


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_help_everywhere() -> None:
    top = crm("--help")
    assert top.returncode == 0
    for verb in VERBS:
        assert verb in top.stdout
        result = crm(verb, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage: crm " in result.stdout


def test_token_is_a_signed_jwt_from_the_data_folder_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "crm"
    result = crm("token", "--role", "sales", "--subject", "alice", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    secret_file = data_dir / "jwt.secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    claims = verify_claims(token, secret_file.read_text().strip())
    assert (claims["sub"], claims["role"], claims["iss"]) == ("alice", "sales", "crm")
    assert claims["exp"] - claims["iat"] == 12 * 3600
    assert jwt.get_unverified_header(token)["alg"] == "HS256"

    again = crm("token", "-r", "admin", "-s", "bob", "--ttl", "30m", "--data-dir", str(data_dir))
    claims = verify_claims(again.stdout.strip(), secret_file.read_text().strip())
    assert claims["exp"] - claims["iat"] == 1800  # same secret, reused


def test_token_uses_crm_jwt_secret_and_crm_toml(tmp_path: Path) -> None:
    result = crm(
        "token",
        "--role",
        "analyst",
        "--subject",
        "ana",
        env={"CRM_JWT_SECRET": "s3cret-for-test-0123456789abcdef0123456789"},
    )
    assert (
        verify_claims(result.stdout.strip(), "s3cret-for-test-0123456789abcdef0123456789")["role"]
        == "analyst"
    )
    (tmp_path / "crm.toml").write_text(
        'jwt_secret = "from-the-toml-file-0123456789abcdef0123456789"\n'
    )
    result = crm("token", "--role", "compliance", "--subject", "carl", cwd=tmp_path)
    assert (
        verify_claims(result.stdout.strip(), "from-the-toml-file-0123456789abcdef0123456789")["sub"]
        == "carl"
    )
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        verify_claims(result.stdout.strip(), "another-secret-0123456789abcdef0123456789")


def test_crm_token_mints_for_every_gateway_role_and_the_gateway_accepts_it(tmp_path: Path) -> None:
    """`crm token` and the gateway share one role list: each role's token is accepted."""
    secret = "shared-by-cli-and-gateway-0123456789abcdef0123"
    env = {"CRM_JWT_SECRET": secret}
    for role in Role:
        result = crm("token", "-r", role.value, "-s", "x", "--data-dir", str(tmp_path), env=env)
        assert result.returncode == 0, result.stderr
        assert gateway_verify(result.stdout.strip(), secret).role is role
    usage = crm("token", "--help").stdout
    assert all(role in usage for role in ROLES)


@pytest.mark.parametrize("role", ["boss", "Admin", ""])
def test_a_role_the_gateway_does_not_know_is_a_one_line_error(tmp_path: Path, role: str) -> None:
    assert role not in ROLES
    result = crm("token", "--role", role, "--subject", "x", "--data-dir", str(tmp_path))
    line = one_line_error(result, "--role")
    assert repr(role) in line and all(known in line for known in ROLES)
    assert result.stdout == ""


def test_bad_ttl_is_a_one_line_error(tmp_path: Path) -> None:
    one_line_error(crm("token", "-r", "admin", "-s", "x", "--ttl", "soon"), "--ttl")


def test_parse_ttl() -> None:
    assert parse_ttl("90") == timedelta(seconds=90)
    assert parse_ttl("15m") == timedelta(minutes=15)
    assert parse_ttl("7d") == timedelta(days=7)


def test_port_in_use_is_a_one_line_error(tmp_path: Path, listening_port: int) -> None:
    result = crm("up", "--data-dir", str(tmp_path / "crm"), "--port", str(listening_port))
    line = one_line_error(result, "CRM_PORT")
    assert str(listening_port) in line
    result = crm("up", "--data-dir", str(tmp_path / "crm"), env={"CRM_PORT": str(listening_port)})
    one_line_error(result, "CRM_PORT")
    assert not (tmp_path / "crm" / "pgdata").exists()  # nothing was started


def test_unreachable_database_is_a_one_line_error(tmp_path: Path) -> None:
    url = f"postgresql://crm:topsecret@127.0.0.1:{free_port()}/crm"
    result = crm(
        "up", "--data-dir", str(tmp_path / "crm"), "--port", "0", env={"CRM_DATABASE_URL": url}
    )
    line = one_line_error(result, "CRM_DATABASE_URL")
    assert "topsecret" not in line  # the password is not printed
    assert "crm:***@" in line


def test_unreachable_kafka_is_a_one_line_error(tmp_path: Path, database_url: str) -> None:
    env = {"CRM_DATABASE_URL": database_url, "CRM_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    result = crm("up", "--data-dir", str(tmp_path / "crm"), "--port", "0", env=env)
    one_line_error(result, "CRM_KAFKA_BOOTSTRAP")


def test_malformed_setting_is_a_one_line_error(tmp_path: Path) -> None:
    one_line_error(crm("up", "--data-dir", str(tmp_path), env={"CRM_PORT": "http"}), "CRM_PORT")


def test_unknown_worker_is_a_one_line_error() -> None:
    one_line_error(crm("worker", "payroll"), "NAME")


def test_status_without_a_running_platform(tmp_path: Path) -> None:
    one_line_error(crm("status", "--data-dir", str(tmp_path)), "CRM_DATA_DIR")


def test_demo_and_status_on_a_running_platform() -> None:
    with scratch_data_dir() as data_dir, running_platform(data_dir, verb="demo") as demo:
        demo.wait_healthy(timeout=60)
        output = ""
        for _ in range(300):
            output = demo.output()
            if "admin token" in output and "demo data" in output:
                break
            time.sleep(0.1)
        token = output.split("admin token (12h): ", 1)[1].split()[0]
        claims = verify_claims(token, (data_dir / "jwt.secret").read_text().strip())
        assert claims["role"] == "admin"
        assert f"GraphQL: {demo.graphql_url}" in output
        console_url = demo.graphql_url.removesuffix("graphql")
        assert f"web console: open {console_url} " in output
        page = httpx.get(console_url, timeout=10)
        assert page.status_code == 200 and "/static/js/main.js" in page.text
        seeding = "loading demo data in the background" in output
        assert seeding == ("seed" in command_names(cli_app))

        status = crm("status", "--data-dir", str(data_dir))
        assert status.returncode == 0, status.stderr
        for name in ("gateway", "relay", "worker-projections", "postgres", "kafka"):
            assert name in status.stdout
        assert demo.stop() == 0


def test_demo_finds_a_seed_verb() -> None:
    app = typer.Typer()

    @app.command()
    def up() -> None: ...

    assert "seed" not in command_names(app)

    @app.command()
    def seed() -> None: ...

    assert "seed" in command_names(app)


def test_process_verbs_refuse_to_run_without_servers(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "")}
    one_line_error(crm("relay", "--data-dir", str(tmp_path), env=env), "CRM_DATABASE_URL")

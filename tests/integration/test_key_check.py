"""One master key per database, on the real PostgreSQL: a process holding another one is
refused at start (it sealed new customers the others could not read, and its workers
parked every message while every process said it was fine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from bootstrap import open_store
from commands.crypto import generate_master_key
from commands.key_check import KEY_CHECK, MasterKeyMismatch
from commands.messages import CommandContext, RegisterCustomer
from commands.service import CommandService
from ops.schema import prepare_database

pytestmark = pytest.mark.integration


def a_store_with_a_customer(database_url: str) -> str:
    """A prepared database holding one customer (so one wrapped key); its master key."""
    key = generate_master_key()
    prepare_database(database_url, key)
    app = open_store(database_url, key, kind="command")
    try:
        CommandService(app).handle(RegisterCustomer(name="甲"), CommandContext("ops"))
    finally:
        app.close()
    return key


def test_a_process_with_another_master_key_is_refused(database_url: str) -> None:
    key, other = a_store_with_a_customer(database_url), generate_master_key()
    with pytest.raises(MasterKeyMismatch, match="CRM_MASTER_KEY"):
        open_store(database_url, other, kind="worker")
    open_store(database_url, key, kind="worker").close()  # its own key: fine


def test_a_database_from_before_the_check_takes_only_a_key_that_opens_its_keys(
    database_url: str,
) -> None:
    key = a_store_with_a_customer(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {KEY_CHECK}")  # as a database made before the check
    with pytest.raises(MasterKeyMismatch):
        open_store(database_url, generate_master_key(), kind="gateway")
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {KEY_CHECK}").fetchone()
    assert row == (0,), "the wrong key wrote no check"
    open_store(database_url, key, kind="gateway").close()
    with psycopg.connect(database_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {KEY_CHECK}").fetchone() == (1,)


def test_a_verb_with_another_key_says_so_in_one_line(database_url: str, tmp_path: Path) -> None:
    prepare_database(database_url, generate_master_key())
    exe = Path(sys.executable).with_name("crm")  # the venv's, wherever pytest runs from
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_MASTER_KEY": generate_master_key(),
        "CRM_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [str(exe) if exe.exists() else "crm", "audit", "verify"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().startswith("error: CRM_MASTER_KEY: the master key does not open")
    assert "Traceback" not in result.stderr


def test_a_worker_with_another_key_is_refused_before_it_reads_a_message(
    database_url: str,
) -> None:
    """The projections and analytics workers hold the key ring only (`sealed_reader`),
    not the store application: they must be refused too, or they join the group and park
    every message they are given (`bad signature`) while saying they are fine."""
    from bootstrap import sealed_reader

    key = a_store_with_a_customer(database_url)
    with pytest.raises(MasterKeyMismatch, match="CRM_MASTER_KEY"):
        sealed_reader(database_url, generate_master_key())
    sealed_reader(database_url, key).close()  # its own key: fine


@pytest.mark.parametrize("verb", [["worker", "projections"], ["gateway", "--port", "0"]])
def test_a_process_with_another_key_says_so_in_one_line(
    database_url: str, tmp_path: Path, verb: list[str]
) -> None:
    prepare_database(database_url, generate_master_key())
    exe = Path(sys.executable).with_name("crm")  # the venv's, wherever pytest runs from
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_KAFKA_BOOTSTRAP": "127.0.0.1:1",  # refused before the broker is asked
        "CRM_MASTER_KEY": generate_master_key(),
        "CRM_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [str(exe) if exe.exists() else "crm", *verb],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error: CRM_MASTER_KEY: the master key does not open" in result.stderr
    assert "Traceback" not in result.stderr

"""A gateway asked to stop with SIGTERM (`docker stop`, Kubernetes, `crm up`) leaves the
process table as SIGINT does: its row is removed, it exits 0. It used to die inside
uvicorn's re-raised SIGTERM, its row shown as stale for ten minutes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from commands.crypto import generate_master_key
from ops.embedded.ports import free_port
from ops.schema import prepare_database
from streams.processes import TABLE

pytestmark = pytest.mark.integration


def gateway_rows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        if conn.execute("SELECT to_regclass(%s)", [TABLE]).fetchone() == (None,):
            return 0
        row = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE component = 'gateway'")
        found = row.fetchone()
    return int(found[0]) if found else 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_gateway_takes_its_row_out_of_the_process_table(
    database_url: str, kafka_bootstrap: str, tmp_path: Path, stop: signal.Signals
) -> None:
    key = generate_master_key()
    prepare_database(database_url, key)
    exe = Path(".venv/bin/crm").resolve()
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_MASTER_KEY": key,
        "CRM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CRM_DATA_DIR": str(tmp_path),
        "CRM_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [str(exe) if exe.exists() else "crm", "gateway"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while gateway_rows(database_url) == 0:
            assert process.poll() is None, "the gateway did not start"
            assert time.monotonic() < deadline, "no process-table row"
            time.sleep(0.2)
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert gateway_rows(database_url) == 0

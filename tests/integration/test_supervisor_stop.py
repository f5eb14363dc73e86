"""`crm up` started and stopped on its own: a clean stop, a restart, external servers.

Apart from `test_supervisor_stack.py`, whose module-wide platform lives until that
module ends, so that these starts do not share the two cores with a second platform.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from chaos.running import PlatformProcess, running_platform, scratch_data_dir
from ops.lock import lock_holder
from tests.integration.support.stack import COMPONENTS, EMBEDDED_TREE, HEALTHY_WITHIN

pytestmark = pytest.mark.integration


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with scratch_data_dir() as path:
        yield path


def _stop_and_check_nothing_left(platform: PlatformProcess, sig: int, at_least: int) -> None:
    tree = [(p.pid, p.create_time()) for p in platform.tree()]
    assert len(tree) >= at_least
    began = time.monotonic()
    assert platform.stop(sig) == 0
    assert time.monotonic() - began < 30
    left = []
    for pid, created in tree:
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(" ".join(proc.cmdline()))
        except psutil.NoSuchProcess:
            pass
    assert left == []
    assert lock_holder(platform.data_dir) is None
    assert not (platform.data_dir / "crm.lock").exists()
    assert not (platform.data_dir / "endpoints.json").exists()


def test_ctrl_c_leaves_nothing_behind_and_up_starts_again(data_dir: Path) -> None:
    with running_platform(data_dir) as first:
        first.wait_healthy(timeout=60)
        url = first.endpoints()["database"]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('across restarts')")
        _stop_and_check_nothing_left(first, signal.SIGINT, EMBEDDED_TREE)
        assert "stopped" in first.output()

    with running_platform(data_dir) as second:
        assert second.wait_healthy(timeout=60) < HEALTHY_WITHIN
        url = second.endpoints()["database"]
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("across restarts",)
        _stop_and_check_nothing_left(second, signal.SIGTERM, EMBEDDED_TREE)


def test_external_servers_are_used_instead_of_embedded_ones(
    data_dir: Path, database_url: str, own_broker: str
) -> None:
    kafka_topic = "crm.external"
    env = {
        "CRM_DATABASE_URL": database_url,
        "CRM_KAFKA_BOOTSTRAP": own_broker,
        "CRM_KAFKA_TOPIC": kafka_topic,
    }
    with running_platform(data_dir, env=env) as platform:
        platform.wait_healthy(timeout=60)
        components = platform.supervisor()["components"]
        assert "postgres" not in components and "kafka" not in components
        assert set(components) >= COMPONENTS
        # A fresh database: the tables are made before the processes start, so none of
        # them died racing another to create them.
        assert {name: components[name]["restarts"] for name in COMPONENTS} == dict.fromkeys(
            COMPONENTS, 0
        )
        commands = [" ".join(p.cmdline()) for p in platform.tree()]
        assert not any("postgres -D" in c or "tansu" in c for c in commands)
        assert not (platform.data_dir / "pgdata").exists()
        endpoints = platform.endpoints()
        assert endpoints["database"] == database_url
        assert endpoints["kafka"] == {"bootstrap": own_broker, "topic": kafka_topic}
        _stop_and_check_nothing_left(platform, signal.SIGINT, 1 + len(COMPONENTS))

"""`crm up` reads the server's connection limit and says when its processes may exceed it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.config import Settings
from ops.stack import _warn_connections, plan
from tests.integration.support.servers import ServerSet

pytestmark = pytest.mark.integration


def warnings(servers: ServerSet, tmp_path: Path, **changes: int) -> list[str]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=servers.new_database(),
        kafka_bootstrap=servers.kafka_bootstrap,
        **changes,
    )
    said: list[str] = []
    _warn_connections(plan(settings), said.append)
    return said


def test_a_server_taking_fewer_connections_than_the_processes_may_open_is_named(
    servers: ServerSet, tmp_path: Path
) -> None:
    # The test server takes 200 less 3 reserved; the defaults need 161.
    assert warnings(servers, tmp_path) == []
    (said,) = warnings(servers, tmp_path, gateways=8)  # 8 × 34 + 93
    assert said.startswith("warning: ") and "up to 365 database connections" in said
    assert "the server takes 197" in said

"""The event store's pool after its connections die: a write right after (connections
used within the last second are not pinged on checkout) still succeeds, and so does a
write after an idle pause (pinged, the whole pool replaced at once)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RecordContactTouch, RegisterCustomer
from commands.pool_checks import PING_AFTER_IDLE
from commands.service import CommandService
from tests.integration.support.servers import ServerSet

CTX = CommandContext(actor="reconnect")


@pytest.fixture
def app(database_url: str) -> Iterator[CrmApplication]:
    application = CrmApplication(database_url, master_key=generate_master_key(), pool_size=4)
    yield application
    application.close()


def terminate_backends(servers: ServerSet, url: str) -> int:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


@pytest.mark.parametrize("pause", [0.0, PING_AFTER_IDLE + 0.2])
def test_a_write_after_every_connection_died_succeeds(
    app: CrmApplication, servers: ServerSet, database_url: str, pause: float
) -> None:
    service = CommandService(app)
    cid = service.handle(RegisterCustomer(name="Reconnect"), CTX).customer_id
    service.handle(RecordContactTouch(customer_id=cid, channel="PHONE"), CTX)
    assert terminate_backends(servers, database_url) >= 1
    time.sleep(pause)
    result = service.handle(RecordContactTouch(customer_id=cid, channel="EMAIL"), CTX)
    assert result.version == 3 and result.position == 3

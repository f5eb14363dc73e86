"""The read-model sink waits for PostgreSQL and applies the batch again instead of ending
the worker (issue 11, item 6: the worker's restart and group join cost seconds more of
the recovery after a `kill -9` of PostgreSQL)."""

from __future__ import annotations

import psycopg
import pytest

from commands.application import CrmApplication
from commands.service import CommandService
from streams.sink import ReadModelSink
from streams.source import EventSource
from tests.integration.support.streaming import one_customer

pytestmark = pytest.mark.integration


def test_a_batch_is_applied_after_its_connection_was_cut(
    app: CrmApplication, database_url: str
) -> None:
    one_customer(CommandService(app), 1)
    envelopes = EventSource(app).read_after(0, 100).envelopes
    sink = ReadModelSink(app, database_url)
    try:
        backend = sink.conn.info.backend_pid
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        result = sink(envelopes)  # its connection is dead, as after a server restart
        assert result.applied > 0
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM rm_purchases").fetchone()
        assert row == (1,)
    finally:
        sink.close()

"""The projections worker's lag, which its heartbeat asks for every second."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from commands.application import CrmApplication
from commands.messages import CommandContext, RegisterCustomer
from commands.service import CommandService
from projections.schema import reset_projection
from streams.sink import ReadModelSink
from streams.source import EventSource

pytestmark = pytest.mark.integration

CTX = CommandContext("ops")


def test_each_replica_counts_what_the_others_applied(
    app: CrmApplication, database_url: str
) -> None:
    service = CommandService(app)
    for i in range(3):
        service.handle(RegisterCustomer(name=f"Lag {i}"), CTX)
    busy, idle = ReadModelSink(app, database_url), ReadModelSink(app, database_url)
    try:
        assert idle.lag() == 3
        busy(EventSource(app).read_after(0, 3).envelopes)  # the idle one holds no events
        assert busy.lag() == 0
        assert idle.lag() == 0
        service.handle(RegisterCustomer(name="Lag 3"), CTX)
        assert (busy.lag(), idle.lag()) == (1, 1)
    finally:
        busy.close()
        idle.close()


def test_a_heartbeat_does_not_read_the_checkpoints(app: CrmApplication, database_url: str) -> None:
    """The checkpoints are 11 rows a customer: a `max(position)` over them every second
    was ~100 ms of PostgreSQL per replica at 100,000 customers. Only the first call
    reads them; while another transaction holds rm_applied, the next calls still answer."""
    CommandService(app).handle(RegisterCustomer(name="Beat"), CTX)
    sink = ReadModelSink(app, database_url)
    try:
        sink(EventSource(app).read_after(0, 1).envelopes)
        assert sink.lag() == 0
        with psycopg.connect(database_url) as holder, ThreadPoolExecutor(1) as pool:
            holder.execute("LOCK TABLE rm_applied IN ACCESS EXCLUSIVE MODE")
            try:
                assert pool.submit(sink.lag).result(timeout=10) == 0
                assert pool.submit(sink.lag).result(timeout=10) == 0
            finally:
                holder.rollback()
    finally:
        sink.close()


def test_a_restart_keeps_the_marks_and_a_reset_projection_is_marked_again_on_the_next(
    app: CrmApplication, database_url: str
) -> None:
    """A process marks only the projections without a mark, from their checkpoints; a
    live heartbeat never makes a mark, so one emptied by `reset_projection` stays
    unmarked until a process starts again."""
    service = CommandService(app)
    for i in range(2):
        service.handle(RegisterCustomer(name=f"Mark {i}"), CTX)
    first = ReadModelSink(app, database_url)
    try:
        first(EventSource(app).read_after(0, 2).envelopes)
        assert first.lag() == 0
    finally:
        first.close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE rm_applied_marks SET position = 7 WHERE projection = 'customers'")
        second = ReadModelSink(app, database_url)
        try:
            assert second.lag() == 0  # the marks kept, not read from the checkpoints again
            marks = dict(conn.execute("SELECT projection, position FROM rm_applied_marks"))
            assert marks["customers"] == 7 and marks["complaints"] == 2
            reset_projection(conn, "complaints")
            second.lag()
            marked = {p for (p,) in conn.execute("SELECT projection FROM rm_applied_marks")}
            assert "complaints" not in marked
        finally:
            second.close()
        third = ReadModelSink(app, database_url)
        try:
            third.lag()
            marks = dict(conn.execute("SELECT projection, position FROM rm_applied_marks"))
            assert marks["complaints"] == 0  # from its (emptied) checkpoints
        finally:
            third.close()

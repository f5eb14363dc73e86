"""Checkpoints claimed per batch: new subjects' rows written once, redelivery still skipped.

Runs against the real PostgreSQL of the test session, one fresh database per test.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest

from projections.apply import apply_batch
from projections.handlers import PROJECTION_NAMES, PROJECTIONS
from projections.queries import get_customers
from projections.schema import create_all, drop_all
from tests.integration.support.read_models import Conn, dump
from tests.integration.support.read_models import apply as apply_at
from tests.support.projection_events import T0, Envelope, Events, days

pytestmark = pytest.mark.integration

NOW = T0 + days(10)


def checkpoint_writes(conn: Conn) -> tuple[int, int]:
    """(rows inserted, rows updated) in rm_applied by this session's not yet reported
    transactions: read it before and after the batch, in the batch's transaction."""
    row = conn.execute(
        "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'rm_applied'"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def delta(start: tuple[int, int], end: tuple[int, int]) -> tuple[int, int]:
    return end[0] - start[0], end[1] - start[1]


def checkpoints(conn: Conn, subject: UUID) -> dict[str, int]:
    rows = conn.execute(
        "SELECT projection, position FROM rm_applied WHERE subject_id = %s", [subject]
    )
    return {name: int(position) for name, position in rows}


def stories(events: Events) -> tuple[UUID, UUID, list[Envelope], list[Envelope]]:
    a, reg_a = events.register("A", at=T0)
    b, reg_b = events.register("B", at=T0)
    stream_a = [reg_a, *(events.purchase(a, 10 * i, at=T0 + days(i)) for i in range(1, 5))]
    stream_b = [reg_b, *(events.touch(b, "WEB", f"visit {i}", at=T0 + days(i)) for i in (1, 2))]
    return a, b, stream_a, stream_b


def test_a_new_customers_checkpoints_are_written_once_each(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    batch = [registered, events.purchase(cid, 5, at=T0 + days(1))]
    start = checkpoint_writes(conn)
    result = apply_batch(conn, batch, now=NOW)
    writes = delta(start, checkpoint_writes(conn))
    conn.commit()
    assert result.applied == 2
    # One insert per projection at the batch's last position; no insert-at-0-then-update.
    assert writes == (len(PROJECTION_NAMES), 0)
    assert checkpoints(conn, cid) == dict.fromkeys(PROJECTION_NAMES, batch[-1]["position"])


def test_a_known_customers_checkpoints_are_raised_not_recreated(conn: Conn) -> None:
    events = Events()
    cid, registered = events.register(at=T0)
    apply_at(conn, [registered], NOW)
    later = events.purchase(cid, 5, at=T0 + days(1))
    start = checkpoint_writes(conn)
    apply_batch(conn, [registered, later], now=NOW)
    writes = delta(start, checkpoint_writes(conn))
    conn.commit()
    assert writes == (0, len(PROJECTION_NAMES))
    assert checkpoints(conn, cid) == dict.fromkeys(PROJECTION_NAMES, later["position"])


def test_a_redelivered_batch_mixing_known_and_new_customers_applies_each_event_once(
    conn: Conn,
) -> None:
    a, b, stream_a, stream_b = stories(Events())
    apply_at(conn, stream_a + stream_b, NOW)
    clean = dump(conn)
    drop_all(conn)
    create_all(conn)
    conn.commit()
    apply_at(conn, stream_a[:3], NOW)  # A is known up to its third event; B is new
    result = apply_batch(conn, stream_a[1:] + stream_b, now=NOW)
    conn.commit()
    assert (result.applied, result.duplicates) == (2 + len(stream_b), 2)
    again = apply_batch(conn, stream_a + stream_b, now=NOW)
    conn.commit()
    assert (again.applied, again.duplicates) == (0, len(stream_a) + len(stream_b))
    assert dump(conn) == clean
    assert get_customers(conn, [a])[a].purchases.count == 4
    assert checkpoints(conn, b) == dict.fromkeys(PROJECTION_NAMES, stream_b[-1]["position"])


def test_a_projection_rebuilt_alone_gets_its_rows_created_back(conn: Conn) -> None:
    a, _, stream_a, _ = stories(Events())
    apply_at(conn, stream_a, NOW)
    conn.execute("DELETE FROM rm_purchases")
    conn.execute("DELETE FROM rm_applied WHERE projection = 'purchases'")
    conn.commit()
    only = tuple(p for p in PROJECTIONS if p.name == "purchases")
    result = apply_batch(conn, stream_a, only, now=NOW)
    conn.commit()
    assert result.applied == len(stream_a)
    assert get_customers(conn, [a])[a].purchases.count == 4
    assert checkpoints(conn, a) == dict.fromkeys(PROJECTION_NAMES, stream_a[-1]["position"])


class CountingConnection(psycopg.Connection[Any]):
    """Remembers every statement it is asked to run."""

    statements: list[str]

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query if isinstance(query, str) else query.as_string(self)
        self.statements = [*getattr(self, "statements", []), text]
        return super().execute(query, *args, **kwargs)


def test_a_live_batch_claims_and_moves_its_checkpoints_in_one_statement(
    database_url: str, conn: Conn
) -> None:
    events = Events()
    a, b, stream_a, stream_b = stories(events)
    apply_at(conn, [stream_a[0], stream_b[0]], NOW)
    live = [*stream_a[1:3], stream_b[1]]
    with CountingConnection.connect(database_url) as counting:
        counting.statements = []
        result = apply_batch(counting, live, now=NOW)
        counting.commit()
        touching = [s for s in counting.statements if "rm_applied" in s]
    assert result.applied == 3
    assert len(touching) == 1, touching
    assert checkpoints(conn, a) == dict.fromkeys(PROJECTION_NAMES, stream_a[2]["position"])
    assert checkpoints(conn, b) == dict.fromkeys(PROJECTION_NAMES, stream_b[1]["position"])
    # The rest of the stories is still fresh after that move, and applies once.
    rest = apply_batch(conn, [*stream_a, *stream_b], now=NOW)
    conn.commit()
    assert (rest.applied, rest.duplicates) == (3, len(stream_a) + len(stream_b) - 3)

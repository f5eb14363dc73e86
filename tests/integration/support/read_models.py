"""The projection tests' shared steps on the read-model tables of one database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from projections.apply import apply_envelopes
from projections.schema import ALL_TABLES
from tests.support.projection_events import Envelope

Conn = psycopg.Connection[Any]


def apply(conn: Conn, envelopes: Sequence[Envelope], now: datetime) -> int:
    """Apply and commit, as the sink does per batch, with derived state (lifecycle, tier)
    computed as of `now`; the number of events that counted."""
    applied = apply_envelopes(conn, envelopes, now=now)
    conn.commit()
    return applied


def dump(conn: Conn) -> dict[str, list[str]]:
    """Every row of every read-model table, as sorted JSON text."""
    return {
        table: [
            row[0]
            for row in conn.execute(
                sql.SQL("SELECT to_jsonb(t)::text FROM {} AS t ORDER BY 1").format(
                    sql.Identifier(table)
                )
            )
        ]
        for table in ALL_TABLES
    }

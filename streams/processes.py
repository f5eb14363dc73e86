"""The deployment's process table in PostgreSQL: every process, wherever it runs.

Each gateway, relay and worker process upserts one row every couple of seconds (host,
pid, component, status, detail, its probe URL, ts). The gateway's `/healthz` and
`crm status` list the rows, so they describe every process of the deployment on every
host, not only the children of one `crm up`. A row whose `ts` is older than
`STALE_AFTER_S` is marked stale (the process died or hangs); rows stale for longer than
`FORGET_AFTER_S` are deleted by the next writer, so a killed process's row is seen for a
while and then goes, unless it is its component's newest row (then the component shows
down until a process of it beats again).

Lives in `streams/` because both the writers (the process shells in `ops/`) and the
reader (`gateway/health.py`) may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

TABLE = "crm_processes"
STALE_AFTER_S = 10.0
FORGET_AFTER_S = 600.0

CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    host text NOT NULL,
    pid integer NOT NULL,
    component text NOT NULL,
    status text NOT NULL,
    detail text NOT NULL DEFAULT '',
    probe text,
    started_at timestamptz NOT NULL DEFAULT now(),
    ts timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, pid, component)
)
"""


@dataclass(frozen=True)
class ProcessBeat:
    """One process's row."""

    host: str
    pid: int
    component: str
    status: str
    detail: str = ""
    probe: str | None = None


def create_processes(conn: psycopg.Connection[Any]) -> None:
    conn.execute(CREATE)


def table_exists(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()
    return bool(row and row[0] is not None)


def beat(conn: psycopg.Connection[Any], row: ProcessBeat) -> None:
    """Upsert the row with the database's clock (one clock for every host), and forget
    rows nobody refreshed for `FORGET_AFTER_S` but a component's newest."""
    conn.execute(
        f"""INSERT INTO {TABLE} (host, pid, component, status, detail, probe)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (host, pid, component) DO UPDATE SET status = EXCLUDED.status,
                detail = EXCLUDED.detail, probe = EXCLUDED.probe, ts = now()""",
        (row.host, row.pid, row.component, row.status, row.detail, row.probe),
    )
    # A component's newest row stays: were every relay killed, forgetting its last row
    # would take the component out of `/healthz` and turn "down" into "ok". A clean exit
    # removes its row (`remove`); a process replaced since lets the old row go.
    conn.execute(
        f"""DELETE FROM {TABLE} AS old WHERE old.ts < now() - make_interval(secs => %s)
            AND EXISTS (SELECT 1 FROM {TABLE} AS newer
                        WHERE newer.component = old.component AND newer.ts > old.ts)""",
        (FORGET_AFTER_S,),
    )


def remove(conn: psycopg.Connection[Any], host: str, pid: int, component: str) -> None:
    """A clean exit takes the row away at once."""
    conn.execute(
        f"DELETE FROM {TABLE} WHERE host = %s AND pid = %s AND component = %s",
        (host, pid, component),
    )


def list_processes(
    conn: psycopg.Connection[Any], stale_after: float = STALE_AFTER_S
) -> list[dict[str, Any]]:
    """Every row, oldest component first, with its age and whether it is stale."""
    if not table_exists(conn):
        return []
    rows = conn.execute(
        f"""SELECT host, pid, component, status, detail, probe, started_at,
                   extract(epoch FROM now() - ts)::float8 AS age
            FROM {TABLE} ORDER BY component, host, pid"""
    ).fetchall()
    return [_entry(row, stale_after) for row in rows]


def _entry(row: tuple[Any, ...], stale_after: float) -> dict[str, Any]:
    host, pid, component, status, detail, probe, started_at, age = row
    stale = float(age) > stale_after
    started: datetime = started_at
    return {
        "host": host,
        "pid": pid,
        "component": component,
        "status": "stale" if stale else status,
        "reported": status,
        "detail": detail,
        "probe": probe,
        "started_at": started.isoformat(),
        "age_s": round(float(age), 1),
        "stale": stale,
    }

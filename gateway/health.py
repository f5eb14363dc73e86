"""`GET /healthz`: one answer for the whole platform, from what each part reports.

Three sources, so the answer is honest even when a part lies or hangs:

- `run/supervisor.json`, rewritten every second by `crm up`: which components it runs,
  their pids, their state (running, restarting after an exit, ...) and restart counts;
- `run/<component>.json`, a heartbeat each child process rewrites every few seconds
  (`status` ok | idle | starting | error, `detail`, `pid`, `ts`); an old one means down;
- a live check of the database and of the Kafka bootstrap server. The database check
  runs `SELECT 1` through the gateway's read pool when there is one (the same pool,
  connection check and retry the GraphQL reads use), so 200 means reads work now.

200 when every component has a process that is `ok` or `idle` (idle: a real process
that says what it does not do yet); 503 otherwise. A component run as several replicas
(`crm up --gateways N --workers N`) is up while one of them is: a killed replica is named
in `replicas_down` and makes the status "degraded", not 503, since the platform serves.
The body names each process's status either way.

`processes` lists every row of PostgreSQL's process table (`streams.processes`): each
gateway, relay and worker of the deployment, on any host, stale ones marked. The
supervisor's view covers only one `crm up`'s children; the table covers the deployment.
Without a supervisor (one container per process), the table's live rows are the
components the status is judged on.

Messages the workers parked instead of applying (`crm_parked`, docs/streams.md) make the
status "degraded" with a `parked` count, still with 200: every part is up and reads
work, but some events are not in the read models until an operator deals with them
(`crm parked list`).

This module reads the files only; the writers live in `ops/` (supervisor, heartbeat).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.db import ReadPool

UP_STATUSES = frozenset({"ok", "idle"})
HEARTBEAT_STALE_AFTER = 10.0  # seconds without a heartbeat before a component counts as down
SUPERVISOR_FILE = "supervisor.json"
CHECK_TIMEOUT = 2.0


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def read_heartbeats(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every `<name>.json` heartbeat in the run folder, by component name."""
    beats: dict[str, dict[str, Any]] = {}
    if not run_dir.is_dir():
        return beats
    for path in run_dir.glob("*.json"):
        if path.name == SUPERVISOR_FILE:
            continue
        data = _read_json(path)
        if data is not None:
            beats[path.stem] = data
    return beats


def _from_heartbeat(beat: Mapping[str, Any] | None, pid: object, now: float) -> dict[str, Any]:
    if beat is None:
        return {"status": "starting", "detail": "no heartbeat yet"}
    if pid is not None and beat.get("pid") != pid:
        return {"status": "starting", "detail": "no heartbeat yet from the new process"}
    age = now - float(beat.get("ts", 0))
    if age > HEARTBEAT_STALE_AFTER:
        return {"status": "down", "detail": f"heartbeat stale for {age:.0f}s"}
    status = str(beat.get("status", "error"))
    return {"status": status, "detail": str(beat.get("detail", ""))}


def _supervised(
    name: str, child: Mapping[str, Any], beats: Mapping[str, Any], now: float
) -> dict[str, Any]:
    pid = child.get("pid")
    entry: dict[str, Any] = {"pid": pid, "restarts": child.get("restarts", 0)}
    if child.get("component", name) != name:
        entry["component"] = child["component"]  # a replica: up while any of its group is
    state = child.get("state")
    if state != "running":
        entry.update(status="down", detail=str(child.get("detail") or state))
    elif not _pid_alive(pid):
        entry.update(status="down", detail="process gone")
    elif child.get("heartbeat"):
        entry.update(_from_heartbeat(beats.get(name), pid, now))
    else:
        entry.update(status="ok", detail=str(child.get("detail") or "running"))
    return entry


def component_statuses(run_dir: Path, now: float | None = None) -> dict[str, dict[str, Any]]:
    """Status of every process the supervisor runs (or, without one, that heartbeats)."""
    now = time.time() if now is None else now
    beats = read_heartbeats(run_dir)
    supervisor = _read_json(run_dir / SUPERVISOR_FILE)
    statuses: dict[str, dict[str, Any]] = {}
    if supervisor is not None:
        age = now - float(supervisor.get("ts", 0))
        alive = _pid_alive(supervisor.get("pid")) and age <= HEARTBEAT_STALE_AFTER
        statuses["supervisor"] = {
            "status": "ok" if alive else "down",
            "detail": str(supervisor.get("state", "")) if alive else "crm up is not running",
            "pid": supervisor.get("pid"),
        }
        for name, child in dict(supervisor.get("components", {})).items():
            statuses[name] = _supervised(name, child, beats, now)
    for name, beat in beats.items():
        if name not in statuses:
            statuses[name] = {"pid": beat.get("pid"), **_from_heartbeat(beat, None, now)}
    return statuses


async def check_read_pool(reads: ReadPool) -> dict[str, Any]:
    """`SELECT 1` the way a GraphQL read runs: proof that reads work, not just connects."""
    import psycopg
    from anyio import to_thread

    started = time.perf_counter()
    try:
        await to_thread.run_sync(reads.ping, CHECK_TIMEOUT)
    except psycopg.Error as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return {"status": "down", "detail": f"reads fail: {first_line}"}
    took_ms = 1000 * (time.perf_counter() - started)
    return {"status": "ok", "detail": f"SELECT 1 on the read pool in {took_ms:.0f} ms"}


async def check_database(url: str | None, reads: ReadPool | None = None) -> dict[str, Any]:
    """The read pool's check when given; else a new connection and `SELECT 1`."""
    if reads is not None:
        return await check_read_pool(reads)
    if not url:
        return {"status": "down", "detail": "CRM_DATABASE_URL is not set"}
    import psycopg

    started = time.perf_counter()
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, connect_timeout=int(CHECK_TIMEOUT), autocommit=True
        )
        async with conn:
            await conn.execute("SELECT 1")
    except (psycopg.Error, OSError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return {"status": "down", "detail": f"cannot connect: {first_line}"}
    took_ms = 1000 * (time.perf_counter() - started)
    return {"status": "ok", "detail": f"SELECT 1 in {took_ms:.0f} ms"}


async def check_broker(bootstrap: str | None) -> dict[str, Any]:
    """A TCP connection to the first reachable bootstrap server."""
    if not bootstrap:
        return {"status": "down", "detail": "CRM_KAFKA_BOOTSTRAP is not set"}
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host or "127.0.0.1", int(port)), CHECK_TIMEOUT
            )
        except (OSError, ValueError, TimeoutError):
            continue
        writer.close()
        return {"status": "ok", "detail": f"reachable at {server.strip()}"}
    return {"status": "down", "detail": f"cannot reach {bootstrap}"}


async def count_parked(url: str | None) -> int | None:
    """Messages waiting in the workers' parking lot (`streams.parking.parked_count`; None
    when the database cannot be asked, which the database check reports)."""
    if not url:
        return None
    import psycopg

    from streams.parking import parked_count

    def count() -> int:
        with psycopg.connect(url, connect_timeout=int(CHECK_TIMEOUT), autocommit=True) as conn:
            return parked_count(conn)

    try:
        return await asyncio.to_thread(count)
    except (psycopg.Error, OSError):
        return None


async def deployment_processes(url: str | None) -> list[dict[str, Any]] | None:
    """Every process of the deployment from PostgreSQL's process table (None when the
    database cannot be asked, which the database check reports)."""
    if not url:
        return None
    import psycopg

    from streams.processes import list_processes

    def read() -> list[dict[str, Any]]:
        with psycopg.connect(url, connect_timeout=int(CHECK_TIMEOUT), autocommit=True) as conn:
            return list_processes(conn)

    try:
        return await asyncio.to_thread(read)
    except (psycopg.Error, OSError):
        return None


def table_components(processes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Without a `crm up` beside the gateway (a container per process), the components are
    the process table's live rows, `NAME@HOST:PID`, each in its component's group; stale
    rows are listed under `processes` only (a replaced container is not a fault), unless
    no live row of their component is left: then the component is down (every relay, or
    the only projections worker, killed), and its stale rows say so."""
    live = {row["component"] for row in processes if not row["stale"]}
    return {
        f"{row['component']}@{row['host']}:{row['pid']}": {
            "component": row["component"],
            "status": "down" if row["stale"] else row["status"],
            "detail": (
                f"no heartbeat for {row.get('age_s', '?')}s (last: {row['detail']})"
                if row["stale"]
                else row["detail"]
            ),
            "pid": row["pid"],
        }
        for row in processes
        if not row["stale"] or row["component"] not in live
    }


def grouped(components: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """(components with no process up, replicas down while another of theirs is up)."""
    groups: dict[str, list[bool]] = {}
    for name, entry in components.items():
        group = str(entry.get("component", name))
        groups.setdefault(group, []).append(entry.get("status") in UP_STATUSES)
    down = sorted(group for group, ups in groups.items() if not any(ups))
    replicas_down = sorted(
        name
        for name, entry in components.items()
        if entry.get("status") not in UP_STATUSES and str(entry.get("component", name)) not in down
    )
    return down, replicas_down


def overall_status(healthy: bool, parked: int | None, replicas_down: int = 0) -> str:
    if not healthy:
        return "unavailable"
    return "degraded" if parked or replicas_down else "ok"


async def platform_health(
    run_dir: Path,
    database_url: str | None,
    kafka_bootstrap: str | None,
    reads: ReadPool | None = None,
) -> tuple[bool, dict[str, Any]]:
    """(all up?, body) for `/healthz`; parked messages degrade the body's status only."""
    database, broker, parked, processes = await asyncio.gather(
        check_database(database_url, reads),
        check_broker(kafka_bootstrap),
        count_parked(database_url),
        deployment_processes(database_url),
    )
    components = component_statuses(run_dir)
    if "supervisor" not in components:
        components.update(table_components(processes or []))
    components["database"] = database
    components["broker"] = broker
    down, replicas_down = grouped(components)
    healthy = not down
    body = {
        "status": overall_status(healthy, parked, len(replicas_down)),
        "down": down,
        "replicas_down": replicas_down,
        "parked": parked,
        "components": components,
        "processes": processes,
    }
    return healthy, body

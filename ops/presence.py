"""A process's presence beyond its host: its row in PostgreSQL and its HTTP probes.

- `TableBeat` keeps this process's row in `crm_processes` (`streams.processes`) fresh
  from a thread of its own, so a slow or restarting database never delays the local file
  heartbeat (`ops.heartbeat`), which `crm up`'s `/healthz` still reads while PostgreSQL
  is down.
- `ProbeServer` answers `GET /livez` (the process runs and has not reported an error it
  cannot get out of) and `GET /readyz` (its last status is ok or idle) on a small port
  of its own, what a container orchestrator probes. The gateway serves the same two
  paths on its main port instead (`gateway.app`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

INTERVAL = 2.0
CONNECT_TIMEOUT = 2
READY = frozenset({"ok", "idle"})


def host_name() -> str:
    return socket.gethostname()


class TableBeat:
    """Upserts this process's row every `interval` s, and at once when the status changes."""

    def __init__(
        self,
        database_url: str,
        component: str,
        probe: str | None = None,
        interval: float = INTERVAL,
    ) -> None:
        self.database_url = database_url
        self.component = component
        self.probe = probe
        self.interval = interval
        self.host = host_name()
        self.pid = os.getpid()
        self._state = ("starting", "")
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._conn: Any = None
        self._thread = threading.Thread(target=self._run, name="table-beat", daemon=True)

    def start(self) -> TableBeat:
        self._thread.start()
        return self

    def update(self, status: str, detail: str) -> None:
        changed = self._state[0] != status
        self._state = (status, detail)
        if changed:
            self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._write()
            self._wake.wait(self.interval)
            self._wake.clear()

    def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
        return self._conn

    def _write(self) -> None:
        import psycopg

        from streams.processes import ProcessBeat, beat, create_processes

        status, detail = self._state
        row = ProcessBeat(self.host, self.pid, self.component, status, detail, self.probe)
        try:
            conn = self._connection()
            try:
                beat(conn, row)
            except psycopg.errors.UndefinedTable:
                create_processes(conn)  # a process started before `crm up`'s schema step
                beat(conn, row)
        except psycopg.Error as error:
            # PostgreSQL restarting: try again at the next beat on a new connection.
            log.debug("process row not written: %s", error)
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Stop beating and remove the row (a clean exit is not a stale process)."""
        import psycopg

        from streams.processes import remove

        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=CONNECT_TIMEOUT + 1)
        with contextlib.suppress(psycopg.Error, OSError):
            remove(self._connection(), self.host, self.pid, self.component)
        with contextlib.suppress(Exception):
            if self._conn is not None:
                self._conn.close()


class _State:
    def __init__(self) -> None:
        self.status = "starting"
        self.detail = ""
        self.at = time.monotonic()


class ProbeServer:
    """`/livez` and `/readyz` for a process without an HTTP server of its own."""

    def __init__(self, component: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.component = component
        self.state = _State()
        handler = self._handler()
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        bound_host, bound_port = self.server.server_address[:2]
        shown = str(bound_host) if bound_host not in ("0.0.0.0", "") else "127.0.0.1"
        self.url = f"http://{shown}:{bound_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="probes", daemon=True
        )

    def start(self) -> ProbeServer:
        self._thread.start()
        return self

    def update(self, status: str, detail: str) -> None:
        self.state.status, self.state.detail = status, detail
        self.state.at = time.monotonic()

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        state = self.state
        body = {
            "component": self.component,
            "pid": os.getpid(),
            "status": state.status,
            "detail": state.detail,
        }
        if path == "/livez":
            return (503 if state.status == "error" else 200), body
        if path == "/readyz":
            return (200 if state.status in READY else 503), body
        return 404, {"error": f"no such probe {path!r}; try /livez or /readyz"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        probes = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body = probes.answer(self.path.split("?", 1)[0])
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # probes every few seconds would flood the process's log

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

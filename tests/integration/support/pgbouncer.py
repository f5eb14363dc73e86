"""A real PgBouncer (Debian's `pgbouncer` package) in transaction pooling, in front of the
test session's PostgreSQL: `make install` / `.ci/run` install it when missing.

PgBouncer run in the foreground logs every line to stderr as well as to its logfile, and
it is single-threaded: if stderr is a pipe nobody drains, the 64 KiB pipe buffer fills
(about 350 lines of "login attempt" / "closing because") and its next log write blocks
the whole bouncer. No client gets an answer from then on, new connections time out, and
every process of the platform waits on the database: that was the topology test's
"hang after the kills" (the kills' reconnections wrote the last KiB). So stderr goes to a
file, read back only to explain a bouncer that would not start.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ops.embedded.ports import free_port

CONFIG = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {folder}/userlist.txt
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
admin_users = {user}
"""


@dataclass(frozen=True)
class Bouncer:
    port: int
    folder: Path

    def url(self, database_url: str, **params: str) -> str:
        """`database_url` with its host and port replaced by the bouncer's (plus `params`)."""
        parts = conninfo_to_dict(database_url)
        parts.update(host="127.0.0.1", port=str(self.port), **params)
        return make_conninfo("", **parts)

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def show(self, database_url: str, what: str = "POOLS") -> list[tuple[Any, ...]]:
        """`SHOW <what>` on the admin console (as the user of `database_url`): what a
        failing test prints to tell a pool exhausted by clients from an idle bouncer."""
        parts = conninfo_to_dict(database_url)
        parts.update(host="127.0.0.1", port=str(self.port), dbname="pgbouncer")
        parts.pop("application_name", None)
        parts.setdefault("connect_timeout", "5")  # a frozen bouncer must not hang the report
        # The console speaks the simple query protocol only: no parameters, no preparing.
        with psycopg.connect(make_conninfo("", **parts), autocommit=True) as conn:
            cursor = conn.execute(f"SHOW {what}".encode(), prepare=False)
            return [tuple(row) for row in cursor.fetchall()]


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if not found:
        raise RuntimeError("pgbouncer is not installed: `make install` (apt-get install pgbouncer)")
    return found


@contextmanager
def running_pgbouncer(server_url: str) -> Iterator[Bouncer]:
    """PgBouncer on a free 127.0.0.1 port for the server of `server_url` (its user and
    password in the auth file) until the block ends."""
    with tempfile.TemporaryDirectory(prefix="crm-pgbouncer-") as workdir:
        folder = Path(workdir)
        # pgbouncer refuses to run as root: it runs as `nobody`, and writes its log here.
        os.chmod(folder, 0o777)
        with _started(server_url, folder) as bouncer:
            yield bouncer


@contextmanager
def _started(server_url: str, folder: Path) -> Iterator[Bouncer]:
    params = conninfo_to_dict(server_url)
    listen = free_port()
    (folder / "userlist.txt").write_text(f'"{params["user"]}" "{params.get("password", "")}"\n')
    (folder / "pgbouncer.ini").write_text(
        CONFIG.format(
            host=params["host"],
            port=params["port"],
            listen=listen,
            folder=folder,
            user=params["user"],
        )
    )
    for name in ("userlist.txt", "pgbouncer.ini"):
        os.chmod(folder / name, 0o644)
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    stderr = folder / "pgbouncer.stderr"
    with stderr.open("wb") as sink:  # a file never blocks the bouncer (see the docstring)
        process = subprocess.Popen(
            [pgbouncer_binary(), *user, str(folder / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        _wait_listening(listen, process, stderr)
        yield Bouncer(listen, folder)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(port: int, process: subprocess.Popen[bytes], stderr: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = stderr.read_text(errors="replace")
            raise RuntimeError(f"pgbouncer exited with {process.returncode}: {error}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"pgbouncer not listening on {port} after 15 s")

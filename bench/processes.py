"""The platform's real processes for a benchmark: `crm relay`, `crm worker projections`,
`crm gateway`, started on the benchmark's servers and one database of its own.

Not `crm up`: a benchmark starts only the parts it measures (the analytics worker, say,
would take CPU from a 2-core machine without being measured), but each part is the very
process `crm up` runs, configured the same way, through `CRM_*` variables. Gateways serve
one listening socket bound here and inherited (`CRM_LISTEN_FD`), as under `crm up
--gateways N` (`ops.stack.open_listener`), so N of them share one accept queue.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.cpu import process_cpu_seconds
from gateway.auth import mint_token
from ops.crm_process import clean_env, crm_argv
from ops.embedded.ports import free_port
from ops.schema import prepare_database
from ops.supervisor import replica_name

RELAY = ("relay",)
PROJECTIONS = ("worker", "projections")
GATEWAY = ("gateway",)


class PlatformFailed(RuntimeError):
    """A process of the benchmark's platform did not start or died."""


@dataclass
class BenchPlatform:
    """Where the started processes answer, and what a client needs to talk to them."""

    port: int
    jwt_secret: str
    data_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def headers(self, role: str = "admin") -> dict[str, str]:
        """Admin by default: unscoped, as the workloads own customers by reps of many
        teams that a scoped bench subject would not reach (docs/roles.md, scoping)."""
        token = mint_token(self.jwt_secret, subject=f"bench-{role}", role=role)
        return {"Authorization": f"Bearer {token}"}

    def cpu_seconds(self, prefix: str = "") -> dict[str, float]:
        """User + system CPU seconds each process (named `prefix`…) has used so far: how a
        benchmark tells whether every replica took a share of the work."""
        used = {}
        for name, process in self.processes.items():
            if name.startswith(prefix) and process.poll() is None:
                used[name] = process_cpu_seconds(process.pid)
        return used

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.data_dir / f"{name}.out").read_text(errors="replace")[-2000:]
                raise PlatformFailed(f"{name} exited with {process.returncode}:\n{log}")


@contextmanager
def bench_platform(
    database_url: str,
    bootstrap: str,
    topic: str,
    master_key: str,
    parts: Sequence[tuple[str, ...]] = (RELAY, PROJECTIONS, GATEWAY),
    *,
    gateways: int = 1,
) -> Iterator[BenchPlatform]:
    """The chosen processes, running until the block ends (SIGTERM, then SIGKILL);
    `gateways` copies of the gateway, named as `crm up` names them (`gateway`, `gateway-2`)."""
    root = Path(tempfile.mkdtemp(prefix="crm-bench-run-"))
    listener = shared_listener() if GATEWAY in parts else None
    port = listener.getsockname()[1] if listener else free_port()
    platform = BenchPlatform(port, secrets.token_urlsafe(32), root)
    env = clean_env(
        {
            "CRM_DATA_DIR": str(root / "data"),
            "CRM_DATABASE_URL": database_url,
            "CRM_KAFKA_BOOTSTRAP": bootstrap,
            "CRM_KAFKA_TOPIC": topic,
            "CRM_HOST": "127.0.0.1",
            "CRM_PORT": str(platform.port),
            "CRM_JWT_SECRET": platform.jwt_secret,
            "CRM_MASTER_KEY": master_key,
        }
    )
    try:
        prepare_database(database_url, master_key)
        for part in parts:
            copies = gateways if part == GATEWAY else 1
            for index in range(1, copies + 1):
                name = replica_name("-".join(part), index)
                own_env = {**env, "CRM_PROCESS_NAME": name}
                fds: tuple[int, ...] = ()
                if part == GATEWAY and listener is not None:
                    own_env["CRM_LISTEN_FD"] = str(listener.fileno())
                    fds = (listener.fileno(),)
                with (root / f"{name}.out").open("ab") as out:
                    platform.processes[name] = subprocess.Popen(
                        crm_argv(*part),
                        env=own_env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        pass_fds=fds,
                    )
        if GATEWAY in parts:
            wait_for_graphql(platform)
        yield platform
    finally:
        stop_all(platform.processes.values())
        if listener is not None:
            listener.close()
        shutil.rmtree(root, ignore_errors=True)


def shared_listener() -> socket.socket:
    """A listening socket on a free 127.0.0.1 port, for every gateway to inherit."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def wait_for_graphql(platform: BenchPlatform, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    headers = platform.headers()
    while time.monotonic() < deadline:
        platform.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.post(
                platform.graphql_url, json={"query": "{ __typename }"}, headers=headers, timeout=2
            )
            if answer.status_code == 200:
                return
        time.sleep(0.2)
    raise PlatformFailed(f"the gateway did not answer at {platform.graphql_url} in {timeout:.0f}s")


def stop_all(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    started = list(processes)
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

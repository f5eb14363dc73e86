"""The platform's real processes for a benchmark: `crm relay`, `crm worker projections`,
`crm gateway`, started on the benchmark's servers and one database of its own.

Not `crm up`: a benchmark starts only the parts it measures (the analytics worker, say,
would take CPU from a 2-core machine without being measured), but each part is the very
process `crm up` runs, configured the same way, through `CRM_*` variables.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.auth import mint_token
from ops.crm_process import clean_env, crm_argv
from ops.embedded.ports import free_port
from ops.schema import prepare_database

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
        token = mint_token(self.jwt_secret, subject=f"bench-{role}", role=role)
        return {"Authorization": f"Bearer {token}"}

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
) -> Iterator[BenchPlatform]:
    """The chosen processes, running until the block ends (SIGTERM, then SIGKILL)."""
    root = Path(tempfile.mkdtemp(prefix="crm-bench-run-"))
    platform = BenchPlatform(free_port(), secrets.token_urlsafe(32), root)
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
            name = "-".join(part)
            with (root / f"{name}.out").open("ab") as out:
                platform.processes[name] = subprocess.Popen(
                    crm_argv(*part),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        if GATEWAY in parts:
            wait_for_graphql(platform)
        yield platform
    finally:
        stop_all(platform.processes.values())
        shutil.rmtree(root, ignore_errors=True)


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

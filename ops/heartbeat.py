"""Heartbeats: each supervised process says how it is, in `D/run/<name>.json`.

Kept beside the process's row in PostgreSQL (`ops.presence`): `crm up`'s `/healthz`
reads these local files, which work while PostgreSQL itself is down or restarting.

The file holds `{"name", "status", "detail", "pid", "ts"}` with status one of
ok | idle | starting | error. A background thread rewrites it every couple of
seconds with the last reported status, so a file older than ~10 s means the
process is gone or hung. `gateway.health` reads these files for `/healthz`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

STATUSES = ("ok", "idle", "starting", "error")
INTERVAL = 2.0


def write_json_atomic(path: Path, payload: Any, mode: int = 0o644) -> None:
    """Readers never see half a file: write a sibling, then rename over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


class Heartbeat:
    """Writes one component's heartbeat; `report` may be called from any thread."""

    def __init__(
        self,
        run_dir: Path,
        name: str,
        interval: float = INTERVAL,
        listeners: Sequence[Callable[[str, str], None]] = (),
    ) -> None:
        self.path = run_dir / f"{name}.json"
        self.name = name
        self.listeners = list(listeners)  # told every report: the process row, the probes
        self.interval = interval
        self._status = "starting"
        self._detail = ""
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def report(self, status: str, detail: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"heartbeat status must be one of {STATUSES}, not {status!r}")
        with self._lock:
            self._status, self._detail = status, detail
            self._write()
        for listener in self.listeners:
            listener(status, detail)

    def _write(self) -> None:
        write_json_atomic(
            self.path,
            {
                "name": self.name,
                "status": self._status,
                "detail": self._detail,
                "pid": os.getpid(),
                "ts": time.time(),
            },
        )

    def _beat(self) -> None:
        while not self._stopped.wait(self.interval):
            with self._lock:
                self._write()

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop beating and remove the file, unless a newer process already owns it."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 1)
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self.path.read_text()).get("pid") == os.getpid():
                self.path.unlink()


def read_beat(path: Path) -> dict[str, Any] | None:
    """A heartbeat file's content; None if it is missing or unreadable (being replaced)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None
